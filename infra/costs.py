"""Estimated idle monthly cost per resource type: a small static table, good to a few cents.

"Idle" means deployed, with the daily scan and a trickle of events: a few MB of state, some thousand requests
a month. List prices (USD, us-east-1 / eastus / us-central1, 2025); free tiers noted where they make the cost
zero. The design goal is <= $1/month per cloud; the tests check the total stays under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from escher.infra.deploy import deploy_of, deployable

__all__ = ["IDLE_BUDGET_USD", "PRICES", "CostLine", "estimate"]

IDLE_BUDGET_USD = 1.00

# resource type token -> (USD per month for one resource when idle, why): each cloud's deploy description's
# plan.prices (escher.infra.deploy_<cloud>)
PRICES: dict[str, tuple[float, str]] = {
    typ: price for cloud in deployable() for typ, price in deploy_of(cloud).plan.prices.items()
}


@dataclass(frozen=True)
class CostLine:
    type: str
    count: int
    monthly_usd: float
    note: str


def estimate(resource_types: Iterable[str]) -> tuple[list[CostLine], float]:
    """Lines for the priced types among ``resource_types`` (others are free: IAM, policies, bindings...)."""
    counts: dict[str, int] = {}
    for t in resource_types:
        if t in PRICES:
            counts[t] = counts.get(t, 0) + 1
    lines = [CostLine(t, n, round(PRICES[t][0] * n, 2), PRICES[t][1]) for t, n in sorted(counts.items())]
    return lines, round(sum(line.monthly_usd for line in lines), 2)
