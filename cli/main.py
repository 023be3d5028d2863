"""The ``escher`` application: global options, command groups, and the one place errors are shown."""

from __future__ import annotations

import sys

import typer

from escher import __version__
from escher.cli._render import CliState, OutputFormat, show_error
from escher.cli._surface import EscherGroup
from escher.cli.commands import (
    approvals_cmd,
    completion_cmd,
    doctor_cmd,
    events_cmd,
    extend_cmd,
    init_cmd,
    ops_cmd,
    remediation_cmd,
    templates_cmd,
)
from escher.errors import EscherError

app = typer.Typer(
    name="escher",
    help="Operate AWS, Azure and GCP from one place.",
    no_args_is_help=True,
    # `escher completion SHELL` prints the script instead: no shell detection (shellingham) on every run
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help in sections (cli/_surface.py): typer's rich help imports rich.markdown + markdown_it
    # (~100 ms), too slow for --help.
    rich_markup_mode=None,
    cls=EscherGroup,
)


# flag -> the config setting it overrides and the SDK's own variable, so every reader of this run agrees
_ACCOUNT_FLAGS: dict[str, tuple[str, str]] = {
    "profile": ("ESCHER_AWS__PROFILE", "AWS_PROFILE"),
    "subscription": ("ESCHER_AZURE__SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID"),
    "project": ("ESCHER_GCP__PROJECT", "GOOGLE_CLOUD_PROJECT"),
}


def _override_accounts(**given: str | None) -> None:
    """--profile / --subscription / --project win over the config for this run (and the processes it starts)."""
    import os

    for flag, value in given.items():
        if value:
            for variable in _ACCOUNT_FLAGS[flag]:
                os.environ[variable] = value


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"escher {__version__}\n")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(
        OutputFormat.text,
        "--output",
        "-o",
        metavar="FORMAT",
        envvar="ESCHER_OUTPUT",
        help="text for people, json for scripts (also accepted after the command).",
    ),
    profile: str | None = typer.Option(
        None, "--profile", metavar="PROFILE", help="AWS profile for this run (overrides [aws] profile)."
    ),
    subscription: str | None = typer.Option(
        None,
        "--subscription",
        metavar="ID",
        help="Azure subscription for this run ([azure] subscription_id).",
    ),
    project: str | None = typer.Option(
        None, "--project", metavar="PROJECT", help="GCP project for this run (overrides [gcp] project)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    ctx.obj = CliState(output=output)
    _override_accounts(profile=profile, subscription=subscription, project=project)
    # while a cloud is extended, a command that changed a setting publishes it (escher extend sync-settings)
    ctx.call_on_close(extend_cmd.republish_if_changed)


app.command("init")(init_cmd.init)
app.command("doctor")(doctor_cmd.doctor)
app.command("completion")(completion_cmd.completion)
app.command("extend")(extend_cmd.extend)
app.command("destroy")(extend_cmd.destroy)
app.command("status")(extend_cmd.status)
app.add_typer(ops_cmd.app, name="ops")
app.add_typer(approvals_cmd.app, name="approvals")
app.add_typer(templates_cmd.app, name="templates")
app.add_typer(remediation_cmd.app, name="remediation")
app.add_typer(events_cmd.app, name="events")
# scans, the morning report and schedules (issue 7); imports stay light: the commands import their work lazily
from escher.cli.commands import agent_cmd, fix_cmd, report_cmd, scan_cmd, schedule_cmd  # noqa: E402

app.command("scan")(scan_cmd.scan)
app.command("report")(report_cmd.report)
app.command("fix")(fix_cmd.fix)
app.add_typer(schedule_cmd.app, name="schedule")
app.command("agent")(agent_cmd.agent)
app.command("run-due")(agent_cmd.run_due_cmd)
from escher.cli.commands import cost_cmd, findings_cmd  # noqa: E402  (issue 17: findings by id, cost sync)

app.add_typer(findings_cmd.app, name="findings")
app.add_typer(cost_cmd.app, name="cost")
# the brain and the conversational client (issue 9)
from escher.cli.commands import ask_cmd, brain_cmd  # noqa: E402

app.command("ask")(ask_cmd.ask)
app.command("chat")(ask_cmd.chat)
app.add_typer(brain_cmd.app, name="brain")
# the knowledge store, search, audit and backups (issue 5)
from escher.cli.commands import audit_cmd, backup_cmd, search_cmd, store_cmd  # noqa: E402

app.add_typer(store_cmd.app, name="store")
app.command("search")(search_cmd.search)
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(backup_cmd.app, name="backup")
# real-time alerts and the demo (issue 6)
from escher.cli.commands import alerts_cmd, demo_cmd  # noqa: E402

app.add_typer(alerts_cmd.app, name="alerts")
from escher.cli.commands import watch_cmd  # noqa: E402  (issue 20: activity since the watermark -> the pipeline)

app.command("watch")(watch_cmd.watch)
from escher.cli.commands import sync_cmd  # noqa: E402  (issue 16: the extension's results into this laptop)

app.command("sync")(sync_cmd.sync)
from escher.cli.commands import notify_cmd  # noqa: E402  (issue 17: a test message through each channel)

app.add_typer(notify_cmd.app, name="notify")
app.command("demo")(demo_cmd.demo)
# Escher inside any AI client over MCP (issue 22); the SDK is imported only when the command runs
from escher.cli.commands import mcp_cmd  # noqa: E402

app.command("mcp")(mcp_cmd.mcp)
# the accounts of an organization (issue 19), the local web console (issue 18), frameworks over the scans (issue 21)
from escher.cli.commands import accounts_cmd, compliance_cmd, console_cmd  # noqa: E402

app.add_typer(accounts_cmd.app, name="accounts")
app.command("console")(console_cmd.console)
app.add_typer(compliance_cmd.app, name="compliance")


def _wants_json(argv: list[str]) -> bool:
    for i, arg in enumerate(argv):
        if arg in ("--output", "-o") and i + 1 < len(argv):
            return argv[i + 1] == "json"
        if arg.startswith("--output="):
            return arg.split("=", 1)[1] == "json"
    import os

    return os.environ.get("ESCHER_OUTPUT") == "json"


def _debug() -> bool:
    import os

    return os.environ.get("ESCHER_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")


def _unexpected(exc: BaseException) -> EscherError:
    """The last resort: a cloud SDK's error says what to do (escher.clouds.<cloud>); anything else is a bug,
    shown in one line, with its traceback under ESCHER_DEBUG=1."""
    from escher.clouds.errors import translate

    known = translate(exc)
    if known is not None:
        return known
    if isinstance(exc, OSError):  # the machine, not the code: a full disk, a permission, a dropped connection
        where = f": {exc.filename}" if exc.filename else ""
        return EscherError(
            f"{exc.strerror or exc}{where}",
            hint="check the disk, file or connection named (free space, permissions, network), then retry",
        )
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return EscherError(
        f"unexpected {type(exc).__name__}{': ' + detail if detail else ''}",
        hint="this is a bug in Escher: rerun with ESCHER_DEBUG=1 to see where, and report it with that output",
    )


def run() -> None:
    """Console-script entry point: every error becomes a clear message and its exit code; a traceback only
    under ESCHER_DEBUG=1."""
    import os

    if "_ESCHER_COMPLETE" in os.environ:  # a completion request from `escher completion SHELL`'s script
        from typer._completion_classes import completion_init

        completion_init()
    try:
        code = app(standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("Aborted.\n")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: click's own message, exit code 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"Error: {exc}\n")
        sys.exit(getattr(exc, "exit_code", 1))
    except BrokenPipeError:  # the reader went away (`escher ... | head`): nothing left to tell it
        import os

        os.dup2(
            os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno()
        )  # so the exit's flush cannot fail again
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - not hidden: shown, with the traceback under ESCHER_DEBUG
        if _debug():
            import traceback

            traceback.print_exc()
        error = exc if isinstance(exc, EscherError) else _unexpected(exc)
        show_error(error, as_json=_wants_json(sys.argv[1:]))
        sys.exit(error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # python -m escher.cli.main
    run()
