"""``escher watch``: control-plane activity since the last watermark, through the pipeline (``--once`` for cron)."""

from __future__ import annotations

from typing import Any

import typer

from escher.cli._render import console, emit


def _summary(reports: list[Any]) -> None:
    for r in reports:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items())) or "nothing new"
        line = f"{'ERR' if r.error else 'ok '} {r.feed}: {r.read} read; {outcomes}"
        console().print(line + (f" ({r.error})" if r.error else ""), markup=False)


def watch(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="One round, then exit (for cron and tests)."),
    interval: float | None = typer.Option(
        None,
        "--interval",
        min=5,
        metavar="SECONDS",
        help="Seconds between rounds (default: [watch] interval_seconds, 60).",
    ),
) -> None:
    """Read cloud activity since the last run and handle each event (fix, approval, alert), every minute."""
    from dataclasses import replace

    from escher.watch.runner import build_watcher

    watcher = build_watcher()
    if interval is not None:
        watcher.config = replace(watcher.config, interval_seconds=interval)
    if once:
        reports = watcher.run_once()
        emit(ctx, [r.to_dict() for r in reports], lambda: _summary(reports))
        if any(r.error for r in reports) and not any(
            r.feed.endswith(":state") and not r.error for r in reports
        ):
            raise typer.Exit(1)
        return
    console().print(f"Watching every {watcher.config.interval_seconds:g} s; Ctrl-C to stop.")
    try:
        watcher.run_forever(_summary)
    except KeyboardInterrupt:
        console().print("Stopped.")
