"""The AWS accounts ``escher scan --all-accounts`` reads, as ``escher accounts list`` shows them:
``[aws] accounts`` when set, else the organization's (narrowed by ``[aws] organization_units`` and ``account_tags``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from escher.clouds.provider import AccountListing

if TYPE_CHECKING:
    from escher.config import Settings

__all__ = ["account_listing"]


def account_listing(settings: Settings) -> AccountListing:
    aws = settings.aws
    if aws.accounts:
        rows = [
            {"id": a, "name": "", "email": "", "status": "", "source": "[aws] accounts"} for a in aws.accounts
        ]
    else:
        from escher.clouds.aws import list_accounts

        found = list_accounts(
            profile=aws.profile,
            endpoint_url=aws.endpoint_url,
            units=aws.organization_units,
            tags=aws.tag_filter() or None,
        )
        rows = [
            {"id": a.id, "name": a.name, "email": a.email, "status": a.status, "source": "organization"}
            for a in found
        ]
    return AccountListing(
        title=f"{len(rows)} AWS accounts (role: {aws.organization_role})",
        columns=("id", "name", "email", "status"),
        rows=rows,
        data={"role": aws.organization_role},
        none_found="check [aws] organization_units and account_tags",
    )
