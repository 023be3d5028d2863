"""The Pulumi mocks fixture: a program runs with no CLI and no cloud, and its assertions provably run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.pulumi_mocks import Recorder

pulumi = pytest.importorskip("pulumi")


def _program() -> Any:
    import pulumi_aws as aws

    bucket = aws.s3.Bucket("state", tags={"escher": "state"})
    return bucket


@pulumi.runtime.test
def test_a_program_runs_under_mocks_and_is_recorded(pulumi_mocks: Recorder) -> Any:
    bucket = _program()

    def check(args: list[Any]) -> None:
        tags, _ = args
        assert tags == {"escher": "state"}
        assert [r.name for r in pulumi_mocks.of_type("aws:s3/bucket:Bucket")] == ["state"]

    return pulumi.Output.all(bucket.tags, bucket.id).apply(check)


def test_a_wrong_expectation_fails(pulumi_mocks: Recorder) -> None:
    # the same shape of test with a false expectation must fail: assertions inside apply really run
    @pulumi.runtime.test
    def wrong() -> Any:
        bucket = _program()
        return bucket.tags.apply(lambda tags: _assert_equal(tags, {"escher": "something else"}))

    with pytest.raises(AssertionError):
        wrong()


def _assert_equal(a: Any, b: Any) -> None:
    assert a == b
