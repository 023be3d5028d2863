"""Golden utterances: each question, against one small three-cloud estate, gets the expected kind of answer,
the expected catalogue operations and targets, and the expected filters. The file is the specification of the
deterministic planner (``golden_utterances.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from escher.brain.catalog import OpsCatalog
from escher.brain.knowledge import load_knowledge
from escher.brain.models import AskRequest, ExecutionResponse, InformationResponse, PlaybookResponse
from escher.brain.planner import Planner
from tests.unit.brain.estate import ESTATE

GOLDEN: list[dict[str, Any]] = json.loads((Path(__file__).parent / "golden_utterances.json").read_text())


@pytest.fixture(scope="module")
def planner() -> Planner:
    return Planner(OpsCatalog(), load_knowledge())


def test_there_are_at_least_sixty_utterances() -> None:
    assert len(GOLDEN) >= 60
    assert len({g["q"] for g in GOLDEN}) == len(GOLDEN)


@pytest.mark.parametrize("case", GOLDEN, ids=[g["q"][:50] for g in GOLDEN])
def test_golden(case: dict[str, Any], planner: Planner) -> None:
    resp = planner.ask(AskRequest(query=case["q"], context=ESTATE))
    assert resp.kind == case["kind"], resp.summary
    assert resp.intent == case["intent"]
    filters = resp.filters.model_dump()
    for key, value in case["filters"].items():
        assert filters[key] == value, key
    if isinstance(resp, ExecutionResponse):
        assert sorted({s.operation_id for s in resp.steps}) == case["operations"]
        if "targets" in case:
            assert sorted(t for s in resp.steps for t in s.targets) == case["targets"]
        for step in resp.steps:  # safety fields come from the catalogue
            info = OpsCatalog().get(step.operation_id)
            assert info is not None and step.risk == info.risk
            assert step.requires_approval == (info.requires_approval or step.destructive)
    if isinstance(resp, InformationResponse):
        if "ids" in case:
            assert sorted(resp.resource_ids) == case["ids"]
        if "summary_contains" in case:
            assert case["summary_contains"] in resp.summary
    if isinstance(resp, PlaybookResponse):
        assert resp.playbook.category == case["playbook_category"]
        assert resp.playbook.clouds == case["playbook_clouds"]
        if "playbook_id" in case:
            assert resp.playbook.id == case["playbook_id"]


def test_destructive_plans_are_marked_for_approval(planner: Planner) -> None:
    resp = planner.ask(AskRequest(query="Delete old snapshots", context=ESTATE))
    assert isinstance(resp, ExecutionResponse)
    assert all(s.destructive and s.requires_approval for s in resp.steps)


def test_same_question_same_answer(planner: Planner) -> None:
    req = AskRequest(query="Stop all dev VMs", context=ESTATE)
    assert planner.ask(req) == planner.ask(req)
