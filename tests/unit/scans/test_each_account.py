"""An organization scan on Azure / GCP reads several subscriptions or projects at once, keeps their order, and
records one that cannot be read without losing the others."""

from __future__ import annotations

import threading

import pytest

from escher.scans.errors import CloudAccessError
from escher.scans.model import Inventory, Record
from escher.scans.runner import UNREACHABLE_ACCOUNT, each_account


def _inventory(account: str) -> Inventory:
    inv = Inventory()
    inv.records.append(
        Record(
            cloud="azure",
            type="azure.storage.account",
            id=f"/subscriptions/{account}/sa",
            region="",
            account=account,
        )
    )
    return inv


def test_accounts_are_read_at_the_same_time_and_kept_in_order() -> None:
    # three reads that each wait for the other two: read one after another, the barrier would break
    barrier = threading.Barrier(3, timeout=10)

    def read(account: str) -> Inventory:
        barrier.wait()
        return _inventory(account)

    inv = each_account("azure", ["s1", "s2", "s3"], read, at_once=3)
    assert [r.id for r in inv.records] == [f"/subscriptions/{a}/sa" for a in ("s1", "s2", "s3")]


def test_one_account_refused_is_named_and_the_others_are_read() -> None:
    def read(account: str) -> Inventory:
        if account == "s2":
            raise CloudAccessError("subscription s2 refused the credential", hint="grant Reader on it")
        return _inventory(account)

    inv = each_account("azure", ["s1", "s2", "s3"], read)
    assert len(inv.records) == 2
    [error] = inv.errors
    assert error.service == UNREACHABLE_ACCOUNT + "s2" and "grant Reader" in error.hint


def test_when_no_account_can_be_read_the_first_failure_is_raised() -> None:
    def read(account: str) -> Inventory:
        raise CloudAccessError(f"{account} refused")

    with pytest.raises(CloudAccessError, match="p1 refused"):
        each_account("gcp", ["p1", "p2"], read)
