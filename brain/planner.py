"""The deterministic planner: common requests answered from the client's context, with no language model.

It serves three purposes: the brain's answer when no Anthropic key is configured, the client's answer when no
brain is reachable, and the golden reference that tests hold fixed. Every plan it makes passes the same guard
as the language model's, and the language model's plans pass the planner's gates (:meth:`Planner.check_plan`).

A request never widens: every word of an action resolves in the estate or the catalogue (``_resolve``), or
nothing is planned; the plan acts on exactly the resources its filters select, listed in ``scope``. A question
is answered with what the action would affect, a schedule phrase with a schedule proposal (``_proposals``);
neither is ever an execution.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from escher.brain import _answers, _proposals
from escher.brain._parse import KIND_TYPES, Query, canonical_env, kind_of, parse
from escher.brain._resolve import check_selection, not_found, scope_of, unresolved
from escher.brain.catalog import OperationCatalog
from escher.brain.guard import guard_playbook, guard_steps
from escher.brain.knowledge import Knowledge
from escher.brain.models import (
    AskRequest,
    AskResponse,
    Cloud,
    ContextItem,
    ExecutionResponse,
    Filters,
    InformationResponse,
    PlanStep,
    PlaybookResponse,
    TableData,
)

__all__ = [
    "KIND_TYPES",
    "OPS",
    "Planner",
    "is_open_to_world",
    "is_public",
    "is_underutilized",
    "known_targets",
]

CLOUDS: tuple[Cloud, ...] = ("aws", "azure", "gcp")
# (intent, kind) -> cloud -> operation id. A missing cloud means the catalogue has no such operation there.
OPS: dict[tuple[str, str], dict[str, str]] = {
    ("stop", "vm"): {"aws": "aws.ec2.stop_instances", "azure": "azure.compute.deallocate_vm", "gcp": "gcp.compute.stop_instance"},
    ("start", "vm"): {"aws": "aws.ec2.start_instances", "azure": "azure.compute.start_vm", "gcp": "gcp.compute.start_instance"},
    ("restart", "vm"): {"aws": "aws.ec2.reboot_instances", "azure": "azure.compute.restart_vm", "gcp": "gcp.compute.reset_instance"},
    ("resize", "vm"): {"aws": "aws.ec2.modify_instance_type", "azure": "azure.compute.resize_vm", "gcp": "gcp.compute.set_machine_type"},
    ("tag", "vm"): {"aws": "aws.ec2.tag_resources", "azure": "azure.compute.tag_vm", "gcp": "gcp.compute.set_instance_labels"},
    ("stop", "database"): {"aws": "aws.rds.stop_db_instance", "azure": "azure.sql.pause_database", "gcp": "gcp.sql.stop_instance"},
    ("start", "database"): {"aws": "aws.rds.start_db_instance", "azure": "azure.sql.resume_database", "gcp": "gcp.sql.start_instance"},
    ("stop", "function"): {"aws": "aws.lambda.stop_function", "azure": "azure.functions.stop_app", "gcp": "gcp.run.scale_to_zero"},
    ("start", "function"): {"aws": "aws.lambda.start_function", "azure": "azure.functions.start_app", "gcp": "gcp.run.restore_scaling"},
    ("restart", "function"): {"aws": "aws.lambda.restart_function", "azure": "azure.functions.restart_app", "gcp": "gcp.run.restart_service"},
    ("snapshot", "disk"): {"aws": "aws.ec2.create_snapshot", "azure": "azure.compute.create_disk_snapshot", "gcp": "gcp.compute.create_disk_snapshot"},
    ("snapshot", "database"): {"aws": "aws.rds.create_db_snapshot"},
    ("make_private", "bucket"): {"aws": "aws.s3.block_public_access", "azure": "azure.storage.make_container_private", "gcp": "gcp.storage.enforce_public_access_prevention"},
    ("encrypt", "bucket"): {"aws": "aws.s3.enable_default_encryption"},
    ("encrypt", "disk"): {"aws": "aws.ec2.enable_ebs_encryption_by_default"},
    ("versioning", "bucket"): {"aws": "aws.s3.enable_versioning", "gcp": "gcp.storage.enable_versioning"},
    ("delete", "snapshot"): {"aws": "aws.ec2.delete_snapshot", "azure": "azure.compute.delete_snapshot", "gcp": "gcp.compute.delete_snapshot"},
    ("restrict", "firewall"): {"aws": "aws.ec2.revoke_open_ingress", "azure": "azure.network.restrict_nsg_rule", "gcp": "gcp.compute.restrict_firewall_rule"},
    # Azure SQL has no restart: NO_INTENT says why
    ("restart", "database"): {"aws": "aws.rds.reboot_db_instance", "gcp": "gcp.sql.restart_instance"},
    ("resize", "database"): {"aws": "aws.rds.resize_db_instance", "azure": "azure.sql.resize_database", "gcp": "gcp.sql.resize_instance"},
    ("grow", "database"): {"aws": "aws.rds.increase_storage", "azure": "azure.sql.increase_max_size", "gcp": "gcp.sql.increase_storage"},
    ("auto_pause", "database"): {"azure": "azure.sql.set_auto_pause_delay"},
    # a failed deployment undone: the alias (AWS: its target is FUNCTION_ARN:ALIAS), the slot swap, the revision
    ("rollback", "function"): {"aws": "aws.lambda.rollback_alias", "azure": "azure.functions.swap_slot", "gcp": "gcp.run.rollback_revision"},
    # a snapshot becomes a new volume / disk (an RDS snapshot a new DB instance: _op_for); the snapshot stays
    ("restore", "snapshot"): {"aws": "aws.ec2.restore_volume_from_snapshot", "azure": "azure.compute.create_disk_from_snapshot", "gcp": "gcp.compute.create_disk_from_snapshot"},
    # tags and labels on every other kind the scan collects: one operation per cloud, by the resource's id and type
    **{("tag", kind): {"aws": "aws.tagging.tag_resource", "azure": "azure.resources.tag_resource", "gcp": "gcp.resources.set_labels"}
       for kind in ("database", "function", "disk", "snapshot", "firewall")},
    ("tag", "bucket"): {"aws": "aws.tagging.tag_resource", "azure": "azure.resources.tag_resource", "gcp": "gcp.storage.set_bucket_labels"},
}  # fmt: skip
# operations whose parameters depend on each target (its type, a name derived from it): one step per target
_PER_TARGET = {
    "aws.tagging.tag_resource",
    "aws.rds.restore_db_from_snapshot",
    "gcp.compute.create_disk_from_snapshot",
}
# operations _op_for picks by the target's type rather than from OPS
BY_TYPE: frozenset[str] = frozenset({
    "azure.storage.disallow_blob_public_access", "aws.rds.create_db_snapshot", "aws.rds.restore_db_from_snapshot",
    "aws.ec2.encrypt_volume",
})  # fmt: skip
# catalogue operations no request plans directly, and why (tests/unit/brain/test_intents_catalogue.py: every
# operation is in OPS, BY_TYPE or here)
NO_INTENT: dict[str, str] = {
    "azure.network.remove_nsg_rule": "deletes the rule: the brain narrows an open rule instead "
    "(azure.network.restrict_nsg_rule); the delete is a playbook step and a remediation, run by name",
    "azure.sql.remove_firewall_rule": "deletes a server firewall rule: a playbook step and a finding's fix, run by "
    "name ('escher ops run'), never chosen from words",
    "azure.storage.require_secure_transfer": "the fix of the secure-transfer finding and a playbook step "
    "('escher fix'); no request word names it apart from the finding",
    "gcp.compute.disable_firewall_rule": "the brain restricts an open firewall rule "
    "(gcp.compute.restrict_firewall_rule); disabling it is a remediation and a playbook step, run by name",
    "gcp.storage.remove_public_bindings": "the public-bucket remediation and a playbook step; 'make X private' "
    "plans gcp.storage.enforce_public_access_prevention, which also covers the bindings",
}
_BY_DEFAULT = {  # why there is no operation: these are on already
    (
        "encrypt",
        "bucket",
        "azure",
    ): "Azure Storage encrypts data at rest by default (Microsoft-managed keys).",
    ("encrypt", "bucket", "gcp"): "Cloud Storage encrypts data at rest by default (Google-managed keys).",
    ("encrypt", "disk", "azure"): "Azure managed disks are encrypted at rest by default.",
    ("encrypt", "disk", "gcp"): "Persistent disks are encrypted at rest by default.",
}
_SUGGESTIONS = [
    "What's my biggest cost driver across all clouds?",
    "Show me all public storage buckets",
    "Which VMs are underutilized?",
    "Stop all dev VMs",
    "Create a disaster recovery playbook for production",
]
_IDLE_CPU = 10.0


def known_targets(req: AskRequest) -> set[str]:
    """What a plan may name: resource ids and regions the client sent. An id the user typed that is not in the
    estate is not a target (it is reported as not found); an empty estate means nothing can be targeted. A
    Lambda alias is not collected, so ``FUNCTION_ARN:ALIAS`` is a target only for an alias the request names
    on a function of the estate (``orders-api:live``, "the live alias of orders-api")."""
    resources = [c for c in req.context if c.kind == "resource"]
    return (
        {c.id for c in resources}
        | {c.region for c in resources if c.region}
        | {t for c in resources for t in alias_targets(req.query, c)}
    )


_ALIAS = r"([A-Za-z0-9_-]{1,128})"


def alias_targets(text: str, item: ContextItem) -> list[str]:
    """``FUNCTION_ARN:ALIAS`` for each alias ``text`` names on this Lambda function (by its name or ARN)."""
    if item.resource_type != "aws.lambda.function":
        return []
    found: list[str] = []
    for name in {n for n in (item.name, item.id) if n and len(n) >= 3}:
        n = re.escape(name)
        for pattern in (rf"(?<![\w-]){n}:{_ALIAS}(?![\w-])",
                        rf"\b{_ALIAS}\s+alias\s+(?:of|on|for)\s+(?:the\s+)?(?:function\s+)?{n}(?![\w:-])",
                        rf"(?<![\w-]){n}(?:'s)?\s+{_ALIAS}\s+alias\b"):  # fmt: skip
            found += [a for a in re.findall(pattern, text, re.IGNORECASE)
                      if a.lower() not in ("the", "a", "an", "its", "function") and not a.isdigit()]  # fmt: skip
    return [f"{item.id}:{a}" for a in dict.fromkeys(found)]


def _truthy(value: Any) -> bool:
    return value not in (None, False, "", 0, "false", "False", "none", "None", "disabled", "Disabled")


def is_public(item: ContextItem) -> bool:
    a = item.attrs
    return any(
        _truthy(a.get(k)) for k in ("public", "acl_public", "policy_public", "public_bindings")
    ) or str(a.get("public_access", "")).lower() in ("blob", "container", "public")


def is_open_to_world(item: ContextItem) -> bool:
    return _truthy(item.attrs.get("open_to_world")) or "0.0.0.0/0" in str(item.attrs.get("source_ranges", ""))


def is_unencrypted(item: ContextItem) -> bool:
    """Known to be unencrypted (unknown is not unencrypted: Azure and GCP encrypt at rest by default)."""
    return any(key in item.attrs and not _truthy(item.attrs[key]) for key in ("encrypted", "encryption"))


def is_underutilized(item: ContextItem) -> bool:
    cpu = item.attrs.get("cpu_avg_30d", item.attrs.get("cpu_max_daily_7d"))
    return isinstance(cpu, int | float) and not isinstance(cpu, bool) and cpu < _IDLE_CPU


def _age_days(item: ContextItem) -> float | None:
    raw = item.attrs.get("start_time") or item.attrs.get("created")
    when = item.at
    if isinstance(raw, str):
        try:
            when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    days: float = (datetime.now(UTC) - when) / timedelta(days=1)
    return days


_NAME_LIKE = re.compile(r"[\d\-_.]")


def read(req: AskRequest) -> Query:
    """The request parsed with the estate's names masked: in "stop web-1 and gce-dev-1", "gce-dev-1" names a
    resource; it is not a GCP filter (which would silently drop web-1) nor a dev filter."""
    masked = req.query
    names = {c.name for c in req.context if len(c.name) >= 3 and _NAME_LIKE.search(c.name)}
    names = {n for n in names if n.lower() in masked.lower()}
    if names:
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        # "orders-api:live" (a Lambda alias) is the name with its alias, not a tag orders-api=live
        masked = re.sub(rf"(?<![\w-])(?:{alternatives})(?::[A-Za-z0-9_-]+)?(?![\w-])", " ", masked,
                        flags=re.IGNORECASE)  # fmt: skip
    q = parse(masked)
    q.text, q.bare = req.query, masked
    return q


class Planner:
    def __init__(self, catalog: OperationCatalog, knowledge: Knowledge) -> None:
        self.catalog = catalog
        self.knowledge = knowledge

    # -- entry point -----------------------------------------------------------------------------------------
    def ask(self, req: AskRequest) -> AskResponse:
        q = read(req)
        filters = Filters(cloud=q.cloud, region=q.region, environment=q.environment, tags=dict(q.tags),
                          state=q.state, resource_type=q.kind)  # fmt: skip
        if q.intent == "playbook":
            return self._playbook(req, q, filters)
        if not q.is_action and q.mode != "schedule":
            # the morning report's own questions: answered from the findings and cost rows the client sent,
            # never a plan ("+30.0%" in "why did spending change +30.0%?" names no resource)
            asked = _answers.report_question(req.query)
            if asked is not None:
                return _answers.answer_report_question(*asked, req, q, filters)
        missing = unresolved(q, req.context, strict=q.is_action)
        if missing:  # a name, filter or service that resolves to nothing is never dropped for "all"
            return not_found(q, filters, missing)
        if q.is_action:
            return self._execution(req, q, filters)
        return self._information(req, q, filters)

    # -- what a plan may reach (the same gate for the language model's plans) ------------------------------
    def check_plan(self, req: AskRequest, steps: list[PlanStep]) -> str | None:
        """Why a plan for ``req`` must be refused, or None. A plan answers only an imperative request whose
        every word resolves, and acts only on the subset its filters select (ids, and those ids' regions)."""
        q = read(req)
        if q.mode == "question":
            return "this is a question: it is answered with what would be affected, never executed"
        if q.mode == "schedule":
            return "this asks for a schedule: it is proposed for 'escher schedule add', never run now"
        if not q.is_action:
            return "the request does not ask for an action Escher knows; a plan is not an answer to it"
        missing = unresolved(q, req.context, strict=True)
        if missing:
            return "the request names what is not in your estate: " + "; ".join(
                u.message for u in missing[:5]
            )
        kind = q.kind if q.kind_explicit else None
        allowed = self._narrow(self.select(req.context, q, kind), q, kind or "")
        named = _names_any(req, q)
        if q.intent == "restore" and not named:
            return "a restore creates a new resource per snapshot: the request must name each snapshot it restores"
        if issues := check_selection(q, allowed, named=named):
            return "; ".join(u.message for u in issues)
        reach = {i.id for i in allowed} | {i.region for i in allowed if i.region}
        reach |= {t for i in allowed for t in alias_targets(req.query, i)}
        outside = sorted({t for s in steps for t in s.targets if t not in reach})
        if outside:
            return (f"the plan reaches beyond what you named: {', '.join(outside[:5])} "
                    f"{'is' if len(outside) == 1 else 'are'} not among the {len(allowed)} resource(s) your request "
                    "selects")  # fmt: skip
        wanted = dict(q.tags) | ({"env": q.environment} if q.environment else {})
        for step in steps:
            sel = step.select_by_tags
            if sel and (named or q.narrows or not wanted or any(sel.get(k) != v for k, v in wanted.items())):
                return f"{step.operation_id} selects by tag {sel}, which is wider than what you named"
        return None

    # -- selection -------------------------------------------------------------------------------------------
    def select(
        self, items: list[ContextItem], q: Query, kind: str | None, *, use_state: bool = True
    ) -> list[ContextItem]:
        named = set(q.named) | {
            i.id for i in items if i.kind == "resource" and _named(q, i)
        }  # a cost row named "Compute Engine" is not a resource the request names
        out = []
        for item in items:
            if item.kind != "resource":
                continue
            if named and item.id not in named:
                continue
            if kind and kind_of(item.resource_type) != kind:
                continue
            if q.cloud and item.cloud != q.cloud:
                continue
            if q.clouds and item.cloud not in q.clouds:
                continue
            if q.region and not (item.region or "").startswith(q.region):
                continue
            if q.environment and canonical_env(item.environment) != q.environment:
                continue
            if q.intent != "tag" and any(item.tags.get(k) != v for k, v in q.tags.items()):
                continue
            if use_state and q.state and item.state.lower() != q.state:
                continue
            out.append(item)
        return out

    # -- execution -------------------------------------------------------------------------------------------
    def _execution(self, req: AskRequest, q: Query, filters: Filters) -> AskResponse:
        kind = q.kind or "vm"
        if not q.kind_explicit:  # "resume orders-dev": the kind is the named resource's
            named = self.select(req.context, q, None, use_state=False)
            kinds = {kind_of(i.resource_type) for i in named if _named(q, i)}
            if len(kinds) == 1 and None not in kinds:
                kind = kinds.pop() or kind
                if q.intent == "snapshot" and kind == "vm":
                    kind = "disk"
        table = OPS.get((q.intent, kind))
        if q.mode != "imperative":  # a question or a schedule phrase is answered, never executed
            return self._proposal(req, q, filters, kind, table)
        if table is None:
            return InformationResponse(
                intent=q.intent, filters=filters,
                summary=f"Escher has no operation to {q.intent.replace('_', ' ')} {kind}s. Nothing was planned.",
                notices=["only operations from the catalogue can be planned ('escher ops list' shows them)"],
                suggested_questions=_SUGGESTIONS[:3],
            )  # fmt: skip
        if q.intent == "restore" and not _names_any(req, q):
            return InformationResponse(
                intent="restore", filters=filters,
                summary="Which snapshot? Name each one to restore, like 'restore snap-0abc' or 'restore the "
                "orders-nightly snapshot': every restore creates a new volume, disk or database. Nothing was planned.",
                table=_table(self.select(req.context, q, "snapshot")),
            )  # fmt: skip
        if q.intent == "resize" and not q.size:
            matched = self.select(req.context, q, kind)
            return InformationResponse(
                intent="resize", filters=filters,
                summary="Which size? Say it like 'resize web-1 to t3.large' (Azure: Standard_D2s_v5, GCP: e2-standard-2).",
                table=_table(matched), resource_ids=[i.id for i in matched],
            )  # fmt: skip
        matched = self._narrow(self.select(req.context, q, kind), q, kind)
        if not matched and q.intent == "snapshot" and kind == "disk" and not q.kind_explicit:
            matched = _attached_disks(req.context, self.select(req.context, q, "vm", use_state=False), q)
        if issues := check_selection(q, matched, named=_names_any(req, q)):
            return not_found(q, filters, issues)
        notices: list[str] = []
        raw: list[dict[str, Any]] = []
        groups: dict[tuple[str, str | None], list[str]] = defaultdict(list)
        names_any = _names_any(req, q)
        for item in matched:
            op_id = self._op_for(q.intent, kind, item, named=names_any)
            if op_id is None:
                if item.cloud and (q.intent, kind, item.cloud) in _BY_DEFAULT:
                    notices.append(_BY_DEFAULT[(q.intent, kind, item.cloud)])
                else:
                    notices.append(
                        f"no {q.intent.replace('_', ' ')} operation for {item.resource_type}: {item.id}"
                    )
                continue
            target = item.region if op_id == "aws.ec2.enable_ebs_encryption_by_default" else item.id
            if op_id == "aws.lambda.rollback_alias":  # the alias is the target; only one the request names
                aliases = alias_targets(q.text, item)
                if not aliases:
                    notices.append(f"{op_id} rolls back an alias: say which, like 'roll back "
                                   f"{item.name or item.id}:live'")  # fmt: skip
                    continue
                groups[(op_id, item.region)].extend(aliases)
                continue
            if op_id in _PER_TARGET:
                params = self._target_params(op_id, q, item)
                if params is None:
                    notices.append(f"{op_id} needs a zone for {item.id}: say it, or use 'escher ops run'")
                    continue
                raw.append({"operation_id": op_id, "targets": [item.id], "region": item.region,
                            "params": params, "reason": q.text})  # fmt: skip
                continue
            groups[(op_id, item.region)].append(target or item.id)
        for (op_id, region), targets in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            raw.append({"operation_id": op_id, "targets": sorted(set(targets)), "region": region,
                        "params": self._params(op_id, q), "reason": q.text})  # fmt: skip
        result = guard_steps(raw, self.catalog, known_targets=known_targets(req))
        notices = list(dict.fromkeys(notices + result.notices))
        if not result.steps:
            return InformationResponse(
                intent=q.intent, filters=filters, notices=notices,
                summary=f"Nothing in your estate matches{_said(q, kind)}; no {q.intent.replace('_', ' ')} plan was "
                "made (a resource created since the last 'escher scan' is not known yet).",
                suggested_questions=[f"List my {kind}s"],
            )  # fmt: skip
        n = sum(len(s.targets) for s in result.steps)
        gated = [s.operation_id for s in result.steps if s.requires_approval]
        impact = f"{n} resource(s) in {len({s.operation_id.split('.')[0] for s in result.steps})} cloud(s)"
        if gated:
            impact += f"; {len(gated)} step(s) need approval: {', '.join(gated)}"
        planned = {t for s in result.steps for t in s.targets}
        scope = scope_of([i for i in matched if i.id in planned or i.region in planned], planned)
        return ExecutionResponse(
            intent=q.intent, filters=filters, steps=result.steps, impact=impact, notices=notices, scope=scope,
            summary=f"Plan: {q.intent.replace('_', ' ')} {n} {kind}(s)",
        )  # fmt: skip

    def _proposal(
        self, req: AskRequest, q: Query, filters: Filters, kind: str, table: dict[str, str] | None
    ) -> AskResponse:
        """A question gets what the action would affect; a schedule phrase gets what `schedule add` would store."""
        now = q.mode == "question"  # a schedule runs later: today's running/stopped says nothing about then
        matched = self._narrow(self.select(req.context, q, kind), q, kind, now=now)
        if q.mode == "question":
            return _proposals.what_if(req, q, filters, kind, matched, self._ops_of(q.intent, kind, matched))
        if table is None:
            return InformationResponse(
                intent=q.intent, filters=filters,
                summary=f"Escher has no operation to {q.intent.replace('_', ' ')} {kind}s. Nothing was scheduled.",
                notices=["only operations from the catalogue can be scheduled ('escher ops list' shows them)"],
            )  # fmt: skip
        if issues := check_selection(q, matched, named=_names_any(req, q)):
            return not_found(q, filters, issues)
        if q.when is None or not q.when.cron:
            return InformationResponse(
                intent="schedule", filters=filters,
                summary=f"'{q.when.phrase if q.when else q.text}' is relative to now, which a schedule cannot store; "
                "say a time ('at 22:00 tonight') or run the request then. Nothing was planned or scheduled.",
            )  # fmt: skip
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for item, op_id in self._ops_of(q.intent, kind, matched):
            if op_id:
                groups[(op_id, item.region or "")].append(item.id)
        raw = [{"operation_id": op_id, "targets": sorted(ids), "region": region or None,
                "params": self._params(op_id, q), "reason": q.text}
               for (op_id, region), ids in sorted(groups.items())]  # fmt: skip
        result = guard_steps(raw, self.catalog, known_targets=known_targets(req))
        named = any(_named(q, i) for i in matched)
        return _proposals.schedule(q, filters, matched, result.steps, result.notices, named=named)

    def _ops_of(
        self, intent: str, kind: str, items: list[ContextItem]
    ) -> list[tuple[ContextItem, str | None]]:
        return [(item, self._op_for(intent, kind, item)) for item in items]

    def _narrow(
        self, items: list[ContextItem], q: Query, kind: str, *, now: bool = True
    ) -> list[ContextItem]:
        if now and q.intent == "stop" and not q.state:
            items = [
                i for i in items if i.state.lower() not in ("stopped", "deallocated", "terminated", "paused")
            ]
        if now and q.intent == "start" and not q.state:
            items = [i for i in items if i.state.lower() not in ("running", "available", "online")]
        if q.wants_idle:
            items = [i for i in items if is_underutilized(i)]
        if q.intent == "make_private" and q.wants_public:
            items = [i for i in items if is_public(i)]
        if q.intent == "restrict":
            items = [i for i in items if is_open_to_world(i)]
        if q.wants_unencrypted or q.intent == "encrypt":
            items = [i for i in items if is_unencrypted(i)]
        if q.older_than_days is not None:
            items = [i for i in items if (_age_days(i) or 0) > q.older_than_days]
        if q.wants_orphaned and kind == "snapshot":
            items = [i for i in items if _truthy(i.attrs.get("orphaned"))]
        return items

    def _op_for(self, intent: str, kind: str, item: ContextItem, *, named: bool = False) -> str | None:
        if not item.cloud:
            return None
        if intent == "make_private" and item.resource_type == "azure.storage.account":
            return "azure.storage.disallow_blob_public_access"
        if intent == "snapshot" and item.resource_type == "aws.rds.instance":
            return "aws.rds.create_db_snapshot"
        if intent == "restore" and item.resource_type == "aws.rds.snapshot":
            return "aws.rds.restore_db_from_snapshot"
        if intent == "encrypt" and item.resource_type == "aws.ec2.volume" and named:
            # a volume the request names is encrypted itself (snapshot, encrypted copy, swap: needs approval);
            # "encrypt all unencrypted volumes" turns on the region's default for new ones, as before
            return "aws.ec2.encrypt_volume"
        if intent == "tag" and item.resource_type in ("azure.storage.container",):
            return None  # blob containers carry metadata, not ARM tags
        return OPS.get((intent, kind), {}).get(item.cloud)

    def _target_params(self, op_id: str, q: Query, item: ContextItem) -> dict[str, Any] | None:
        """Parameters of an operation in :data:`_PER_TARGET` for one target; None: the request does not say
        enough (the caller says what is missing)."""
        if op_id == "aws.tagging.tag_resource":
            return {"tags": dict(q.tags), "resource_type": item.resource_type}
        if op_id == "aws.rds.restore_db_from_snapshot":
            return {"db_instance_identifier": _restored_name(item.id)}
        if op_id == "gcp.compute.create_disk_from_snapshot":
            source = str(item.attrs.get("source_disk") or "")
            zone = source.split("/zones/", 1)[1].split("/", 1)[0] if "/zones/" in source else None
            return {"zone": zone} if zone else None
        return self._params(op_id, q)

    def _params(self, op_id: str, q: Query) -> dict[str, Any]:
        verb = op_id.rsplit(".", 1)[1]
        if verb == "resize_db_instance":
            size = q.size or ""
            return {"db_instance_class": size if size.startswith("db.") else f"db.{size}"}
        if verb in ("increase_storage", "increase_max_size"):
            m = re.search(r"\bby (\d{1,3}) ?(?:%|percent)", q.text.lower())
            return {"increase_percent": int(m.group(1))} if m else {}
        if verb == "resize_database":  # GP_Gen5_2: the family GP_Gen5 with 2 vCores; S3: a DTU objective
            m = re.fullmatch(r"(.*_gen5)_(\d{1,3})", (q.size or "").lower())
            sku = (m.group(1) if m else q.size or "").upper().replace("_GEN", "_Gen")
            return (
                {"sku": sku, "capacity": int(m.group(2))}
                if m
                else {"sku": "Basic" if sku == "BASIC" else sku}
            )
        if verb == "resize_instance":
            return {"tier": q.size}
        if verb == "set_auto_pause_delay":  # no delay said: the operation's own validation drops the step
            minutes = _pause_minutes(q.text)
            return {} if minutes is None else {"minutes": minutes}
        if verb == "swap_slot":
            m = re.search(r"\b(?!the\b|a\b|deployment\b)([a-z0-9-]{1,59})\s+slot\b", q.text.lower())
            return {"slot": m.group(1)} if m else {}
        if op_id in ("azure.resources.tag_resource",):
            return {"tags": dict(q.tags)}
        if op_id == "gcp.resources.set_labels":
            return {"tags": {k.lower(): v.lower() for k, v in q.tags.items()}}
        if verb == "modify_instance_type":
            return {"instance_type": q.size}
        if verb == "resize_vm":
            return {"vm_size": q.size}
        if verb == "set_machine_type":
            return {"machine_type": q.size}
        if verb in ("tag_resources", "tag_vm"):
            return {"tags": dict(q.tags)}
        if verb in ("set_instance_labels", "set_bucket_labels"):
            return {"labels": {k.lower(): v.lower() for k, v in q.tags.items()}}
        if verb == "revoke_open_ingress":
            return {"ports": q.ports or None}
        if verb == "restrict_nsg_rule":
            return {"sources": q.cidrs}
        if verb == "restrict_firewall_rule":
            return {"source_ranges": q.cidrs}
        if verb == "create_snapshot":
            return {"description": "escher: " + q.text[:200]}
        return {}

    # -- playbooks -------------------------------------------------------------------------------------------
    def _playbook(self, req: AskRequest, q: Query, filters: Filters) -> AskResponse:
        category = None
        low = q.text.lower()
        for words, cat in ((("disaster", "recovery", " dr ", "backup"), "disaster_recovery"),
                           (("incident", "breach", "compromised", "exposed"), "incident_first_aid"),
                           (("cost", "save", "saving", "cleanup", "clean up", "idle"), "cost_cleanup"),
                           (("secur", "harden", "public", "encrypt", "firewall"), "security_hardening")):  # fmt: skip
            if any(w in f" {low} " for w in words):
                category = cat
                break
        found = self.knowledge.find_playbooks(q.text, cloud=q.cloud, category=category, limit=1)
        if not found:
            found = self.knowledge.find_playbooks(q.text, cloud=q.cloud, limit=1)
        if not found:
            return InformationResponse(intent="playbook", filters=filters,
                                       summary="No playbook in the library matches that request.",
                                       suggested_questions=_SUGGESTIONS[-1:])  # fmt: skip
        playbook, notices = guard_playbook(found[0], self.catalog)
        done = {
            c.text.split()[0]
            for c in req.context
            if c.kind == "operation" and c.state == "succeeded" and c.text
        }
        steps = []
        for step in playbook.steps:
            update: dict[str, Any] = {}
            if step.operation_id and step.operation_id in done:
                update["status"] = "done"
            if q.environment and step.select_by_tags:
                update["select_by_tags"] = {**step.select_by_tags, "env": q.environment}
            steps.append(step.model_copy(update=update) if update else step)
        playbook = playbook.model_copy(update={"steps": steps})
        return PlaybookResponse(intent="playbook", filters=filters, playbook=playbook, notices=notices,
                                summary=f"{playbook.name}: {len(steps)} steps ({playbook.description})")  # fmt: skip

    # -- information ------------------------------------------------------------------------------------------
    def _information(self, req: AskRequest, q: Query, filters: Filters) -> AskResponse:
        if q.special == "cost_driver":
            return _answers.cost_driver(req, q, filters)
        if q.special == "alerts":
            return _answers.alerts(req, q, filters)
        if q.special == "timeline":
            return _answers.timeline(req, q, filters)
        if q.special == "report":
            return _answers.report(req, q, filters)
        if q.special == "underutilized":
            items = [i for i in self.select(req.context, q, q.kind or "vm") if is_underutilized(i)]
            return _answers.listing(items, "underutilized", filters,
                                    f"{len(items)} VM(s) average under {_IDLE_CPU:.0f}% CPU over 30 days",
                                    extra=("cpu_avg_30d", "instance_type"))  # fmt: skip
        if q.special == "public_buckets":
            items = [i for i in self.select(req.context, q, "bucket") if is_public(i)]
            return _answers.listing(items, "public_buckets", filters,
                                    f"{len(items)} storage bucket(s) or container(s) are public")  # fmt: skip
        if q.intent == "help" and not q.kind:
            return InformationResponse(intent="help", filters=filters, suggested_questions=_SUGGESTIONS,
                                       summary="I can list, stop, start, restart, resize, snapshot, make private "
                                       "and encrypt resources in AWS, Azure and GCP, and answer cost questions.")  # fmt: skip
        items = self.select(req.context, q, q.kind)
        items = self._narrow(items, q, q.kind or "")
        if q.wants_public:
            items = [i for i in items if is_public(i) or is_open_to_world(i)]
        intent = "show" if q.named and len(items) == 1 else "list"
        label = q.kind or "resource"
        return _answers.listing(items, intent, filters, f"{len(items)} {label}(s) match")


def _attached_disks(context: list[ContextItem], vms: list[ContextItem], q: Query) -> list[ContextItem]:
    """ "snapshot web-1": the disks attached to the VMs the request names (never to any other VM)."""
    named = {v.id for v in vms if _named(q, v)}
    return [
        d
        for d in context
        if d.kind == "resource"
        and kind_of(d.resource_type) == "disk"
        and any(isinstance(x, str) and x in named for x in d.attrs.values())
    ]


def _pause_minutes(text: str) -> int | None:
    """The auto-pause delay a request says: "after 2 hours" -> 120, "turn off auto-pause" -> -1, else None
    (the operation then refuses the plan: a delay must be said)."""
    low = text.lower()
    if re.search(r"\b(?:turn off|disable)\s+(?:the\s+)?auto-?pause\b", low):
        return -1
    m = re.search(r"\b(\d{1,5})\s*(minutes?|mins?|hours?)\b", low)
    if not m:
        return None
    return int(m.group(1)) * (60 if m.group(2).startswith("hour") else 1)


def _restored_name(snapshot_id: str) -> str:
    """A new RDS identifier for what a snapshot is restored to: letters, digits and single hyphens, at most 63,
    starting with a letter (``rds:orders-2026-12-01`` -> ``rds-orders-2026-12-01-restored``)."""
    base = re.sub(r"[^A-Za-z0-9]+", "-", snapshot_id).strip("-")
    base = base if base[:1].isalpha() else f"db-{base}"
    return f"{base[:54].rstrip('-')}-restored"


def _names_any(req: AskRequest, q: Query) -> bool:
    return any(c.kind == "resource" and _named(q, c) for c in req.context)


def _said(q: Query, kind: str) -> str:
    """The filters that together matched nothing, as the user would say them."""
    parts = [f"{kind}s"]
    parts += [f"on {q.cloud}"] if q.cloud else [f"on {' or '.join(q.clouds)}"] if q.clouds else []
    parts += [f"in {q.region}"] if q.region else []
    parts += [f"in environment {q.environment}"] if q.environment else []
    parts += [f"tagged {k}={v}" for k, v in q.tags.items()] if q.intent != "tag" else []
    parts += [f"in state {q.state}"] if q.state else []
    return " (" + " ".join(parts) + ")"


def _named(q: Query, item: ContextItem) -> bool:
    """The request names this resource: by name, by id, or by the id's last segment (any case)."""
    short = item.id.rsplit("/", 1)[-1]
    return (
        item.id in q.named
        or bool(item.name and _mentions(q.text, item.name))
        or (short != item.name and _mentions(q.text, short))
    )


def _mentions(text: str, name: str) -> bool:
    pattern = rf"(?<![\w-]){re.escape(name)}(?![\w-])"
    return len(name) >= 3 and re.search(pattern, text, re.IGNORECASE) is not None


def _table(items: list[ContextItem]) -> TableData:
    return _answers.resource_table(items)
