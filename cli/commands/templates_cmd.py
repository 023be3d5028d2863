"""``escher templates``: "extend me" templates that executors run without approval, inside their bounds."""

from __future__ import annotations

from pathlib import Path

import typer

from escher.cli._render import console, emit, sub_app
from escher.cli.commands._ops_flow import APPROVE_HELP

app = sub_app('"Extend me" templates: managers add them; executors run them inside their bounds.')


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the templates and their bounds."""
    from escher.policy.runtime import open_runtime

    items = open_runtime().templates.all()

    def text() -> None:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"{len(items)} template(s)")
        for col in ("name", "operation", "fixed", "variables", "bounds"):
            table.add_column(col)
        for t in items:
            bounds = [f"<= {t.max_targets} targets"]
            bounds += [f"tag {k} in {v}" for k, v in t.target_tags.items()]
            bounds += [f"regions {t.regions}"] if t.regions else []
            bounds += [f"window {t.window}"] if t.window else []
            variables = {k: v.model_dump(exclude_none=True) for k, v in t.variables.items()}
            table.add_row(
                t.name, t.operation, escape(str(t.fixed)), escape(str(variables)), escape("; ".join(bounds))
            )
        console().print(table)

    emit(ctx, [t.model_dump(mode="json") for t in items], text)


@app.command("add")
def add(
    ctx: typer.Context, file: Path = typer.Argument(..., exists=True, dir_okay=False, metavar="FILE")
) -> None:
    """Add (or replace) a template from a TOML or JSON file. Managers only."""
    import json
    import tomllib

    from escher.policy.errors import TemplateError
    from escher.policy.runtime import open_runtime
    from escher.policy.templates import parse_template

    rt = open_runtime()
    if not rt.actor.is_manager:
        raise TemplateError(
            f"{rt.actor.name} is not a manager: only managers define templates",
            hint="ask a manager (the [personas] managers list in the config)",
        )
    text = file.read_text(encoding="utf-8")
    try:
        raw = json.loads(text) if file.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"{file} cannot be read: {exc}", hint="fix the syntax") from None
    template = parse_template(raw, created_by=rt.actor.name)
    rt.templates.put(template)
    from escher.audit import AuditRecord

    # a template is a manager's standing approval for the runs inside its bounds: it goes in the ledger
    rt.sink.append(
        AuditRecord(
            actor=str(rt.actor),
            action="policy.template_add",
            target=template.name,
            reason=template.description,
            outcome="info",
            details=template.model_dump(mode="json"),
        )
    )
    emit(
        ctx,
        template.model_dump(mode="json"),
        lambda: console().print(f"template [bold]{template.name}[/] saved"),
    )


@app.command("run")
def run(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    target: list[str] = typer.Option([], "--target", "-t", help="A resource id (repeatable)."),
    tag: list[str] = typer.Option([], "--tag", help="Select targets by tag KEY=VALUE."),
    region: list[str] = typer.Option([], "--region", "-r", help="Region(s)."),
    var: list[str] = typer.Option([], "--var", help="A variable parameter KEY=VALUE the template allows."),
    reason: str = typer.Option("", "--reason"),
    dry_run: bool = typer.Option(False, "--dry-run"),
    yes: bool = typer.Option(False, "--yes", "-y"),
    approve: str | None = typer.Option(None, "--approve", metavar="REASON", help=APPROVE_HELP),
    account: str | None = typer.Option(
        None,
        "--account",
        metavar="ID",
        help="Run in this AWS account (through [aws] organization_role), Azure subscription or GCP project; "
        "a template with `accounts` runs only in one of them.",
    ),
) -> None:
    """Run a template without approval, inside its bounds (the manager's template is the standing approval);
    anything outside is refused with the reason, unless ``--approve "reason"`` (single-operator mode) approves
    that run as any other step that needs approval."""
    from escher.cli.commands._ops_flow import plan_from_cli, run_flow
    from escher.cli.commands.ops_cmd import in_account
    from escher.policy.errors import UnknownNameError
    from escher.policy.runtime import open_runtime, parse_assignments

    rt = open_runtime()
    template = rt.templates.get(name)
    if template is None:
        raise UnknownNameError(f"no template named {name!r}", hint="see 'escher templates list'")
    rt = in_account(rt, template.operation, account)
    rt.self_approval = approve
    params = template.params_for(parse_assignments(var, "var"))
    engine = rt.engine(template)
    plan = plan_from_cli(
        rt, engine, template.operation, target, tag, region, params, reason or f"template {name}"
    )
    run_flow(ctx, rt, plan, engine, dry_run=dry_run, yes=yes, template=template)
