"""The ``[policy]`` section: when a step needs an approval besides what the catalogue says.

    [policy]
    max_targets_without_approval = 10   # a step touching more resources at once needs approval
    production_needs_approval = true    # a step on any production target needs approval
    production_environments = ["production", "prod", "prd", "live"]
    approval_ttl_hours = 24             # a request (pending or approved) stops working after this

Destructive operations (delete, resize, restore, high / critical risk) always need approval: no setting turns
that off. The section reaches the policy package through ``settings.extensions["policy"]`` and is validated
here, so a typo is an error that names the known settings, never a silently ignored rule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from escher.policy.errors import PolicyError

__all__ = ["ENVIRONMENT_TAGS", "PolicySettings", "load_policy"]

# the tag keys the engine's state carries as ``tag:<key>`` (any case), as event enrichment reads them
ENVIRONMENT_TAGS = ("env", "environment", "stage")


class PolicySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_targets_without_approval: int = Field(default=10, ge=1)
    production_needs_approval: bool = True
    production_environments: tuple[str, ...] = ("production", "prod", "prd", "live")
    approval_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 30)

    @field_validator("production_environments")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value if v.strip())

    @property
    def approval_ttl(self) -> timedelta:
        return timedelta(hours=self.approval_ttl_hours)

    def environment_of(self, state: dict[str, Any] | None) -> str | None:
        """The target's environment tag value as the engine read it (``tag:env`` / ``environment`` / ``stage``)."""
        for key, value in (state or {}).items():
            if key.startswith("tag:") and key[4:].lower() in ENVIRONMENT_TAGS and isinstance(value, str):
                return value
        return None

    def is_production(self, state: dict[str, Any] | None) -> bool:
        env = self.environment_of(state)
        return env is not None and env.strip().lower() in self.production_environments


def load_policy(extensions: dict[str, Any]) -> PolicySettings:
    try:
        return PolicySettings.model_validate(extensions.get("policy") or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "policy"
        raise PolicyError(
            f"[policy] {where}: {err['msg']}",
            hint=f"known settings: {', '.join(PolicySettings.model_fields)} (see README, 'Safety model')",
        ) from None
