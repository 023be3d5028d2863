"""``escher demo``: local emulators, a realistic estate, real events through the real worker, the result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from escher.cli._render import console, emit, err_console, state

if TYPE_CHECKING:
    from escher.demo.run import DemoResult


def demo(
    ctx: typer.Context,
    with_console: bool = typer.Option(
        False,
        "--console",
        help="Then leave the Escher Console running on the demo estate (emulators kept up) until Ctrl-C.",
    ),
    port: int = typer.Option(
        0, "--port", min=0, max=65535, show_default=False, help="With --console: the port (0: a free one)."
    ),
    no_browser: bool = typer.Option(False, "--no-browser", help="With --console: do not open a browser."),
) -> None:
    """Run the event-to-remediation demo on moto (no cloud account; your own config is never touched)."""
    from escher.demo.run import run_demo

    if not with_console and (port or no_browser):
        raise typer.BadParameter(
            "they only go with --console: escher demo --console --port N", param_hint="--port / --no-browser"
        )
    quiet = state(ctx).json
    if not quiet:
        console().print(
            "[bold]Escher demo[/]: a public PII bucket and an SSH port open to the world, on moto\n"
        )
    progress = (lambda line: None) if quiet else (lambda line: err_console().print(line))
    if not with_console:
        result = run_demo(progress=progress)
        _show(ctx, result, kept=False)
        return

    def serve(result: DemoResult) -> None:
        from escher.demo.console import MANAGER, serve_demo_console, wait_for_interrupt

        handle = serve_demo_console(port=port, open_browser=not no_browser)
        result.console_url = handle.url
        _show(ctx, result, kept=True)
        if not quiet:
            console().print(
                f"\n[bold]Escher Console[/] on the demo estate, as {MANAGER} (a manager): see the CRITICAL "
                f"banner, then Approvals: approve and run the SSH fix {result.approval_request_id}."
            )
            console().print("Ctrl-C (or SIGTERM) stops the console and the emulators.")
            # plain print, never wrapped: the URL alone on its line, for a person or a script to read
            print(f"console: {handle.url}", flush=True)
        try:
            wait_for_interrupt()
        except KeyboardInterrupt:
            err_console().print("stopping the console and the emulators")
        finally:
            handle.stop()

    run_demo(progress=progress, then=serve)
    if not quiet:
        console().print("Console stopped; emulators stopped, temp files removed.")


def _show(ctx: typer.Context, result: DemoResult, *, kept: bool) -> None:
    def text() -> None:
        from rich.markup import escape

        from escher.cli.commands.alerts_cmd import render_banners

        console().print()
        render_banners(list(result.alerts))
        if result.timeline:
            console().print("[bold]Timeline of the bucket exposure[/] (from the audit records)")
            from datetime import datetime

            for entry in result.timeline:
                at = datetime.fromisoformat(entry["at"])
                console().print(f"  {at:%H:%M:%S}.{at.microsecond // 1000:03d}  {escape(entry['what'])}")
        block = all(result.bucket_block.values()) and bool(result.bucket_block)
        console().print(
            f"\n{'[green]✓[/]' if block else '[red]✗[/]'} bucket '{result.estate.get('pii_bucket')}' made private "
            f"(pre-approved) and verified on moto"
        )
        console().print(
            f"{'[green]✓[/]' if result.ssh_still_open else '[red]✗[/]'} security group "
            f"{result.estate.get('ssh_group')} waits for approval: escher approvals approve "
            f"{result.approval_request_id}"
        )
        console().print(
            f"[green]✓[/] {result.audit_records_verified} audit records verified against their hashes"
        )
        gcs_fixed = result.outcomes.get("gcs_public") == "auto_resolved" and not result.gcs_still_public
        console().print(
            f"{'[green]✓[/]' if gcs_fixed else '[red]✗[/]'} GCS bucket 'shop-exports' lost its allUsers binding "
            "through the GCP worker (pre-approved), verified on gcp-storage-emulator"
        )
        if result.ledger.get("ok") is not None:
            mark = "[green]✓[/]" if result.ledger["ok"] else "[red]✗[/]"
            console().print(f"{mark} audit synced into the embedded store: {result.ledger['detail']}")
        console().print(
            f"[green]✓[/] {len(result.dead_letters)} unreadable event parked in the dead-letter queue"
        )
        if kept:
            console().print(f"\nDone in {result.seconds:.1f} s; the emulators stay up for the console.")
        else:
            console().print(f"\nDone in {result.seconds:.1f} s; emulators stopped, temp files removed.")

    emit(ctx, result.to_dict(), text)
