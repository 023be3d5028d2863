"""One extension for all clouds (issue 16, item 3), in the deployed shape: ``escher extend credentials azure``
on the laptop writes a service principal into the AWS extension's SSM (moto); the AWS worker, run from its
unpacked bundle (which now carries the Azure and GCP scanning SDKs) with the generated environment, reads it at
run time, signs in with it and scans the Azure replay estate; the findings land in the state bucket and, after
``escher sync``, on the laptop.

Azure is stood in for over TLS on 127.0.0.1: Entra's token endpoint (which checks the stored client id and
secret) and ARM (the recorded-shape estate of the scan tests, which checks the bearer token); blob containers are
azurite's. The worker reaches them through ``AZURE_AUTHORITY_HOST`` (azure-identity's own variable),
``ESCHER_AZURE_ARM_ENDPOINT`` and ``REQUESTS_CA_BUNDLE``: nothing else differs from a deploy.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import re
import ssl
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import boto3
import pytest

from escher.emulators import AzuriteEmulator, MotoEmulator
from tests.functional.deployed.harness import CACHE, REPO, Unpacked, run_worker
from tests.functional.deployed.test_aws_deployed import REGION, Deployment
from tests.functional.scans import azure_estate
from tests.functional.scans.replay import Router

pytest.importorskip("pulumi")

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CLIENT_SECRET = "sp-Secret-only-in-ssm~42"
ARM_TOKEN = "arm-token-for-the-worker"
PROJECT, PROJECT_NUMBER = "acme-prod", "123456789012"
# the vaults' data planes, served here too
VAULT_HOST = re.compile(rb"https://([a-z0-9-]+)\.vault\.azure\.net")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    """The AWS bundle as 'escher extend aws' builds it with Azure and GCP enabled: their scanning SDKs in."""
    from escher.infra.bundle import build_bundle, installed_deps, worker_requirements

    reqs = worker_requirements("aws", REPO, ("azure", "gcp"))
    key = hashlib.sha256("\n".join([sys.version, *reqs]).encode()).hexdigest()[:16]
    deps = installed_deps(reqs, CACHE / f"deps-aws-{key}")
    built = build_bundle("aws", source_root=REPO, cache_dir=CACHE, deps_dir=deps, requirements=reqs)
    print(f"\nAWS bundle with the Azure and GCP scanning SDKs: {built.zipped_bytes / 2**20:.1f} MB zipped, "
          f"{built.unzipped_bytes / 2**20:.1f} MB unzipped ({built.limit.rule})")  # fmt: skip
    root = tmp_path_factory.mktemp("aws-all-clouds") / "aws"
    with zipfile.ZipFile(built.path) as zf:
        zf.extractall(root)
    return Unpacked("aws", root, (root,), built)


def _certificate(tmp: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp / "azure-tls.pem", tmp / "azure-tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class FakeAzure:
    """Entra ID's token endpoint and ARM over TLS: the token only for the stored principal, ARM only with it."""

    def __init__(self, router: Router, tmp: Path) -> None:
        self.router = router
        self.token_requests: list[dict[str, list[str]]] = []
        self.arm_authorizations: list[str] = []
        self.ca_file, key_file = _certificate(tmp)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.endswith("/v2.0/.well-known/openid-configuration"):
                    base = f"{fake.base}/{TENANT}"
                    self._reply(200, json.dumps({
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        "issuer": f"{base}/v2.0",
                    }).encode())  # fmt: skip
                    return
                fake.arm_authorizations.append(self.headers.get("Authorization", ""))
                if self.headers.get("Authorization") != f"Bearer {ARM_TOKEN}":
                    self._reply(401, b'{"error": {"code": "InvalidAuthenticationToken", "message": "no"}}')
                    return
                # a Key Vault data plane: its host is folded into the path; Microsoft Graph too
                if self.path.startswith("/vault/"):
                    name, _, rest = self.path.removeprefix("/vault/").partition("/")
                    url = f"https://{name}.vault.azure.net/{rest}"
                elif self.path.startswith("/graph/"):
                    url = f"{azure_estate.GRAPH}{self.path.removeprefix('/graph')}"
                else:
                    url = f"{azure_estate.ARM}{self.path}"
                status, payload = fake.router.answer("GET", url)
                payload = payload.replace(azure_estate.ARM.encode(), fake.base.encode())
                payload = VAULT_HOST.sub(fake.base.encode() + rb"/vault/\1", payload)
                payload = payload.replace(azure_estate.GRAPH.encode(), f"{fake.base}/graph".encode())
                self._reply(status, payload)

            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                fake.token_requests.append(form)
                ok = (
                    self.path == f"/{TENANT}/oauth2/v2.0/token"
                    and form.get("client_id") == [CLIENT_ID]
                    and form.get("client_secret") == [CLIENT_SECRET]
                )
                if not ok:
                    self._reply(401, b'{"error": "invalid_client", "error_description": "AADSTS7000215"}')
                    return
                body = {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                        "access_token": ARM_TOKEN}  # fmt: skip
                self._reply(200, json.dumps(body).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAzure:
        self.thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def azurite() -> Iterator[AzuriteEmulator]:
    with AzuriteEmulator() as server:
        yield server


@pytest.fixture
def laptop(
    aws_env: MotoEmulator,
    escher_home: Path,
    bundle: Unpacked,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Deployment:
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    deployment = Deployment(aws_env, escher_home, bundle)
    with deployment.paths.config_file.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[azure]\nsubscription_id = "{azure_estate.SUB}"\n\n[gcp]\nproject = "{PROJECT}"\n')
    for name in ("AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_AUTHORITY_HOST", "ESCHER_GCP_PROJECT_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    return deployment


def _parameter(name: str) -> str | None:
    ssm = boto3.client("ssm", region_name=REGION)
    try:
        return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def _json(output: str) -> Any:
    """The JSON document a command printed (the settings republish may add a line after it)."""
    return json.JSONDecoder().raw_decode(output)[0]


def _audit(laptop: Deployment) -> list[dict[str, Any]]:
    return list(_json(laptop.cli("-o", "json", "audit", "list", "--limit", "500", "--no-sync")))


def test_a_worker_with_azure_credentials_in_ssm_scans_the_azure_estate(
    laptop: Deployment, azurite: AzuriteEmulator, tmp_path: Path
) -> None:
    from azure.storage.blob import BlobServiceClient

    param = f"{laptop.env['ESCHER_CREDENTIALS_PATH']}/azure"
    assert laptop.env["ESCHER_EXTRA_CLOUDS"] == "azure,gcp"  # names in the environment, never values
    assert not any(CLIENT_SECRET in v for v in laptop.env.values())
    # GIVEN the dry run names what would be written, writes nothing and never shows the secret
    dry = _json(laptop.cli("-o", "json", "extend", "credentials", "azure", "--dry-run"))
    assert dry["parameter"] == param and dry["written"] is False
    assert dry["credential"]["fields"] == ["client_id", "client_secret", "subscription_id", "tenant_id"]
    assert CLIENT_SECRET not in json.dumps(dry) and _parameter(param) is None
    # WHEN the laptop stores the service principal: SSM holds it, the ledger holds the act (no value)
    shown = laptop.cli("extend", "credentials", "azure", "--yes")
    assert param in shown and CLIENT_SECRET not in shown
    stored = json.loads(_parameter(param) or "{}")
    assert (stored["client_id"], stored["client_secret"], stored["tenant_id"]) == (
        CLIENT_ID,
        CLIENT_SECRET,
        TENANT,
    )
    acts = [r for r in _audit(laptop) if r["action"] == "escher.extend.credentials"]
    assert sorted(a["outcome"] for a in acts) == ["started", "succeeded"]  # the list is newest first
    assert {a["target"] for a in acts} == {param}
    assert CLIENT_SECRET not in json.dumps(acts)
    laptop.cli("extend", "sync-settings")  # the [azure] subscription travels in the published settings

    # the Azure estate: ARM replayed over TLS, containers in azurite
    blob = BlobServiceClient.from_connection_string(azurite.connection_string)
    router = Router()
    truth = azure_estate.seed(router, blob)
    laptop.moto.set_cost_and_usage([])
    try:
        with FakeAzure(router, tmp_path) as azure:
            env = {**laptop.platform_env(), "AZURE_AUTHORITY_HOST": azure.base,
                   "ESCHER_AZURE_ARM_ENDPOINT": azure.base, "ESCHER_AZURE_GRAPH_ENDPOINT": f"{azure.base}/graph",
                   "REQUESTS_CA_BUNDLE": str(azure.ca_file),
                   "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}  # fmt: skip
            assert not any(k.startswith("AZURE_CLIENT") for k in env)  # the principal comes from SSM only
            run = run_worker(laptop.bundle_run, env, [laptop.schedule_input], tmp_path)
    finally:
        for container in blob.list_containers():
            blob.delete_container(container.name)
    [daily] = run.results
    assert "ok" in daily, daily
    scan_part = daily["ok"]["parts"]["scan"]
    # THEN the worker signed in as the stored principal and read ARM with its token
    assert scan_part["extra_clouds"] == ["azure"], scan_part
    assert scan_part["clouds"] == ["aws", "azure"]
    # GCP is enabled but nothing is stored for it: skipped, said why, the rest scanned
    assert "escher extend credentials gcp" in scan_part["extra_clouds_skipped"]["gcp"]
    assert azure.token_requests and all(f.get("client_id") == [CLIENT_ID] for f in azure.token_requests)
    assert azure.arm_authorizations and set(azure.arm_authorizations) == {f"Bearer {ARM_TOKEN}"}
    assert not router.unrouted, router.unrouted
    # the Azure findings are in the state bucket, beside AWS's
    scan = laptop.read(laptop.keys("reports/scan/")[-1])
    azure_ids = {r["id"] for r in scan["inventory"]["records"] if r["cloud"] == "azure"}
    assert azure_ids == truth.resources
    failing = {(f["check_id"], f["resource_id"]) for f in scan["findings"] if f["status"] == "FAIL"}
    assert truth.failing <= failing
    assert not [e for e in scan["inventory"]["errors"] if e["cloud"] == "azure"], scan["inventory"]["errors"]
    # the secret is in no log line and no stored object
    assert CLIENT_SECRET not in run.stdout + run.stderr
    assert CLIENT_SECRET not in json.dumps(scan) and CLIENT_SECRET not in json.dumps(daily)
    assert run.outside == []  # the Azure SDK came from the bundle

    # AND after 'escher sync' the laptop lists the Azure findings
    laptop.cli("sync")
    listed = _json(laptop.cli("-o", "json", "findings", "list", "--cloud", "azure"))
    assert {(f["check"], f["resource"]) for f in listed} >= truth.failing


def test_gcp_federation_config_is_stored_without_a_secret_and_the_worker_builds_aws_federated_credentials(
    laptop: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.config import Settings
    from escher.extend.cloud_credentials import extra_clouds
    from escher.infra.driver import save_outputs

    param = f"{laptop.env['ESCHER_CREDENTIALS_PATH']}/gcp"
    # the role's ARN as AWS gives it (the Pulumi mocks name every resource arn:aws:mock:::<name>)
    role = "escher-worker-role-1a2b3c"
    save_outputs(
        laptop.paths,
        "aws",
        {**laptop.deployed.outputs, "worker_role": f"arn:aws:iam::123456789012:role/{role}"},
    )
    monkeypatch.setenv("ESCHER_GCP_PROJECT_NUMBER", PROJECT_NUMBER)
    dry = _json(laptop.cli("-o", "json", "extend", "credentials", "gcp", "--dry-run"))
    assert dry["credential"]["secret"] is False and _parameter(param) is None
    # the command's own flags reach it through `escher extend credentials gcp ...`
    flagged = laptop.cli("-o", "json", "extend", "credentials", "gcp", "--dry-run", "--project-number", "424242",
                         "--service-account", f"ops@{PROJECT}.iam.gserviceaccount.com", "--pool", "team-pool")  # fmt: skip
    commands = "\n".join(_json(flagged)["commands"])
    assert (
        "424242" in commands
        and f"ops@{PROJECT}.iam.gserviceaccount.com" in commands
        and "team-pool" in commands
    )
    shown = laptop.cli("extend", "credentials", "gcp", "--yes")
    assert "gcloud iam workload-identity-pools create escher" in shown
    config = json.loads(_parameter(param) or "{}")
    assert config["type"] == "external_account" and config["credential_source"]["environment_id"] == "aws1"
    assert config["audience"].startswith(f"//iam.googleapis.com/projects/{PROJECT_NUMBER}/")
    assert "private_key" not in json.dumps(config)
    assert f"assumed-role/{role}'" in shown  # the provider trusts the worker's role only
    # WHEN the worker reads it with its environment (values from SSM, names from the environment)
    settings = Settings.model_validate({"gcp": {"project": PROJECT}, "azure": {"enabled": False}})
    found = extra_clouds("aws", laptop.platform_env(), settings)
    # THEN it federates from the Lambda's role: google-auth's AWS external account credentials
    assert found.clouds == ["gcp"] and found.ctx is not None
    creds = found.ctx.gcp_credentials
    service_account = f"escher-worker@{PROJECT}.iam.gserviceaccount.com"
    assert type(creds).__module__ == "google.auth.aws" and creds.service_account_email == service_account

    # AND the exchange, replayed at google-auth's requests transport: the Lambda's role keys (from the
    # environment Lambda sets) sign GetCallerIdentity; Google's STS takes it for a federated token, which
    # impersonates the service account
    import requests
    from google.auth.transport.requests import Request

    from tests.harness.replay import ReplayAdapter

    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAWORKERROLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "role-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "role-session-token")
    calls: list[tuple[str, str, dict[str, str], Any]] = []

    def answer(method: str, url: str, headers: Any, body: Any) -> tuple[int, dict[str, str], bytes]:
        calls.append((method, url, {k.lower(): v for k, v in dict(headers).items()}, body))
        if url == "https://sts.googleapis.com/v1/token":
            return 200, {}, json.dumps({"access_token": "federated-token", "token_type": "Bearer",
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "expires_in": 3600}).encode()  # fmt: skip
        if url.endswith(f"/serviceAccounts/{service_account}:generateAccessToken"):
            return (
                200,
                {},
                json.dumps({"accessToken": "sa-token", "expireTime": "2030-01-01T00:00:00Z"}).encode(),
            )
        return 404, {}, b'{"error": {"code": 404, "message": "not replayed"}}'

    session = requests.Session()
    session.mount("https://", ReplayAdapter(answer))
    session.mount(
        "http://", ReplayAdapter(answer)
    )  # the metadata server: must not be asked (keys are in env)
    creds.refresh(Request(session))
    assert creds.token == "sa-token"
    [exchange, impersonate] = calls
    form = parse_qs(exchange[3] if isinstance(exchange[3], str) else exchange[3].decode())
    assert form["audience"] == [config["audience"]]
    assert form["subject_token_type"] == ["urn:ietf:params:aws:token-type:aws4_request"]
    subject = json.loads(unquote(form["subject_token"][0]))
    assert subject["url"] == f"https://sts.{REGION}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
    signed = {h["key"].lower(): h["value"] for h in subject["headers"]}
    assert signed["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIAWORKERROLE/")
    assert f"/{REGION}/sts/aws4_request" in signed["authorization"]
    assert signed["x-amz-security-token"] == "role-session-token"
    assert signed["x-goog-cloud-target-resource"] == config["audience"]
    assert "role-secret" not in json.dumps(subject)  # the signature travels, the secret key does not
    assert impersonate[2]["authorization"] == "Bearer federated-token"


def test_reading_the_credentials_keeps_them_out_of_debug_logs(
    aws_env: MotoEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Lambda's advanced logging can turn the root logger to DEBUG, where botocore prints response bodies."""
    import logging

    from escher.config import Settings
    from escher.extend.cloud_credentials import azure_from_env, extra_clouds
    from escher.infra.credentials import SsmWriter

    env = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT_ID, "AZURE_CLIENT_SECRET": CLIENT_SECRET}
    SsmWriter("/escher/credentials", REGION).write("azure", azure_from_env(env).value)
    worker_env = {"ESCHER_CREDENTIALS_PATH": "/escher/credentials", "ESCHER_EXTRA_CLOUDS": "azure"}
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("botocore").setLevel(logging.DEBUG)
        try:
            found = extra_clouds(
                "aws", worker_env, Settings.model_validate({"azure": {"subscription_id": "s"}})
            )
        finally:
            logging.getLogger("botocore").setLevel(logging.NOTSET)
        logging.getLogger("botocore.parsers").debug("after the read, the level is back: %s", "visible")
    assert found.clouds == ["azure"]
    assert CLIENT_SECRET not in caplog.text
    assert "after the read, the level is back: visible" in caplog.text  # the wire logs were quieted, not lost


def test_the_generated_worker_policy_allows_reading_the_stored_credentials_and_nothing_beside(
    aws_env: MotoEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The policy the Pulumi program generates, evaluated for the resource (tests/functional/infra/iam_eval.py)
    and enforced by moto with the role's session keys for the action. moto authorizes every non-S3 request
    against the resource ``*`` (moto/core/authorization.py), so under moto each statement's resources are
    widened to ``*``; the scoping to the credentials path is what the evaluator checks."""
    from dataclasses import replace

    from escher.config import Settings
    from escher.extend.cloud_credentials import azure_from_env, extra_clouds
    from escher.infra.credentials import SsmWriter
    from escher.infra.permissions import operation_permissions
    from escher.infra.plan import run_plan
    from tests.functional.deployed.test_aws_deployed import OPERATIONS
    from tests.functional.deployed.test_aws_deployed_iam import ACCOUNT, reset_auth
    from tests.functional.infra.conftest import make_spec
    from tests.functional.infra.iam_eval import decide

    spec = make_spec("aws", str(tmp_path / "worker.zip"), region=REGION)
    spec = replace(spec, operations=OPERATIONS, permissions=operation_permissions("aws", OPERATIONS))
    plan = run_plan(spec)
    (policy,) = [json.loads(r.settings["policy"]) for r in plan.resources if r.name == "worker-policy"]
    path = str(plan.outputs["credentials_path"])
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
    # the resource: the worker reads under its credentials path, nothing beside, and writes nothing there
    assert decide(policy, "ssm:GetParameter", f"{arn}{path}/azure") == "allow"
    assert decide(policy, "ssm:GetParameter", f"{arn}/elsewhere/azure") == "implicit-deny"
    assert decide(policy, "ssm:PutParameter", f"{arn}{path}/azure") == "implicit-deny"

    # the action, enforced: the role's keys read the stored principal with the generated statements
    sp = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT_ID, "AZURE_CLIENT_SECRET": CLIENT_SECRET}
    SsmWriter(path, REGION).write("azure", azure_from_env(sp).value)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="admin")
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(everything))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"}}]}  # fmt: skip
    widened = {**policy, "Statement": [{**st, "Resource": "*"} for st in policy["Statement"]]}
    without = {**widened, "Statement": [st for st in widened["Statement"] if st.get("Sid") != "Credentials"]}
    for name, document in (("escher-worker", widened), ("no-credentials", without)):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName=name, PolicyName="worker", PolicyDocument=json.dumps(document))
    settings = Settings.model_validate({"azure": {"subscription_id": "s"}, "gcp": {"enabled": False}})
    worker_env = {"ESCHER_CREDENTIALS_PATH": path, "ESCHER_EXTRA_CLOUDS": "azure"}
    found = {}
    reset_auth(aws_env, "0")
    try:
        sts = boto3.client("sts", region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                           aws_secret_access_key=key["SecretAccessKey"])  # fmt: skip
        for name in ("escher-worker", "no-credentials"):
            creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="worker")
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["Credentials"]["AccessKeyId"])
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["Credentials"]["SecretAccessKey"])
            monkeypatch.setenv("AWS_SESSION_TOKEN", creds["Credentials"]["SessionToken"])
            found[name] = extra_clouds("aws", worker_env, settings)
    finally:
        reset_auth(aws_env, "inf")
    assert found["escher-worker"].clouds == ["azure"], found["escher-worker"].notes
    # without the Credentials statement the read is refused: skipped and said why, never a failed job
    assert found["no-credentials"].clouds == [] and "AccessDenied" in found["no-credentials"].notes["azure"]
    assert CLIENT_SECRET not in json.dumps(found["no-credentials"].notes)
