"""From finding ids to catalogue operations: which operation, which targets, which parameters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from escher.errors import EscherError
from escher.scans.model import Finding, ScanResult
from escher.scans.persist import ResultStore, close_store, open_store

__all__ = ["FixError", "FixGroup", "findings_to_fix"]


class FixError(EscherError):
    exit_code = 2


@dataclass(frozen=True)
class FixGroup:
    """Findings fixed by one plan: the same operation with the same parameters, as the checks worked them out
    (``{"instance_type": "m5.large"}``, never their JSON text)."""

    operation: str
    params: dict[str, Any]
    findings: list[Finding]


def findings_to_fix(
    ids: list[str], check: str | None = None, store: ResultStore | None = None
) -> list[FixGroup]:
    """Group the chosen findings of the latest scan by (operation, parameters): one plan per group."""
    own = store is None
    store = store or open_store()
    try:
        data = store.latest("scan")
    finally:
        if own:
            close_store(store)
    if data is None:
        raise FixError("no scan has been stored yet", hint="run `escher scan` first")
    scan = ScanResult.from_dict(data)
    chosen = [f for f in scan.failed if f.id in ids or (check and f.check_id == check)]
    missing = set(ids) - {f.id for f in chosen}
    if missing or not chosen:
        raise FixError(
            f"no such finding in the latest scan: {', '.join(sorted(missing)) or check}",
            hint="ids change only when the resource or check does; run `escher scan` and use an id it prints",
        )
    groups: dict[tuple[str, str], FixGroup] = {}
    for f in chosen:
        if not f.fix_operation:
            raise FixError(
                f"{f.id} ({f.check_id}) has no catalogue operation that fixes it",
                hint=f"do it by hand: {f.remediation}",
            )
        key = json.dumps(f.fix_params, sort_keys=True)  # parameters may be lists (ports): group by their text
        group = groups.setdefault((f.fix_operation, key), FixGroup(f.fix_operation, dict(f.fix_params), []))
        group.findings.append(f)
    return list(groups.values())
