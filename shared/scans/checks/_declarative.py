"""Checks that are one attribute test: declared as data so each cloud's list stays readable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from escher.scans.checks.base import NA, CheckContext, Fail, Outcome, check, default_target
from escher.scans.model import Record, Severity

Test = Callable[[Any], bool]


def is_true(v: Any) -> bool:
    return v is True


def is_false(v: Any) -> bool:
    return v is False


def truthy(v: Any) -> bool:
    return bool(v)


def attr_check(
    key: str,
    resource: str,
    attr: str,
    ok: Test,
    *,
    title: str,
    severity: Severity,
    risk: str,
    remediation: str,
    message: str,
    category: str = "security",
    cis: tuple[str, ...] = (),
    soc2: tuple[str, ...] = (),
    hipaa: tuple[str, ...] = (),
    fix: str | None = None,
    fix_target: Callable[[Record], str] | None = None,
    absent_is_na: bool = True,
) -> None:
    """Fail when ``ok(record.attrs[attr])`` is false; not applicable when the collector did not set the attribute
    (``None`` is a value: "no public access level" is how ARM says private). With ``absent_is_na=False`` a
    missing attribute is tested as ``None``, for collectors that leave an attribute out to mean "off"."""

    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        if absent_is_na and attr not in rec.attrs:  # not read (its failure is in the errors): no verdict
            return NA
        value = rec.attrs.get(attr)
        return None if ok(value) else Fail(message.format(value=value, id=rec.id))

    check(
        key,
        resource=resource,
        title=title,
        severity=severity,
        risk=risk,
        remediation=remediation,
        category=category,
        cis=cis,
        soc2=soc2,
        hipaa=hipaa,
        fix=fix,
        fix_target=fix_target or default_target,
        reads=(attr,),
    )(fn)
