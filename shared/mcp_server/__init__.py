"""``escher mcp``: Escher inside any AI client (Model Context Protocol), behind the same gate and ledger.

    escher mcp                                   # stdio: what Claude Desktop / Claude Code launch
    escher mcp --transport http --port 8766      # streamable HTTP on 127.0.0.1, bearer token required

- :mod:`escher.mcp_server.service` -- :class:`~escher.mcp_server.service.EscherService`, MCP-free: every tool
  as a method returning plain data. Reads come from the same core functions as the CLI; acts go through the
  planner (``escher ask``'s resolution, never widened), the policy gate and the one ledger, with the MCP
  client named as the channel (``details.channel = "mcp:<client>"``). Nothing here approves anything.
- :mod:`escher.mcp_server.safety` -- what every answer passes: the brain's secret scrub, and tag values that
  look like instructions wrapped as untrusted data.
- :mod:`escher.mcp_server.app` -- the MCP server on the official ``mcp`` SDK (imported only there, lazily).

Importing this package imports neither the ``mcp`` SDK nor a cloud SDK.
"""

from __future__ import annotations

__all__: list[str] = []
