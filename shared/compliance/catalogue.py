"""The framework catalogue: each framework's controls and the Escher checks that decide them.

Frameworks are data (``data/<id>.json``), validated here. A CIS file lists every recommendation of its benchmark
version, automated or manual, with the checks Escher maps to it; an automated recommendation without a check is
kept ("not implemented"), never dropped. Where a check's own ``cis`` ids do not name this version's control for
what it tests, the file's ``check_cis_corrections`` says which control is right (the catalogue is the truth; the
ids on the checks are what ``escher findings show`` prints). SOC 2 and HIPAA take their checks from the checks'
``soc2`` / ``hipaa`` ids (``checks_from``); NIST SP 800-53 carries Escher's own mapping.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from escher.clouds import Cloud
from escher.errors import EscherError, NotFoundError

__all__ = ["Control", "Correction", "Framework", "UnknownFrameworkError", "framework", "frameworks"]

FRAMEWORK_IDS = ("cis-aws", "cis-azure", "cis-gcp", "soc2", "hipaa", "nist-800-53")


class UnknownFrameworkError(NotFoundError):
    pass


class CatalogueError(EscherError):
    """A framework file that does not hold together (a bug in the package, not the user's doing)."""


class Control(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str
    section: str = ""
    automated: bool
    checks: tuple[str, ...] = ()
    note: str = ""

    @property
    def assessment(self) -> str:
        return "automated" if self.automated else "manual"


class Correction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    correct: tuple[str, ...]
    note: str = ""


class _ControlFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    section: str = ""
    automated: bool | None  # None: automated when a check maps to it (SOC 2, HIPAA)
    checks: list[str] = Field(default_factory=list)
    note: str = ""  # where Escher's checks test less than the control asks


class _FrameworkFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    version: str
    cloud: Cloud | None = None
    source: str = ""
    checks_from: Literal["soc2", "hipaa"] | None = None
    controls: list[_ControlFile]
    check_cis_corrections: dict[str, Correction] = Field(default_factory=dict)


class Framework(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    version: str
    cloud: str | None
    source: str
    controls: tuple[Control, ...]
    corrections: dict[str, Correction] = Field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.name} v{self.version}" if "." in self.version else f"{self.name} ({self.version})"

    def control(self, control_id: str) -> Control:
        for c in self.controls:
            if c.id == control_id:
                return c
        raise NotFoundError(f"{self.id} has no control {control_id!r}")

    def check_ids(self) -> set[str]:
        return {k for c in self.controls for k in c.checks}

    def controls_of(self, check_id: str) -> list[str]:
        return [c.id for c in self.controls if check_id in c.checks]


def _load(framework_id: str) -> Framework:
    raw = resources.files("escher.compliance").joinpath("data", f"{framework_id}.json").read_text("utf-8")
    data = _FrameworkFile.model_validate(json.loads(raw))
    from_tuples = _tuple_map(data.checks_from) if data.checks_from else {}
    controls = []
    for item in data.controls:
        checks = tuple(dict.fromkeys([*item.checks, *sorted(from_tuples.get(item.id, ()))]))
        automated = bool(checks) if item.automated is None else item.automated
        controls.append(
            Control(
                id=item.id,
                title=item.title,
                section=item.section,
                automated=automated,
                checks=checks,
                note=item.note,
            )
        )
    ids = [c.id for c in controls]
    if len(set(ids)) != len(ids):
        raise CatalogueError(f"{framework_id}: duplicate control ids")
    return Framework(
        id=data.id,
        name=data.name,
        version=data.version,
        cloud=data.cloud,
        source=data.source,
        controls=tuple(controls),
        corrections=data.check_cis_corrections,
    )


def _tuple_map(attr: str) -> dict[str, list[str]]:
    """control id -> the checks naming it in their ``soc2`` / ``hipaa`` ids."""
    from escher.scans.checks.base import CHECKS

    out: dict[str, list[str]] = {}
    for key, chk in CHECKS.items():
        for control_id in getattr(chk, attr):
            out.setdefault(control_id, []).append(key)
    return out


@cache
def framework(framework_id: str) -> Framework:
    """One framework by id (``cis-aws``); an unknown id is an error naming the close match."""
    wanted = framework_id.strip().lower()
    if wanted not in FRAMEWORK_IDS:
        close = difflib.get_close_matches(wanted, FRAMEWORK_IDS, n=1)
        raise UnknownFrameworkError(
            f"unknown framework {framework_id!r}",
            hint=(f"did you mean {close[0]}? " if close else "") + "try `escher compliance list`",
        )
    return _load(wanted)


def frameworks() -> list[Framework]:
    return [framework(f) for f in FRAMEWORK_IDS]
