"""``escher extend``, ``escher destroy``, ``escher status``: Extend My Laptop with Pulumi (and back)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit
from escher.clouds import CLOUDS

if TYPE_CHECKING:
    from escher.infra.plan import Plan


class Cloud(StrEnum):
    aws = "aws"
    azure = "azure"
    gcp = "gcp"


REPO_ROOT = Path(__file__).resolve().parents[2]  # the source tree the worker bundle is built from


def _render_plan(plan: Plan) -> None:
    from rich.markup import escape
    from rich.table import Table

    from escher.infra.plan import short

    table = Table(title=f"escher extend {plan.cloud} --plan ({plan.region}): {len(plan.resources)} resources")
    for col in ("type", "name", "key settings"):
        table.add_column(col, overflow="fold")
    for r in plan.resources:
        table.add_row(r.type, r.name, escape(short(r.settings, 110)))
    console().print(table)
    if plan.worker_environment:
        env = Table(
            title="Worker environment (secrets redacted): where state and dead letters go",
            caption="names ending in -mock are given by the cloud at deploy time",
        )
        for col in ("variable", "value"):
            env.add_column(col, overflow="fold")
        for name, value in plan.worker_environment.items():
            env.add_row(name, escape(value))
        console().print(env)
    console().print(f"[bold]Operations[/] ({len(plan.operations)}): {', '.join(plan.operations)}")
    console().print(
        f"[bold]Generated permissions[/] ({len(plan.permissions)}): {', '.join(plan.permissions)}"
    )
    _render_plan_notes(plan)
    costs = Table(title="Estimated idle cost per month (USD)")
    for col in ("resource type", "count", "USD", "why"):
        costs.add_column(col)
    for line in plan.costs:
        costs.add_row(line.type, str(line.count), f"{line.monthly_usd:.2f}", line.note)
    console().print(costs)
    console().print(
        f"[bold]Total ≈ ${plan.monthly_usd:.2f}/month[/] when idle (goal ≤ $1). Secrets are redacted."
    )


# outputs that ask something of the user or say what the deploy does beyond the resources, in the order shown
PLAN_NOTES = (
    ("operations_not_granted", "Not granted (name [extend] resource_groups to grant them there)"),
    ("requirements", "Needed outside the stack"),
    ("budgets_topic", "Point each budget's notifications at"),
    ("post_deploy", "After the deploy, 'escher extend' runs, in order"),
)


def _render_plan_notes(plan: Plan) -> None:
    """The plan's outputs a person must act on or should know, in text as they are in JSON."""
    from rich.markup import escape

    for key, title in PLAN_NOTES:
        value = plan.outputs.get(key)
        if not value:
            continue
        if isinstance(value, str):
            console().print(f"[bold]{escape(title)}[/]: {escape(value)}")
            continue
        console().print(f"[bold]{escape(title)}[/]:")
        for n, item in enumerate(value, 1):
            console().print(
                f"  {n}. {escape(str(item))}" if key == "post_deploy" else f"  - {escape(str(item))}"
            )


@contextmanager
def _recorded_act(
    paths: Any, cloud: str, action: str, target: str, details: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The intent in the ledger before the deployment changes anything, the outcome after (a failure too)."""
    from escher.audit import AuditRecord
    from escher.audit.ledger import recorded
    from escher.config import load_settings
    from escher.policy.personas import current_actor

    base = {"actor": str(current_actor(load_settings(paths).extensions)), "action": action, "target": target,
            "cloud": cloud}  # fmt: skip
    with recorded(paths) as ledger:
        intent = AuditRecord.model_validate({**base, "outcome": "started", "details": details})
        ledger.append(intent)
        outcome: dict[str, Any] = {}
        try:
            yield outcome
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            ledger.append(AuditRecord.model_validate({**base, "outcome": "failed", "correlation_id": intent.record_id,
                                                      "details": {**details, "error": error}}))  # fmt: skip
            raise
        ledger.append(AuditRecord.model_validate({**base, "outcome": "succeeded", "correlation_id": intent.record_id,
                                                  "details": {**details, **outcome}}))  # fmt: skip


def _spec(cloud: Cloud, region: str | None, bundle_path: str) -> Any:
    from escher.infra.spec import spec_from_settings

    return spec_from_settings(cloud.value, region=region, bundle_path=bundle_path)


SYNC_SETTINGS = "sync-settings"
CREDENTIALS = "credentials"
STATUS = "status"
_read_only = {"now": False}  # set by a command that only reads: the close hook publishes nothing, once
CREDENTIALS_MODULE = "escher.cli.commands.extend_credentials_cmd"  # extend-creds' command (issue 16, item 3)


def _target(value: str) -> Cloud | None:
    """The cloud named, or None for ``sync-settings``."""
    if value == SYNC_SETTINGS:
        return None
    try:
        return Cloud(value.lower())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not one of aws, azure, gcp, {STATUS}, {CREDENTIALS}, {SYNC_SETTINGS}",
            param_hint="CLOUD",
        ) from None


def _credentials(ctx: typer.Context, cloud: str | None, *, yes: bool, dry_run: bool, **gcp: Any) -> None:
    """``escher extend credentials azure|gcp``: handed to its own command module."""
    import importlib

    from escher.errors import EscherError

    if not cloud:
        raise typer.BadParameter("name the cloud: escher extend credentials azure|gcp", param_hint="CLOUD")
    try:
        module: Any = importlib.import_module(CREDENTIALS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != CREDENTIALS_MODULE:
            raise
        raise EscherError(
            "'escher extend credentials' is not part of this Escher build yet",
            hint="copy this laptop's keys with 'escher extend CLOUD --copy-credentials OTHER' meanwhile",
        ) from None
    module.credentials(ctx, cloud.lower(), yes=yes, dry_run=dry_run, **gcp)


def extend(
    ctx: typer.Context,
    target: str = typer.Argument(
        ...,
        metavar="CLOUD",
        help=f"aws, azure or gcp (a guided setup in a terminal); {STATUS}: what runs where and whether it runs "
        f"your settings; {CREDENTIALS} azure|gcp: give the extension another cloud's access; {SYNC_SETTINGS}: "
        "publish your settings to every extended cloud now.",
    ),
    second: str | None = typer.Argument(None, metavar="[CLOUD]", help=f"with {CREDENTIALS}: azure or gcp."),
    region: str | None = typer.Option(
        None, "--region", help="Region / location (default: the config's, else your SDK's)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Take the flags and defaults; ask nothing."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Ask (or take the flags), show the review; provision and change nothing."
    ),
    enable: list[str] = typer.Option(
        [], "--enable", metavar="SWITCH", help="Pre-approve a fix ('escher remediation list'); repeatable."
    ),
    disable: list[str] = typer.Option(
        [], "--disable", metavar="SWITCH", help="Turn a pre-approved fix off; repeatable."
    ),
    idle_hours: float | None = typer.Option(None, "--idle-hours", help="stop_idle_instances: hours idle."),
    capacity: float | None = typer.Option(
        None, "--capacity-percent", help="scale_up_near_capacity: utilisation that counts as near."
    ),
    channel: list[str] = typer.Option(
        [], "--channel", metavar="NAME=URL|NAME=$VAR", help="Add a notification channel; repeatable."
    ),
    notify_email: str | None = typer.Option(
        None, "--notify-email", metavar="ADDRESS", help="Where the extension's own e-mail alerts go."
    ),
    copy_credentials: list[str] = typer.Option(
        [],
        "--copy-credentials",
        metavar="CLOUD",
        help="Copy this laptop's keys for another cloud into the extension (none by default); repeatable.",
    ),
    key_file: Path | None = typer.Option(
        None,
        "--key-file",
        help="credentials gcp: store this service-account key instead (a long-lived secret).",
    ),
    service_account: str | None = typer.Option(
        None, "--service-account", help="credentials gcp: the account the worker impersonates."
    ),
    project_number: str | None = typer.Option(
        None, "--project-number", help="credentials gcp: the project's number (else looked up)."
    ),
    pool: str = typer.Option("escher", "--pool", help="credentials gcp: the workload identity pool."),
    provider: str = typer.Option(
        "escher-aws", "--provider", help="credentials gcp: the pool's AWS provider."
    ),
    plan: bool = typer.Option(False, "--plan", help="Offline: list resources, permissions and idle cost."),
    check: bool = typer.Option(
        False,
        "--check",
        help="Read your account and say what is missing (and how to fix it); change nothing.",
    ),
) -> None:
    """Deploy Escher's scheduler, worker, state and event wiring into your own cloud account: in a terminal,
    step by step (region, preflight, pre-approved fixes, notifications, credentials, review); with --yes or
    from a script, from the flags."""
    from escher.config import resolve_paths

    if target == CREDENTIALS:
        gcp = {"key_file": key_file, "service_account": service_account, "project_number": project_number,
               "pool": pool, "provider": provider}  # fmt: skip
        _credentials(ctx, second, yes=yes, dry_run=dry_run, **gcp)
        return
    if second is not None:
        raise typer.BadParameter(f"unexpected {second!r}: only '{CREDENTIALS}' takes a second argument")
    if target == STATUS:
        status(ctx)
        return
    paths = resolve_paths()
    chosen = _target(target)
    if chosen is None:
        _sync_settings(ctx, paths)
        return
    cloud = chosen
    if check:
        report = _preflight(_spec(cloud, region, str(paths.data_dir / "bundles" / "worker.zip")))
        emit(ctx, report.to_dict(), lambda: _render_preflight(report))
        if not report.ok:
            raise typer.Exit(3)
        return
    if plan:
        from escher.infra.plan import run_plan

        planned = run_plan(_spec(cloud, region, str(paths.data_dir / "bundles" / "worker.zip")))
        emit(ctx, planned.to_dict(), lambda: _render_plan(planned))
        return
    flags = {"region": region, "enable": enable, "disable": disable, "idle_hours": idle_hours,
             "capacity_percent": capacity, "channels": channel, "notify_email": notify_email,
             "copy_credentials": copy_credentials}  # fmt: skip
    _setup_and_deploy(ctx, paths, cloud, flags, yes=yes, dry_run=dry_run)


def _interactive(ctx: typer.Context, yes: bool) -> bool:
    """A person at a terminal: not --yes, not JSON for a script, stdin and stdout a terminal."""
    import sys

    from escher.cli._render import state

    return not yes and not state(ctx).json and sys.stdin.isatty() and sys.stdout.isatty()


def _setup_and_deploy(
    ctx: typer.Context, paths: Any, cloud: Cloud, flags: dict[str, Any], *, yes: bool, dry_run: bool
) -> None:
    """The five steps (asked, or taken from the flags), the review, then the deploy unless ``dry_run``."""
    from escher.config import load_settings
    from escher.extend import setup
    from escher.infra import driver
    from escher.infra.credentials import collect_credentials

    settings = load_settings(paths)
    answers = setup.with_flags(setup.default_answers(cloud.value, settings), settings, **flags)
    found = sorted(collect_credentials(cloud.value))
    unfound = [c for c in answers.copy_credentials if c not in found]
    if unfound:
        raise setup.SetupError(
            f"this laptop has no long-lived {', '.join(unfound)} keys to copy",
            hint="set them up first ('escher doctor' shows what is found), or leave out --copy-credentials",
        )
    if not dry_run:
        driver.require_pulumi()  # say so before asking or building anything
    wizard = None
    if _interactive(ctx, yes):
        from escher.cli.commands._extend_wizard import Wizard

        wizard = Wizard(settings, answers)
        wizard.intro()
        answers = wizard.ask_region()
    # step 2: the account is read before anything is built or created: a blocking finding stops here, with its fix
    placeholder = str(paths.data_dir / "bundles" / "worker.zip")
    checked = _preflight(_spec_for(cloud, answers, settings, placeholder))
    if wizard is not None:
        wizard.show_preflight(checked)
        wizard.ask_switches()
        wizard.ask_channels()
        answers = wizard.ask_credentials(found)
    elif not checked.ok and not dry_run:
        _render_preflight(checked)
        checked.raise_if_blocked()
    from dataclasses import asdict

    from escher.infra.plan import run_plan

    reviewed = run_plan(_spec_for(cloud, answers, settings, placeholder))
    changed = setup.changes(answers, settings)
    review = {"answers": answers.model_dump(mode="json"), "changes": changed, "preflight": checked.to_dict(),
              "permissions": reviewed.permissions, "operations": reviewed.operations,
              "costs": [asdict(c) for c in reviewed.costs], "monthly_usd": reviewed.monthly_usd}  # fmt: skip
    if dry_run:
        from escher.cli.commands._extend_wizard import render_review

        def text() -> None:
            if wizard is None:
                _render_preflight(checked)
            render_review(reviewed, answers, changed)
            console().print("[yellow]Dry run:[/] nothing was provisioned and no setting was changed.")

        emit(ctx, {"dry_run": True, **review}, text)
        return
    if wizard is not None:
        from escher.cli.commands._extend_wizard import render_review

        render_review(reviewed, answers, changed)
        if not wizard.confirm():
            console().print("Stopped: nothing was provisioned and no setting was changed.")
            raise typer.Exit(1)
    from escher.policy.personas import current_actor

    applied = setup.apply(paths, answers, settings, actor=current_actor(settings.extensions))
    _deploy(ctx, paths, cloud, answers, review={**review, "changes": applied})


def _spec_for(cloud: Cloud, answers: Any, settings: Any, bundle_path: str) -> Any:
    from escher.extend.setup import merged_settings
    from escher.infra.spec import spec_from_settings

    return spec_from_settings(
        cloud.value,
        region=answers.region,
        bundle_path=bundle_path,
        settings=merged_settings(settings, answers),
    )


def _deploy(ctx: typer.Context, paths: Any, cloud: Cloud, answers: Any, *, review: dict[str, Any]) -> None:
    from escher.config import load_settings
    from escher.infra import driver
    from escher.infra.bundle import build_bundle
    from escher.infra.credentials import collect_credentials, writer_for

    bundle = build_bundle(cloud.value, source_root=REPO_ROOT, cache_dir=paths.data_dir / "bundles")
    settings = load_settings(paths)  # as the answers left them
    spec = _spec_for(cloud, answers, settings, str(bundle.path))
    # only the clouds the user chose: keys nothing asked for are not copied
    credentials = {k: v for k, v in collect_credentials(cloud.value).items() if k in answers.copy_credentials}

    from rich.progress import Progress, SpinnerColumn, TextColumn

    from escher.cli._render import state

    quiet = state(ctx).json  # the JSON on stdout is all a script reads
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console(), disable=quiet, transient=True
    ) as progress:
        task = progress.add_task(f"deploying to {cloud.value}…", total=None)

        def on_event(event: Any) -> None:
            pre = getattr(event, "resource_pre_event", None)
            if pre is not None:
                progress.update(task, description=f"{pre.metadata.op.value} {pre.metadata.type}")

        act = {"region": spec.region, "bundle_sha256": bundle.sha256, "permissions": len(spec.permissions),
               "credentials_copied": sorted(credentials)}  # fmt: skip
        with _recorded_act(
            paths, cloud.value, "escher.extend", f"escher/{cloud.value}/{spec.region}", act
        ) as outcome:
            result = driver.extend(
                spec,
                paths,
                credentials=credentials,
                writer=writer_for(cloud.value, spec.name_prefix),  # built from the outputs after up
                on_event=on_event,
            )
            outcome.update(changes=result.summary, outputs_file=str(result.outputs_file))
    # the schedules first: opening their store may write its file, which is part of what is published (after
    # it, the close hook would publish a second version at once)
    mirrored = _mirror_after_deploy(paths, cloud.value)
    published = _publish_after_deploy(paths, cloud.value)
    data = {
        "cloud": result.cloud,
        "outputs": result.outputs,
        "outputs_file": str(result.outputs_file),
        "changes": result.summary,
        "credentials_stored": result.credentials_stored,
        "credentials_missing": result.credentials_missing,
        "mode": "thin-client",
        "bundle": {"sha256": bundle.sha256, "zipped_bytes": bundle.zipped_bytes, "limit": bundle.limit.rule},
        "settings": published,
        "user_schedules": mirrored,
        "setup": review,
    }

    def text() -> None:
        console().print(f"[green]✓[/] Escher runs in {cloud.value}; outputs kept in {result.outputs_file}")
        if result.credentials_missing:
            console().print(
                f"[yellow]![/] the extension has no credentials for {', '.join(result.credentials_missing)} yet: "
                f"'escher extend credentials CLOUD' gives it access (or --copy-credentials CLOUD)"
            )
        if "error" in published:
            console().print(f"[yellow]![/] settings not published: {published['error']}")
        else:
            console().print(f"Settings published (version {published['version']}) to {published['url']}")
        if mirrored["made"]:
            console().print(f"{len(mirrored['made'])} schedule(s) of this laptop now run in {cloud.value}")
        for sid, why in mirrored["failed"].items():
            console().print(f"[yellow]![/] schedule {sid} is not in {cloud.value} and will not run: {why}; "
                            f"remove it and add it again", markup=False)  # fmt: skip
        console().print(
            f"The CLI is now a thin client for {cloud.value}: 'escher extend status' shows what it runs; "
            f"'escher destroy {cloud.value}' undoes it."
        )

    emit(ctx, data, text)


def destroy(
    ctx: typer.Context,
    cloud: Cloud | None = typer.Argument(None, help="aws, azure or gcp (default: every deployed cloud)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Destroy without asking."),
) -> None:
    """Bring the extension's state home into the local store (reports, alerts, approvals, audit into the
    ledger), then remove Escher from the cloud (back to Local Only); the locked audit storage stays."""
    from escher.config import resolve_paths
    from escher.extend.pull import importer
    from escher.infra import driver
    from escher.infra.export import StoreExporter

    paths = resolve_paths()
    local = driver.LocalState.load(paths)
    deployed: list[str] = [c for c in CLOUDS if local.mode(c) == "thin-client"]
    clouds = (
        [cloud.value]
        if cloud and (cloud.value in deployed or driver.load_outputs(paths, cloud.value))
        else []
    )
    if not cloud:
        clouds = deployed
    if not clouds:
        where = f" on {cloud.value}" if cloud else ""
        emit(ctx, {"destroyed": []},
             lambda: console().print(f"Nothing is deployed{where}: Escher runs Local Only."))  # fmt: skip
        return
    driver.require_pulumi()
    if not yes and not typer.confirm(f"Export state and destroy Escher in {', '.join(clouds)}?"):
        raise typer.Abort()
    results = []
    for c in clouds:
        with _recorded_act(paths, c, "escher.destroy", f"escher/{c}", {"cloud": c}) as outcome:
            results.append(driver.destroy(c, paths, exporter=StoreExporter(), importer=importer(paths)))
            outcome.update(exported=results[-1].exported_objects, export_dir=str(results[-1].export_dir),
                           imported=results[-1].imported, user_jobs_removed=results[-1].user_jobs_removed,
                           user_jobs_left=results[-1].user_jobs_left)  # fmt: skip

    def text() -> None:
        for r in results:
            pulled = r.imported.get("pulled") or {}
            home = ", ".join(f"{n} {kind}" for kind, n in sorted(pulled.items())) or "nothing new"
            console().print(f"[green]✓[/] {r.cloud}: imported into the local store: {home}")
            console().print(f"  {r.exported_objects} objects also copied to {r.export_dir}")
            console().print(
                f"  [yellow]kept:[/] {r.retained}" + (f": {r.audit_location}" if r.audit_location else "")
            )
            if r.user_jobs_left:
                console().print(f"  [red]![/] {len(r.user_jobs_removed)} user schedule job(s) removed from Cloud "
                                "Scheduler; NOT all:")  # fmt: skip
                console().print(
                    f"    {r.user_jobs_left}", markup=False, soft_wrap=True
                )  # the command: one line
            elif r.user_schedules:
                console().print(f"  {r.user_schedules}; they run on this laptop again", markup=False)

    emit(
        ctx,
        {
            "destroyed": [
                {
                    "cloud": r.cloud,
                    "exported": r.exported_objects,
                    "export_dir": str(r.export_dir),
                    "retained": r.retained,
                    "imported": r.imported,
                    "audit_kept": r.audit_location,
                    "user_schedules": r.user_schedules,
                    "user_jobs_removed": r.user_jobs_removed,
                    "user_jobs_left": r.user_jobs_left,
                }
                for r in results
            ]
        },
        text,
    )


def status(ctx: typer.Context) -> None:
    """What is deployed where, when its worker last ran, what it did since your last sync, and whether it runs
    your settings (the same as 'escher extend status')."""
    from escher.config import resolve_paths
    from escher.extend.status import extension_status

    _read_only["now"] = True  # status says "differs"; it does not publish behind the reader's back
    data = extension_status(resolve_paths())
    emit(ctx, data, lambda: _render_status(data))


def _render_status(data: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="escher status")
    for col in ("cloud", "mode", "region", "since"):
        table.add_column(col)
    for name, entry in data["clouds"].items():
        since = entry.get("deployed_at") or entry.get("destroyed_at") or ""
        table.add_row(name, entry.get("mode", "local"), entry.get("region", ""), since)
    console().print(table)
    if not data["deployed"]:
        console().print(data["message"])
    for name in data["deployed"]:
        entry = data["clouds"][name]
        console().print(f"[bold]{name}[/] · state storage {escape(str(entry.get('state_url') or '?'))}")
        outputs = entry.get("outputs") or {}
        shown = {k: v for k, v in outputs.items() if isinstance(v, str | int) and k.endswith(("_url", "_arn",
                 "_bucket", "_name", "region"))}  # fmt: skip
        for key, value in sorted(shown.items()):
            console().print(f"  {key}: {escape(str(value))}")
        storage = entry.get("storage") or {}
        if not storage.get("reachable"):
            console().print(
                f"  [yellow]![/] the state storage was not reached: {escape(str(storage.get('error')))}"
            )
        worker = entry.get("worker")
        if worker is not None:
            daily = worker.get("last_daily_job")
            if daily:
                failed = (
                    f"; failed parts: {', '.join(daily['failed'])}" if daily["failed"] else "; every part ran"
                )
                console().print(f"  worker last ran: {daily['started_at']} (daily job{failed})")
            else:
                console().print("  worker last ran: not yet (no daily job has written its record)")
            console().print(
                f"  newest scan: {worker.get('last_scan') or 'none'}; morning report: "
                f"{worker.get('last_report') or 'none'}"
            )
        done = entry.get("since_last_sync")
        if done is not None:
            kinds = ("scans", "reports", "alerts", "approvals", "audit", "remediations")
            counts = ", ".join(f"{done[k]} {k}" for k in kinds)
            console().print(f"  since your last sync: {counts}" + ("" if not any(done[k] for k in kinds)
                            else " ('escher sync' brings them here)"))  # fmt: skip
        elif storage.get("reachable"):
            console().print("  since your last sync: unknown (the local store could not be opened)")
        settings = entry.get("settings") or {}
        verdict = settings.get("state", "unknown")
        colour = {"in sync": "green", "differs": "yellow", "not published": "yellow"}.get(verdict, "red")
        version = f" (version {settings['version']})" if settings.get("version") else ""
        console().print(
            f"  settings: [{colour}]{verdict}[/]{version}: {escape(str(settings.get('detail', '')))}"
        )
        if settings.get("source", "storage") != "storage":
            console().print(f"    from the {escape(str(settings['source']))}")
    console().print(f"backend: {data['backend']}; Pulumi CLI: {data['pulumi_cli'] or 'not installed'}")
    for run in data["last_runs"]:
        console().print(f"  {run['at']}  {run['action']:8s} {run['cloud']:6s} {run['result']}")


# -- preflight and settings travel ------------------------------------------------------------------------
def _preflight(spec: Any) -> Any:
    from escher.infra.preflight import preflight

    return preflight(spec)


def _render_preflight(report: Any) -> None:
    from escher.cli.commands._extend_wizard import render_preflight

    render_preflight(report)


def _actor(paths: Any) -> str:
    from escher.config import load_settings
    from escher.policy.personas import current_actor

    return str(current_actor(load_settings(paths).extensions))


def _mirror_after_deploy(paths: Any, cloud: str) -> dict[str, Any]:
    """The laptop's schedules that the new extension runs (run-due now leaves them to it) get their cloud
    schedule; never raises (the deploy happened): what failed is said."""
    from escher.cli.commands.schedule_cmd import open_schedules
    from escher.extend.schedules import mirror_schedules

    return mirror_schedules(paths, cloud, open_schedules().all()).to_dict()


def _publish_after_deploy(paths: Any, cloud: str) -> dict[str, Any]:
    """The deploy happened whatever this does: a failure is reported with what to run, never raised."""
    from escher.errors import EscherError
    from escher.infra.sync import sync_settings

    try:
        (result,) = sync_settings(paths, [cloud], published_by=_actor(paths))
    except EscherError as exc:
        return {"error": exc.message, "hint": f"{exc.hint or ''}; then run 'escher extend {SYNC_SETTINGS}'"}
    return result.to_dict()


def _sync_settings(ctx: typer.Context, paths: Any) -> None:
    from escher.infra.sync import sync_settings

    results = sync_settings(paths, published_by=_actor(paths))

    def text() -> None:
        for r in results:
            state = f"version {r.version}" + ("" if r.changed else " (unchanged)")
            console().print(f"[green]✓[/] {r.cloud}: settings {state} at {r.url}")
            if r.secrets_written:
                console().print(f"    secrets stored: {', '.join(r.secrets_written)}")
            if r.secrets_missing:
                console().print(
                    f"    [yellow]![/] no value on this machine for {', '.join(r.secrets_missing)}: "
                    "set the url_env variables named in [notify.channels] and sync again"
                )

    emit(ctx, {"published": [r.to_dict() for r in results]}, text)


def republish_if_changed() -> None:
    """After a CLI command: when a cloud is extended and the settings changed on this machine, publish them.
    No network when nothing changed; a failure is a warning on stderr (the command itself succeeded)."""
    import sys

    from escher.config import resolve_paths
    from escher.errors import EscherError
    from escher.infra.sync import pending, sync_settings

    if _read_only["now"]:
        _read_only["now"] = False
        return
    try:
        paths = resolve_paths()
        clouds = pending(paths)
        if clouds:
            for r in sync_settings(paths, clouds, published_by=_actor(paths)):
                sys.stderr.write(f"escher: settings published to {r.cloud} (version {r.version})\n")
    # the command itself succeeded: a cloud unreachable now is a warning, not its exit
    except Exception as exc:
        from escher.clouds.errors import translate

        error = exc if isinstance(exc, EscherError) else translate(exc)
        if error is None:
            raise
        sys.stderr.write(
            f"escher: your settings changed but were not published to the cloud: {error.message}; "
            f"run 'escher extend {SYNC_SETTINGS}'\n"
        )
