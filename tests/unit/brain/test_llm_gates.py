"""The model obeys the planner's gates (issue 12, item 4): Claude (the fake Messages API, through the real SDK)
is made to answer with plans it should not make, and each one is refused with the reason."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from escher.brain.catalog import OpsCatalog
from escher.brain.knowledge import load_knowledge
from escher.brain.llm import ClaudeBrain, LlmSettings, tool_name
from escher.brain.models import (
    AskRequest,
    AskResponse,
    ContextItem,
    ExecutionResponse,
    InformationResponse,
    ScheduleResponse,
)
from escher.brain.planner import known_targets
from tests.harness.fake_anthropic import FakeAnthropic, message
from tests.unit.brain.estate import MEASURED

DEV = ["i-0c00000000000001", "i-0c00000000000002", "i-0c00000000000003"]
PROD = ["i-0c00000000000004", "i-0c00000000000005", "i-0c00000000000006"]


def plan(*steps: tuple[str, list[str]], select: dict[str, str] | None = None) -> dict[str, Any]:
    uses = []
    for n, (op, targets) in enumerate(steps):
        args: dict[str, Any] = {"targets": targets, "region": "us-east-1", "reason": "asked"}
        if select:
            args["select_by_tags"] = select
        uses.append({"type": "tool_use", "id": f"t{n}", "name": tool_name(op), "input": args})
    return message(uses, stop_reason="tool_use")


def ask(query: str, reply: dict[str, Any], context: list[ContextItem] = MEASURED) -> AskResponse:
    fake = FakeAnthropic()
    fake.queue(reply)
    brain = ClaudeBrain(LlmSettings(api_key="k", max_retries=0), OpsCatalog(), load_knowledge(),
                        http_client=httpx2.Client(transport=fake.transport()))  # fmt: skip
    req = AskRequest(query=query, context=context)
    return brain.ask(req, known_targets(req))


def refusal(resp: AskResponse) -> str:
    return " ".join(resp.notices) + " " + resp.summary


def test_a_plan_within_what_the_user_named_passes_with_its_scope() -> None:
    resp = ask("stop the dev instances", plan(("aws.ec2.stop_instances", DEV)))
    assert isinstance(resp, ExecutionResponse) and resp.source == "llm"
    assert resp.scope is not None and resp.scope.targets == DEV and resp.scope.by_environment == {"dev": 3}
    assert resp.scope.by_account == {"123456789012": 3}


def test_a_plan_that_reaches_beyond_the_named_subset_is_refused() -> None:
    resp = ask("stop the dev instances", plan(("aws.ec2.stop_instances", DEV + PROD[:1])))
    assert isinstance(resp, InformationResponse) and resp.intent == "refused_plan"
    assert "reaches beyond what you named: i-0c00000000000004 is not among the 3" in refusal(resp)


def test_a_plan_for_one_named_instance_cannot_add_another() -> None:
    resp = ask("reboot web-dev-2", plan(("aws.ec2.reboot_instances", DEV[1:2] + PROD[:1])))
    assert isinstance(resp, InformationResponse) and resp.intent == "refused_plan"


@pytest.mark.parametrize(
    "query", ["stop web-99", "restart the databse server", "restart the lambda function orders-api"]
)
def test_a_plan_for_a_request_that_does_not_resolve_is_refused(query: str) -> None:
    resp = ask(query, plan(("aws.ec2.stop_instances", DEV + PROD)))
    assert not isinstance(resp, ExecutionResponse)
    assert "plan that was refused: the request names what is not in your estate" in refusal(resp)
    assert isinstance(resp, InformationResponse) and resp.unresolved  # the planner's not_found answer


@pytest.mark.parametrize("query", ["is it safe to stop the dev instances?", "what would happen if I stopped web-dev-1",
                                   "should I stop the dev instances?", "can I stop the dev instances?"])  # fmt: skip
def test_a_plan_answering_a_question_is_refused(query: str) -> None:
    resp = ask(query, plan(("aws.ec2.stop_instances", DEV)))
    assert isinstance(resp, InformationResponse) and resp.intent == "what_if", resp.summary
    assert "refused: this is a question" in refusal(resp)


def test_a_plan_answering_a_schedule_phrase_is_refused_and_the_schedule_proposed() -> None:
    resp = ask("stop all dev VMs at 8pm daily", plan(("aws.ec2.stop_instances", DEV)))
    assert isinstance(resp, ScheduleResponse) and resp.cron == "0 20 * * *"
    assert "refused: this asks for a schedule" in refusal(resp)


def test_a_plan_answering_a_listing_is_refused() -> None:
    resp = ask("list the dev instances", plan(("aws.ec2.stop_instances", DEV)))
    assert not isinstance(resp, ExecutionResponse)
    assert "does not ask for an action" in refusal(resp)


def test_a_tag_selector_wider_than_the_request_is_refused() -> None:
    resp = ask("stop the dev instances", plan(("aws.ec2.stop_instances", []), select={"team": "web"}))
    assert isinstance(resp, InformationResponse) and resp.intent == "refused_plan"
    assert "wider than what you named" in refusal(resp)


def test_a_tag_selector_for_a_named_resource_is_refused() -> None:
    resp = ask("stop web-dev-1", plan(("aws.ec2.stop_instances", []), select={"env": "dev"}))
    assert isinstance(resp, InformationResponse) and resp.intent == "refused_plan"


def test_an_empty_estate_gets_no_plan_from_the_model() -> None:
    resp = ask("stop the dev instances", plan(("aws.ec2.stop_instances", DEV)), context=[])
    assert not isinstance(resp, ExecutionResponse)
    resp = ask(
        "stop the dev instances", plan(("aws.ec2.stop_instances", []), select={"env": "dev"}), context=[]
    )
    assert not isinstance(resp, ExecutionResponse)


def test_an_answer_may_cite_alerts_while_a_plan_may_not_target_them() -> None:
    from escher.brain.models import ContextItem as Item

    alert = Item(kind="alert", id="alert-7", cloud="aws", state="high", name="open port")
    reply = message([{"type": "tool_use", "id": "t1", "name": "answer_information",
                      "input": {"intent": "alerts", "summary": "one", "resource_ids": ["alert-7", "made-up"]}}],
                    stop_reason="tool_use")  # fmt: skip
    resp = ask("show me the alerts", reply, context=[*MEASURED, alert])
    assert isinstance(resp, InformationResponse) and resp.resource_ids == ["alert-7"]
    resp = ask("stop alert-7", plan(("aws.ec2.stop_instances", ["alert-7"])), context=[*MEASURED, alert])
    assert not isinstance(resp, ExecutionResponse)


@pytest.mark.parametrize("query", ["stop that", "stop the dev instance", "stop 2 dev instances"])
def test_a_plan_for_a_request_that_does_not_say_which_is_refused(query: str) -> None:
    resp = ask(query, plan(("aws.ec2.stop_instances", DEV)))
    assert not isinstance(resp, ExecutionResponse), resp.summary
    assert "refused" in refusal(resp)
