"""Issue 17, item 7: a follow-up keeps the conversation's context and never widens it. "only the dev ones"
narrows the previous answer (it got the help text); a follow-up whose filter disagrees finds nothing rather
than something else; a plan from a follow-up that reaches outside the previous selection is not a plan."""

from __future__ import annotations

from escher.assist.client import Assistant
from escher.assist.followup import Conversation, ThreadedAssistant, is_followup
from escher.assist.sources import MemorySource
from tests.unit.brain.estate import ESTATE

DEV_EAST = "i-0a00000000000001"  # web-1, us-east-1, dev
PROD_EAST = "i-0a00000000000002"  # web-2, us-east-1, prod


def _chat() -> ThreadedAssistant:
    return ThreadedAssistant(Assistant([MemorySource(ESTATE)]), Conversation("c-1"))


def test_what_counts_as_a_follow_up() -> None:
    assert is_followup("only the dev ones") and is_followup("and just those in us-east-1")
    assert is_followup("which of them are idle?")
    assert not is_followup("list the instances in us-east-1") and not is_followup("stop web-1")


def test_only_the_dev_ones_narrows_the_previous_answer() -> None:
    chat = _chat()
    first = chat.ask("list the instances in us-east-1", local_only=True).response
    assert {DEV_EAST, PROD_EAST} <= set(first.resource_ids)  # type: ignore[union-attr]
    answer = chat.ask("only the dev ones", local_only=True)
    assert answer.response.kind == "information" and answer.response.intent != "help"
    assert answer.response.resource_ids == [DEV_EAST]  # type: ignore[union-attr]
    assert any("only the dev ones; list the instances in us-east-1" in n for n in answer.notices)


def test_a_follow_up_never_reaches_outside_the_previous_selection() -> None:
    chat = _chat()
    chat.ask("list the dev instances in us-east-1", local_only=True)
    other = chat.ask("only the prod ones", local_only=True).response
    assert other.resource_ids == []  # type: ignore[union-attr]  # prod ∩ dev: nothing, not the prod ones


def test_a_plan_from_a_follow_up_is_held_to_the_previous_selection() -> None:
    chat = _chat()
    first = chat.ask("stop the dev instances in us-east-1", local_only=True).response
    assert first.kind == "execution"
    narrowed = chat.ask("only the prod ones", local_only=True).response
    assert narrowed.kind == "information" and "Nothing was planned" in narrowed.summary
