"""A synthetic estate of normalized records: for unit tests, the report benchmark and demos without a cloud."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from escher.scans.cost import CostRow, CostSnapshot
from escher.scans.model import Inventory, Record

__all__ = ["cost_snapshot", "estate"]

_ENVS = ("prod", "staging", "dev")


def estate(n: int, *, seed: int = 7, now: datetime | None = None, account: str = "123456789012") -> Inventory:
    """About ``n`` AWS records across instances, volumes, snapshots, buckets, groups and databases."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    records: list[Record] = []
    per = max(1, n // 6)
    for i in range(per):
        env = _ENVS[i % 3]
        cpu = rng.choice((1.0, 2.0, 12.0, 25.0, 55.0, 80.0))
        records.append(
            Record("aws", "aws.ec2.instance", f"i-{i:08x}", "us-east-1", account, tags={"env": env},
                   attrs={"state": "running", "instance_type": rng.choice(("m5.2xlarge", "m5.large", "t3.medium")),
                          "imdsv2_required": i % 4 != 0, "cpu_days": 7, "cpu_max_daily_7d": cpu,
                          "cpu_days_30d": 30, "cpu_avg_30d": cpu})
        )  # fmt: skip
        records.append(
            Record("aws", "aws.ec2.volume", f"vol-{i:08x}", "us-east-1", account, tags={"env": env},
                   attrs={"encrypted": i % 5 != 0, "size_gb": 100, "state": "available" if i % 7 == 0 else "in-use",
                          "volume_type": "gp3", "last_snapshot": (now - timedelta(days=i % 4)).isoformat()})
        )  # fmt: skip
        records.append(
            Record("aws", "aws.ec2.snapshot", f"snap-{i:08x}", "us-east-1", account,
                   attrs={"volume_id": f"vol-gone-{i}" if i % 9 == 0 else f"vol-{i:08x}", "size_gb": 50,
                          "start_time": (now - timedelta(days=120 if i % 2 else 3)).isoformat(), "encrypted": True})
        )  # fmt: skip
        records.append(
            Record("aws", "aws.s3.bucket", f"bucket-{i:06d}", "us-east-1", account, tags={"env": env},
                   attrs={"public_access_block": None if i % 11 == 0 else dict.fromkeys(
                       ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True),
                          "acl_public": i % 22 == 0, "encryption": "AES256", "versioning": "Enabled",
                          "logging": True, "ssl_only": True})
        )  # fmt: skip
        open_ = i % 13 == 0
        records.append(
            Record("aws", "aws.ec2.security_group", f"sg-{i:08x}", "us-east-1", account, name=f"g{i}",
                   attrs={"ingress": [{"protocol": "tcp", "from_port": 22, "to_port": 22,
                                       "cidrs": ["0.0.0.0/0" if open_ else "10.0.0.0/8"]}]})
        )  # fmt: skip
        records.append(
            Record("aws", "aws.rds.instance", f"db-{i:06d}", "us-east-1", account, tags={"env": env},
                   attrs={"encrypted": i % 17 != 0, "public": False, "backup_retention": 7, "multi_az": True,
                          "deletion_protection": True, "auto_minor_upgrade": True,
                          "last_snapshot": (now - timedelta(hours=20)).isoformat()})
        )  # fmt: skip
    return Inventory(records=records, collected_at=now)


def cost_snapshot(day: date, *, seed: int = 3, spike: float = 0.0) -> CostSnapshot:
    """Six weeks of daily spend by service and region; ``spike`` adds to EC2 on the last day (an anomaly)."""
    rng = random.Random(seed)
    base = {"Amazon Elastic Compute Cloud - Compute": 560.0, "Amazon Relational Database Service": 280.0,
            "Amazon Simple Storage Service": 150.0, "AWS Lambda": 20.0}  # fmt: skip
    rows, account_rows = [], []
    start = (day.replace(day=1) - timedelta(days=1)).replace(day=1)
    d = min(start, day - timedelta(days=15))
    while d <= day:
        for service, amount in base.items():
            value = amount * (1 + rng.uniform(-0.03, 0.03)) + (
                spike if d == day and "Compute" in service else 0
            )
            rows.append(CostRow(d.isoformat(), round(value, 2), service=service, region="us-east-1"))
            account_rows.append(CostRow(d.isoformat(), round(value, 2), account="123456789012", tag="prod"))
        d += timedelta(days=1)
    return CostSnapshot("aws", day.isoformat(), "USD", rows, account_rows)
