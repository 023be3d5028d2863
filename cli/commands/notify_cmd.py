"""``escher notify test [CHANNEL...]``: send a test message through the configured channels, to see it arrive."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit, sub_app

app = sub_app("Notification channels ([notify] in the config): send a test message.")


@app.command("test")
def test(
    ctx: typer.Context,
    channels: list[str] = typer.Argument(
        None, metavar="CHANNEL", help="Channels of [notify.channels] to try (default: every one)."
    ),
) -> None:
    """Send one test message through each channel, and say which ones delivered it (exit 1 if one did not)."""
    from escher.config import ConfigError, load_settings
    from escher.notify import AppriseNotifier, Message, load_notify

    settings = load_notify(load_settings().extensions)
    configured = sorted(settings.channels)
    if not configured:
        raise ConfigError(
            "no notification channel is configured",
            hint='add [notify.channels.NAME] with url = "..." (an apprise URL such as slack://..., '
            'mailto://..., json://host/path) or url_env = "VARIABLE", then run this again',
        )
    chosen = list(dict.fromkeys(channels or configured))
    unknown = [c for c in chosen if c not in settings.channels]
    if unknown:
        from escher.config import did_you_mean

        raise typer.BadParameter(
            f"no channel named {unknown[0]!r}{did_you_mean(unknown[0], configured)}; "
            f"configured: {', '.join(configured)}"
        )
    # every chosen channel, and only those, for this one message (INFO is never routed to a person's pager)
    only = settings.model_copy(update={"routes": {"INFO": chosen}})
    message = Message(
        "test", "INFO", "Escher test message", "Sent by 'escher notify test': this channel works."
    )
    deliveries = AppriseNotifier(only).notify(message)
    failed = [d for d in deliveries if not d.ok]

    def text() -> None:
        from rich.markup import escape

        for d in deliveries:
            mark = "[green]✓ sent[/]" if d.ok else "[bold red]✗ not sent[/]"
            where = escape(" ".join(p for p in (d.channel, d.target, d.detail) if p))
            console().print(f"{mark} {where}", highlight=False)

    emit(ctx, {"ok": not failed, "deliveries": [d.model_dump(mode="json") for d in deliveries]}, text)
    if failed:
        raise typer.Exit(1)
