"""The AWS accounts ``escher scan --all-accounts`` reads, as ``escher accounts list`` shows them:
``[aws] accounts`` when set, else the organization's (narrowed by ``[aws] organization_units`` and ``account_tags``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from escher.clouds.provider import AccountListing

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.ops.context import CloudContext

__all__ = ["account_listing", "act_in"]


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


def act_in(base: CloudContext, settings: Settings, account: str) -> CloudContext:
    """``base`` with AWS clients acting in ``account``, on the credentials of [aws] organization_role assumed
    there (the caller's own session for its own account): what ``escher ops --account`` acts through."""
    from escher.clouds.aws import AccountSessions, translate

    aws = settings.aws
    try:
        session = AccountSessions(
            role=aws.organization_role, profile=aws.profile, endpoint_url=aws.endpoint_url
        ).enter(account, session_name="escher-ops")
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        error.hint = (
            f"check that the role {aws.organization_role!r} exists in account {account} and trusts this "
            "identity ([aws] organization_role names it)"
        )
        raise error from None

    import threading
    from dataclasses import replace

    return replace(base, aws_session=session, _cache={}, _lock=threading.Lock())
