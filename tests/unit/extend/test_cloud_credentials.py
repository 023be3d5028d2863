"""What 'escher extend credentials' stores for the other clouds, and how the worker reads it back."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from escher.config import Settings
from escher.extend.cloud_credentials import (
    AzureServicePrincipal,
    CloudCredentialError,
    GcpFederation,
    azure_from_env,
    extra_clouds,
    gcp_federation,
    gcp_key,
    parse_stored,
    wanted_clouds,
)
from escher.infra.credentials import collect_credentials

SECRET = "s3cr3t-value~"
SP_ENV = {"AZURE_TENANT_ID": "t-1", "AZURE_CLIENT_ID": "c-1", "AZURE_CLIENT_SECRET": SECRET}
WORKER_ENV = {"ESCHER_CREDENTIALS_PATH": "/escher/credentials", "ESCHER_EXTRA_CLOUDS": "azure,gcp"}
FEDERATION = GcpFederation(
    "acme-prod", "42", "sa@acme-prod.iam.gserviceaccount.com", "123456789012", "role-x"
)


class Found:
    """A secret store answering from a dict (the SSM reader's interface)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values, self.asked = values, []  # type: list[str]

    def read(self, names: list[str]) -> dict[str, str]:
        self.asked = list(names)
        return {n: self.values[n] for n in names if n in self.values}


def test_the_service_principal_is_described_by_field_names_never_by_value() -> None:
    stored = azure_from_env(SP_ENV, subscription_id="sub-1")
    assert json.loads(stored.value)["client_secret"] == SECRET
    assert stored.describe()["fields"] == ["client_id", "client_secret", "subscription_id", "tenant_id"]
    assert SECRET not in json.dumps(stored.describe()) and SECRET not in repr(stored)
    sp = parse_stored("azure", stored.value)
    assert isinstance(sp, AzureServicePrincipal) and SECRET not in repr(sp)


def test_no_principal_says_how_to_make_one() -> None:
    with pytest.raises(CloudCredentialError, match="AZURE_CLIENT_SECRET") as err:
        azure_from_env({"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"})
    assert "az ad sp create-for-rbac" in (err.value.hint or "")


def test_a_certificate_file_needs_both_the_certificate_and_its_key(tmp_path: Path) -> None:
    pem = tmp_path / "sp.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    env = {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_CERTIFICATE_PATH": str(pem)}
    with pytest.raises(CloudCredentialError, match="private key"):
        azure_from_env(env)
    pem.write_text(pem.read_text() + "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")
    stored = azure_from_env(env)
    assert stored.fields == ("certificate_pem", "client_id", "tenant_id")


def test_the_federation_config_holds_no_secret_and_trusts_the_worker_role_only() -> None:
    stored = gcp_federation(FEDERATION)
    config = json.loads(stored.value)
    assert stored.secret is False and config["type"] == "external_account"
    assert config["audience"] == (
        "//iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/escher/providers/escher-aws"
    )
    assert config["service_account_impersonation_url"].endswith(
        "/serviceAccounts/sa@acme-prod.iam.gserviceaccount.com:generateAccessToken"
    )
    assert any(
        "attribute.aws_role=='arn:aws:sts::123456789012:assumed-role/role-x'" in c for c in stored.commands
    )


def test_a_key_file_is_stored_only_if_it_is_a_service_account_key_and_with_a_warning(tmp_path: Path) -> None:
    user = tmp_path / "adc.json"
    user.write_text(json.dumps({"type": "authorized_user", "refresh_token": "r"}))
    with pytest.raises(CloudCredentialError, match="not a service-account key"):
        gcp_key(user)
    key = tmp_path / "sa.json"
    key.write_text(json.dumps({"type": "service_account", "private_key": "k", "client_email": "sa@p.iam"}))
    stored = gcp_key(key)
    assert stored.secret and "long-lived secret" in stored.warnings[0]


def test_the_placeholder_and_the_old_copied_variables() -> None:
    assert parse_stored("azure", "unset: written by 'escher extend'") is None
    old = json.dumps({"AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": SECRET, "AZURE_TENANT_ID": "t"})
    sp = parse_stored("azure", old)
    assert isinstance(sp, AzureServicePrincipal) and sp.client_secret == SECRET
    with pytest.raises(CloudCredentialError, match="authorized_user"):
        parse_stored("gcp", json.dumps({"type": "authorized_user"}))


def test_only_a_host_worker_with_a_credentials_path_reads_other_clouds_and_not_the_disabled_ones() -> None:
    settings = Settings()
    assert wanted_clouds("aws", WORKER_ENV, settings) == ["azure", "gcp"]
    assert wanted_clouds("azure", WORKER_ENV, settings) == []
    assert wanted_clouds("aws", {"ESCHER_EXTRA_CLOUDS": "azure"}, settings) == []
    off = Settings.model_validate({"azure": {"enabled": False}})
    assert wanted_clouds("aws", WORKER_ENV, off) == ["gcp"]


def test_the_worker_scans_what_is_stored_and_says_why_not_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.model_validate({"azure": {"subscription_id": "sub-9"}})
    store = Found({"azure": azure_from_env(SP_ENV).value, "gcp": "unset: written by 'escher extend'"})
    with caplog.at_level(logging.DEBUG):
        found = extra_clouds("aws", WORKER_ENV, settings, reader=store)
    assert store.asked == ["azure", "gcp"]
    assert found.clouds == ["azure"] and found.ctx is not None
    assert found.ctx.azure_subscription_id == "sub-9"
    assert type(found.ctx.azure_credential).__name__ == "ClientSecretCredential"
    assert found.notes == {"gcp": "no credentials stored: run 'escher extend credentials gcp'"}
    assert SECRET not in caplog.text and SECRET not in json.dumps(found.to_dict())


def test_a_store_that_cannot_be_read_skips_the_other_clouds_and_never_fails_the_scan() -> None:
    class Denied:
        def read(self, names: list[str]) -> dict[str, Any]:
            from escher.errors import EscherError

            raise EscherError("AccessDeniedException: not allowed")

    found = extra_clouds("aws", WORKER_ENV, Settings(), reader=Denied())
    assert found.clouds == [] and found.ctx is None
    assert set(found.notes) == {"azure", "gcp"} and "AccessDenied" in found.notes["azure"]


def test_extend_copies_only_what_a_worker_reads(tmp_path: Path) -> None:
    key = tmp_path / "sa.json"
    key.write_text(json.dumps({"type": "service_account", "private_key": "k", "client_email": "sa@p"}))
    env = {**SP_ENV, "GOOGLE_APPLICATION_CREDENTIALS": str(key), "AWS_ACCESS_KEY_ID": "A",
           "AWS_SECRET_ACCESS_KEY": "S"}  # fmt: skip
    # the AWS worker scans Azure with the principal; a GCP key is never copied silently
    assert set(collect_credentials("aws", env)) == {"azure"}
    # no Azure or GCP worker reads another cloud's keys: nothing is copied there
    assert collect_credentials("gcp", env) == {} and collect_credentials("azure", env) == {}


def _invoke(*args: str) -> Any:
    from typer.testing import CliRunner

    from escher.cli.main import app

    return CliRunner().invoke(app, ["-o", "json", "extend", "credentials", *args])


def test_with_nothing_extended_the_command_says_to_extend_aws_first(escher_home: Path) -> None:
    error = _invoke("azure", "--yes").exception
    assert isinstance(error, CloudCredentialError)  # main() shows it with its hint, no traceback
    assert "nothing is extended" in error.message and "escher extend aws" in (error.hint or "")


def test_an_extension_whose_worker_reads_no_other_cloud_gets_nothing_copied(
    escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.config import resolve_paths
    from escher.infra.driver import LocalState, save_outputs

    for key, value in SP_ENV.items():
        monkeypatch.setenv(key, value)
    paths = resolve_paths()
    save_outputs(paths, "gcp", {"state_url": str(escher_home / "bucket"), "project": "acme-prod"})
    local = LocalState.load(paths)
    local.clouds["gcp"] = {"mode": "thin-client"}
    local.save()
    result = _invoke("azure", "--yes")
    assert isinstance(result.exception, CloudCredentialError) and SECRET not in result.output
    assert "scans its own cloud only" in result.exception.message
    assert "escher extend aws" in (result.exception.hint or "")
    refused = _invoke("aws", "--yes").exception  # the AWS extension reaches AWS through its own role
    assert isinstance(refused, CloudCredentialError) and "own role" in (refused.hint or "")


def test_the_project_number_is_looked_up_with_the_laptop_login_or_left_to_ask() -> None:
    from escher.extend.cloud_credentials import project_number
    from tests.harness.replay import HttplibReplay

    asked: list[str] = []

    def answer(method: str, url: str, headers: Any, body: Any) -> tuple[int, dict[str, str], bytes]:
        asked.append(f"{method} {url.split('?')[0]}")
        if "/v1/projects/acme-prod" in url:
            return 200, {}, json.dumps({"projectId": "acme-prod", "projectNumber": "271828"}).encode()
        return (
            403,
            {},
            json.dumps({"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}).encode(),
        )

    assert project_number("acme-prod", http=HttplibReplay(answer)) == "271828"
    assert asked == ["GET https://cloudresourcemanager.googleapis.com/v1/projects/acme-prod"]
    assert project_number("someone-elses", http=HttplibReplay(answer)) is None
