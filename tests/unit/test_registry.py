from __future__ import annotations

import pytest

from escher.registry import DuplicateEntryError, Registry, UnknownEntryError

LAZY: Registry[int] = Registry("check", modules=["tests.unit._registry_entries"])


def test_register_get_and_prefix_listing() -> None:
    reg: Registry[str] = Registry("operation")
    reg.add("aws.ec2.stop_instances", "stop")

    @reg.register("aws.ec2.start_instances")
    def start() -> str:  # the decorator returns what it registers
        return "start"

    reg.add("gcp.compute.stop_instance", "gstop")
    assert reg.get("aws.ec2.stop_instances") == "stop"
    assert reg.keys("aws.") == ["aws.ec2.start_instances", "aws.ec2.stop_instances"]
    assert len(reg) == 3 and "gcp.compute.stop_instance" in reg


def test_unknown_key_suggests_close_matches() -> None:
    reg: Registry[int] = Registry("check")
    reg.add("aws.s3.bucket_public", 1)
    with pytest.raises(UnknownEntryError) as err:
        reg.get("aws.s3.bucket_publik")
    assert "aws.s3.bucket_public" in (err.value.hint or "")


@pytest.mark.parametrize("bad", ["ec2.stop", "AWS.ec2.stop", "aws.ec2", "oracle.vm.stop", "aws.ec2.stop-it"])
def test_malformed_keys_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Registry[int]("check").add(bad, 1)


def test_duplicate_key_is_an_error() -> None:
    reg: Registry[object] = Registry("normalizer")
    reg.add("aws.s3.x", object())
    with pytest.raises(DuplicateEntryError):
        reg.add("aws.s3.x", object())


def test_modules_load_on_first_lookup_only() -> None:
    import sys

    # GIVEN a registry whose entries live in a module nobody imported yet
    assert "tests.unit._registry_entries" not in sys.modules
    # WHEN it is first queried THEN the module is imported and its entries are there
    assert LAZY.keys() == ["any.test.entry"]
    assert "tests.unit._registry_entries" in sys.modules


def test_concurrent_first_lookups_all_see_the_full_registry() -> None:
    import sys
    import threading
    import time
    import types

    # GIVEN an entry module that takes a while to register its entries
    slow: Registry[int] = Registry("check", modules=["tests.unit._slow_entries"])
    module = types.ModuleType("tests.unit._slow_entries")

    def load() -> None:
        for i in range(50):
            slow.add(f"any.slow.e{i}", i)
            time.sleep(0.001)

    class Finder:
        def find_spec(self, name: str, path: object, target: object = None) -> object:
            if name != "tests.unit._slow_entries":
                return None
            import importlib.util

            loader = types.SimpleNamespace(create_module=lambda spec: module, exec_module=lambda m: load())
            return importlib.util.spec_from_loader(name, loader)  # type: ignore[arg-type]

    sys.meta_path.insert(0, Finder())  # type: ignore[arg-type]
    try:
        counts: list[int] = []
        threads = [threading.Thread(target=lambda: counts.append(len(slow.keys()))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.meta_path.pop(0)
        sys.modules.pop("tests.unit._slow_entries", None)
    # THEN no thread saw a half-filled registry
    assert counts == [50] * 8
