"""``--plan``: offline, every resource listed, secrets redacted, idle cost under the $1/month goal."""

from __future__ import annotations

import json

import pytest

from escher.infra.costs import IDLE_BUDGET_USD
from escher.infra.plan import REDACTED, run_plan
from tests.functional.infra.conftest import make_spec

pytest.importorskip("pulumi")


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_plan_lists_resources_redacts_secrets_and_stays_under_a_dollar(cloud: str, bundle: str) -> None:
    plan = run_plan(make_spec(cloud, bundle))
    assert len(plan.resources) > 15
    assert all(not r.type.startswith("escher:") for r in plan.resources)
    assert plan.permissions and plan.operations
    assert 0 < plan.monthly_usd <= IDLE_BUDGET_USD
    text = json.dumps(plan.to_dict(), default=str)
    assert "unset: written by" not in text  # the credential placeholders are secrets: redacted
    if cloud != "gcp":  # GCP creates secrets without values
        assert REDACTED in text


def test_plan_resets_pulumi_so_a_second_plan_is_independent(bundle: str) -> None:
    first = run_plan(make_spec("aws", bundle))
    second = run_plan(make_spec("aws", bundle, events=()))
    assert len(second.resources) < len(first.resources)
    assert not [r for r in second.resources if r.type == "aws:cloudwatch/eventRule:EventRule"]
