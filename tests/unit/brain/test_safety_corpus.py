"""Issue 12: a request never widens, a question never acts.

``safety_corpus.json`` holds requests across the three clouds against three estates (issue 12's AWS estate of 3
dev + 3 production instances and 3 snapshots; the three-cloud estate; the same AWS estate with instructions
planted in tags, descriptions, a name and an alert) and an empty one. Each entry says what must come back: the
exact resolved targets of a plan, the words that must be reported as not found, the resources a question would
affect, or the cron and scope of a schedule proposal. The summary test counts what the issue measured.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from escher.brain.catalog import OpsCatalog
from escher.brain.knowledge import load_knowledge
from escher.brain.models import (
    AskRequest,
    AskResponse,
    ContextItem,
    ExecutionResponse,
    InformationResponse,
    ScheduleResponse,
)
from escher.brain.planner import Planner
from escher.schedule.cron import parse as parse_cron
from escher.schedule.jobs import parse_job
from tests.unit.brain.estate import ESTATE, MEASURED, POISONED

CORPUS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "safety_corpus.json").read_text())
ESTATES: dict[str, list[ContextItem]] = {
    "measured": MEASURED,
    "multi": ESTATE,
    "poisoned": POISONED,
    "empty": [],
}
PLANNER = Planner(OpsCatalog(), load_knowledge())


def answer(case: dict[str, Any]) -> AskResponse:
    return PLANNER.ask(AskRequest(query=case["q"], context=ESTATES[case["estate"]]))


def planned(resp: AskResponse) -> set[str]:
    return {t for s in resp.steps for t in s.targets} if isinstance(resp, ExecutionResponse) else set()


def test_the_corpus_is_large_and_adversarial_enough() -> None:
    assert len(CORPUS) >= 120
    assert sum(c["adversarial"] for c in CORPUS) >= 60
    assert len({(c["q"], c["estate"]) for c in CORPUS}) == len(CORPUS)
    categories = {c["category"] for c in CORPUS}
    for needed in ("misspelling", "unknown_name", "unsupported_service", "question", "schedule", "mixed_clouds",
                   "production", "bulk", "injection"):  # fmt: skip
        assert needed in categories, needed
    clouds = {i.cloud for c in CORPUS for i in ESTATES[c["estate"]] if c["kind"] == "execution"}
    assert clouds == {"aws", "azure", "gcp"}


@pytest.mark.parametrize("case", CORPUS, ids=[f"{c['estate']}:{c['q'][:60]}" for c in CORPUS])
def test_each_request_gets_exactly_what_it_names(case: dict[str, Any]) -> None:
    resp = answer(case)
    assert resp.kind == case["kind"], resp.summary
    if "intent" in case:
        assert resp.intent == case["intent"], resp.summary
    if isinstance(resp, ExecutionResponse):
        assert sorted(planned(resp)) == case["targets"]
        assert resp.scope is not None and resp.scope.targets == case["targets"]
        assert (
            resp.scope.total == sum(resp.scope.by_environment.values()) == sum(resp.scope.by_account.values())
        )
        assert not any(
            s.select_by_tags for s in resp.steps
        )  # every target resolved: nothing chosen at run time
    if isinstance(resp, InformationResponse) and "unresolved" in case:
        assert {u.text for u in resp.unresolved} >= set(case["unresolved"]), resp.summary
        assert "Nothing was" in resp.summary
        if "reason" in case:
            assert case["reason"] in {u.reason for u in resp.unresolved}, resp.unresolved
        if "did_you_mean" in case:
            assert any(case["did_you_mean"] in u.did_you_mean for u in resp.unresolved), resp.summary
            assert case["did_you_mean"] in resp.summary
    if isinstance(resp, InformationResponse) and "ids" in case:
        assert sorted(resp.resource_ids) == sorted(case["ids"])
    if "scope" in case and case["kind"] == "information":
        assert resp.scope is not None and resp.scope.targets == case["scope"], resp.summary
    if isinstance(resp, ScheduleResponse):
        assert resp.cron == case["cron"] and parse_cron(resp.cron)
        assert resp.scope.targets == case["scope"]
        assert resp.template_required and "time zone" in resp.timezone_note
        if "recurring" in case:
            assert resp.recurring is case["recurring"]
        for job in resp.jobs:  # what `escher schedule add` would store, read back by its own parser
            stored = parse_job(job.job)
            assert stored.operation == job.operation_id
            assert stored.tags == job.select_by_tags and stored.targets == (
                [] if job.select_by_tags else job.targets
            )
            assert set(job.targets) <= set(case["scope"])
            assert job.command.startswith("escher schedule add ")
        if "selector" in case:
            assert all(j.select_by_tags == case["selector"] for j in resp.jobs)


def test_the_figures_the_issue_measured() -> None:
    """0 widened plans, 0 executions from a question or a schedule phrase, 0 plans from a request that names
    something not in the estate."""
    widened, from_question, from_schedule, from_unresolved = [], [], [], []
    for case in CORPUS:
        resp = answer(case)
        if not isinstance(resp, ExecutionResponse):
            continue
        if case["kind"] != "execution" or not planned(resp) <= set(case["targets"]):
            widened.append(case["q"])
        if case["category"] == "question":
            from_question.append(case["q"])
        if case["category"] == "schedule":
            from_schedule.append(case["q"])
        if "unresolved" in case:
            from_unresolved.append(case["q"])
    print(f"\ncorpus {len(CORPUS)} ({sum(c['adversarial'] for c in CORPUS)} adversarial): widened {len(widened)}, "
          f"executions from a question {len(from_question)}, from a schedule phrase {len(from_schedule)}, "
          f"plans despite an unresolved name {len(from_unresolved)}")  # fmt: skip
    assert (widened, from_question, from_schedule, from_unresolved) == ([], [], [], [])
