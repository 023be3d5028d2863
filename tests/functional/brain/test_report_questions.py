"""Issue 17, item 7: every question the morning report suggests is answered, from the same data the report
shows. The demo estate (``escher.demo.seed``) in moto, a real ``escher scan``, yesterday's cost pulled by
``escher cost sync`` from Cost Explorer (canned in moto), the report built; then each of the report's own
suggested questions is asked with ``escher ask --local`` and the answer is checked against the report."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from escher.demo.seed import seed_aws
from escher.emulators import MotoEmulator

REGION = "us-east-1"
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
# per day: service -> amount; yesterday EC2 jumps, so the report asks why spending changed
SERVICES = {"Amazon Elastic Compute Cloud - Compute": 120.0, "Amazon Simple Storage Service": 30.0,
            "Amazon Relational Database Service": 50.0}  # fmt: skip
ENVS = {"production": 0.6, "dev": 0.4}


def _group(keys: list[str], amount: float) -> dict[str, Any]:
    return {"Keys": keys, "Metrics": {"UnblendedCost": {"Amount": f"{amount:.2f}", "Unit": "USD"}}}


def _spend(day: date) -> dict[str, float]:
    bump = 60.0 if day == YESTERDAY else 0.0
    return {s: a + (bump if "Compute" in s else 0.0) for s, a in SERVICES.items()}


def _canned_cost() -> list[dict[str, Any]]:
    days = [YESTERDAY - timedelta(days=i) for i in range(40, -1, -1)]
    by_service, by_env = [], []
    for d in days:
        period = {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()}
        spend = _spend(d)
        by_service.append({"TimePeriod": period, "Estimated": False,
                           "Groups": [_group([s, REGION], a) for s, a in spend.items()]})  # fmt: skip
        total = sum(spend.values())
        by_env.append({"TimePeriod": period, "Estimated": False,
                       "Groups": [_group(["123456789012", f"env${e}"], total * w) for e, w in ENVS.items()]})  # fmt: skip
    return [{"ResultsByTime": by_service}, {"ResultsByTime": by_env}]


def _cli(*args: str) -> Any:
    res = CliRunner().invoke(app, ["--output", "json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture
def reported(aws_env: MotoEmulator, escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import escher.lazy

    real = escher.lazy.is_installed  # JSON files: the same ResultStore protocol, without starting Postgres
    monkeypatch.setattr(escher.lazy, "is_installed", lambda name: name != "psycopg" and real(name))
    seed_aws(boto3.client("s3", region_name=REGION), boto3.client("ec2", region_name=REGION),
             state_bucket="escher-state")  # fmt: skip
    aws_env.set_cost_and_usage(_canned_cost())  # before the scan: the day's first scan pulls yesterday's cost
    res = CliRunner().invoke(app, ["--output", "json", "scan", "--region", REGION])
    assert res.exit_code in (0, 2), res.output  # 2: a part not read (moto's CloudWatch has no CPU data)
    synced = _cli("cost", "sync", "--cloud", "aws")  # already stored by the scan: read back, no second pull
    assert [s["cloud"] for s in synced["snapshots"]] == ["aws"], synced
    res = CliRunner().invoke(app, ["report", "--format", "json"])
    assert res.exit_code == 0, res.output
    report: dict[str, Any] = json.loads(res.stdout)
    return report


def _ask(question: str) -> dict[str, Any]:
    answer: dict[str, Any] = _cli("ask", "--local", "--dry-run", question)
    return answer


def test_every_suggested_question_is_answered_from_the_reports_data(reported: dict[str, Any]) -> None:
    questions = reported["questions"]
    cost, first = reported["cost"], reported["optimization"][0]
    assert len(questions) >= 5, questions
    answered = []
    for question in questions:
        r = _ask(question)["response"]
        assert r["intent"] not in ("help", "not_found"), (question, r["summary"])
        assert "no cost" not in r["summary"].lower(), (question, r["summary"])
        low = question.lower()
        rows = (r.get("table") or {}).get("rows") or []
        if low.startswith("why did spending change"):
            assert f"{cost['day_delta_pct']:+.1f}%" in r["summary"]
            assert rows[0][1] == cost["by_service"][0][0]  # the service that moved it, as the report shows
        elif low.startswith("show me the") and first["title"] in question:
            assert sorted(row[4] for row in rows) == sorted(first["finding_ids"])  # that group, nothing wider
            assert len(rows) == first["count"]
        elif "optimizations" in low:
            assert rows[0][1] == first["title"] and float(rows[0][3]) == first["monthly_saving"]
        elif "playbook" in low:
            assert r["kind"] == "playbook" and r["playbook"]["steps"]
        elif "last week" in low:
            week = sum(sum(_spend(YESTERDAY - timedelta(days=i)).values()) for i in range(7))
            before = sum(sum(_spend(YESTERDAY - timedelta(days=i)).values()) for i in range(7, 14))
            assert f"{week:,.2f}" in r["summary"] and f"{before:,.2f}" in r["summary"]
        elif "by environment" in low:
            assert {row[1]: float(row[2]) for row in rows} == {env: amount for env, amount in cost["by_tag"]}
        else:
            raise AssertionError(f"the report suggests a question this test does not check: {question!r}")
        answered.append(question)
    assert answered == questions


def test_the_changes_question_after_a_second_scan(reported: dict[str, Any]) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = [{"Key": "CreatedBy", "Value": "alice"}, {"Key": "env", "Value": "dev"}]
    new = ec2.run_instances(ImageId=image, InstanceType="t3.large", MinCount=1, MaxCount=1,
                            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])["Instances"][0]  # fmt: skip
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=50)["VolumeId"]  # unattached: not needed
    res = CliRunner().invoke(app, ["--output", "json", "scan", "--region", REGION])
    assert res.exit_code in (0, 2), res.output
    res = CliRunner().invoke(app, ["report", "--format", "json"])
    report = json.loads(res.stdout)
    [question] = [q for q in report["questions"] if "new resources" in q]
    r = _ask(question)["response"]
    assert r["intent"] == "changes", r["summary"]
    rows = {row[1]: row for row in r["table"]["rows"]}
    assert {c["resource_id"] for c in report["changes"]} == set(rows)  # the report's changes, no other
    assert rows[new["InstanceId"]][4] == "alice" and rows[new["InstanceId"]][6] == "in use"
    assert rows[volume][6].startswith("maybe not") and volume in r["summary"]
