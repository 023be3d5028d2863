"""AWS compute and network: EC2 instances (idle, over-provisioned), security groups, VPCs, EIPs, AMIs, Lambda."""

from __future__ import annotations

from escher.scans.checks import _sizing
from escher.scans.checks._declarative import attr_check, truthy
from escher.scans.checks.base import NA, CheckContext, Fail, Outcome, check
from escher.scans.model import Record, Severity
from escher.scans.pricing import AWS_EIP_MONTH, AWS_HOURLY, aws_smaller, monthly

WORLD = frozenset({"0.0.0.0/0", "::/0"})


def world_open_ports(rec: Record) -> list[tuple[int, int]]:
    """(from, to) port ranges open to the internet; all traffic is (0, 65535)."""
    out: list[tuple[int, int]] = []
    for rule in rec.attrs.get("ingress", []):
        if not WORLD.intersection(rule.get("cidrs", [])):
            continue
        if str(rule.get("protocol")) == "-1":
            out.append((0, 65535))
        elif str(rule.get("protocol")) in ("tcp", "6", "udp", "17"):
            out.append((int(rule.get("from_port", 0)), int(rule.get("to_port", 65535))))
    return out


def _opens(rec: Record, ports: tuple[int, ...]) -> list[int]:
    ranges = world_open_ports(rec)
    return [p for p in ports if any(lo <= p <= hi for lo, hi in ranges)]


def _sg_check(key: str, title: str, ports: tuple[int, ...], cis: tuple[str, ...]) -> None:
    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        hit = _opens(rec, ports)
        if not hit:
            return None
        return Fail(f"port {', '.join(map(str, hit))} open to 0.0.0.0/0", fix_params={"ports": hit})

    check(
        key,
        resource="aws.ec2.security_group",
        reads=("ingress",),
        title=title,
        severity=Severity.HIGH,
        risk="Anyone on the internet can reach the service and try passwords or exploits.",
        remediation="Remove the 0.0.0.0/0 and ::/0 rules; allow the office range or use SSM Session Manager.",
        cis=cis,
        soc2=("CC6.6",),
        hipaa=("164.312(e)(1)",),
        fix="aws.ec2.revoke_open_ingress",
    )(fn)


_sg_check("aws.ec2.sg_open_ssh", "Security group opens SSH (22) to the internet", (22,), ("6.3", "6.4"))
_sg_check("aws.ec2.sg_open_rdp", "Security group opens RDP (3389) to the internet", (3389,), ("6.3", "6.4"))
# CIS AWS 7.0.0: no control for this check (6.3/6.4 name remote administration ports (22, 3389), not database ports)
_sg_check(
    "aws.ec2.sg_open_database_ports",
    "Security group opens database ports to the internet",
    (1433, 1521, 3306, 5432, 6379, 9200, 27017),
    (),
)


@check(
    "aws.ec2.sg_open_all_ports",
    resource="aws.ec2.security_group",
    reads=("ingress",),
    title="Security group allows all traffic from the internet",
    severity=Severity.CRITICAL,
    risk="Every listening port on the attached instances is exposed.",
    remediation="Replace the all-traffic rule with the ports the workload needs.",
    cis=("6.3", "6.4"),
    soc2=("CC6.6",),
    fix="aws.ec2.revoke_open_ingress",
)
def sg_open_all(rec: Record, ctx: CheckContext) -> Outcome:
    return Fail("all ports open to 0.0.0.0/0") if (0, 65535) in world_open_ports(rec) else None


@check(
    "aws.ec2.default_sg_restricts_all",
    resource="aws.ec2.security_group",
    reads=("ingress",),
    title="Default security group allows traffic",
    severity=Severity.LOW,
    risk="Resources launched without a group silently get the default group's rules.",
    remediation="Remove every inbound and outbound rule from each VPC's default security group.",
    cis=("6.5",),
    soc2=("CC6.6",),
)
def default_sg(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.name != "default":
        return NA
    return Fail("the default group has rules") if rec.attrs.get("ingress") else None


attr_check(
    "aws.ec2.vpc_flow_logs",
    resource="aws.ec2.vpc",
    attr="flow_logs",
    ok=truthy,
    message="no flow log",
    absent_is_na=False,
    title="VPC flow logs are off",
    severity=Severity.MEDIUM,
    risk="Network traffic leaves no record for incident response.",
    remediation="Create a flow log for the VPC to CloudWatch Logs or S3.",
    cis=("4.7",),
    soc2=("CC7.2",),
    hipaa=("164.312(b)",),
)


@check(
    "aws.ec2.instance_imdsv2",
    resource="aws.ec2.instance",
    reads=("state", "imdsv2_required"),
    title="EC2 instance allows IMDSv1",
    severity=Severity.MEDIUM,
    risk="SSRF bugs can steal the instance role's credentials through the v1 metadata service.",
    remediation="aws ec2 modify-instance-metadata-options --instance-id ID --http-tokens required",
    cis=("6.7",),
    soc2=("CC6.1",),
)
def instance_imdsv2(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("state") == "terminated":
        return NA
    return None if rec.attrs.get("imdsv2_required") else Fail("HttpTokens is optional")


@check(
    "aws.ec2.instance_public_ip",
    resource="aws.ec2.instance",
    reads=("state", "public_ip"),
    title="EC2 instance has a public IP",
    severity=Severity.LOW,
    risk="The instance is directly addressable from the internet.",
    remediation="Place it in a private subnet behind a load balancer or NAT.",
    soc2=("CC6.6",),
)
def instance_public_ip(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("state") != "running":
        return NA
    ip = rec.attrs.get("public_ip")
    return Fail(f"public IP {ip}") if ip else None


@check(
    "aws.ec2.instance_idle",
    resource="aws.ec2.instance",
    reads=("state", "instance_type", "cpu_days", "cpu_max_daily_7d"),
    title="EC2 instance is idle",
    severity=Severity.MEDIUM,
    category="cost",
    risk="You pay for compute that does no work.",
    remediation="Stop it (or schedule it off hours); terminate if nobody claims it.",
    fix="aws.ec2.stop_instances",
)
def instance_idle(rec: Record, ctx: CheckContext) -> Outcome:
    days = int(rec.attrs.get("cpu_days") or 0)
    peak = rec.attrs.get("cpu_max_daily_7d")
    if rec.attrs.get("state") != "running" or peak is None or days < ctx.thresholds.idle_days:
        return NA
    if float(peak) >= ctx.thresholds.idle_cpu_percent:
        return None
    price = AWS_HOURLY.get(str(rec.attrs.get("instance_type")), 0.0)
    return Fail(
        f"CPU below {ctx.thresholds.idle_cpu_percent:g}% every day for {ctx.thresholds.idle_days} days "
        f"(peak daily average {float(peak):.1f}%)",
        monthly(price),
    )


@check(
    "aws.ec2.instance_overprovisioned",
    resource="aws.ec2.instance",
    reads=("state", "instance_type", "cpu_avg_30d", "cpu_days_30d", "cpu_max_daily_7d"),
    title="EC2 instance is over-provisioned",
    severity=Severity.LOW,
    category="cost",
    risk="A smaller size would do the same work for less.",
    remediation="Resize to the suggested type in a maintenance window (stop, modify instance type, start).",
    fix="aws.ec2.modify_instance_type",
)
def instance_overprovisioned(rec: Record, ctx: CheckContext) -> Outcome:
    return _sizing.overprovisioned(
        rec,
        ctx,
        running=rec.attrs.get("state") == "running",
        hourly=AWS_HOURLY,
        size=str(rec.attrs.get("instance_type")),
        smaller_of=aws_smaller,
        fix_param="instance_type",
    )


@check(
    "aws.ec2.instance_stopped_long",
    resource="aws.ec2.instance",
    reads=("state", "state_since"),
    title="EC2 instance stopped for a long time",
    severity=Severity.LOW,
    category="cost",
    risk="Its volumes and IPs keep costing money; it is probably forgotten.",
    remediation="Create an AMI if needed, then terminate it.",
)
def instance_stopped_long(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("state") != "stopped":
        return NA
    age = ctx.age_days(rec.attrs.get("state_since"))
    if age is None or age < ctx.thresholds.stopped_instance_days:
        return None
    return Fail(f"stopped for {age:.0f} days")


@check(
    "aws.ec2.eip_unassociated",
    resource="aws.ec2.eip",
    reads=("associated",),
    title="Elastic IP is not associated",
    severity=Severity.LOW,
    category="cost",
    risk="Idle public IPv4 addresses are billed by the hour.",
    remediation="Release the address if nothing needs it.",
)
def eip_unassociated(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("associated") else Fail("not associated", AWS_EIP_MONTH)


@check(
    "aws.ec2.ami_public",
    resource="aws.ec2.image",
    reads=("public",),
    title="AMI is shared publicly",
    severity=Severity.HIGH,
    risk="Anyone can launch your image and read what is baked into it (keys, code, data).",
    remediation="aws ec2 modify-image-attribute --image-id AMI --launch-permission Remove=[{Group=all}]",
    soc2=("CC6.1",),
)
def ami_public(rec: Record, ctx: CheckContext) -> Outcome:
    return Fail("launch permission: all") if rec.attrs.get("public") else None


_DEPRECATED_RUNTIMES = frozenset(
    {"python2.7", "python3.6", "python3.7", "python3.8", "nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10",
     "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "ruby2.5", "ruby2.7", "dotnetcore2.1",
     "dotnetcore3.1", "go1.x", "java8"}
)  # fmt: skip


@check(
    "aws.lambda.deprecated_runtime",
    resource="aws.lambda.function",
    reads=("runtime",),
    title="Lambda function uses a deprecated runtime",
    severity=Severity.MEDIUM,
    category="operational",
    risk="No security patches; AWS blocks updates and later creation of such functions.",
    remediation="Move the function to a supported runtime version and redeploy.",
    soc2=("CC7.1",),
)
def lambda_runtime(rec: Record, ctx: CheckContext) -> Outcome:
    runtime = str(rec.attrs.get("runtime") or "")
    return Fail(f"runtime {runtime} is deprecated") if runtime in _DEPRECATED_RUNTIMES else None
