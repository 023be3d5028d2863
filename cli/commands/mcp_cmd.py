"""``escher mcp``: Escher's tools for any AI client over the Model Context Protocol (issue 22)."""

from __future__ import annotations

import os
import signal
import sys
from enum import StrEnum
from typing import Any

import typer


class McpTransport(StrEnum):
    stdio = "stdio"
    http = "http"


def mcp(
    transport: McpTransport = typer.Option(
        McpTransport.stdio, "--transport", "-t", help="stdio (what desktop clients launch) or http."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="http: a loopback address (127.0.0.1 or ::1)."),
    port: int = typer.Option(8766, "--port", min=0, max=65535, help="http: TCP port; 0 picks a free one."),
) -> None:
    """Serve Escher to AI clients (Claude Desktop, Claude Code, IDEs) over MCP.

    Tools read the estate, findings, report, cost, alerts and audit; plans run through the same planner, gate
    and ledger as `escher ask`, and nothing that needs approval is approved from the AI client.

    http requires the bearer token ESCHER_MCP_TOKEN, else the one kept in <data dir>/mcp/token (made on first
    start, mode 0600). Nothing is written to stdout but the protocol."""
    import logging

    from escher.lazy import require

    require("mcp", "mcp")
    from escher.mcp_server.app import build_server, check_host
    from escher.mcp_server.service import EscherService

    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if transport is McpTransport.http:
        check_host(host)  # before a token is made or read
    service = EscherService()
    # a client that ends the server with SIGTERM still lets it release the embedded Postgres it holds
    signal.signal(signal.SIGTERM, _exit)
    try:
        _serve(build_server(service), transport, host, port)
    finally:
        service.close()


def _exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _serve(server: Any, transport: McpTransport, host: str, port: int) -> None:
    from escher.mcp_server.app import serve_http, serve_stdio

    if transport is McpTransport.stdio:
        serve_stdio(server)
        return
    from escher.config import resolve_paths
    from escher.mcp_server.token import server_token

    token, source, path = server_token(os.environ.get("ESCHER_MCP_TOKEN") or None, resolve_paths().data_dir)
    if source == "env":
        typer.echo("escher mcp: bearer token from ESCHER_MCP_TOKEN", err=True)
    else:
        typer.echo(f"escher mcp: bearer token in {path} (mode 0600)", err=True)

    def ready(url: str) -> None:
        typer.echo(f"escher mcp: serving {url}", err=True)

    serve_http(server, host=host, port=port, token=token, ready=ready)
