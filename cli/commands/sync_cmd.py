"""``escher sync``: pull what the extension did (scans, reports, organization scans, alerts, approval requests,
audit) into this laptop.

``report``, ``alerts``, ``approvals`` and ``audit`` call :func:`auto_sync` first: the same pull, bounded by
``AUTO_TIMEOUT`` seconds, silent when nothing is extended, skipped with ``--no-sync`` (or ``ESCHER_NO_SYNC=1``).
A failure there is one line on stderr and the command still runs on what the laptop has.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from escher.cli._render import console, emit

if TYPE_CHECKING:
    from escher.extend.pull import PullResult
    from escher.policy.runtime import Runtime

AUTO_TIMEOUT = 3.0  # seconds: a command that reads waits at most this long for the extension
NO_SYNC = typer.Option(False, "--no-sync", help="Do not pull the extension's results first.")


def sync(
    ctx: typer.Context,
    timeout: float | None = typer.Option(
        None, "--timeout", metavar="SECONDS", help="Stop after this long (the rest comes next time)."
    ),
    shared: bool = typer.Option(
        False, "--share", help="Also exchange this laptop's own records with the team's other laptops."
    ),
) -> None:
    """Pull the extension's scans, reports, alerts, approval requests and audit into this laptop's store."""
    from escher.config import resolve_paths
    from escher.extend.pull import pull_all, share

    paths = resolve_paths()
    results = pull_all(paths, timeout=timeout)
    exchanged = share(paths) if shared else []

    def text() -> None:
        if not results:
            console().print("Nothing is extended: Escher runs Local Only, there is nothing to sync.")
        for r in results:
            what = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(r.pulled.items()))
            what = what or "nothing new"
            console().print(f"[green]✓[/] {r.cloud}: {what} from {r.state_url}")
            if not r.complete:
                console().print(
                    "  [yellow]![/] stopped at the time limit: run 'escher sync' again for the rest"
                )
            for key in r.rejected:
                why = (
                    "it is not an organization report Escher can read (left in the extension)"
                    if "/reports/org/" in f"/{key}"
                    else "it does not match its content hash or its name"
                )
                console().print(f"  [red]✗[/] rejected {key}: {why}")
        for x in exchanged:
            console().print(
                f"[green]✓[/] {x['cloud']}: shared {x['pushed']} record(s), {x['pulled']} from other laptops"
            )

    data: dict[str, object] = {"synced": [r.to_dict() for r in results]}
    if shared:
        data["shared"] = exchanged
    emit(ctx, data, text)
    if any(r.rejected for r in results):
        raise typer.Exit(5)


def auto_sync(no_sync: bool = False) -> list[PullResult]:
    """The bounded pull before a command that reads what the extension may have changed."""
    if no_sync or os.environ.get("ESCHER_NO_SYNC", "").strip() not in ("", "0"):
        return []
    from escher.clouds.errors import translate
    from escher.config import resolve_paths
    from escher.errors import EscherError
    from escher.extend.pull import pull_all, sources

    paths = resolve_paths()
    found = sources(paths)  # from the local record: no network when nothing is extended
    if not found:
        return []
    try:
        results = pull_all(paths, timeout=AUTO_TIMEOUT, only=found)
    except Exception as exc:  # not hidden: said on stderr (a bug re-raises); the command runs on local data
        error = exc if isinstance(exc, EscherError) else translate(exc)
        if error is None:
            raise
        sys.stderr.write(f"escher: not synced with the extension ({error.message}); showing local data\n")
        return []
    for r in results:
        if not r.complete:
            sys.stderr.write(f"escher: sync with the {r.cloud} extension is partial; run 'escher sync'\n")
        if r.rejected:
            sys.stderr.write(f"escher: {len(r.rejected)} object(s) rejected by sync; run 'escher sync'\n")
    return results


def extended_approvals(rt: Runtime) -> Runtime:
    """While a cloud is extended, decisions on its workers' requests are written back to its storage first."""
    from escher.extend.pull import sources

    if sources(rt.paths):
        from escher.extend.approvals_remote import ExtendedApprovalStore
        from escher.store.keys import load_or_create

        rt.approvals.store = ExtendedApprovalStore(
            rt.paths.data_dir, signer=load_or_create(rt.paths.data_dir)
        )
    return rt


def held_to_approval(rt: Runtime, request_id: str) -> None:
    """``escher approvals run ID`` of a request the extension raised: every step needs this approval, so the gate
    uses it up (in the extension's storage) before anything runs, and the worker's next wake does not run it
    again. A low-risk step would otherwise run as "no approval needed" and leave the approval standing."""
    from escher.extend.approvals_remote import ExtendedApprovalStore

    store = rt.approvals.store
    if isinstance(store, ExtendedApprovalStore) and store.origin(request_id) is not None:
        # model_copy skips the setting's lower bound of 1 on purpose: a person never sets this, the run does
        rt.policy = rt.policy.model_copy(update={"max_targets_without_approval": 0})


def synced_runtime(no_sync: bool = False) -> Runtime:
    """``open_runtime()`` after the automatic sync, with the extension's approvals written back."""
    from escher.policy.runtime import open_runtime

    auto_sync(no_sync)
    return extended_approvals(open_runtime())


__all__ = [
    "AUTO_TIMEOUT",
    "NO_SYNC",
    "auto_sync",
    "extended_approvals",
    "held_to_approval",
    "sync",
    "synced_runtime",
]
