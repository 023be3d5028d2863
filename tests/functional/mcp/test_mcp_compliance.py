"""``compliance_status`` through the SDK's own client over stdio, on a moto scan: the public bucket fails CIS AWS
3.1.4 and the private one does not, manual recommendations are listed as manual, every framework's % compliant
without a framework, and a wrong account is a tool error that says what to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest
from typer.testing import CliRunner

from tests.functional.mcp.conftest import call, stdio_client

PAB = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
)


@pytest.fixture
def scanned(aws_env: Any, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from escher.cli.main import app

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="mcp-public")
    s3.put_bucket_acl(Bucket="mcp-public", ACL="public-read")
    s3.create_bucket(Bucket="mcp-private")
    s3.put_public_access_block(Bucket="mcp-private", PublicAccessBlockConfiguration=PAB)
    done = CliRunner().invoke(app, ["scan", "-r", "us-east-1", "--checks", "aws.s3.*", "-o", "json"])
    assert done.exit_code in (0, 1), done.output


def test_compliance_status_over_stdio(scanned: None) -> None:
    async def main() -> None:
        async with stdio_client() as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            tool = tools["compliance_status"]
            assert tool.annotations.read_only_hint
            schema = json.dumps(tool.input_schema)
            assert "cis-aws" in schema and "nist-800-53" in schema and "not implemented" in schema

            everything = await call(client, None, "compliance_status")
            listed = {f["id"]: f for f in everything["frameworks"]}
            assert set(listed) == {"cis-aws", "cis-azure", "cis-gcp", "soc2", "hipaa", "nist-800-53"}
            assert (
                listed["cis-aws"]["percent_compliant"] is not None
                and listed["cis-aws"]["counts"]["fail"] >= 1
            )

            report = await call(client, None, "compliance_status", {"framework": "cis-aws"})
            controls = {c["id"]: c for c in report["controls"]}
            assert len(controls) == 70
            assert controls["3.1.4"]["status"] == "fail"
            failing = {r["resource_id"] for r in controls["3.1.4"]["failed"]}
            assert "mcp-public" in failing and "mcp-private" not in failing
            assert controls["3.1.4"]["passed_count"] == 1  # the private bucket, counted, not listed
            assert "passed" not in controls["3.1.4"]
            assert controls["2.1.1"]["status"] == "manual"
            assert controls["2.4"]["status"] == "not read"  # the scan ran aws.s3.* only
            assert report["accounts"][0]["account"] == "123456789012"

            fails = await call(
                client, None, "compliance_status", {"framework": "cis-aws", "status": ["fail"]}
            )
            assert fails["controls"] and {c["status"] for c in fails["controls"]} == {"fail"}

            wrong = await client.call_tool("compliance_status", {"framework": "cis-aws", "account": "999"})
            text = "\n".join(getattr(c, "text", "") for c in wrong.content)
            assert wrong.is_error and "no account '999'" in text and "123456789012" in text

    anyio.run(main)
