"""``escher brain``: run the stateless brain server, and look at what it knows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from escher.cli._render import console, emit, sub_app

if TYPE_CHECKING:
    from escher.brain.models import Playbook

app = sub_app("The stateless brain: serve it, read its API and its playbook library.")


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8765, "--port", help="TCP port."),
    allow_host: list[str] = typer.Option(
        [], "--allow-host", help="Another Host name clients use (repeatable); loopback names always work."
    ),
) -> None:
    """Serve the brain (ASGI, uvicorn). Set ANTHROPIC_API_KEY to answer with Claude; else rules only.

    Every endpoint but /v1/health needs the bearer token: ESCHER_BRAIN_TOKEN or [brain] token, else the one
    kept in the data dir (made on first start, mode 0600) and printed here. Clients on this machine find it."""
    import logging

    from escher.assist.token import server_token
    from escher.brain.server import serve as run
    from escher.config import load_settings, resolve_paths

    paths = resolve_paths()
    token, source, path = server_token(load_settings(paths).brain.token, paths.data_dir)
    if source == "config":
        typer.echo("brain token: from ESCHER_BRAIN_TOKEN / [brain] token")
    else:
        made = "new, saved to" if source == "generated" else "from"
        typer.echo(f"brain token ({made} {path}, mode 0600): {token}")
        typer.echo("  clients on this machine read it from there; elsewhere set ESCHER_BRAIN_TOKEN to it")
    if host in ("0.0.0.0", "::") and not allow_host:
        typer.echo("  listening on every interface, but only loopback Host names are served: add --allow-host "
                   "<the name clients use> (Host checks stop DNS rebinding)")  # fmt: skip
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run(host=host, port=port, token=token, allowed_hosts=tuple(allow_host))


@app.command("openapi")
def openapi() -> None:
    """Print the OpenAPI document (generated from the request and response models)."""
    from escher.brain.server import openapi_document
    from escher.cli._render import print_json

    print_json(openapi_document())


@app.command("playbooks")
def playbooks(
    ctx: typer.Context,
    cloud: str = typer.Option("", "--cloud", help="aws, azure or gcp."),
    saved_only: bool = typer.Option(False, "--saved", help="Only the playbooks you saved (escher ask/chat)."),
) -> None:
    """List the playbook library and your saved playbooks (a saved copy overrides the library's of its id)."""
    from escher.assist.playbooks import list_playbooks
    from escher.brain.knowledge import load_knowledge
    from escher.config import resolve_paths

    rows: dict[str, tuple[str, Playbook]] = {}
    if not saved_only:
        rows.update((p.id, ("library", p)) for p in load_knowledge().playbooks)
    rows.update((p.id, ("saved", p)) for p in list_playbooks(resolve_paths().data_dir))
    found = [(src, p) for src, p in rows.values() if not cloud or cloud in p.clouds]

    def text() -> None:
        from rich.table import Table

        table = Table(title=f"{len(found)} playbooks")
        for col in ("id", "source", "clouds", "category", "name"):
            table.add_column(col)
        for src, p in found:
            table.add_row(p.id, src, ",".join(p.clouds), p.category, p.name)
        console().print(table)

    emit(ctx, [{**p.model_dump(mode="json"), "source": src} for src, p in found], text)
