"""The credential writers through the real SDKs: SSM on the moto server, Key Vault and Secret Manager replayed at
their transports. Each test checks what reached the store, the exact request, and that the secret appears in
no log record (captured at DEBUG), no error and no output.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from escher.config import Paths
from escher.infra import driver
from escher.infra.credentials import (
    CredentialWriteError,
    KeyVaultWriter,
    SecretManagerWriter,
    SsmWriter,
    writer_for,
)
from escher.infra.spec import ExtensionSpec
from tests.functional.infra.replay import Answer, AzureToken, AzureTransport, Replay, RequestsAdapter

CLIENT_SECRET = f"s3cr3t-{uuid.uuid4().hex}"  # what must never leak (escaped quotes would hide the JSON)
SECRET = json.dumps({"AZURE_CLIENT_ID": "c-1", "AZURE_CLIENT_SECRET": CLIENT_SECRET})


def _ssm(region: str = "eu-west-1") -> Any:
    from escher.clouds import aws

    return aws.client("ssm", region, retries={"max_attempts": 1})


# -- AWS SSM on moto ---------------------------------------------------------------------------------------
def test_ssm_writer_stores_a_securestring_and_logs_nothing_of_it(
    aws_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = _ssm()
    client.describe_parameters()  # control: botocore's wire log is captured at DEBUG in this test
    assert any(r.name.startswith("botocore") for r in caplog.records)

    SsmWriter("/escher/credentials", "eu-west-1", client=client).write("azure", SECRET)

    assert CLIENT_SECRET not in caplog.text
    assert logging.getLogger("botocore").level == logging.NOTSET  # the wire loggers are restored
    stored = client.get_parameter(Name="/escher/credentials/azure", WithDecryption=False)["Parameter"]
    assert stored["Type"] == "SecureString" and stored["Value"] != SECRET  # encrypted at rest
    value = client.get_parameter(Name="/escher/credentials/azure", WithDecryption=True)["Parameter"]["Value"]
    assert value == SECRET


def test_ssm_writer_overwrites_and_a_refusal_names_the_parameter_not_the_value(aws_env: Any) -> None:
    client = _ssm()
    writer = SsmWriter("/escher/credentials/", "eu-west-1", client=client)
    writer.write("gcp", "old")
    writer.write("gcp", "new")
    assert (
        client.get_parameter(Name="/escher/credentials/gcp", WithDecryption=True)["Parameter"]["Value"]
        == "new"
    )

    # AWS reserves the /aws path: SSM answers AccessDeniedException
    with pytest.raises(CredentialWriteError) as err:
        SsmWriter("/aws/escher", "eu-west-1", client=client).write("gcp", SECRET)
    assert "AccessDenied" in err.value.message and "/aws/escher/gcp" in err.value.message
    assert CLIENT_SECRET not in str(err.value) and err.value.__cause__ is None
    assert "ssm:PutParameter" in (err.value.hint or "")


# -- Azure Key Vault replayed at the azure-core transport -----------------------------------------------------
def _vault() -> str:
    return f"escher-kv-{uuid.uuid4().hex[:8]}"  # the SDK caches a vault's challenge per URL: one vault a test


CHALLENGE = {
    "WWW-Authenticate": 'Bearer authorization="https://login.microsoftonline.com/tenant-1", '
    'resource="https://vault.azure.net"'
}


def test_key_vault_writer_sets_the_secret_after_the_auth_challenge(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    vault = _vault()
    path = "/secrets/escher-aws"
    replay = Replay(
        Answer("PUT", path, 401, {"error": {"code": "Unauthorized"}}, CHALLENGE),
        Answer(
            "PUT",
            path,
            200,
            {
                "value": SECRET,  # Key Vault echoes the value back
                "contentType": "application/json",
                "id": f"https://{vault}.vault.azure.net/secrets/escher-aws/4387e9f3d6e14c459867679a90fd0f79",
                "attributes": {
                    "enabled": True,
                    "created": 1735689600,
                    "updated": 1735689600,
                    "recoveryLevel": "CustomizedRecoverable+Purgeable",
                    "recoverableDays": 7,
                },
                "tags": {"escher": "credentials"},
            },
        ),
    )
    token = AzureToken()
    writer = KeyVaultWriter(vault, "escher", credential=token, transport=AzureTransport(replay))
    writer.write("aws", SECRET)

    replay.done()
    challenge, sent = replay.requests
    assert challenge.body == b"" and "authorization" not in challenge.headers  # elicits the challenge
    assert sent.url.startswith(f"https://{vault}.vault.azure.net/secrets/escher-aws?api-version=")
    assert sent.headers["authorization"] == "Bearer kv-token"
    assert token.scopes == ["https://vault.azure.net/.default"]
    assert sent.json() == {
        "value": SECRET,
        "contentType": "application/json",
        "tags": {"escher": "credentials"},
    }
    assert CLIENT_SECRET not in caplog.text


def test_key_vault_refusal_says_which_role_is_missing_without_the_value() -> None:
    vault = _vault()
    forbidden = {
        "error": {
            "code": "Forbidden",
            "message": "Caller is not authorized to perform action on resource.",
            "innererror": {"code": "ForbiddenByRbac"},
        }
    }
    replay = Replay(
        Answer("PUT", "/secrets/escher-gcp", 401, None, CHALLENGE),
        Answer("PUT", "/secrets/escher-gcp", 403, forbidden),
    )
    writer = KeyVaultWriter(vault, "escher", credential=AzureToken(), transport=AzureTransport(replay))
    with pytest.raises(CredentialWriteError) as err:
        writer.write("gcp", SECRET)
    assert "403" in err.value.message and vault in err.value.message
    assert "Key Vault Secrets Officer" in (err.value.hint or "") and CLIENT_SECRET not in str(err.value)


# -- GCP Secret Manager replayed at the REST transport's requests session -------------------------------------
def _google_credentials() -> Any:
    from google.oauth2.credentials import Credentials

    return Credentials(token="gcp-token")  # type: ignore[no-untyped-call]


def test_secret_manager_writer_adds_a_version_with_its_crc32c(caplog: pytest.LogCaptureFixture) -> None:
    import google_crc32c

    caplog.set_level(logging.DEBUG)
    path = "/v1/projects/escher-test/secrets/escher-azure:addVersion"
    replay = Replay(
        Answer(
            "POST",
            path,
            200,
            {
                "name": "projects/123456789/secrets/escher-azure/versions/3",
                "createTime": "2025-01-01T02:00:00.000000Z",
                "state": "ENABLED",
                "replicationStatus": {"automatic": {}},
                "etag": '"16f2a0c2c6a4b3"',
            },
        ),
    )
    writer = SecretManagerWriter(
        "escher-test", "escher", credentials=_google_credentials(), session_adapter=RequestsAdapter(replay)
    )
    writer.write("azure", SECRET)

    replay.done()
    (sent,) = replay.requests
    assert sent.url.startswith("https://secretmanager.googleapis.com" + path)
    assert sent.headers["authorization"] == "Bearer gcp-token"
    payload = sent.json()["payload"]
    assert base64.b64decode(payload["data"]).decode() == SECRET
    assert int(payload["dataCrc32c"]) == google_crc32c.value(SECRET.encode())
    assert CLIENT_SECRET not in caplog.text and base64.b64encode(SECRET.encode()).decode() not in caplog.text


def test_secret_manager_refusal_is_an_escher_error_without_the_value() -> None:
    denied = {"error": {"code": 403, "status": "PERMISSION_DENIED",
                        "message": "Permission 'secretmanager.versions.add' denied for resource"}}  # fmt: skip
    replay = Replay(Answer("POST", "/v1/projects/escher-test/secrets/escher-aws:addVersion", 403, denied))
    writer = SecretManagerWriter(
        "escher-test", "escher", credentials=_google_credentials(), session_adapter=RequestsAdapter(replay)
    )
    with pytest.raises(CredentialWriteError) as err:
        writer.write("aws", SECRET)
    assert "secretmanager.versions.add" in err.value.message and CLIENT_SECRET not in str(err.value)
    assert "secretVersionAdder" in (err.value.hint or "")


# -- the whole extend path: outputs -> writer -> SSM, and the secret nowhere else ----------------------------
class UpStack:
    def set_config(self, key: str, value: Any) -> None:
        pass

    def up(self, *, on_event: Any = None) -> Any:
        import pulumi.automation as auto

        outputs = {
            "region": auto.OutputValue("eu-west-1", False),
            "credentials_path": auto.OutputValue("/escher/credentials", False),
            "worker_policy": auto.OutputValue("{}", True),
        }
        return type("Result", (), {"outputs": outputs, "summary": None})

    def outputs(self) -> Mapping[str, Any]:
        return {}

    def destroy(self, *, on_event: Any = None) -> Any:
        return None


def test_extend_writes_the_credentials_from_the_outputs_and_keeps_them_out_of_every_output(
    aws_env: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("pulumi.automation")
    caplog.set_level(logging.DEBUG)
    fake_cli = tmp_path / "bin" / "pulumi"
    fake_cli.parent.mkdir()
    fake_cli.write_text("#!/bin/sh\n")
    fake_cli.chmod(0o755)
    paths = Paths(config_dir=tmp_path / "cfg", data_dir=tmp_path / "data")
    spec = ExtensionSpec(
        cloud="aws",
        region="eu-west-1",
        bundle_path="b.zip",
        permissions=(),
        credential_names=("azure", "gcp"),
    )
    result = driver.extend(
        spec,
        paths,
        credentials={"azure": SECRET},
        writer=writer_for("aws"),
        env={"PATH": str(fake_cli.parent), "PULUMI_HOME": str(tmp_path / "nohome")},
        stack_factory=lambda *_: UpStack(),
    )
    assert result.credentials_stored == ["azure"] and result.credentials_missing == ["gcp"]
    logged = caplog.text
    stored = _ssm().get_parameter(Name="/escher/credentials/azure", WithDecryption=True)["Parameter"]
    assert stored["Value"] == SECRET
    on_disk = "".join(p.read_text() for p in (paths.data_dir).rglob("*") if p.is_file())
    assert CLIENT_SECRET not in on_disk and CLIENT_SECRET not in repr(result) and CLIENT_SECRET not in logged
