"""``escher accounts list --cloud aws|azure|gcp``: the accounts ``escher scan --all-accounts`` reads."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit, sub_app
from escher.clouds.provider import one_of

app = sub_app("The accounts of an organization: what `escher scan --all-accounts` reads.")


@app.command("list")
def list_(
    ctx: typer.Context,
    cloud: str = typer.Option("aws", "--cloud", "-c", help=f"{one_of()}."),
) -> None:
    """List what a scan with --all-accounts reads. AWS: [aws] accounts when set, else the organization's
    (narrowed by [aws] organization_units and account_tags). Azure: [azure] subscriptions, else those under
    [azure] management_group, else every enabled one the credential sees. GCP: [gcp] projects, else those
    under [gcp] parent, else every active one the credential sees."""
    from escher.clouds import PROVIDERS
    from escher.config import load_settings

    if cloud not in PROVIDERS or "account_listing" not in PROVIDERS[cloud].refs:
        listed = one_of(p.name for p in PROVIDERS.values() if "account_listing" in p.refs)
        raise typer.BadParameter(f"{cloud!r}: use {listed}", param_hint="--cloud")
    settings = load_settings()
    listing = PROVIDERS[cloud].load("account_listing")(settings)  # the cloud's own listing, its provider's

    def text() -> None:
        from rich.table import Table

        table = Table(title=listing.title)
        for col in listing.columns:
            table.add_column(col)
        for r in listing.rows:
            table.add_row(*(str(r.get(c, "")) for c in listing.columns))
        console().print(table)
        if not listing.rows:
            console().print(f"None found: {listing.none_found}.")

    emit(ctx, {"cloud": cloud, **listing.data, "accounts": listing.rows}, text)
