"""Imported by test_registry on a registry's first lookup, as entry modules are."""

from tests.unit.test_registry import LAZY

LAZY.add("any.test.entry", 1)
