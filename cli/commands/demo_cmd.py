"""``escher demo``: local emulators, a realistic estate, real events through the real worker, the result."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit, err_console, state


def demo(ctx: typer.Context) -> None:
    """Run the event-to-remediation demo on moto (no cloud account; your own config is never touched)."""
    from escher.demo.run import run_demo

    quiet = state(ctx).json
    if not quiet:
        console().print(
            "[bold]Escher demo[/]: a public PII bucket and an SSH port open to the world, on moto\n"
        )
    result = run_demo(progress=(lambda line: None) if quiet else (lambda line: err_console().print(line)))

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
        console().print(f"\nDone in {result.seconds:.1f} s; emulators stopped, temp files removed.")

    emit(ctx, result.to_dict(), text)
