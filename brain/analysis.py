"""Rules-based event analysis and report summary: the answer without a language model, and its fallback."""

from __future__ import annotations

from collections import defaultdict

from escher.brain.catalog import OperationCatalog
from escher.brain.guard import guard_playbook, guard_steps
from escher.brain.knowledge import Knowledge
from escher.brain.models import (
    EventAnalysisRequest,
    EventAnalysisResponse,
    Priority,
    ReportSummaryRequest,
    ReportSummaryResponse,
)

__all__ = ["analyze_event", "summarize_report"]

# event type -> cloud -> first-aid operation (acting on the event's resource)
_FIRST_AID: dict[str, dict[str, str]] = {
    "storage_bucket_public": {"aws": "aws.s3.block_public_access", "azure": "azure.storage.make_container_private",
                              "gcp": "gcp.storage.remove_public_bindings"},
    "storage_public_access_block_removed": {"aws": "aws.s3.block_public_access"},
    "security_group_open_to_world": {"aws": "aws.ec2.revoke_open_ingress", "gcp": "gcp.compute.disable_firewall_rule"},
    "volume_unencrypted": {"aws": "aws.ec2.enable_ebs_encryption_by_default"},
    "db_down": {"aws": "aws.rds.start_db_instance", "azure": "azure.sql.resume_database", "gcp": "gcp.sql.start_instance"},
}  # fmt: skip
_CAUSE = {
    "storage_bucket_public": "A bucket policy, ACL or IAM binding now grants access to anyone.",
    "storage_public_access_block_removed": "The public access block that guards the bucket was removed.",
    "security_group_open_to_world": "An inbound rule now admits 0.0.0.0/0 or ::/0.",
    "volume_unencrypted": "A volume was created without encryption (encryption by default is off in the region).",
    "db_down": "The managed database stopped serving (stopped, failed or in maintenance).",
    "budget_exceeded": "Actual spend passed the budget.",
    "cost_anomaly": "Spend deviates from the usual pattern.",
    "threat_finding": "A threat-detection service reported suspicious activity.",
}
_RISK = {"CRITICAL": "critical", "HIGH": "high", "MEDIUM": "medium", "INFO": "low"}
_RANK = {"CRITICAL": 4, "HIGH": 3, "MEDIUM": 2, "LOW": 1, "INFO": 0}


def analyze_event(
    req: EventAnalysisRequest, catalog: OperationCatalog, knowledge: Knowledge
) -> EventAnalysisResponse:
    ev = req.event
    severity = ev.severity
    reasons = []
    if (ev.data_classification or "").upper() == "PII" and ev.event_type.startswith("storage"):
        severity = "CRITICAL"
        reasons.append("the data is classified PII")
    elif (ev.environment or "") in ("production", "prod") and severity in ("MEDIUM", "INFO"):
        severity = "HIGH"
        reasons.append("it is production")
    op_id = _FIRST_AID.get(ev.event_type, {}).get(ev.cloud_provider)
    target = ev.region if op_id == "aws.ec2.enable_ebs_encryption_by_default" else ev.resource.id
    if target.startswith(
        "arn:aws:s3:::"
    ):  # S3 events name the bucket by ARN; the S3 operations take its name
        target = target.removeprefix("arn:aws:s3:::").split("/")[0]
    raw = [
        {
            "operation_id": op_id,
            "targets": [target],
            "region": ev.region,
            "reason": f"first aid for {ev.event_type}",
        }
    ]
    steps = guard_steps(raw if op_id else [], catalog, known_targets={ev.resource.id, target, ev.region})
    found = knowledge.find_playbooks(f"incident {ev.event_type} {ev.resource.type}", cloud=ev.cloud_provider,
                                     category="incident_first_aid", limit=1)  # fmt: skip
    playbook = guard_playbook(found[0], catalog)[0] if found else None
    impact = f"{ev.resource.name or ev.resource.id} in {ev.account_id}/{ev.region}"
    if ev.environment:
        impact += f" ({ev.environment})"
    if ev.cost_impact:
        impact += f"; about {ev.cost_impact:,.2f} at stake"
    if ev.affected_users:
        impact += f"; {ev.affected_users} user(s) affected"
    cause = _CAUSE.get(ev.event_type, f"A {ev.event_type.replace('_', ' ')} event was reported.")
    if reasons:
        cause += " Severity raised because " + " and ".join(reasons) + "."
    return EventAnalysisResponse(severity=severity, root_cause=cause, impact=impact, risk=_RISK[severity],  # type: ignore[arg-type]
                                 first_aid=steps.steps, playbook=playbook, notices=steps.notices)  # fmt: skip


def summarize_report(req: ReportSummaryRequest, catalog: OperationCatalog) -> ReportSummaryResponse:
    groups: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    for f in req.findings:
        groups[f.check_id].append(f)
    priorities = []
    for findings in groups.values():
        first = findings[0]
        worst = max(findings, key=lambda f: _RANK[f.severity]).severity
        op = first.fix_operation if first.fix_operation and catalog.get(first.fix_operation) else None
        priorities.append(Priority(title=first.title, severity=worst, count=len(findings),
                                   monthly_saving=round(sum(f.monthly_saving for f in findings), 2),
                                   operation_id=op, clouds=sorted({f.cloud for f in findings})))  # fmt: skip
    priorities.sort(key=lambda p: (-_RANK.get(p.severity, 0), -p.monthly_saving, -p.count, p.title))
    critical = sum(p.count for p in priorities if p.severity == "CRITICAL")
    saving = sum(p.monthly_saving for p in priorities)
    parts = [f"{len(req.findings)} finding(s) in {len(priorities)} group(s); {critical} critical."]
    if priorities:
        parts.append(f"Start with: {priorities[0].title} ({priorities[0].count}).")
    if saving:
        parts.append(f"Fixing the cost findings saves about {saving:,.2f} a month.")
    if req.cost_total is not None:
        change = f" ({req.cost_change_pct:+.1f}%)" if req.cost_change_pct is not None else ""
        parts.append(f"Spend {req.period or 'this period'}: {req.cost_total:,.2f}{change}.")
    questions = ["What's my biggest cost driver?"]
    if req.cost_change_pct:
        questions.insert(0, f"Why did spending change {req.cost_change_pct:+.0f}%?")
    if priorities:
        questions.append(f"Fix '{priorities[0].title}'")
    questions.append("Which VMs are underutilized?")
    return ReportSummaryResponse(
        narrative=" ".join(parts), priorities=priorities[:10], suggested_questions=questions
    )
