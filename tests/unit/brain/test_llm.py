"""Claude through the real anthropic SDK against the fake Messages API (full message shapes, no patching)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from escher.brain.catalog import OpsCatalog
from escher.brain.knowledge import load_knowledge
from escher.brain.llm import ClaudeBrain, LlmSettings, tool_name
from escher.brain.models import AskRequest, ExecutionResponse, InformationResponse, PlaybookResponse
from escher.brain.planner import known_targets
from escher.brain.server import BrainService, ServerConfig
from tests.harness.fake_anthropic import FakeAnthropic, message, overloaded, tool_use
from tests.unit.brain.estate import ESTATE


def brain(fake: FakeAnthropic, **settings: Any) -> ClaudeBrain:
    opts: dict[str, Any] = {"api_key": "test-key", "model": "claude-haiku-5-5", "max_retries": 0, **settings}
    client = httpx2.Client(transport=fake.transport())
    return ClaudeBrain(LlmSettings(**opts), OpsCatalog(), load_knowledge(), http_client=client)


def ask(b: ClaudeBrain, query: str) -> Any:
    req = AskRequest(query=query, context=ESTATE)
    return b.ask(req, known_targets(req))


def test_a_tool_call_becomes_a_guarded_execution_plan() -> None:
    fake = FakeAnthropic()
    fake.queue(tool_use(tool_name("aws.ec2.stop_instances"),
                        {"targets": ["i-0a00000000000001"], "region": "us-east-1", "params": {}, "reason": "dev"}))  # fmt: skip
    resp = ask(brain(fake), "stop web-1")
    assert isinstance(resp, ExecutionResponse)
    assert resp.source == "llm" and resp.operation_ids == ["aws.ec2.stop_instances"]
    assert resp.steps[0].risk == "medium" and resp.steps[0].cli[0].startswith("aws ec2 stop-instances")


def test_the_request_has_cached_system_blocks_catalogue_tools_and_a_fenced_context() -> None:
    fake = FakeAnthropic()
    ask(brain(fake), "what is running?")
    body = fake.requests[0]
    assert body["model"] == "claude-haiku-5-5"
    assert all(block["cache_control"] == {"type": "ephemeral"} for block in body["system"])
    assert "multi-dr-production" in body["system"][1]["text"]  # the knowledge digest is cached too
    names = {t["name"] for t in body["tools"]}
    assert {tool_name(op.id) for op in OpsCatalog().list()} <= names
    resize = next(t for t in body["tools"] if t["name"] == tool_name("aws.ec2.modify_instance_type"))
    assert resize["input_schema"]["properties"]["params"]["required"] == ["instance_type"]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["tool_choice"] == {"type": "any"}
    content = body["messages"][0]["content"]
    assert "<untrusted_data" in content and content.count("</untrusted_data>") == 1
    assert fake.headers[0].get("authorization") == "Bearer test-key" or fake.headers[0].get("x-api-key")


def test_invented_operations_targets_and_parameters_are_dropped() -> None:
    fake = FakeAnthropic()
    fake.queue(message([
        {"type": "tool_use", "id": "t1", "name": "aws__ec2__terminate_instances", "input": {"targets": ["i-0a00000000000001"]}},
        {"type": "tool_use", "id": "t2", "name": tool_name("aws.ec2.stop_instances"), "input": {"targets": ["i-ffffffffffffffff"], "reason": "x"}},
        {"type": "tool_use", "id": "t3", "name": tool_name("aws.ec2.modify_instance_type"), "input": {"targets": ["i-0a00000000000001"], "params": {"instance_type": "not a type; rm -rf /"}, "reason": "x"}},
    ], stop_reason="tool_use"))  # fmt: skip
    resp = ask(brain(fake), "do things")
    assert isinstance(resp, InformationResponse) and resp.intent == "refused_plan"
    text = " ".join(resp.notices)
    assert "unknown tool" in text and "not in your estate" in text and "invalid parameters" in text


def test_a_playbook_from_the_library() -> None:
    fake = FakeAnthropic()
    fake.queue(
        tool_use("propose_playbook", {"playbook_id": "aws-sec-public-buckets", "summary": "close them"})
    )
    resp = ask(brain(fake), "playbook for public buckets")
    assert isinstance(resp, PlaybookResponse) and resp.playbook.id == "aws-sec-public-buckets"


def test_information_tables_come_from_the_client_data_only() -> None:
    fake = FakeAnthropic()
    fake.queue(tool_use("answer_information", {"intent": "list", "summary": "two",
                                               "resource_ids": ["logs-public", "made-up-bucket"]}))  # fmt: skip
    resp = ask(brain(fake), "which buckets are public")
    assert isinstance(resp, InformationResponse)
    assert resp.resource_ids == ["logs-public"] and resp.table is not None and len(resp.table.rows) == 1


def test_overload_is_a_clear_503() -> None:
    fake = FakeAnthropic()
    fake.queue(overloaded())
    svc = BrainService(ServerConfig(llm=LlmSettings(api_key="k", max_retries=0)),
                       http_client=httpx2.Client(transport=fake.transport()))  # fmt: skip
    from escher.brain.llm import LlmOverloadedError

    with pytest.raises(LlmOverloadedError) as info:
        svc.ask(AskRequest(query="stop web-1", context=ESTATE))
    assert info.value.status == 503 and "overloaded" in info.value.message


def test_retries_are_configurable_and_used() -> None:
    fake = FakeAnthropic()
    fake.queue(overloaded(), message("fine"))
    resp = ask(brain(fake, max_retries=1), "hello")
    assert len(fake.requests) == 2 and resp.summary == "fine"


@pytest.mark.parametrize(("status", "error", "expected"), [(401, "authentication_error", 502), (429, "rate_limit_error", 429),
                                                           (500, "api_error", 502)])  # fmt: skip
def test_errors_become_typed_statuses(status: int, error: str, expected: int) -> None:
    from escher.brain.llm import LlmError

    fake = FakeAnthropic()
    fake.queue((status, {"type": "error", "error": {"type": error, "message": "no"}}))
    with pytest.raises(LlmError) as info:
        ask(brain(fake), "hello")
    assert info.value.status == expected
    assert json.dumps(info.value.to_dict())  # serialisable for the typed error body
