"""A ``--checks`` scan collects only what its checks read: the stored estate keeps the kinds it did not read."""

from __future__ import annotations

from escher.scans.runner import _merged_estate


def _rec(cloud: str, type_: str, id_: str) -> dict[str, str]:
    return {"cloud": cloud, "type": type_, "id": id_}


def test_kinds_the_narrow_scan_read_are_replaced_and_the_others_kept() -> None:
    previous = {
        "collected_at": "then",
        "records": [_rec("aws", "aws.s3.bucket", "old-bucket"), _rec("aws", "aws.ec2.instance", "i-1")],
    }
    new = {"collected_at": "now", "records": [_rec("aws", "aws.s3.bucket", "new-bucket")], "errors": []}
    merged = _merged_estate(previous, new)
    assert merged["collected_at"] == "now"
    assert [r["id"] for r in merged["records"]] == ["new-bucket", "i-1"]


def test_without_an_earlier_estate_it_is_the_scan_itself() -> None:
    new = {"collected_at": "now", "records": [_rec("gcp", "gcp.storage.bucket", "b")]}
    assert _merged_estate(None, new) == new
