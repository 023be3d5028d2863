"""Who may change what without asking: personas, pre-approved remediations, approvals, "extend me" templates.

The :class:`~escher.policy.gate.Gate` is the engine's :class:`~escher.ops.engine.Authorizer`. Nothing here
imports a cloud SDK.
"""

from __future__ import annotations

__all__: list[str] = []
