"""Everything one CLI invocation (or worker run) needs to change a cloud, built from the settings.

The audit sink is the store's ledger (:class:`escher.audit.ledger.LedgerAuditSink`): hash-chained, signed and
anchored, the one ledger of every path; it opens the store on the first record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from escher.audit import AuditSink
from escher.config import Paths, Settings, load_settings, resolve_paths
from escher.ops.context import CloudContext
from escher.ops.engine import Engine
from escher.policy.approvals import Approvals, JsonFileApprovalStore
from escher.policy.gate import Gate
from escher.policy.personas import Actor, current_actor, single_operator
from escher.policy.remediation import load_remediation
from escher.policy.settings import PolicySettings, load_policy
from escher.policy.templates import JsonFileTemplateStore, Template

__all__ = ["Runtime", "open_runtime", "parse_assignments"]


@dataclass
class Runtime:
    settings: Settings
    paths: Paths
    actor: Actor
    sink: AuditSink
    approvals: Approvals
    templates: JsonFileTemplateStore
    ctx: CloudContext
    policy: PolicySettings = field(default_factory=PolicySettings)
    single_operator: bool = False
    # set by a command before it builds gates: ``--approve "reason"``, ``escher approvals run ID``
    self_approval: str | None = None
    approval_id: str | None = None
    # the account the run acts in (`--account ID`: an AWS account, Azure subscription or GCP project; ``ctx``
    # reaches it); None: the caller's own. Its gates and engines name it in every record they write.
    account: str | None = None

    def gate(self, template: Template | None = None) -> Gate:
        return Gate(
            self.actor,
            self.sink,
            approvals=self.approvals,
            remediation=load_remediation(self.settings.extensions),
            template=template,
            timezone=self.settings.general.timezone,
            policy=self.policy,
            single_operator=self.single_operator,
            self_approval=self.self_approval,
            approval_id=self.approval_id,
            account=self.account,
        )

    def engine(self, template: Template | None = None) -> Engine:
        return Engine(self.ctx, self.sink, self.gate(template), account=self.account)


def open_runtime(sink: AuditSink | None = None) -> Runtime:
    paths = resolve_paths()
    settings = load_settings(paths)
    if sink is None:
        from escher.audit.ledger import LedgerAuditSink

        sink = LedgerAuditSink(paths, settings)
    policy = load_policy(settings.extensions)
    return Runtime(
        settings=settings,
        paths=paths,
        actor=current_actor(settings.extensions),
        sink=sink,
        approvals=Approvals(JsonFileApprovalStore(paths.data_dir), sink, ttl=policy.approval_ttl),
        templates=JsonFileTemplateStore(paths.data_dir),
        ctx=CloudContext.from_settings(settings),
        policy=policy,
        single_operator=single_operator(settings.extensions),
    )


def parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    """``key=value`` pairs. Values are strings (pydantic converts "5" for a number parameter) unless they are
    a JSON list or object (``ports=[22,3389]``); ``a.b=v`` nests (``tags.env=dev`` -> ``{"tags": {"env": "dev"}}``)."""
    from escher.ops.model import OpError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise OpError(f"{what} {item!r} is not key=value", hint=f"e.g. --{what} instance_type=t3.large")
        value: Any = raw
        if raw[:1] in ("[", "{"):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise OpError(f"{what} {key}: {exc.msg}", hint="quote the JSON for your shell") from None
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
