"""A worker reads the notification secrets the settings name from its own cloud's secret store: SSM on moto,
Key Vault and Secret Manager replayed at their transports (the real clients serialize, authenticate, parse)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import google_crc32c
import pytest
from google.auth.credentials import AnonymousCredentials

from escher.clouds.aws.secrets import SsmSecretReader
from escher.clouds.azure.secrets import KeyVaultSecretReader
from escher.clouds.gcp.secrets import SecretManagerReader
from escher.extend.secrets import read_secrets
from escher.extend.settings_doc import secret_env_name
from tests.functional.infra.replay import Answer, AzureToken, AzureTransport, Replay, RequestsAdapter

HOOK = "json://hooks.example.com/T0KEN-secret"
CHALLENGE = {
    "WWW-Authenticate": 'Bearer authorization="https://login.microsoftonline.com/tenant-1", '
    'resource="https://vault.azure.net"'
}


def test_ssm_reads_what_the_laptop_wrote_and_skips_what_is_missing(aws_env: Any) -> None:
    from escher.clouds import aws
    from escher.infra.credentials import SsmWriter

    SsmWriter("/escher/credentials", "us-east-1").write("notify-hook", HOOK)
    reader = SsmSecretReader("/escher/credentials", client=aws.client("ssm", "us-east-1"))
    assert reader.read(["notify-hook", "notify-absent"]) == {"notify-hook": HOOK}


def test_key_vault_latest_version_after_the_auth_challenge() -> None:
    vault = f"escher-kv-{uuid.uuid4().hex[:8]}"  # the SDK caches a vault's challenge per URL
    path = "/secrets/acme-notify-hook/"
    replay = Replay(
        Answer("GET", path, 401, {"error": {"code": "Unauthorized"}}, CHALLENGE),
        Answer(
            "GET",
            path,
            200,
            {
                "value": HOOK,
                "id": f"https://{vault}.vault.azure.net{path}v1",
                "attributes": {"enabled": True},
            },
        ),
        Answer(
            "GET", "/secrets/acme-notify-absent/", 404, {"error": {"code": "SecretNotFound", "message": "x"}}
        ),
    )
    reader = KeyVaultSecretReader(vault, "acme", credential=AzureToken(), transport=AzureTransport(replay))
    assert reader.read(["notify-hook", "notify-absent"]) == {"notify-hook": HOOK}
    replay.done()
    assert replay.requests[1].headers["authorization"] == "Bearer kv-token"


def test_secret_manager_latest_version() -> None:
    data = HOOK.encode()
    name = "projects/acme-prod/secrets/escher-notify-hook/versions/latest"
    replay = Replay(
        Answer("GET", f"/v1/{name}:access", 200, {
            "name": "projects/123/secrets/escher-notify-hook/versions/3",
            "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(google_crc32c.value(data))},
        }),
        Answer("GET", "/v1/projects/acme-prod/secrets/escher-notify-absent/versions/latest:access", 404,
               {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}),
    )  # fmt: skip
    reader = SecretManagerReader(
        "acme-prod", "escher-", credentials=AnonymousCredentials(), session_adapter=RequestsAdapter(replay)
    )
    assert reader.read(["notify-hook", "notify-absent"]) == {"notify-hook": HOOK}
    replay.done()


def test_values_land_under_the_names_the_notifier_reads_and_failures_leave_channels_unconfigured(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Found:
        def read(self, names: list[str]) -> dict[str, str]:
            return {"notify-hook": HOOK}

    assert read_secrets("aws", ["notify-hook"], {}, Found()) == {secret_env_name("notify-hook"): HOOK}

    class Refused:
        def read(self, names: list[str]) -> dict[str, str]:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameter")

    with caplog.at_level("WARNING", logger="escher.extend"):
        assert read_secrets("aws", ["notify-hook"], {}, Refused()) == {}
    assert "notify-hook" in caplog.text and HOOK not in caplog.text
    assert read_secrets("gcp", ["notify-hook"], {}) == {}  # no project known: said in the log, nothing read
