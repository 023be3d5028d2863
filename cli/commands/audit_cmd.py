"""``escher audit verify``: prove the audit log and reports are intact, or name what was tampered with."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit, state, sub_app

app = sub_app("The immutable audit log and reports.")


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check every hash chain and signed checkpoint; exit 1 and name each tampered record if any."""
    from escher.store.store import Store

    with Store.open() as store:
        total = sum(store.status().chains.values())
        if state(ctx).json or total < 20_000:
            report = store.verify()
        else:
            from rich.progress import Progress

            with Progress(console=console(), transient=True) as progress:
                task = progress.add_task("verifying", total=total)
                report = store.verify(progress=lambda n: progress.advance(task, n))

    def text() -> None:
        from rich.markup import escape

        for chain in report.chains:
            mark = "[green]ok[/]" if not chain.issues else f"[bold red]{len(chain.issues)} problem(s)[/]"
            console().print(
                f"{chain.chain:<11} {chain.records:>9} records, {chain.checkpoints} checkpoints: {mark}"
            )
            for issue in chain.issues:
                console().print(f"  [red]{issue.kind}[/] at seq {issue.seq}: {escape(issue.detail)}")
        if report.ok:
            console().print(
                "[green]The ledger verifies: nothing was edited, deleted, reordered or truncated.[/]"
            )

    emit(ctx, report.to_dict(), text)
    raise typer.Exit(0 if report.ok else 1)
