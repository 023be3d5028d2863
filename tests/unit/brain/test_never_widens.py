"""Property: for any estate and any request that names a subset of it, a plan stays inside that subset.

The subset is computed here from the generated estate, independently of the planner: by names, environment,
cloud, region or tag. A request that names nothing in the estate, asks a question, or states a schedule gets
no execution at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escher.brain.catalog import OpsCatalog
from escher.brain.knowledge import load_knowledge
from escher.brain.models import AskRequest, ContextItem, ExecutionResponse, ScheduleResponse
from escher.brain.planner import Planner

PLANNER = Planner(OpsCatalog(), load_knowledge())
CLOUD_TYPE = {"aws": "aws.ec2.instance", "azure": "azure.compute.vm", "gcp": "gcp.compute.instance"}
REGIONS = {"aws": ["us-east-1", "eu-west-1"], "azure": ["westus", "northeurope"], "gcp": ["us-central1-a"]}
CLOUD_WORD = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}


@dataclass(frozen=True)
class Spec:
    stem: str
    n: int
    cloud: str
    region_ix: int
    env: str
    team: str
    running: bool


SPEC = st.builds(
    Spec,
    stem=st.sampled_from(["web", "api", "batch", "etl", "front", "ledger", "search", "orders"]),
    n=st.integers(1, 40),
    cloud=st.sampled_from(["aws", "azure", "gcp"]),
    region_ix=st.integers(0, 1),
    env=st.sampled_from(["dev", "prod", "staging", ""]),
    team=st.sampled_from(["payments", "data", ""]),
    running=st.booleans(),
)


def item(spec: Spec, ix: int) -> ContextItem:
    name = f"{spec.stem}-{spec.n}"
    region = REGIONS[spec.cloud][spec.region_ix % len(REGIONS[spec.cloud])]
    rid = {
        "aws": f"i-0{ix:016x}",
        "azure": f"/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}",
        "gcp": f"projects/p1/zones/{region}/instances/{name}",
    }[spec.cloud]
    tags = {k: v for k, v in (("env", spec.env), ("team", spec.team)) if v}
    return ContextItem(id=rid, cloud=spec.cloud, region=region, resource_type=CLOUD_TYPE[spec.cloud], name=name,  # type: ignore[arg-type]
                       state="running" if spec.running else "stopped", tags=tags, account=f"acct-{spec.cloud}")  # fmt: skip


@st.composite
def estates(draw: st.DrawFn) -> list[ContextItem]:
    specs = draw(st.lists(SPEC, min_size=1, max_size=12, unique_by=lambda s: (s.stem, s.n)))
    return [item(s, ix) for ix, s in enumerate(specs, start=1)]


@st.composite
def requests(draw: st.DrawFn) -> tuple[list[ContextItem], str, set[str]]:
    """An estate, a request, and the ids that request names (computed here, not by the planner)."""
    estate = draw(estates())
    verb = draw(st.sampled_from(["stop", "Stop", "shut down", "restart", "reboot", "start"]))
    how = draw(st.sampled_from(["names", "env", "env_cloud", "tag", "region", "unknown"]))
    if how == "names":
        chosen = draw(st.lists(st.sampled_from(estate), min_size=1, max_size=3, unique_by=lambda i: i.id))
        return estate, f"{verb} {' and '.join(i.name for i in chosen)}", {i.id for i in chosen}
    if how == "env":
        env = draw(st.sampled_from(["dev", "prod", "staging"]))
        return estate, f"{verb} the {env} instances", {i.id for i in estate if i.tags.get("env") == env}
    if how == "env_cloud":
        env, cloud = draw(st.sampled_from(["dev", "prod"])), draw(st.sampled_from(["aws", "azure", "gcp"]))
        subset = {i.id for i in estate if i.tags.get("env") == env and i.cloud == cloud}
        return estate, f"{verb} all {env} VMs on {CLOUD_WORD[cloud]}", subset
    if how == "tag":
        team = draw(st.sampled_from(["payments", "data"]))
        return (
            estate,
            f"{verb} instances tagged team={team}",
            {i.id for i in estate if i.tags.get("team") == team},
        )
    if how == "region":
        region = draw(st.sampled_from(["us-east-1", "eu-west-1", "us-central1-a"]))
        return estate, f"{verb} the instances in {region}", {i.id for i in estate if i.region == region}
    missing = draw(st.sampled_from(["web-99", "api-0", "gateway-1", "orders-api", "lambda function"]))
    return estate, f"{verb} {missing}", set()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_a_plan_never_leaves_the_subset_the_request_names(
    case: tuple[list[ContextItem], str, set[str]],
) -> None:
    estate, query, subset = case
    resp = PLANNER.ask(AskRequest(query=query, context=estate))
    if isinstance(resp, ExecutionResponse):
        planned = {t for s in resp.steps for t in s.targets}
        assert planned <= subset, (query, planned - subset)
        assert planned, "a plan with no resolved target would be chosen at run time"
        assert not any(s.select_by_tags for s in resp.steps)
        assert resp.scope is not None and set(resp.scope.targets) == planned
    if not subset:
        assert not isinstance(resp, ExecutionResponse), query


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    requests(),
    st.sampled_from(["is it safe to {}?", "what would happen if I {}", "should I {}?", "can I {}?"]),
)
def test_a_question_never_becomes_a_plan(case: tuple[list[ContextItem], str, set[str]], frame: str) -> None:
    estate, query, _ = case
    resp = PLANNER.ask(AskRequest(query=frame.format(query[0].lower() + query[1:]), context=estate))
    assert not isinstance(resp, ExecutionResponse), resp.summary


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    requests(), st.sampled_from(["at 8pm daily", "every weekday at 19:00", "tonight", "every night at 20:00"])
)
def test_a_schedule_phrase_never_becomes_a_plan(
    case: tuple[list[ContextItem], str, set[str]], when: str
) -> None:
    estate, query, subset = case
    resp = PLANNER.ask(AskRequest(query=f"{query} {when}", context=estate))
    assert not isinstance(resp, ExecutionResponse), resp.summary
    if isinstance(resp, ScheduleResponse):
        assert set(resp.scope.targets) <= subset
        for job in resp.jobs:  # a stored tag selector says no more than the request: its env or its tag
            assert set(job.select_by_tags.items()) <= {("env", v) for v in ("dev", "prod", "staging")} | {
                ("team", "payments"), ("team", "data")}  # fmt: skip
