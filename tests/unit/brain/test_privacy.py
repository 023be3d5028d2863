"""Credential detection, scrubbing and pseudonymization (escher.privacy)."""

from __future__ import annotations

import json

import pytest

from escher.privacy import Pseudonymizer, find_credentials, find_credentials_in, scrub
from tests.unit.brain import canaries


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (canaries.AWS_KEY_ID, "aws_access_key_id"),
        (canaries.AWS_SESSION_KEY_ID, "aws_access_key_id"),
        (canaries.AWS_SECRET, "aws_secret_access_key"),
        (canaries.AZURE_SECRET, "azure_client_secret"),
        (canaries.GCP_PRIVATE_KEY, "private_key"),
        (canaries.SERVICE_ACCOUNT, "gcp_service_account_json"),
        (canaries.BEARER, "bearer_token"),
        (canaries.JWT, "jwt"),
        (canaries.CONNECTION_STRING, "azure_storage_connection_string"),
        (canaries.DB_URL, "url_with_password"),
        ("client_secret: FAKEsecretFAKEsecret12", "key_value_secret"),
        ("https://a.blob.core.windows.net/c?sv=2020&sig=FAKEsigFAKEsigFAKEsig0000", "sas_token"),
    ],
)
def test_each_credential_shape_is_found(text: str, kind: str) -> None:
    assert kind in {f.kind for f in find_credentials(text)}


@pytest.mark.parametrize(
    "text",
    ["Stop all dev VMs in us-east-1", "i-0a00000000000001", "arn:aws:s3:::my-bucket", "AKIA is a prefix",
     "projects/p1/zones/us-central1-a/instances/gce-dev-1", "cpu_avg_30d 3.0", "person-0001@redacted.invalid",
     "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"],
)  # fmt: skip
def test_innocent_text_is_not_a_credential(text: str) -> None:
    assert find_credentials(text) == []


def test_findings_name_the_kind_and_place_never_the_value() -> None:
    found = find_credentials_in({"context": [{"tags": {"note": canaries.AWS_KEY_ID}}]})
    assert [(f.kind, f.where) for f in found] == [("aws_access_key_id", "$.context[0].tags.note")]
    assert canaries.AWS_KEY_ID not in str(found)


def test_scrub_withholds_credentials_and_secret_named_fields() -> None:
    data = {
        "tags": {"env": "dev", "db_password": "anything", "note": canaries.JWT},
        "text": canaries.GCP_PRIVATE_KEY,
    }
    clean, withheld = scrub(data)
    assert clean == {
        "tags": {"env": "dev", "db_password": "[withheld]", "note": "[withheld]"},
        "text": "[withheld]",
    }
    assert (
        len({f.where for f in withheld}) == 3
    )  # one value may show several kinds (a JWT is high-entropy too)
    assert canaries.leaked(json.dumps(clean)) == []


def test_pseudonymize_and_restore_round_trip() -> None:
    names = Pseudonymizer()
    data = {"tags": {"owner": "alice", "contact": "bob@example.com"},
            "text": "changed by bob@example.com via arn:aws:iam::123456789012:user/carol"}  # fmt: skip
    out = names.apply(data)
    dumped = json.dumps(out)
    assert "alice" not in dumped and "bob@example.com" not in dumped and "carol" not in dumped
    assert out["tags"]["contact"] == "person-0002@redacted.invalid"
    assert "person-0002@redacted.invalid" in out["text"]  # the same person, the same token
    assert names.restore(out) == data
