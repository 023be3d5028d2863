"""The findings of the latest scan, filtered and found by id: what ``escher findings`` and ``escher scan`` list.

Pure functions over a stored :class:`ScanResult`; the CLI only parses and renders. Filters narrow, never widen:
an unknown cloud, severity or check pattern is an error with the close match, never "no filter".
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from escher.clouds import CLOUDS
from escher.errors import EscherError, NotFoundError
from escher.scans.model import Finding, ScanResult, Severity
from escher.scans.persist import ResultStore

__all__ = ["FindingFilter", "FindingsError", "UnknownFindingError", "get", "latest_scan", "select", "top"]

_CLOUDS = CLOUDS


class FindingsError(EscherError):
    exit_code = 2


class UnknownFindingError(NotFoundError, FindingsError):
    """No such id in the latest scan (exit 2, as `escher fix` says it)."""


def _split(values: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for item in values or () for v in item.split(",") if v.strip())


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """Each field narrows: a finding is kept when it matches one value of every field that is set."""

    clouds: tuple[str, ...] = ()
    severities: tuple[Severity, ...] = ()
    checks: tuple[str, ...] = ()  # ids or patterns (aws.s3.*)
    environments: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        *,
        clouds: Iterable[str] | None = None,
        severities: Iterable[str] | None = None,
        checks: Iterable[str] | None = None,
        environments: Iterable[str] | None = None,
        accounts: Iterable[str] | None = None,
    ) -> FindingFilter:
        """From the CLI's words (repeatable or comma-separated); typos are errors with the close match."""
        cloud_list = tuple(c.lower() for c in _split(clouds))
        for c in cloud_list:
            if c not in _CLOUDS:
                raise FindingsError(f"unknown cloud {c!r}", hint="use aws, azure or gcp")
        sevs = []
        for s in _split(severities):
            try:
                sevs.append(Severity(s.upper()))
            except ValueError:
                close = difflib.get_close_matches(s.upper(), [v.value for v in Severity], n=1)
                raise FindingsError(
                    f"unknown severity {s!r}",
                    hint=(f"did you mean {close[0].lower()}? " if close else "")
                    + "use critical, high, medium, low or info",
                ) from None
        patterns = _split(checks)
        if patterns:
            from escher.scans.engine import select_checks

            select_checks(patterns)  # a pattern no check matches is a typo: say so
        return cls(cloud_list, tuple(sevs), patterns, _split(environments), _split(accounts))

    def matches(self, f: Finding) -> bool:
        if self.clouds and f.cloud not in self.clouds:
            return False
        if self.severities and f.severity not in self.severities:
            return False
        if self.checks and not any(
            fnmatch.fnmatchcase(f.check_id, p) or f.check_id.startswith(p + ".") or f.check_id == p
            for p in self.checks
        ):
            return False
        if self.environments and f.environment.lower() not in {e.lower() for e in self.environments}:
            return False
        return not (self.accounts and f.account not in self.accounts)


def latest_scan(store: ResultStore) -> ScanResult:
    data = store.latest("scan")
    if data is None:
        raise FindingsError("no scan has been stored yet", hint="run `escher scan` first")
    return ScanResult.from_dict(data)


def _order(f: Finding) -> tuple[int, float, str, str]:
    return (-f.severity.rank, -f.monthly_saving, f.check_id, f.resource_id)


def select(scan: ScanResult, flt: FindingFilter | None = None) -> list[Finding]:
    """The failing findings that pass ``flt``, worst first (severity, then monthly saving)."""
    flt = flt or FindingFilter()
    return sorted((f for f in scan.failed if flt.matches(f)), key=_order)


def top(scan: ScanResult, n: int = 10) -> list[Finding]:
    """What ``escher scan`` lists after its summary: the ``n`` worst failing findings (all with n <= 0)."""
    ordered = select(scan)
    return ordered if n <= 0 else ordered[:n]


def get(scan: ScanResult, finding_id: str) -> Finding:
    wanted = finding_id.strip()
    for f in scan.failed:
        if f.id == wanted or f.id.lower() == wanted.lower():
            return f
    ids = [f.id for f in scan.failed]
    close = difflib.get_close_matches(wanted, ids, n=1, cutoff=0.7) or [
        i for i in ids if i.startswith(wanted)
    ]
    raise UnknownFindingError(
        f"no finding {wanted!r} in the latest scan ({scan.scan_id})",
        hint=(f"did you mean {close[0]}? " if close else "")
        + "see `escher findings list`; ids change only when the resource or check does",
    )
