"""``escher events``: normalize a cloud event and explain its enrichment and severity.

Heavy imports (pydantic models, normalizers, rules) happen inside the commands so ``escher --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit, sub_app
from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.events import EstateLookup, UnifiedEvent

app = sub_app(
    "Normalize cloud events (EventBridge, Event Grid, Azure Monitor, Pub/Sub) and explain severity."
)

_SOURCE = typer.Argument(
    ..., metavar="FILE|-", help="A delivered event body (JSON); '-' reads standard input."
)


class EventInputError(EscherError):
    """The event file cannot be read."""

    exit_code = 2


def _read(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EventInputError(
            f"cannot read {path}: {exc.strerror}", hint="pass a JSON file, or '-' for stdin"
        ) from None


def _events(body: bytes) -> list[UnifiedEvent]:
    import json

    from escher.events import normalize, normalize_batch

    stripped = body.lstrip()
    if stripped.startswith(b"["):
        try:
            items = json.loads(body)
        except json.JSONDecodeError:
            items = None
        if isinstance(items, list) and len(items) != 1:
            return normalize_batch(items)
    return [normalize(body)]


def _estate(path: Path | None) -> EstateLookup | None:
    if path is None:
        return None
    import json

    from escher.events import CloudProvider, EstateRecord, InMemoryEstate

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        estate = InMemoryEstate()
        for item in data["resources"]:
            estate.add(
                CloudProvider(item["cloud"]),
                item["id"],
                EstateRecord(
                    tags=item.get("tags", {}),
                    environment=item.get("environment"),
                    data_classification=item.get("data_classification"),
                    owner=item.get("owner"),
                    monthly_cost=item.get("monthly_cost"),
                    affected_users=item.get("affected_users"),
                ),
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EventInputError(
            f"cannot use estate file {path}: {exc}",
            hint='write {"resources": [{"cloud": "aws", "id": "<resource id>", "environment": "production", ...}]}',
        ) from None
    return estate


@app.command("normalize")
def normalize_cmd(ctx: typer.Context, source: str = _SOURCE) -> None:
    """Print the UnifiedEvent for a cloud event body."""
    events = _events(_read(source))
    data: Any = events[0] if len(events) == 1 else events

    def text() -> None:
        from rich.syntax import Syntax

        for event in events:
            console().print(Syntax(event.model_dump_json(indent=2), "json", word_wrap=True))

    emit(ctx, data, text)


@app.command("explain")
def explain_cmd(
    ctx: typer.Context,
    source: str = _SOURCE,
    estate: Path | None = typer.Option(
        None, "--estate", help="A JSON estate file to enrich from (else tags only)."
    ),
) -> None:
    """Normalize, enrich and classify: which severity rule fired, and why."""
    from escher.config import load_settings, resolve_paths
    from escher.events import enrich, resolve
    from escher.rules import rules_from_settings

    body = _read(source)
    paths = resolve_paths()
    rules = rules_from_settings(load_settings(paths).extensions, paths.config_file)
    lookup = _estate(estate)
    results: list[dict[str, Any]] = []
    for event in _events(body):
        enriched = enrich(event, lookup)
        final, decision = rules.apply(enriched.event)
        results.append(
            {"event": final, "enrichment": enriched.enrichment.to_dict(), "decision": decision.to_dict()}
        )
    entry = resolve(body) if len(results) == 1 else None
    if entry is not None:
        results[0]["normalizer"] = {"key": entry.key, "source_kind": entry.source_kind, "docs": entry.docs}

    def text() -> None:
        from rich.markup import escape

        for r in results:
            e: UnifiedEvent = r["event"]
            d: dict[str, Any] = r["decision"]
            ctx_ = e.context
            console().print(
                f"[bold]{escape(e.event_type.value)}[/] on {e.cloud_provider.value} "
                f"{escape(e.resource.type)} [bold]{escape(e.resource.name)}[/] ({escape(e.event_id)})"
            )
            if "normalizer" in r:
                console().print(
                    f"  normalizer   {r['normalizer']['key']}  ({escape(r['normalizer']['source_kind'])})"
                )
            console().print(
                f"  environment  {ctx_.environment or '-'}   data  {ctx_.data_classification or '-'}   "
                f"cost impact  {ctx_.cost_impact if ctx_.cost_impact is not None else '-'}   "
                f"owner  {escape(r['enrichment']['owner'] or '-')}"
            )
            for field, where in r["enrichment"]["sources"].items():
                console().print(f"    {field}: {escape(where)}")
            console().print(
                f"  severity     [bold]{d['severity']}[/]  by {d['origin']} rule '{escape(d['rule'])}'"
            )
            for reason in d["reasons"]:
                console().print(f"    - {escape(reason)}")

    emit(ctx, results[0] if len(results) == 1 else results, text)
