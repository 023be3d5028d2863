"""Collect what the checks read: ``wants_of`` turns chosen checks into record types and attributes, and the AWS
collector runs only the tasks that produce them (the calls inside a task are held to it on moto, in
tests/functional/scans/test_aws_collect_wanted.py)."""

from __future__ import annotations

import threading

import pytest

from escher.clouds.aws.collect import PRODUCES, AwsCollector, wants_of
from escher.scans.engine import select_checks

FOUR = ["aws.s3.bucket_public", "aws.s3.bucket_public_access_block", "aws.ec2.volume_encrypted",
        "aws.ec2.sg_open_ssh"]  # fmt: skip


def _collector(checks: list[str] | None, monkeypatch: pytest.MonkeyPatch) -> AwsCollector:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # building a session makes no call
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    wants = None if checks is None else wants_of(select_checks(checks, ["aws"]))
    return AwsCollector(["us-east-1", "eu-west-1"], wants=wants)


def test_the_four_checks_want_three_record_types_and_the_attributes_they_read() -> None:
    assert wants_of(select_checks(FOUR)) == {
        "aws.s3.bucket": frozenset({"public_access_block", "acl_public", "policy_public"}),
        "aws.ec2.volume": frozenset({"encrypted", "size_gb"}),
        "aws.ec2.security_group": frozenset({"ingress"}),
    }


def test_a_check_reading_another_type_wants_that_type_too() -> None:
    wants = wants_of(select_checks(["aws.ec2.snapshot_orphaned"]))
    assert set(wants) >= {"aws.ec2.snapshot", "aws.ec2.volume"}, wants


def test_only_the_tasks_feeding_the_chosen_checks_run(monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = _collector(FOUR, monkeypatch).tasks()
    assert sorted((t.service, t.region) for t in tasks) == [
        ("ec2", "eu-west-1"), ("ec2", "us-east-1"), ("s3", "global"),
    ]  # fmt: skip


def test_the_daily_scan_runs_every_task_once(monkeypatch: pytest.MonkeyPatch) -> None:
    every = sorted((t.service, t.region) for t in _collector(None, monkeypatch).tasks())
    by_checks = sorted((t.service, t.region) for t in _collector(["aws.*"], monkeypatch).tasks())
    assert every == by_checks
    assert len(every) == len(set(every)) == 3 + 2 * (len(PRODUCES) - 3)


def test_a_collector_without_wants_wants_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    c = _collector(None, monkeypatch)
    assert c.wants("aws.s3.bucket", "versioning") and c.wants("anything")
    chosen = _collector(FOUR, monkeypatch)
    assert chosen.wants("aws.s3.bucket", "acl_public", "versioning")
    assert not chosen.wants("aws.s3.bucket", "versioning")
    assert not chosen.wants("aws.ec2.instance")


def test_parallel_parts_run_at_once_up_to_the_service_limit_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    c = _collector(None, monkeypatch)
    lock = threading.Lock()
    running = peak = 0
    gate = threading.Barrier(8, timeout=5)  # proves 8 run together: the barrier would time out otherwise

    def part(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        if i < 8:
            gate.wait()
        with lock:
            running -= 1
        return i

    assert c.parallel("s3", [lambda i=i: part(i) for i in range(40)]) == list(range(40))
    assert 8 <= peak <= 32


def test_a_failing_part_fails_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    c = _collector(None, monkeypatch)

    def boom() -> int:
        raise RuntimeError("part failed")

    with pytest.raises(RuntimeError, match="part failed"):
        c.parallel("ec2", [lambda: 1, boom, lambda: 3])


def test_each_record_type_comes_from_one_task_so_the_daily_scan_reads_each_attribute_once() -> None:
    sources: dict[str, list[str]] = {}
    for task, table in PRODUCES.items():
        for type_ in table:
            sources.setdefault(type_, []).append(task)
    assert {t: s for t, s in sources.items() if len(s) > 1} == {}
