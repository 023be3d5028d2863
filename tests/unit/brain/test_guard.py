"""The guard's estate filter: a plan names only what the estate holds; an empty estate means nothing at all.

Each test here fails if the guard checks ``known_targets`` for truthiness instead of ``is not None`` (an empty
estate would then let any target through), or if the estate filter is dropped.
"""

from __future__ import annotations

from escher.brain.catalog import OpsCatalog
from escher.brain.guard import guard_steps
from escher.brain.models import AskRequest
from escher.brain.planner import known_targets
from tests.unit.brain.estate import MEASURED

CATALOG = OpsCatalog()
STOP = "aws.ec2.stop_instances"


def step(*targets: str, **extra: object) -> dict[str, object]:
    return {"operation_id": STOP, "targets": list(targets), "region": "us-east-1", "reason": "test", **extra}


def test_an_empty_estate_means_nothing_can_be_targeted() -> None:
    result = guard_steps([step("i-0c00000000000001")], CATALOG, known_targets=set())
    assert result.steps == []
    assert any("not in your estate" in n for n in result.notices)


def test_an_empty_estate_selects_nothing_by_tag_either() -> None:
    result = guard_steps([step(select_by_tags={"env": "dev"})], CATALOG, known_targets=set())
    assert result.steps == []
    assert any("estate is empty" in n for n in result.notices)


def test_a_request_with_no_context_has_no_known_targets() -> None:
    req = AskRequest(query="stop i-0c00000000000001", context=[])
    assert known_targets(req) == set()  # an id the user typed is not in the estate: it is not a target
    assert guard_steps([step("i-0c00000000000001")], CATALOG, known_targets=known_targets(req)).steps == []


def test_targets_outside_the_estate_are_dropped_and_the_rest_kept() -> None:
    known = known_targets(AskRequest(query="stop web-dev-1", context=MEASURED))
    result = guard_steps([step("i-0c00000000000001", "i-0fffffffffffffff")], CATALOG, known_targets=known)
    assert [s.targets for s in result.steps] == [["i-0c00000000000001"]]
    assert any("'i-0fffffffffffffff', which is not in your estate" in n for n in result.notices)


def test_a_step_whose_every_target_is_outside_the_estate_is_dropped() -> None:
    known = known_targets(AskRequest(query="x", context=MEASURED))
    result = guard_steps([step("i-0fffffffffffffff", "i-0eeeeeeeeeeeeeee")], CATALOG, known_targets=known)
    assert result.steps == [] and any("no target in your estate" in n for n in result.notices)


def test_alerts_and_reports_are_not_targets() -> None:
    from escher.brain.models import ContextItem

    alert = ContextItem(kind="alert", id="i-0aaaaaaaaaaaaaaa", cloud="aws", state="high")
    known = known_targets(AskRequest(query="x", context=[alert]))
    assert known == set()
    assert guard_steps([step("i-0aaaaaaaaaaaaaaa")], CATALOG, known_targets=known).steps == []


def test_without_an_estate_to_check_against_only_the_shape_is_checked() -> None:
    # None (not an empty set) is "the caller cannot say": the event path passes the event's own resource
    result = guard_steps([step("i-0c00000000000001")], CATALOG, known_targets=None)
    assert [s.targets for s in result.steps] == [["i-0c00000000000001"]]
