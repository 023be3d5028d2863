"""``escher console``: the local web console (morning report, alert banners, approvals, ask, estate, audit,
settings) on 127.0.0.1, behind a token; the same core, gate and ledger as every command."""

from __future__ import annotations

import sys

import typer


def console(
    port: int = typer.Option(0, "--port", "-p", min=0, max=65535, help="Port to listen on (0: a free one)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Print the address; do not open a browser."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on. Beyond loopback only with --allow-remote."
    ),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a --host other machines can reach (the token still applies)."
    ),
) -> None:
    """Open the Escher Console in the browser: a local web app, reachable with the token in the printed URL.

    The token is ESCHER_CONSOLE_TOKEN, or a new one each start. Ctrl-C stops the console."""
    from escher.lazy import require

    require("starlette", "console")
    require("uvicorn", "console")
    require("jinja2", "console")
    from escher.console.app import LOOPBACK, serve

    if host not in LOOPBACK and allow_remote:
        sys.stderr.write(
            f"WARNING: the console listens on {host}: anyone who can reach it and has the token can act as you. "
            "Traffic is plain HTTP: use it only on a network you trust.\n"
        )
    running = serve(host, port, open_browser=not no_browser, allow_remote=allow_remote)
    sys.stdout.write(f"Escher Console: {running.login_url}\n")
    sys.stdout.write("Open that address (it carries the access token); Ctrl-C stops the console.\n")
    sys.stdout.flush()
    try:
        running.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
