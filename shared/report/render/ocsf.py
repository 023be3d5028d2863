"""OCSF 1.1 Detection Findings (class 2004): the JSON Prowler emits and Security Hub ingests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from escher import __version__

_SEVERITY_ID = {"INFO": 1, "LOW": 2, "MEDIUM": 3, "HIGH": 4, "CRITICAL": 5}


def to_ocsf(finding: dict[str, Any], when: datetime | None = None) -> dict[str, Any]:
    when = when or datetime.now(UTC)
    failed = finding["status"] == "FAIL"
    return {
        "metadata": {
            "version": "1.1.0",
            "product": {"name": "Escher", "vendor_name": "Escher", "version": __version__},
            "event_code": finding["check_id"],
            "profiles": ["cloud"],
        },
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": _SEVERITY_ID.get(finding["severity"], 0),
        "severity": finding["severity"].capitalize(),
        "status_id": 1,
        "status": "New",
        "status_code": finding["status"],
        "status_detail": finding["message"],
        "time": int(when.timestamp() * 1000),
        "time_dt": when.isoformat(),
        "finding_info": {
            "uid": finding["id"],
            "title": finding["title"],
            "desc": finding["message"],
            "types": [finding.get("category", "security")],
        },
        "resources": [
            {
                "uid": finding["resource_id"],
                "type": finding["resource_type"],
                "region": finding["region"],
                "cloud_partition": finding["cloud"],
                "labels": [f"env:{finding['environment']}"] if finding.get("environment") else [],
            }
        ],
        "cloud": {
            "provider": finding["cloud"],
            "region": finding["region"],
            "account": {"uid": finding["account"]},
        },
        "remediation": {"desc": finding.get("remediation", "")},
        "risk_score": _SEVERITY_ID.get(finding["severity"], 0) * 20 if failed else 0,
        "unmapped": {
            "compliance": finding.get("compliance", {}),
            "fix_operation": finding.get("fix_operation"),
            "monthly_saving": finding.get("monthly_saving", 0.0),
        },
    }


def render(report: Any, fmt: str) -> bytes:
    return json.dumps([to_ocsf(f) for f in report.findings], indent=2).encode()
