"""What every MCP answer passes: the brain's secret scrub, and instruction-like estate text fenced as data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from escher.audit import AuditRecord, MemoryAuditSink
from escher.mcp_server.safety import looks_like_instruction, make_safe
from escher.mcp_server.service import ChannelSink, McpError, PlanBook, channel_for
from tests.unit.brain import canaries

CORPUS = json.loads(
    (Path(__file__).parents[1] / "brain" / "injection_corpus.json").read_text(encoding="utf-8")
)
PLANTED = [c["text"] for c in CORPUS if c["where"] in ("tag", "log", "name")]
PLAIN = ["dev", "production", "web-1", "true", "daily", "Managed by Terraform", "cost-center-1234",
         "do not delete", "DoNotDelete", "nightly backup of the orders database", "team-platform",
         "Snapshot of vol-0123 taken by AWS Backup", "Created by CreateImage(i-0abc) for ami-0123",
         "kubernetes.io/cluster/prod", "Allow HTTPS from anywhere", "Default security group"]  # fmt: skip


@pytest.mark.parametrize("text", PLANTED)
def test_every_planted_instruction_of_the_corpus_is_caught(text: str) -> None:
    assert looks_like_instruction(text)


@pytest.mark.parametrize("text", PLAIN)
def test_plain_tag_values_are_not(text: str) -> None:
    assert not looks_like_instruction(text)


def test_tag_values_that_look_like_instructions_are_fenced_and_kept_as_data() -> None:
    data = {"resources": [{"id": "i-1", "name": "web", "tags": {"env": "dev", "x": PLANTED[0]},
                           "state": PLANTED[0]}]}  # fmt: skip
    safe = make_safe(data)
    tags = safe.data["resources"][0]["tags"]
    assert tags["env"] == "dev" and tags["x"]["untrusted_data"] == PLANTED[0]
    assert safe.untrusted == ["$.resources[0].tags.x"]
    assert safe.data["resources"][0]["state"] == PLANTED[0]  # not estate text by its key: left as it is
    assert make_safe(data, estate_text=False).untrusted == []


def test_no_canary_survives_and_the_count_says_so() -> None:
    data = {
        "resources": [{"tags": {"note": secret}, "attrs": {"user_data": secret}} for secret in canaries.ALL]
    }
    safe = make_safe(data)
    assert canaries.leaked(json.dumps(safe.data)) == []
    assert safe.withheld >= len(canaries.ALL)


def test_the_channel_names_the_client_in_plain_characters_and_reaches_every_record() -> None:
    assert channel_for("claude-code") == "mcp:claude-code"
    assert channel_for("evil\n<system>\u202e") == "mcp:evilsystem"
    assert channel_for(None) == channel_for("") == "mcp:unknown-client"
    inner = MemoryAuditSink()
    ChannelSink(inner, "mcp:claude-ai").append(
        AuditRecord(
            actor="user:mona",
            action="approval.request",
            target="x",
            outcome="approval_requested",
            details={"request_id": "r1"},
        )
    )
    [record] = inner.records
    assert record.details == {"request_id": "r1", "channel": "mcp:claude-ai"}


def test_a_plan_id_the_server_did_not_make_is_refused() -> None:
    book = PlanBook()
    made = book.add("stop dev", [], "mcp:x")
    assert book.get(made.plan_id) is made
    with pytest.raises(McpError, match="no plan"):
        book.get("P-0000000000000000")
