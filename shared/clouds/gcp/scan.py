"""A Google Cloud scan: the configured project, or each project of ``--account`` / ``--all-accounts``.

:func:`scan` is the provider's ``scan`` (``escher.scans.runner.collect`` calls it for GCP), :func:`all_accounts`
what ``--all-accounts`` means, :func:`check_regions` the region names' check before any call.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from escher.scans.errors import CloudAccessError, ScanError

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.ops.context import CloudContext
    from escher.scans.collect.base import Progress
    from escher.scans.model import Inventory
    from escher.scans.runner import ScanOptions

__all__ = ["all_accounts", "check_regions", "scan"]


def scan(
    settings: Settings, options: ScanOptions, progress: Progress | None, ctx: CloudContext | None = None
) -> Inventory:
    """The configured project, or each of ``options.accounts["gcp"]`` in turn."""
    from escher.scans.runner import each_account

    if "gcp" in options.accounts:
        return each_account(
            "gcp", options.accounts["gcp"], lambda project: _one(settings, project, ctx, progress)
        )
    project = (
        (ctx.gcp_project if ctx else None) or settings.gcp.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    )
    if not project:
        raise CloudAccessError(
            "no GCP project is configured", hint="set [gcp] project in the config or GOOGLE_CLOUD_PROJECT"
        )
    from escher.clouds.gcp.collect import GcpCollector

    return GcpCollector(project, ctx=ctx).collect(progress)


def _one(settings: Settings, project: str, ctx: CloudContext | None, progress: Progress | None) -> Inventory:
    from escher.clouds.gcp.accounts import act_in
    from escher.clouds.gcp.collect import GcpCollector
    from escher.ops.context import CloudContext

    return GcpCollector(project, ctx=act_in(ctx or CloudContext(), settings, project)).collect(progress)


def all_accounts(settings: Settings, ctx: CloudContext | None = None) -> list[str]:
    """The projects ``--all-accounts`` means (see :func:`escher.clouds.gcp.accounts.list_projects`)."""
    from escher.clouds.gcp.accounts import list_projects

    found = list_projects(
        projects=settings.gcp.projects,
        parent=settings.gcp.parent,
        credentials_=ctx.gcp_credentials if ctx else None,
        http=ctx.gcp_discovery_http if ctx else None,
    )
    if not found:
        raise ScanError(
            "no active GCP project to scan",
            hint="check [gcp] parent, or name projects in [gcp] projects or with --account",
        )
    return [p.id for p in found]


def check_regions(settings: Settings, options: ScanOptions) -> None:
    """``[gcp] regions``: each a region Google Cloud has."""
    from escher.clouds.gcp import check_regions as check

    check(settings.gcp.regions)
