"""A small list-price table for waste and rightsizing estimates (us-east-1 / eastus / us-central1 on-demand).

Estimates, not invoices: the report says so. Prices are per hour for compute and per GB-month for storage;
a month is 730 hours. Unknown sizes give no saving rather than a made-up one.
"""

from __future__ import annotations

HOURS_PER_MONTH = 730.0

# family -> sizes from small to large; each step down halves vCPU and memory
_AWS_SIZES = (
    "nano",
    "micro",
    "small",
    "medium",
    "large",
    "xlarge",
    "2xlarge",
    "4xlarge",
    "8xlarge",
    "12xlarge",
)

AWS_HOURLY: dict[str, float] = {
    "t3.nano": 0.0052, "t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832,
    "t3.xlarge": 0.1664, "t3.2xlarge": 0.3328,
    "t2.micro": 0.0116, "t2.small": 0.023, "t2.medium": 0.0464, "t2.large": 0.0928, "t2.xlarge": 0.1856,
    "m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384, "m5.4xlarge": 0.768, "m5.8xlarge": 1.536,
    "m6i.large": 0.096, "m6i.xlarge": 0.192, "m6i.2xlarge": 0.384, "m6i.4xlarge": 0.768,
    "c5.large": 0.085, "c5.xlarge": 0.17, "c5.2xlarge": 0.34, "c5.4xlarge": 0.68,
    "r5.large": 0.126, "r5.xlarge": 0.252, "r5.2xlarge": 0.504, "r5.4xlarge": 1.008,
    "db.t3.micro": 0.017, "db.t3.small": 0.034, "db.t3.medium": 0.068, "db.t3.large": 0.136,
    "db.m5.large": 0.171, "db.m5.xlarge": 0.342, "db.m5.2xlarge": 0.684,
}  # fmt: skip

AWS_EBS_GB_MONTH = {
    "gp2": 0.10,
    "gp3": 0.08,
    "io1": 0.125,
    "io2": 0.125,
    "st1": 0.045,
    "sc1": 0.015,
    "standard": 0.05,
}
AWS_SNAPSHOT_GB_MONTH = 0.05
AWS_EIP_MONTH = 3.65

AZURE_HOURLY: dict[str, float] = {
    "Standard_B1s": 0.0104, "Standard_B2s": 0.0416, "Standard_B2ms": 0.0832, "Standard_B4ms": 0.166,
    "Standard_D2s_v3": 0.096, "Standard_D4s_v3": 0.192, "Standard_D8s_v3": 0.384, "Standard_D16s_v3": 0.768,
    "Standard_D2s_v5": 0.096, "Standard_D4s_v5": 0.192, "Standard_D8s_v5": 0.384, "Standard_D16s_v5": 0.768,
}  # fmt: skip
AZURE_DISK_GB_MONTH = 0.075  # premium SSD, roughly

GCP_HOURLY: dict[str, float] = {
    "e2-micro": 0.0084, "e2-small": 0.0168, "e2-medium": 0.0335,
    "e2-standard-2": 0.067, "e2-standard-4": 0.134, "e2-standard-8": 0.268, "e2-standard-16": 0.536,
    "n2-standard-2": 0.0971, "n2-standard-4": 0.1942, "n2-standard-8": 0.3885, "n2-standard-16": 0.777,
}  # fmt: skip
GCP_DISK_GB_MONTH = 0.04


def monthly(hourly: float) -> float:
    return round(hourly * HOURS_PER_MONTH, 2)


def aws_smaller(instance_type: str) -> str | None:
    """The next size down in the same family (m5.2xlarge -> m5.xlarge), if we know its price."""
    prefix, _, size = instance_type.rpartition(".")
    if size not in _AWS_SIZES:
        return None
    i = _AWS_SIZES.index(size)
    if i == 0:
        return None
    candidate = f"{prefix}.{_AWS_SIZES[i - 1]}"
    return candidate if candidate in AWS_HOURLY else None


def azure_smaller(size: str) -> str | None:
    # Standard_D8s_v3 -> Standard_D4s_v3: halve the vCPU digit(s)
    import re

    m = re.match(r"^(Standard_[A-Z]+)(\d+)(.*)$", size)
    if not m or int(m.group(2)) < 2:
        return None
    candidate = f"{m.group(1)}{int(m.group(2)) // 2}{m.group(3)}"
    return candidate if candidate in AZURE_HOURLY else None


def gcp_smaller(machine_type: str) -> str | None:
    family, _, cpus = machine_type.rpartition("-")
    if not cpus.isdigit() or int(cpus) < 4:
        return None
    candidate = f"{family}-{int(cpus) // 2}"
    return candidate if candidate in GCP_HOURLY else None


def saving(table: dict[str, float], current: str, smaller: str | None) -> float:
    if smaller is None or current not in table:
        return 0.0
    return monthly(table[current] - table[smaller])
