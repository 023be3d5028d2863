"""The terminal side of ``escher extend aws|azure|gcp``: the vision's setup steps, asked one by one.

Only the questions and how things are shown live here (rich.prompt); the answers, their defaults and their
checks are :mod:`escher.extend.setup`, so the flags of a script and the answers of a person pass the same
checks. Each question starts from the answer the flags (or today's settings) give, so Enter keeps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from escher.cli._render import console

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.extend.setup import SetupAnswers
    from escher.infra.plan import Plan

__all__ = ["STEPS", "Wizard", "render_preflight", "render_review"]

STEPS = ("Region", "Preflight", "Pre-approved fixes", "Notifications", "Credentials")


def _step(n: int) -> None:
    console().print()
    console().rule(f"[bold]Step {n} of {len(STEPS)} · {STEPS[n - 1]}[/]", align="left")


def render_preflight(report: Any) -> None:
    from rich.markup import escape

    for f in report.findings:
        mark = "[green]✓[/]" if f.ok else ("[red]✗[/]" if f.blocking else "[yellow]![/]")
        console().print(f"{mark} {f.check}: {escape(f.message)}")
        if f.fix and not f.ok:
            console().print(f"    fix: {escape(f.fix)}")
    verdict = "ready" if report.ok else "not ready: fix the ✗ lines first"
    console().print(f"[bold]{report.cloud}[/]: {verdict}")


def _grouped(permissions: list[str]) -> list[tuple[str, str]]:
    """``s3:GetBucketAcl``... as one row per service (Azure and GCP names are grouped by their provider)."""
    groups: dict[str, list[str]] = {}
    for p in permissions:
        # s3:GetObject (AWS), Microsoft.Storage/storageAccounts/read (Azure), compute.instances.stop (GCP)
        service, _, action = p.partition(":" if ":" in p else "/" if "/" in p else ".")
        groups.setdefault(service, []).append(action or p)
    return [(s, ", ".join(sorted(a))) for s, a in sorted(groups.items())]


def render_review(plan: Plan, answers: SetupAnswers, changed: dict[str, Any]) -> None:
    """What the stack gets and costs, and what the answers change on this laptop."""
    from rich.markup import escape
    from rich.table import Table

    console().print()
    console().rule("[bold]Review[/]", align="left")
    console().print(
        f"[bold]{plan.cloud}[/] in [bold]{plan.region}[/]: {len(plan.resources)} resources, "
        f"{len(plan.operations)} operations the worker may run"
    )
    perms = Table(title=f"Permissions the worker gets ({len(plan.permissions)}, no wildcards)")
    perms.add_column("service", no_wrap=True)
    perms.add_column("actions", overflow="fold")
    for service, actions in _grouped(plan.permissions):
        perms.add_row(escape(service), escape(actions))
    console().print(perms)
    costs = Table(title="Estimated cost per month when idle (USD)")
    for col in ("resource type", "count", "USD", "why"):
        costs.add_column(col, overflow="fold")
    for line in plan.costs:
        costs.add_row(line.type, str(line.count), f"{line.monthly_usd:.2f}", escape(line.note))
    console().print(costs)
    console().print(f"[bold]Total ≈ ${plan.monthly_usd:.2f}/month[/] when idle.")
    for key, title in (
        ("operations_not_granted", "Not granted"),
        ("requirements", "Needed outside the stack"),
    ):
        value = plan.outputs.get(key)
        if value:
            items = [value] if isinstance(value, str) else list(value)
            console().print(f"[bold]{title}[/]: " + "; ".join(escape(str(i)) for i in items))
    _render_changes(answers, changed)


def _render_changes(answers: SetupAnswers, changed: dict[str, Any]) -> None:
    from escher.policy.remediation import SWITCHES

    on = [s.setting for s in SWITCHES if answers.remediation.get(s.setting)]
    console().print(
        f"[bold]Pre-approved fixes[/]: {', '.join(on) if on else 'none (every fix asks a person)'}"
    )
    if changed.get("remediation"):
        diff = ", ".join(f"{k} {old} → {new}" for k, (old, new) in changed["remediation"].items())
        console().print(f"  changes: {diff}")
    added = changed.get("channels") or {}
    console().print(
        "[bold]Notification channels added[/]: "
        + (", ".join(f"{k} ({v})" for k, v in added.items()) if added else "none")
    )
    console().print(f"[bold]Extension e-mail alerts[/]: {answers.notify_email or 'none'}")
    copied = ", ".join(answers.copy_credentials)
    console().print(
        f"[bold]Credentials copied from this laptop[/]: {copied or 'none'} "
        f"(the extension reaches {answers.cloud} with its own identity)"
    )


class Wizard:
    """Asks the steps in order; each ``ask_*`` returns the answers with that step's answers in them."""

    def __init__(self, settings: Settings, answers: SetupAnswers) -> None:
        self.settings = settings
        self.answers = answers

    def _update(self, **fields: Any) -> SetupAnswers:
        from escher.extend.setup import build

        self.answers = build(self.answers.cloud, **{**self.answers.model_dump(exclude={"cloud"}), **fields})
        return self.answers

    def intro(self) -> None:
        console().print(
            f"[bold]Extend My Laptop to {self.answers.cloud}[/]: Escher's scheduler, worker, state storage and "
            "credential store in your own account, so scans, alerts and fixes run while the laptop is closed."
        )
        console().print("Enter keeps the answer in brackets; Ctrl-C stops without changing anything.")

    def ask_region(self) -> SetupAnswers:
        from rich.prompt import Prompt

        from escher.extend.setup import SetupError, validate_region

        _step(1)
        while True:
            given = Prompt.ask("Region to deploy into", default=self.answers.region, console=console())
            try:
                return self._update(region=validate_region(self.answers.cloud, given))
            except SetupError as exc:
                console().print(f"[red]✗[/] {exc.message}; {exc.hint}")

    def show_preflight(self, report: Any) -> None:
        """Step 2: the account read before anything is created; a blocking finding stops the setup."""
        _step(2)
        render_preflight(report)
        if not report.ok:
            console().print(
                f"Nothing was changed. Run the fix lines above, then 'escher extend {self.answers.cloud}' again "
                f"(or 'escher extend {self.answers.cloud} --check' to check only)."
            )
            report.raise_if_blocked()

    def ask_switches(self) -> SetupAnswers:
        from rich.prompt import Confirm, FloatPrompt

        from escher.extend.setup import SetupError
        from escher.policy.remediation import SWITCHES

        _step(3)
        console().print(
            "Fixes the extension may run on matching events without asking a person (each is recorded in "
            "the audit log; change them any time with 'escher remediation enable|disable')."
        )
        values = dict(self.answers.remediation)
        for switch in SWITCHES:
            label = switch.label.replace("after N hours", "after the idle hours below")
            values[switch.setting] = Confirm.ask(
                f"  {label}?", default=bool(values[switch.setting]), console=console()
            )
            threshold = {
                "stop_idle_instances": "idle_hours",
                "scale_up_near_capacity": "capacity_percent",
            }.get(switch.setting)
            if threshold and values[switch.setting]:
                question = "    idle hours" if threshold == "idle_hours" else "    capacity percent"
                while True:
                    values[threshold] = FloatPrompt.ask(question, default=float(values[threshold]),
                                                        console=console())  # fmt: skip
                    try:
                        self._update(remediation=values)
                        break
                    except SetupError as exc:
                        console().print(f"[red]✗[/] {exc.message}; {exc.hint}")
        return self._update(remediation=values)

    def ask_channels(self) -> SetupAnswers:
        from rich.prompt import Confirm, Prompt

        from escher.extend.setup import SetupError, channel_answer
        from escher.notify.config import load_notify

        _step(4)
        notify = load_notify(self.settings.extensions)
        known = sorted({*notify.channels, *(c.name for c in self.answers.channels)})
        console().print(
            f"Channels now: {', '.join(known) if known else 'none (alerts show as banners only)'}"
        )
        for severity in ("CRITICAL", "HIGH"):
            console().print(f"  {severity} goes to: {', '.join(notify.channels_for(severity))}")
        channels = list(self.answers.channels)
        while Confirm.ask("Add a notification channel?", default=False, console=console()):
            name = Prompt.ask("  name (e.g. slack, email, pagerduty)", console=console())
            value = Prompt.ask(
                "  $VARIABLE holding its URL (keeps the token out of the file), or the apprise URL",
                console=console(),
            )
            try:
                channels = [c for c in channels if c.name != name.strip().lower()]
                channels.append(channel_answer(name, value))
                self._update(channels=channels)
            except SetupError as exc:
                console().print(f"[red]✗[/] {exc.message}; {exc.hint}")
                channels = list(self.answers.channels)
        while True:
            email = Prompt.ask(
                "E-mail address for the extension's own alerts (SNS / action group; '-' for none)",
                default=self.answers.notify_email or "-",
                console=console(),
            )
            try:
                return self._update(notify_email=None if email.strip() in ("", "-") else email.strip())
            except SetupError as exc:
                console().print(f"[red]✗[/] {exc.message}; {exc.hint}")

    def ask_credentials(self, found: list[str]) -> SetupAnswers:
        """Step 5: the extension's own cloud needs no key; another cloud's keys are copied only if asked."""
        from rich.prompt import Confirm

        from escher.extend.setup import other_clouds

        _step(5)
        cloud = self.answers.cloud
        console().print(
            f"The extension reaches {cloud} with its own identity (a role it is given): no key of yours is copied."
        )
        offered = []
        for other in other_clouds(cloud, self.settings):
            if other in found:
                offered.append(other)
                console().print(
                    f"  {other}: this laptop has {other} keys. Better: 'escher extend credentials {other}' later "
                    "(federation where the cloud allows it: no key leaves the laptop)."
                )
            else:
                console().print(
                    f"  {other}: no long-lived {other} keys on this laptop; the extension manages {other} once "
                    f"you run 'escher extend credentials {other}'"
                )
        copy = [
            other
            for other in offered
            if Confirm.ask(
                f"  Copy this laptop's {other} keys into the extension's secret store?",
                default=other in self.answers.copy_credentials,
                console=console(),
            )
        ]
        return self._update(copy_credentials=copy)

    def confirm(self) -> bool:
        from rich.prompt import Confirm

        a = self.answers
        return Confirm.ask(
            f"Provision Escher into {a.cloud} ({a.region}) now?", default=False, console=console()
        )
