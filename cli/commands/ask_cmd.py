"""``escher ask`` and ``escher chat``: plain-language questions, plans and playbooks from the brain."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit, print_json, state

if TYPE_CHECKING:
    from escher.assist.client import Answer, Assistant
    from escher.assist.execute import StepOutcome
    from escher.brain.models import AskResponse

DRY_RUN = typer.Option(False, "--dry-run", help="Show the plan; run nothing.")
YES = typer.Option(False, "--yes", "-y", help="Do not ask before running a plan (needed without a terminal).")
LOCAL = typer.Option(False, "--local", help="Use the local planner even when a brain URL is configured.")
BRAIN_URL = typer.Option(
    None, "--brain-url", envvar="ESCHER_BRAIN_URL", help="The brain to ask (overrides [brain] url)."
)
SAVE = typer.Option(False, "--save", help="Save a playbook answer to your playbooks without asking.")
APPROVE = typer.Option(
    None,
    "--approve",
    metavar="REASON",
    help="Approve the plan's steps that need approval yourself, with this reason (single-operator mode only; "
    "recorded in the audit ledger as a self-approval). --yes never approves.",
)

ACCOUNT = typer.Option(
    None,
    "--account",
    metavar="ID",
    help="Only this AWS account, Azure subscription or GCP project (repeatable): the question sees only its "
    "resources, findings and costs, and a plan acts only there (AWS through [aws] organization_role).",
)
ALL_ACCOUNTS = typer.Option(
    False,
    "--all-accounts",
    help="Every account of the estate (the default for the question): a plan's step acts on each target in "
    "its own account (AWS through [aws] organization_role), a step that selects by tag in each of them.",
)


def render_answer(answer: Answer) -> None:
    from rich.markup import escape
    from rich.table import Table

    r = answer.response
    who = "brain" if answer.source == "brain" else "local planner"
    console().print(f"[bold]{escape(r.summary)}[/]  [dim]({who}, {r.kind})[/]")
    if r.kind == "information" and r.table and r.table.rows:
        table = Table()
        for col in r.table.columns:
            table.add_column(col)
        for row in r.table.rows[:200]:
            table.add_row(*(escape(c) for c in row))
        console().print(table)
    elif r.kind == "execution":
        table = Table(title=f"plan: {escape(r.impact)}")
        for col in ("#", "operation", "risk", "approval", "targets"):
            table.add_column(col)
        for i, s in enumerate(r.steps, 1):
            targets = ", ".join(s.targets[:3]) + (f" (+{len(s.targets) - 3})" if len(s.targets) > 3 else "")
            if s.select_by_tags:
                targets = targets or "tagged " + ",".join(f"{k}={v}" for k, v in s.select_by_tags.items())
            approval = "needs approval" if s.requires_approval else "no"
            table.add_row(str(i), s.operation_id, s.risk, approval, escape(targets))
        console().print(table)
        for s in r.steps:
            for cli in s.cli[:2]:
                console().print(f"[dim]$ {escape(cli)}[/]")
    elif r.kind == "schedule":
        console().print(f"[cyan]proposed schedule[/] {escape(r.cron)} ({escape(r.when)}); nothing runs now.")
        for job in r.jobs:
            mark = " [yellow](needs approval when it runs)[/]" if job.requires_approval else ""
            console().print(f"[dim]$ {escape(job.command)}[/]{mark}")
        console().print(f"[dim]{escape(r.timezone_note)}[/]")
    elif r.kind == "playbook":
        pb = r.playbook
        console().print(f"[bold]{escape(pb.name)}[/] [dim]{pb.id} ({', '.join(pb.clouds)}, {pb.category})[/]")
        for i, step in enumerate(pb.steps, 1):
            op = f" [cyan]{step.operation_id}[/]" if step.operation_id else " [dim](manual)[/]"
            mark = {"done": "[green]done[/] ", "missing": "[yellow]missing[/] "}.get(step.status, "")
            console().print(f"  {i}. {mark}{escape(step.title)}{op}")
    if r.kind == "information":
        for miss in r.unresolved:
            hint = f"; did you mean {', '.join(miss.did_you_mean[:3])}?" if miss.did_you_mean else ""
            console().print(f"[red]not found:[/] {escape(miss.message or miss.text)}{escape(hint)}")
    scope = getattr(r, "scope", None)
    if scope is not None and scope.total:
        per_env = ", ".join(f"{n} {env}" for env, n in sorted(scope.by_environment.items()))
        per_account = ", ".join(f"{n} in {acct}" for acct, n in sorted(scope.by_account.items()))
        console().print(
            f"[bold]scope:[/] {scope.total} resource(s): {escape(per_env)}; {escape(per_account)}"
        )
    for notice in [*answer.notices, *r.notices]:
        console().print(f"[yellow]note:[/] {escape(notice)}")
    for q in r.suggested_questions[:4]:
        console().print(f"[dim]try: {escape(q)}[/]")


def render_outcomes(outcomes: list[StepOutcome]) -> None:
    from rich.markup import escape

    style = {"executed": "green", "needs_approval": "yellow", "not_executed": "yellow", "declined": "yellow"}
    for o in outcomes:
        extra = f" (approval request {o.approval_request})" if o.approval_request else ""
        console().print(f"[{style.get(o.status, 'red')}]{o.status:>14}[/] {o.step.operation_id}: "
                        f"{escape(o.message)}{extra}")  # fmt: skip


def _open(stack: Any, brain_url: str | None, accounts: list[str] | None = None) -> Assistant:
    from escher.assist.factory import open_assistant
    from escher.config import load_settings, resolve_paths

    paths = resolve_paths()
    return open_assistant(load_settings(paths), paths, stack, brain_url=brain_url, accounts=accounts)


def _exit_code(outcomes: list[StepOutcome]) -> int:
    if any(o.status == "failed" for o in outcomes):
        return 1
    if any(o.status == "needs_approval" for o in outcomes):
        return 5
    if any(o.status in ("not_executed", "declined", "refused") for o in outcomes):
        return 1
    return 0


def handle(
    ctx: typer.Context, assistant: Assistant, query: str, *, conversation_id: str | None, dry_run: bool, yes: bool,
    local: bool, save: bool, interactive: bool, approve: str | None = None, accounts: list[str] | None = None,
    all_accounts: bool = False,
) -> tuple[Answer, int]:  # fmt: skip
    """One exchange: ask, show, and for a plan: confirm and run through the engine (with ``accounts``: in each
    of those accounts, each step only on its targets there)."""
    answer = assistant.ask(query, conversation_id=conversation_id, local_only=local)
    response: AskResponse = answer.response
    as_json = state(ctx).json
    data = answer.to_dict()
    code = 0
    if response.kind == "execution" and response.steps and not dry_run:
        from escher.assist.execute import run_steps
        from escher.policy.runtime import open_runtime

        if not as_json:
            render_answer(answer)
        rt = open_runtime()
        rt.self_approval = approve
        confirm = lambda q: typer.confirm(q, default=False)  # noqa: E731
        if all_accounts:  # every account of the estate the plan's targets were found in
            accounts = sorted(set(answer.accounts.values()))
        if accounts is None:
            outcomes = run_steps(rt, response.steps, can_confirm=interactive and not as_json, yes=yes,
                                 confirm=confirm)  # fmt: skip
        else:
            outcomes = _run_in_accounts(rt, answer, accounts, can_confirm=interactive and not as_json, yes=yes,
                                        confirm=confirm)  # fmt: skip
        data["execution"] = [o.to_dict() for o in outcomes]
        if as_json:
            print_json(data)
        else:
            render_outcomes(outcomes)
        return answer, _exit_code(outcomes)
    if response.kind == "execution":
        data["execution"] = [{"operation_id": s.operation_id, "status": "dry_run" if dry_run else "not_executed"}
                             for s in response.steps]  # fmt: skip

    def text() -> None:
        render_answer(answer)
        if response.kind == "execution" and dry_run:
            console().print("[cyan]dry run:[/] nothing was executed.")

    emit(ctx, data, text)
    if response.kind == "playbook":
        wants = save or (
            interactive and not state(ctx).json and typer.confirm("Save this playbook?", default=False)
        )
        if wants:
            from escher.assist.playbooks import save_playbook
            from escher.config import resolve_paths

            path = save_playbook(resolve_paths().data_dir, response.playbook)
            if not state(ctx).json:
                console().print(f"saved to {path}")
    return answer, code


def _run_in_accounts(
    rt: Any, answer: Answer, accounts: list[str], *, can_confirm: bool, yes: bool, confirm: Any
) -> list[StepOutcome]:
    """A plan run account by account: in each, every step on its targets of that account only (a step that
    selects by tag: on the tagged resources of each account of its cloud), through the one gate of a runtime
    acting in that account, so no step reaches a resource of an account it was not asked about."""
    from escher.assist.execute import run_steps
    from escher.cli.commands.ops_cmd import in_account
    from escher.cli.commands.scan_cmd import account_cloud
    from escher.ops.model import OPERATIONS

    outcomes: list[StepOutcome] = []
    for account in accounts:
        for step in answer.response.steps:  # type: ignore[union-attr]
            cloud = OPERATIONS.get(step.operation_id).cloud
            try:
                if account_cloud(account, [cloud]) != cloud:
                    continue
            except typer.BadParameter:
                continue  # an account of another cloud
            if step.targets:
                mine = [t for t in step.targets if answer.accounts.get(t) == account]
                if not mine:
                    continue
                step = step.model_copy(update={"targets": mine})
            elif not step.select_by_tags:
                continue
            done = run_steps(in_account(rt, step.operation_id, account), [step], can_confirm=can_confirm,
                             yes=yes, confirm=confirm)  # fmt: skip
            for outcome in done:
                outcome.details["account"] = account
                outcome.message = f"account {account}: {outcome.message}".rstrip(": ")
            outcomes.extend(done)
            if any(o.status == "failed" for o in done):
                return outcomes
    return outcomes


def _accounts_of(given: list[str] | None, all_accounts: bool) -> list[str] | None:
    """The accounts ``ask`` is narrowed to: --account's; else None (the whole estate)."""
    if given and all_accounts:
        raise typer.BadParameter("give --account ID or --all-accounts, not both", param_hint="--all-accounts")
    return list(dict.fromkeys(given)) if given else None


def ask(
    ctx: typer.Context,
    query: str = typer.Argument(..., help='The question, e.g. "stop all dev VMs in us-east-1".'),
    dry_run: bool = DRY_RUN,
    yes: bool = YES,
    local: bool = LOCAL,
    brain_url: str | None = BRAIN_URL,
    save: bool = SAVE,
    conversation: str | None = typer.Option(None, "--conversation", help="Continue this conversation id."),
    approve: str | None = APPROVE,
    account: list[str] = ACCOUNT,
    all_accounts: bool = ALL_ACCOUNTS,
) -> None:
    """Ask in plain language: get information, an execution plan (asked before it runs) or a playbook."""
    from contextlib import ExitStack

    accounts = _accounts_of(account, all_accounts)
    with ExitStack() as stack:
        assistant = _open(stack, brain_url, accounts)
        _, code = handle(ctx, assistant, query, conversation_id=conversation, dry_run=dry_run, yes=yes,
                         local=local, save=save, interactive=sys.stdin.isatty(), approve=approve,
                         accounts=accounts, all_accounts=all_accounts)  # fmt: skip
    raise typer.Exit(code)


def chat(
    ctx: typer.Context,
    local: bool = LOCAL,
    brain_url: str | None = BRAIN_URL,
    dry_run: bool = DRY_RUN,
) -> None:
    """An interactive conversation (follow-up questions on the morning report and alerts). Ctrl-D ends it.

    Line editing, history (Up / Ctrl-R, kept in the data dir) and Tab completion of commands and of the
    estate's resource names; a follow-up such as "only the dev ones" narrows the previous answer."""
    import uuid
    from contextlib import ExitStack
    from typing import cast

    from escher.assist.followup import Conversation, ThreadedAssistant
    from escher.errors import EscherError

    if not sys.stdin.isatty():
        raise EscherError("escher chat needs a terminal", hint='use: escher ask "your question"')
    conversation_id = uuid.uuid4().hex[:12]
    with ExitStack() as stack:
        inner = _open(stack, brain_url)
        assistant = cast("Assistant", ThreadedAssistant(inner, Conversation(conversation_id)))
        session = _chat_session(inner)
        console().print(
            "[dim]Escher chat. Ask about your estate, the morning report or alerts; follow up with "
            '"only the dev ones". Tab completes, Up recalls. Ctrl-D to leave.[/]'
        )
        while True:
            try:
                query = session.prompt("you> ").strip()
            except KeyboardInterrupt:  # Ctrl-C clears the line, as in a shell
                continue
            except EOFError:
                break
            if not query:
                continue
            if query in ("exit", "quit"):
                break
            try:
                handle(ctx, assistant, query, conversation_id=conversation_id, dry_run=dry_run, yes=False,
                       local=local, save=False, interactive=True)  # fmt: skip
            except EscherError as exc:
                console().print(f"[red]{exc.message}[/]" + (f" [yellow]{exc.hint}[/]" if exc.hint else ""))


def _chat_session(assistant: Assistant) -> Any:
    """A prompt_toolkit session: editing, a history file (0600) in the data dir, completion of the estate."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory

    from escher.assist.followup import completion_words
    from escher.config import resolve_paths

    path = resolve_paths().data_dir / "assist" / "chat_history"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)  # the questions a person typed: theirs only
    completer = WordCompleter(completion_words(assistant), ignore_case=True, WORD=True)
    return PromptSession(history=FileHistory(str(path)), completer=completer,
                         auto_suggest=AutoSuggestFromHistory(), complete_while_typing=False)  # fmt: skip
