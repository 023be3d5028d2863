"""Scans: inventory collectors per cloud, one checks registry, cost snapshots and waste."""

from __future__ import annotations
