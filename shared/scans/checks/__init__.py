"""Checks: metadata + pure functions over normalized records, one registry for every cloud."""

from __future__ import annotations

from escher.scans.checks.base import CHECKS, NA, Check, CheckContext, Fail, Thresholds, check

__all__ = ["CHECKS", "NA", "Check", "CheckContext", "Fail", "Thresholds", "check"]
