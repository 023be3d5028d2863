"""``escher search "text"``: hybrid search over the five collections."""

from __future__ import annotations

from datetime import datetime

import typer

from escher.cli._render import console, emit


def search(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="What to look for, in plain words."),
    collection: list[str] = typer.Option(
        [], "--collection", help="inventory, chat, operations, reports, alerts (repeatable)."
    ),
    # -c is --cloud, as in every other command (it was --collection here)
    cloud: str | None = typer.Option(None, "--cloud", "-c", help="aws, azure or gcp."),
    account: str | None = typer.Option(None, help="AWS account, Azure subscription or GCP project."),
    region: str | None = typer.Option(None),
    resource_type: str | None = typer.Option(None, "--type", help="e.g. aws.ec2.instance"),
    since: datetime | None = typer.Option(None, help="Only records at or after this time."),
    until: datetime | None = typer.Option(None, help="Only records before this time."),
    limit: int = typer.Option(10, min=1, max=100),
    mode: str = typer.Option("hybrid", help="hybrid, vector or text."),
) -> None:
    """Search the knowledge store (vector + full text, fused by rank)."""
    from pydantic import ValidationError

    from escher.store.models import SearchFilter
    from escher.store.store import Store

    if mode not in ("hybrid", "vector", "text"):  # a usage mistake: exit 2
        raise typer.BadParameter(
            f"unknown search mode {mode!r}; use hybrid, vector or text", param_hint="--mode"
        )
    try:
        flt = SearchFilter.model_validate(
            {
                "collections": tuple(collection) or None,
                "cloud": cloud,
                "account": account,
                "region": region,
                "resource_type": resource_type,
                "since": since,
                "until": until,
            }
        )
    except ValidationError as exc:  # a usage mistake: exit 2
        raise typer.BadParameter(
            f"invalid filter: {exc.errors()[0]['msg']}; collections: inventory, chat, operations, reports, "
            "alerts; clouds: aws, azure, gcp"
        ) from exc
    with Store.open() as store:
        hits = store.search(text, flt, limit=limit, mode=mode)  # type: ignore[arg-type]

    def render() -> None:
        from rich.markup import escape
        from rich.table import Table

        if not hits:
            console().print("Nothing found.")
            return
        table = Table("#", "collection", "title", "cloud", "when", "score")
        for i, h in enumerate(hits, 1):
            table.add_row(str(i), str(h.collection), escape(h.title), h.cloud or "", h.at.strftime("%Y-%m-%d %H:%M"),
                          f"{h.score:.4f}")  # fmt: skip
        console().print(table)

    emit(ctx, {"query": text, "hits": [h.model_dump(mode="json") for h in hits]}, render)
