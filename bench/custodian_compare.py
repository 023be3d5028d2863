"""Escher against Cloud Custodian on one moto estate (issue 19, "Speed"): the same four checks (public bucket,
bucket without a public access block, unencrypted volume, SSH open to the world), API requests counted at a
proxy in front of moto and wall time, on loopback and with a round trip added to every request (default
30 ms, as a real API answers a laptop). Goals: requests <= 0.25x Custodian's, wall <= 0.15x. Then the full
daily scan (every check) at 30 ms, at 200 and 2,000 resources per type. Each is measured twice: with moto
answering (on a shared machine its CPU bounds a concurrent client), then with moto's answers replayed by the
proxy after the same round trip (a cloud that keeps up, as AWS does). Prints figures; asserts nothing.

Custodian (``c7n`` from PyPI) is installed by this script into a throwaway venv under /tmp, never into the
project; when it cannot be installed its side is skipped with the reason.

    .venv/bin/python -m bench.custodian_compare [--buckets 200 --volumes 200 --groups 100]
        [--delays 0,30] [--daily 200,2000] [--no-custodian]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.latency_proxy import LatencyProxy

REGION = "us-east-1"
_ROOT = Path(__file__).resolve().parent.parent
C7N_VENV = Path(tempfile.gettempdir()) / "escher-c7n-venv"
CHECKS = {  # Escher check -> the Custodian policy deciding the same thing
    "aws.s3.bucket_public": "s3-public",
    "aws.s3.bucket_public_access_block": "s3-no-public-access-block",
    "aws.ec2.volume_encrypted": "ebs-unencrypted",
    "aws.ec2.sg_open_ssh": "sg-ssh-open-to-world",
}
_BLOCK_ALL = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
POLICIES = f"""
policies:
  - name: s3-public
    resource: aws.s3
    filters:
      - or:
          - type: global-grants
          - type: cross-account
  - name: s3-no-public-access-block
    resource: aws.s3
    filters:
      - not:
          - type: check-public-block
{"".join(f"            {flag}: true{chr(10)}" for flag in _BLOCK_ALL)}
  - name: ebs-unencrypted
    resource: aws.ebs
    filters:
      - Encrypted: false
  - name: sg-ssh-open-to-world
    resource: aws.security-group
    filters:
      - type: ingress
        Ports: [22]
        Cidr:
          value: 0.0.0.0/0
"""


@dataclass
class Run:
    requests: int
    wall: float
    peak: int  # most requests in flight at once
    replayed: int  # answered from moto's earlier answers
    found: dict[str, int] = field(default_factory=dict)  # check -> failing resources
    note: str = ""


# -- the estate --------------------------------------------------------------------------------------------
def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=REGION, config=Config(retries={"max_attempts": 2}))


def seed(buckets: int, volumes: int, groups: int) -> dict[str, int]:
    """Half of each type fails its check: public-read buckets without a block (the other half blocked),
    unencrypted volumes, groups open on 22 to 0.0.0.0/0. Returns the expected failures per check."""
    s3, ec2 = _client("s3"), _client("ec2")
    flags = dict.fromkeys(_BLOCK_ALL, True)

    def bucket(i: int) -> None:
        name = f"bench-c7n-{i:05d}"
        s3.create_bucket(Bucket=name)
        if i < buckets // 2:
            s3.put_bucket_acl(Bucket=name, ACL="public-read")
        else:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=flags)

    def volume(i: int) -> None:
        ec2.create_volume(
            AvailabilityZone=f"{REGION}a", Size=8, Encrypted=i >= volumes // 2, VolumeType="gp3"
        )

    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]

    def group(i: int) -> None:
        sg = ec2.create_security_group(GroupName=f"bench-{i}", Description="bench", VpcId=vpc)["GroupId"]
        cidr, port = ("0.0.0.0/0", 22) if i < groups // 2 else ("10.0.0.0/8", 443)
        perm = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[perm])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bucket, range(buckets)))
        list(pool.map(volume, range(volumes)))
        list(pool.map(group, range(groups)))
    return {
        "aws.s3.bucket_public": buckets // 2,
        "aws.s3.bucket_public_access_block": buckets // 2,
        "aws.ec2.volume_encrypted": volumes // 2,
        "aws.ec2.sg_open_ssh": groups // 2,
    }


# -- Escher ------------------------------------------------------------------------------------------------
def escher_four(proxy: LatencyProxy, *, only_needed: bool) -> Run:
    """The four checks as ``escher scan --checks ...`` runs them, in a process of its own as Custodian runs (moto
    and the proxy share this one's interpreter): collect (only what they read, or everything, as a collector
    without the checks' wants does), then the checks. Wall time includes starting Python, as Custodian's does."""
    cmd = [
        sys.executable,
        "-m",
        "bench.custodian_compare",
        "--escher-child",
        "needed" if only_needed else "all",
    ]
    env = {**os.environ, "AWS_ENDPOINT_URL": proxy.url}
    proxy.reset()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, cwd=_ROOT)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        return Run(
            proxy.requests,
            wall,
            proxy.peak,
            proxy.replayed,
            {},
            f"exit {done.returncode}: {done.stderr.strip()[-300:]}",
        )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(proxy.requests, wall, proxy.peak, proxy.replayed, out["found"], out["note"])


def _escher_child(what: str) -> None:
    from escher.clouds.aws.collect import AwsCollector, wants_of
    from escher.scans.engine import run_checks, select_checks

    if what == "daily":
        from escher.config import Settings
        from escher.scans.runner import ScanOptions, run_scan

        result = run_scan(Settings(), ScanOptions(regions=[REGION], max_attempts=1))
        inv = result.inventory
        errors = "; ".join(f"{e.service}: {e.code}" for e in inv.errors)
        print(json.dumps({"records": len(inv.records), "failed": len(result.failed), "note": errors}))
        return

    checks = select_checks(list(CHECKS))
    wants = wants_of(checks) if what == "needed" else None
    inventory = AwsCollector([REGION], max_attempts=1, wants=wants).collect()
    run = run_checks(inventory, checks)
    found = {cid: sum(1 for f in run.findings if f.check_id == cid) for cid in CHECKS}
    note = "; ".join(f"{e.service}: {e.code}" for e in inventory.errors)
    print(json.dumps({"found": found, "note": note}))


# -- Custodian ---------------------------------------------------------------------------------------------
def custodian() -> Path | None:
    """The ``custodian`` command of a throwaway venv (created and filled once); None, with the reason printed,
    when it cannot be installed."""
    exe = C7N_VENV / "bin" / "custodian"
    if exe.exists():
        return exe
    print(f"installing Cloud Custodian (c7n) into {C7N_VENV} (throwaway, not a project dependency) ...")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(C7N_VENV)], check=True, capture_output=True)
        pip = [str(C7N_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "c7n"]
        subprocess.run(pip, check=True, capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        print(f"  Custodian not installed, its side is skipped: {exc} {err.decode(errors='replace')[-300:]}")
        return None
    return exe


def custodian_four(exe: Path, proxy: LatencyProxy, env: dict[str, str]) -> Run:
    with tempfile.TemporaryDirectory(prefix="escher-c7n-") as tmp:
        policy = Path(tmp) / "policies.yml"
        policy.write_text(POLICIES)
        out = Path(tmp) / "out"
        cmd = [str(exe), "run", "--region", REGION, "-s", str(out), "--cache", str(Path(tmp) / "cache")]
        proxy.reset()
        t0 = time.perf_counter()
        done = subprocess.run([*cmd, str(policy)], env=env, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
        found = {}
        for check, name in CHECKS.items():
            resources = out / name / "resources.json"
            found[check] = len(json.loads(resources.read_text())) if resources.exists() else -1
        note = "" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
        return Run(proxy.requests, wall, proxy.peak, proxy.replayed, found, note)


# -- the full daily scan -----------------------------------------------------------------------------------
def daily(n: int, moto: Any, delay: float, timeout: float) -> None:
    """The daily scan (every check) through the proxy: on moto, then replayed (a cloud that keeps up)."""
    from tests.functional.scans.estate import seed as seed_truth

    moto.reset()
    os.environ["AWS_ENDPOINT_URL"] = moto.endpoint_url
    t0 = time.perf_counter()
    seed_truth(n)
    seeded = time.perf_counter() - t0
    label = f"daily scan, {n:,} per type (buckets, volumes, groups, instances) at {delay * 1000:.0f} ms"
    with LatencyProxy(moto.port, delay=delay) as proxy:
        os.environ["AWS_ENDPOINT_URL"] = proxy.url
        cmd = [sys.executable, "-m", "bench.custodian_compare", "--escher-child", "daily"]
        for cloud in ("moto", "replayed"):
            proxy.replaying = cloud == "replayed"
            proxy.reset()
            t0 = time.perf_counter()
            try:
                done = subprocess.run(
                    cmd, env=dict(os.environ), capture_output=True, text=True, cwd=_ROOT, timeout=timeout
                )
            except subprocess.TimeoutExpired:
                print(
                    f"  {label}, {cloud}: not done in {timeout:.0f} s ({proxy.requests:,} requests by then); "
                    "stopped to keep the bench bounded",
                    flush=True,
                )
                break
            wall = time.perf_counter() - t0
            if done.returncode != 0:
                print(f"  {label}, {cloud}: failed: {done.stderr.strip()[-500:]}", flush=True)
                break
            got = json.loads(done.stdout.strip().splitlines()[-1])
            top = ", ".join(f"{a} {k}" for a, k in proxy.by_action.most_common(3))
            print(
                f"  {label}, {cloud:>8}: {proxy.requests:>6,} requests ({proxy.peak} at once), {wall:6.1f} s, "
                f"{got['records']:,} records, {got['failed']:,} failed findings, not read: "
                f"{got['note'] or 'nothing'}, {proxy.replayed:,} replayed (seeded in {seeded:.0f} s; most requests: {top})",
                flush=True,
            )
    os.environ["AWS_ENDPOINT_URL"] = moto.endpoint_url


def four_checks(ms: float, moto: Any, exe: Path | None, expected: dict[str, int]) -> None:
    """Each side through the proxy, on moto, then again with moto's answers replayed."""
    with LatencyProxy(moto.port, delay=ms / 1000) as proxy:
        os.environ["AWS_ENDPOINT_URL"] = proxy.url
        for cloud in ("moto", "replayed"):
            proxy.replaying = cloud == "replayed"
            runs = {
                "escher --checks (what they read)": escher_four(proxy, only_needed=True),
                "escher, collecting everything": escher_four(proxy, only_needed=False),
            }
            if exe is not None:
                runs["cloud custodian"] = custodian_four(exe, proxy, dict(os.environ))
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"four checks at +{ms:.0f} ms per request, {cloud} (load average {load}, "
                f"{os.cpu_count()} cores):",
                flush=True,
            )
            _print_runs(runs, expected)
    os.environ["AWS_ENDPOINT_URL"] = moto.endpoint_url


def _print_runs(runs: dict[str, Run], expected: dict[str, int]) -> None:
    c7n = runs.get("cloud custodian")
    for label, run in runs.items():
        ratio = ""
        if c7n is not None and run is not c7n and c7n.requests and c7n.wall:
            ratio = f"  = {run.requests / c7n.requests:.2f}x requests, {run.wall / c7n.wall:.2f}x wall"
        verdicts = "found = expected" if run.found == expected else f"FOUND {list(run.found.values())}"
        print(
            f"  {label:<34} {run.requests:>6,} requests {run.wall:7.2f} s, {run.peak:>2} at once{ratio}"
            f"  ({verdicts})"
            + (f", {run.replayed:,} replayed" if run.replayed else "")
            + (f" [{run.note}]" if run.note else ""),
            flush=True,
        )
    if c7n is not None:
        print("  goals vs Custodian: requests <= 0.25x, wall <= 0.15x", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.custodian_compare")
    parser.add_argument("--buckets", type=int, default=200)
    parser.add_argument("--volumes", type=int, default=200)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--delays", default="0,30", help="round trips to add, ms, comma-separated")
    parser.add_argument("--daily", default="200,2000", help="daily-scan sizes per type ('' for none)")
    parser.add_argument("--daily-delay", type=float, default=30.0)
    parser.add_argument("--daily-timeout", type=float, default=900.0, help="seconds per daily scan at most")
    parser.add_argument("--no-custodian", action="store_true")
    parser.add_argument("--escher-child", choices=("needed", "all", "daily"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.escher_child:
        _escher_child(args.escher_child)
        return

    from escher.emulators import MotoEmulator

    delays = [float(d) for d in args.delays.split(",") if d.strip()]
    exe = None if args.no_custodian or not delays else custodian()
    with MotoEmulator() as moto:
        os.environ.update(moto.env())
        if delays:
            moto.reset()
            t0 = time.perf_counter()
            expected = seed(args.buckets, args.volumes, args.groups)
            print(
                f"estate: {args.buckets} buckets, {args.volumes} volumes, {args.groups} security groups "
                f"(seeded in {time.perf_counter() - t0:.1f} s); expected failures {list(expected.values())}",
                flush=True,
            )
            for ms in delays:
                four_checks(ms, moto, exe, expected)
        for n in (int(s) for s in args.daily.split(",") if s.strip()):
            daily(n, moto, args.daily_delay / 1000, args.daily_timeout)


if __name__ == "__main__":
    main()
