"""An Azure scan: the configured subscription, or each subscription of ``--account`` / ``--all-accounts``.

:func:`scan` is the provider's ``scan`` (``escher.scans.runner.collect`` calls it for Azure), :func:`all_accounts`
what ``--all-accounts`` means, :func:`check_regions` the location names' check before any call.
"""

from __future__ import annotations

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
    """The configured subscription, or each of ``options.accounts["azure"]`` in turn."""
    from escher.scans.runner import each_account

    if "azure" in options.accounts:
        return each_account(
            "azure", options.accounts["azure"], lambda sub: _one(settings, sub, ctx, progress)
        )
    sub = (ctx.azure_subscription_id if ctx else None) or settings.azure.subscription_id
    if not sub:
        raise CloudAccessError(
            "no Azure subscription is configured",
            hint="set subscription_id under [azure] in the Escher config file",
        )
    from escher.clouds.azure.collect import AzureCollector

    return AzureCollector(sub, ctx=ctx).collect(progress)


def _one(
    settings: Settings, subscription: str, ctx: CloudContext | None, progress: Progress | None
) -> Inventory:
    from escher.clouds.azure.accounts import act_in
    from escher.clouds.azure.collect import AzureCollector
    from escher.ops.context import CloudContext

    return AzureCollector(subscription, ctx=act_in(ctx or CloudContext(), settings, subscription)).collect(
        progress
    )


def all_accounts(settings: Settings, ctx: CloudContext | None = None) -> list[str]:
    """The subscriptions ``--all-accounts`` means (see :func:`escher.clouds.azure.accounts.list_subscriptions`)."""
    from escher.clouds.azure.accounts import list_subscriptions

    found = list_subscriptions(
        subscriptions=settings.azure.subscriptions,
        management_group=settings.azure.management_group,
        credential_=ctx.azure_credential if ctx else None,
        transport=ctx.azure_transport if ctx else None,
    )
    if not found:
        raise ScanError(
            "no enabled Azure subscription to scan",
            hint="check [azure] management_group, or name subscriptions in [azure] subscriptions or with --account",
        )
    return [s.id for s in found]


def check_regions(settings: Settings, options: ScanOptions) -> None:
    """``[azure] locations``: each a location Azure has."""
    from escher.clouds.azure import check_locations

    check_locations(settings.azure.locations)
