"""Every MCP tool as a plain method: reads from the core as the CLI reads, acts through the planner and the gate.

No MCP here (:mod:`escher.mcp_server.app` adapts this), so the contract is testable without a transport:

- **Reads** (:mod:`escher.mcp_server.reads`: estate, findings, morning report, cost, alerts and timelines,
  audit, approvals, compliance status, playbooks) call the same core functions as the CLI.
- **Plans** (:mod:`escher.mcp_server.acts`) come from :class:`escher.assist.client.Assistant` (``escher ask``'s resolution: a request never
  widens, a question never acts) or from a playbook's own steps, and are kept here under an unguessable id.
  The model can only name that id: it never hands in targets, so it cannot widen a plan.
- **Execution** re-plans each step from the cloud now and asks the one gate; a step that needs approval gets
  an approval request (one per step, reused) and runs only once a person's approval is recorded. Nothing in this
  module approves: ``Runtime.self_approval`` stays ``None``, so neither ``--approve`` nor a "yes" exists here.
- **The ledger**: every record an act writes goes through :class:`~escher.mcp_server._base.ChannelSink`, which names the MCP client
  (``details.channel = "mcp:<client>"``); the sink is closed after each act, which signs and anchors the head.
"""

from __future__ import annotations

from escher.mcp_server._base import Answer, ChannelSink, McpError, channel_for
from escher.mcp_server.acts import Acts, PlanBook, StoredPlan
from escher.mcp_server.reads import REPORT_SECTIONS, Reads

__all__ = ["REPORT_SECTIONS", "Answer", "ChannelSink", "EscherService", "McpError", "PlanBook", "StoredPlan",
           "channel_for"]  # fmt: skip


class EscherService(Reads, Acts):
    """Every tool: :class:`~escher.mcp_server.reads.Reads` and :class:`~escher.mcp_server.acts.Acts`."""
