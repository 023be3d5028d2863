"""Schedules: cron parsing, jobs, the local runner (agent / run-due) and per-cloud schedule specs."""

from __future__ import annotations
