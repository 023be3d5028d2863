"""``escher accounts list --cloud aws``: the accounts ``escher scan --all-accounts`` reads."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit, sub_app

app = sub_app("The accounts of an organization: what `escher scan --all-accounts` reads.")


@app.command("list")
def list_(
    ctx: typer.Context,
    cloud: str = typer.Option("aws", "--cloud", "-c", help="aws (Azure and GCP: not yet)."),
) -> None:
    """List the accounts a scan with --all-accounts reads: [aws] accounts when set, else the organization's
    (narrowed by [aws] organization_units and account_tags)."""
    from escher.config import load_settings

    if cloud != "aws":
        hint = "only AWS organizations are read today; use --cloud aws"
        raise typer.BadParameter(f"{cloud!r}: {hint}", param_hint="--cloud")
    aws = load_settings().aws
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

    def text() -> None:
        from rich.table import Table

        table = Table(title=f"{len(rows)} AWS accounts (role: {aws.organization_role})")
        for col in ("id", "name", "email", "status"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["id"], r["name"], r["email"], r["status"])
        console().print(table)
        if not rows:
            console().print("No account: check [aws] organization_units and account_tags.")

    emit(ctx, {"cloud": "aws", "role": aws.organization_role, "accounts": rows}, text)
