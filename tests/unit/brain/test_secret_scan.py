"""Secret detection (escher.secret_scan via escher.privacy): every shape, in every setting, in linear time."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from escher.privacy import find_credentials, find_credentials_in, scrub
from escher.secret_scan import scan_strings, scan_text, secret_key_name
from tests.unit.brain.secret_shapes import FIELD_SECRETS, SHAPES, Shape, leaked

IDS = [s.name for s in SHAPES]


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_each_shape_is_found_alone_and_in_a_sentence(shape: Shape) -> None:
    assert find_credentials(shape.value), shape.name
    assert find_credentials(f"deploy note (owner ops): {shape.value} -- rotate quarterly"), shape.name


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_a_tag_holding_a_shape_is_withheld_whole(shape: Shape) -> None:
    clean, withheld = scrub({"tags": {"note": shape.value, "env": "dev"}})
    assert clean == {"tags": {"note": "[withheld]", "env": "dev"}}
    assert withheld and all(f.where == "$.tags.note" for f in withheld)


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_a_log_line_loses_the_secret_and_keeps_the_rest(shape: Shape) -> None:
    line = (f"2025-03-03T02:00:04.113Z ERROR worker[4242] retrying upload to the backup bucket after a timeout; "
            f"the job config was {shape.value} and the retry budget is 3; region us-east-1; request id "
            f"7f1c9a2e-0b4d-4c1e-9a55-12ab34cd56ef; the next attempt runs in 30 s")  # fmt: skip
    assert len(line) > 256  # long text: only the spans go
    clean, _ = scrub({"text": line})
    assert leaked(clean["text"]) == [], clean["text"]
    if any(
        span.whole for span in scan_text(shape.value)
    ):  # key material: its body may follow, all of it goes
        assert clean["text"] == "[withheld]"
    else:
        assert "[withheld]" in clean["text"] and "retry budget is 3" in clean["text"]


def test_secret_named_fields_are_withheld_whatever_they_hold() -> None:
    data = {"tags": {**FIELD_SECRETS, "env": "dev", "password_last_used": "2025-01-01", "secret_arn": "arn:aws:x",
                     "token_expiry": "3600", "api_key": "[withheld]"}}  # fmt: skip
    found = {f.where for f in find_credentials_in(data)}
    assert found == {f"$.tags.{k}" for k in FIELD_SECRETS if k != "api_key"}  # api_key holds only the marker
    data["tags"]["api_key"] = FIELD_SECRETS["api_key"]
    clean, _ = scrub(data)
    assert leaked(json.dumps(clean)) == []
    assert clean["tags"]["env"] == "dev" and clean["tags"]["secret_arn"] == "arn:aws:x"


@pytest.mark.parametrize(
    ("key", "secret"),
    [("password", True), ("db_password", True), ("clientSecret", True), ("ApiKey", True), ("api-key", True),
     ("AccountKey", True), ("SAS", True), ("routing_key", True), ("sentry_dsn", True), ("webhook_url", True),
     ("private_key", True), ("secret_arn", False), ("password_last_used", False), ("access_key_age_days", False),
     ("kms_key_id", False), ("token_expiry", False), ("key", False), ("monkey", False), ("kansas_office", False),
     ("description", False), ("owner", False)],
)  # fmt: skip
def test_secret_field_names(key: str, secret: bool) -> None:
    assert secret_key_name(key) is secret


INNOCENT = [
    "Stop all dev VMs in us-east-1", "i-0a00000000000001", "arn:aws:s3:::my-bucket", "AKIA is a prefix",
    "projects/p1/zones/us-central1-a/instances/gce-dev-1", "person-0001@redacted.invalid",
    "/subscriptions/3f2504e0-4f89-11d3-9a0c-0305e82c3301/resourceGroups/RG-Prod-Eu1/providers/Microsoft.Storage/"
    "storageAccounts/stprodeu01",
    "arn:aws:iam::123456789012:role/service-role/MyLambdaRole-abc123XYZ",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "projects/my-project-123456/serviceAccounts/escher-worker@my-project-123456.iam.gserviceaccount.com",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "ami-0abcdef1234567890",
    "https://console.aws.amazon.com/ec2/home?region=us-east-1#InstanceDetails:instanceId=i-0abc",
    "https://stprodeu01.blob.core.windows.net/container/blob.txt", "gs://my-bucket/path/to/object",
    "password: required", "the password was rotated on Monday", "token_expiry=3600", "secret_arn=arn:aws:x",
    "AWSServiceRoleForAutoScaling_CMK-EncryptionRole2023", "2025-01-01T00:00:00+00:00", "10.0.1.23",
    "postgresql://db.internal:5432/app", "https://example.com:8443/path", "user@example.com",
    "Stop web-1, api-2 and batch-3; keep db-1 running", "cpu_avg_30d 3.0", "ssh-rsa AAAAB3NzaC1yc2E public key",
]  # fmt: skip


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_text_is_not_a_credential(text: str) -> None:
    assert find_credentials(text) == []


def test_many_strings_are_scanned_at_once_and_mapped_back() -> None:
    strings = ["dev", SHAPES[0].value, "web-1", "x" * 1000, SHAPES[17].value, ""]
    hits = scan_strings(strings)
    assert sorted({i for i, _ in hits}) == [1, 4]
    for i, span in hits:
        assert strings[i][span.start : span.end]  # offsets are local to their string


ADVERSARIAL = {
    "one letter": "a" * 240_000,
    "dotted": "a." * 120_000,
    "url-ish": "a://b:c" * 34_000,
    "assignments": "api_key=abcdef1 " * 15_000,
    "keywords": "password token secret key " * 9_000,
    "base64": "aB3/" * 60_000,
    "at signs": "a@" * 120_000,
    "digits": "1" * 240_000,
    # a rule's own prefix, repeated: detect-secrets' JWT and OpenAI patterns re-read the rest of the run from
    # every occurrence (quadratic: "eyJ" * 13,000 took 2.9 s), so Escher's own shapes replace them
    "jwt heads": "eyJ" * 80_000,
    "key heads": "sk-" * 80_000,
    "aws words": "aws" * 80_000,
    "webhook heads": "https://hooks.slack.com/services/TaB3" * 6_500,
    "assignment heads": "password: " * 24_000,
}


def test_a_240kb_value_of_any_shape_scans_in_linear_time() -> None:
    """The old patterns took 27.8 s on one 240 KB tag. A hang guard, not a benchmark (bench/bench_privacy.py)."""
    started = time.perf_counter()
    for text in ADVERSARIAL.values():
        scan_text(text)
        scrub({"tags": {"note": text}})
    assert time.perf_counter() - started < 10


def test_importing_the_core_does_not_import_detect_secrets() -> None:
    code = ("import sys, escher.privacy, escher.secret_scan, escher.assist.client, escher.brain.server\n"
            "print(sorted(m for m in sys.modules if m.startswith('detect_secrets')))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_log_records_lose_every_shape(caplog: pytest.LogCaptureFixture) -> None:
    """escher.notify.redact.RedactingFilter: message, arguments and extra fields, with no secret configured."""
    import logging

    from escher.notify.redact import RedactingFilter

    logger = logging.getLogger("escher.test.redaction")
    logger.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            for shape in SHAPES:
                logger.info(
                    "upload failed: %s (retrying)", shape.value, extra={"detail": {"cfg": shape.value}}
                )
                logger.warning(f"config was {shape.value}")
    finally:
        logger.filters.clear()
    records = "\n".join(f"{r.getMessage()} {getattr(r, 'detail', '')}" for r in caplog.records)
    assert len(caplog.records) == 2 * len(SHAPES)
    assert leaked(records) == [] and leaked(caplog.text) == []
