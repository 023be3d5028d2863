"""Errors of the policy package."""

from __future__ import annotations

from escher.errors import EscherError, NotFoundError

__all__ = [
    "ApprovalError",
    "AwaitingApprovalError",
    "PolicyError",
    "TemplateError",
    "UnknownApprovalError",
    "UnknownNameError",
]


class PolicyError(EscherError):
    """Policy settings or a policy decision that cannot be made as asked."""

    exit_code = 4


class ApprovalError(PolicyError):
    """An approval request that cannot be created, found, approved or rejected."""


class UnknownApprovalError(NotFoundError, ApprovalError):
    """No approval request has this id (exit code 2: the input names nothing)."""


class AwaitingApprovalError(ApprovalError):
    """Nothing ran because the approval it needs has not been given yet (the CLI's exit code 5)."""

    exit_code = 5


class TemplateError(PolicyError):
    """An "extend me" template that is invalid, or a run outside its bounds."""


class UnknownNameError(NotFoundError, PolicyError):
    """No template or remediation switch has this name (exit code 2: the input names nothing)."""
