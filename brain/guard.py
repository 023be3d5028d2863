"""Every plan is data to check, never an order: validated against the catalogue before anyone sees it.

The guard runs on the server (on the language model's output and the planner's) and again on the client
(on whatever came back over the wire). It

- keeps only steps that name a real catalogue operation, with parameters its own model accepts;
- keeps only targets that are plain resource ids and, when the caller says which ids exist, only those (an
  empty set means an empty estate: nothing can be targeted, by id or by tag);
- fills ``risk``, ``requires_approval``, ``destructive`` and ``cli`` from the catalogue, overwriting whatever the
  plan claimed (a plan cannot declare itself low-risk or pre-approved);
- says what it dropped and why, in ``notices``.

Whether a step may run without asking is decided later, on the client, by the policy gate
(``escher.policy``); the guard only guarantees that destructive steps are marked so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from escher.brain.catalog import InvalidParamsError, OperationCatalog, OperationInfo
from escher.brain.models import PlanStep, Playbook, PlaybookStep

__all__ = ["MAX_STEPS", "GuardResult", "guard_playbook", "guard_steps", "is_destructive", "safe_token"]

MAX_STEPS = 24
MAX_TARGETS = 200
# "remove" is not here: removing a public binding is a fix; the catalogue marks risky removals high-risk.
_DESTRUCTIVE_VERBS = ("delete", "terminate", "destroy", "purge", "drop", "wipe")
_TARGET = re.compile(r"^/?[A-Za-z0-9][A-Za-z0-9_.:/@=+,-]{0,1023}$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,127}$")


def safe_token(value: str, *, long: bool = False) -> bool:
    return bool((_TARGET if long else _TOKEN).match(value))


def is_destructive(info: OperationInfo) -> bool:
    """High / critical risk in the catalogue, or a verb that loses something, whatever the catalogue says."""
    verb = info.verb
    return (
        info.requires_approval
        or info.risk in ("high", "critical")
        or any(verb.startswith(v) for v in _DESTRUCTIVE_VERBS)
    )


@dataclass
class GuardResult:
    steps: list[PlanStep] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _as_dict(raw: PlanStep | dict[str, Any]) -> dict[str, Any]:
    return raw.model_dump() if isinstance(raw, PlanStep) else dict(raw)


def guard_steps(
    raw_steps: Iterable[PlanStep | dict[str, Any]],
    catalog: OperationCatalog,
    *,
    known_targets: set[str] | None = None,
) -> GuardResult:
    out = GuardResult()
    for n, raw in enumerate(raw_steps, start=1):
        if len(out.steps) >= MAX_STEPS:
            out.notices.append(f"the plan had more than {MAX_STEPS} steps; the rest were dropped")
            break
        data = _as_dict(raw)
        op_id = str(data.get("operation_id", ""))
        info = catalog.get(op_id)
        if info is None:
            out.notices.append(f"step {n} named {op_id[:80]!r}, which is not an Escher operation; dropped")
            continue
        try:
            params = catalog.validate_params(op_id, dict(data.get("params") or {}))
        except InvalidParamsError as exc:
            out.notices.append(f"step {n} ({op_id}) had invalid parameters ({exc.message}); dropped")
            continue
        targets: list[str] = []
        for target in data.get("targets") or []:
            t = str(target)
            if not safe_token(t, long=True):
                out.notices.append(f"step {n} ({op_id}) named a target that is not a resource id; ignored")
            elif known_targets is not None and t not in known_targets:
                out.notices.append(
                    f"step {n} ({op_id}) named {t[:80]!r}, which is not in your estate; ignored"
                )
            else:
                targets.append(t)
        targets = list(dict.fromkeys(targets))[:MAX_TARGETS]
        selector = {str(k): str(v) for k, v in dict(data.get("select_by_tags") or {}).items()}
        if selector and (
            not info.selects_by_tag or not all(safe_token(k) and safe_token(v) for k, v in selector.items())
        ):
            out.notices.append(f"step {n} ({op_id}) cannot select its targets by tag; selector ignored")
            selector = {}
        if selector and known_targets is not None and not known_targets:
            out.notices.append(
                f"step {n} ({op_id}) selects by tag, but your estate is empty; selector ignored"
            )
            selector = {}
        if not targets and not selector:
            out.notices.append(f"step {n} ({op_id}) has no target in your estate; dropped")
            continue
        region = data.get("region")
        region = str(region) if region and safe_token(str(region)) else None
        destructive = is_destructive(info)
        try:
            step = PlanStep(
                operation_id=op_id,
                targets=targets,
                region=region,
                params=params,
                select_by_tags=selector,
                reason=str(data.get("reason", ""))[:500],
                risk=info.risk,  # type: ignore[arg-type]
                requires_approval=info.requires_approval or destructive,
                destructive=destructive,
                cli=[catalog.cli_for(op_id, t, region, params) for t in targets[:5]] or [info.cli],
            )
        except ValidationError as exc:  # pragma: no cover - every field above is already checked
            out.notices.append(f"step {n} ({op_id}) is malformed: {exc.error_count()} error(s); dropped")
            continue
        out.steps.append(step)
    return out


def guard_playbook(playbook: Playbook, catalog: OperationCatalog) -> tuple[Playbook, list[str]]:
    """Steps that name an unknown operation or invalid parameters become manual steps, said so in the note."""
    notices: list[str] = []
    steps: list[PlaybookStep] = []
    for step in playbook.steps:
        if step.operation_id is None:
            steps.append(step)
            continue
        if catalog.get(step.operation_id) is None:
            notices.append(f"playbook step {step.title!r} named an unknown operation; kept as a manual step")
            steps.append(step.model_copy(update={"operation_id": None, "params": {}, "note": "manual step"}))
            continue
        try:
            params = catalog.validate_params(step.operation_id, step.params)
        except InvalidParamsError as exc:
            notices.append(f"playbook step {step.title!r}: {exc.message}; kept as a manual step")
            steps.append(step.model_copy(update={"operation_id": None, "params": {}}))
            continue
        steps.append(step.model_copy(update={"params": params}))
    return playbook.model_copy(update={"steps": steps}), notices
