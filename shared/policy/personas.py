"""The two personas: a manager approves high-risk operations and defines templates; an executor runs them.

Configured in the ``[personas]`` section (``managers = ["alice"]``, ``executors = [...]``,
``single_operator = true``). With no such section Escher is used by one person: single-operator mode, where that
person is the manager of their own estate. Being a manager never lets a step that needs approval run on ``--yes``:
in single-operator mode the person approves it themselves with ``--approve "reason"`` (a recorded
self-approval); otherwise another manager approves it. The user's name is ``ESCHER_USER`` or the login name.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escher.policy.errors import PolicyError

__all__ = ["Actor", "Persona", "PersonaSettings", "current_actor", "load_personas", "single_operator"]


class Persona(StrEnum):
    manager = "manager"
    executor = "executor"
    automation = "automation"  # a worker acting on an event or a schedule: only pre-approved remediations


@dataclass(frozen=True)
class Actor:
    name: str
    persona: Persona

    @property
    def is_manager(self) -> bool:
        return self.persona is Persona.manager

    def __str__(self) -> str:
        prefix = "worker" if self.persona is Persona.automation else "user"
        return f"{prefix}:{self.name}"


class PersonaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    managers: list[str] = Field(default_factory=list)
    executors: list[str] = Field(default_factory=list)
    single_operator: bool = Field(
        default=False, description="one person runs Escher and approves their own steps with --approve"
    )


def load_personas(extensions: dict[str, Any]) -> PersonaSettings | None:
    raw = extensions.get("personas")
    if raw is None:
        return None
    try:
        return PersonaSettings.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(
            f"the [personas] section is invalid: {exc.errors()[0]['msg']}",
            hint='use managers = ["name", ...], executors = ["name", ...] and single_operator = true|false',
        ) from None


def single_operator(extensions: dict[str, Any]) -> bool:
    """Whether a manager may approve their own steps (``--approve "reason"``): no ``[personas]`` section, or
    ``single_operator = true`` in it."""
    personas = load_personas(extensions)
    return personas is None or personas.single_operator


def current_actor(extensions: dict[str, Any], env: dict[str, str] | None = None) -> Actor:
    env = dict(os.environ) if env is None else env
    name = env.get("ESCHER_USER") or getpass.getuser()
    personas = load_personas(extensions)
    alone = personas is None or (personas.single_operator and not personas.managers)
    if alone or (personas is not None and name in personas.managers):
        return Actor(name, Persona.manager)
    return Actor(name, Persona.executor)
