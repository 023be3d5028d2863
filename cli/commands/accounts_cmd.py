"""``escher accounts list --cloud aws|azure|gcp``: the accounts ``escher scan --all-accounts`` reads."""

from __future__ import annotations

from typing import Any

import typer

from escher.cli._render import console, emit, sub_app

app = sub_app("The accounts of an organization: what `escher scan --all-accounts` reads.")

_WORDS = {"aws": "AWS accounts", "azure": "Azure subscriptions", "gcp": "GCP projects"}


@app.command("list")
def list_(
    ctx: typer.Context,
    cloud: str = typer.Option("aws", "--cloud", "-c", help="aws, azure or gcp."),
) -> None:
    """List what a scan with --all-accounts reads. AWS: [aws] accounts when set, else the organization's
    (narrowed by [aws] organization_units and account_tags). Azure: [azure] subscriptions, else those under
    [azure] management_group, else every enabled one the credential sees. GCP: [gcp] projects, else those
    under [gcp] parent, else every active one the credential sees."""
    from escher.config import load_settings

    if cloud not in _WORDS:
        raise typer.BadParameter(f"{cloud!r}: use aws, azure or gcp", param_hint="--cloud")
    settings = load_settings()
    rows, data = _list(cloud, settings)

    def text() -> None:
        from rich.table import Table

        title = f"{len(rows)} {_WORDS[cloud]}"
        if cloud == "aws":
            title += f" (role: {settings.aws.organization_role})"
        table = Table(title=title)
        cols = ("id", "name", "email", "status") if cloud == "aws" else ("id", "name", "state", "source")
        for col in cols:
            table.add_column(col)
        for r in rows:
            table.add_row(*(str(r.get(c, "")) for c in cols))
        console().print(table)
        if not rows:
            hint = {
                "aws": "check [aws] organization_units and account_tags",
                "azure": "check [azure] management_group, or name them in [azure] subscriptions",
                "gcp": "check [gcp] parent, or name them in [gcp] projects",
            }[cloud]
            console().print(f"None found: {hint}.")

    emit(ctx, {"cloud": cloud, **data, "accounts": rows}, text)


def _list(cloud: str, settings: Any) -> tuple[list[dict[str, str]], dict[str, Any]]:
    if cloud == "azure":
        from escher.clouds.azure.accounts import list_subscriptions

        subs = list_subscriptions(
            subscriptions=settings.azure.subscriptions, management_group=settings.azure.management_group
        )
        rows = [{"id": s.id, "name": s.name, "state": s.state, "source": s.source} for s in subs]
        return rows, {"management_group": settings.azure.management_group}
    if cloud == "gcp":
        from escher.clouds.gcp.accounts import list_projects

        found = list_projects(projects=settings.gcp.projects, parent=settings.gcp.parent)
        rows = [
            {"id": p.id, "number": p.number, "name": p.name, "state": p.state, "source": p.source}
            for p in found
        ]
        return rows, {"parent": settings.gcp.parent}
    aws = settings.aws
    if aws.accounts:
        rows = [
            {"id": a, "name": "", "email": "", "status": "", "source": "[aws] accounts"} for a in aws.accounts
        ]
    else:
        from escher.clouds.aws import list_accounts

        found_aws = list_accounts(
            profile=aws.profile,
            endpoint_url=aws.endpoint_url,
            units=aws.organization_units,
            tags=aws.tag_filter() or None,
        )
        rows = [
            {"id": a.id, "name": a.name, "email": a.email, "status": a.status, "source": "organization"}
            for a in found_aws
        ]
    return rows, {"role": aws.organization_role}
