"""The operations catalogue and the engine: the only path by which Escher changes a cloud.

    from escher.ops import OPERATIONS, Engine, CloudContext, permissions_for

Operations are declared as data in one module per cloud and service family (``aws_ec2``, ``azure_compute``,
...), loaded on first lookup. Importing this package imports no cloud SDK.
"""

from __future__ import annotations

from escher.ops.context import CloudContext
from escher.ops.engine import Authorizer, Decision, Engine, Plan, PlannedChange, ResourceResult, RunResult
from escher.ops.model import (
    OPERATIONS,
    Call,
    NoParams,
    Operation,
    OpError,
    Params,
    Risk,
    Target,
    TargetNotFoundError,
    permissions_for,
)

__all__ = [
    "OPERATIONS",
    "Authorizer",
    "Call",
    "CloudContext",
    "Decision",
    "Engine",
    "NoParams",
    "OpError",
    "Operation",
    "Params",
    "Plan",
    "PlannedChange",
    "ResourceResult",
    "Risk",
    "RunResult",
    "Target",
    "TargetNotFoundError",
    "permissions_for",
]
