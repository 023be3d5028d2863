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
    """The event file cannot be read, or is not JSON an event could be."""

    exit_code = 2


# Far above any delivered event (EventBridge 256 KB, Event Grid 1 MB a batch; CloudTrail nests ~10 deep), far
# below what costs the parser a recursion error or a quadratic integer conversion.
MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_DIGITS = 40
_HINT = "pass the event body exactly as the cloud delivered it (UTF-8 JSON)"


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise EventInputError(
            f"the input holds a {len(text)}-digit number, too large for any event field", hint=_HINT
        )
    return int(text)


def _depth(value: Any) -> int:
    """How deeply ``value`` nests, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _parse(body: bytes, source: str) -> Any:
    """The JSON in ``body``, or an EventInputError (exit 2) saying what is wrong with it."""
    import json

    name = "standard input" if source == "-" else source
    if len(body) > MAX_BYTES:
        raise EventInputError(f"{name} is {len(body):,} bytes; an event is at most {MAX_BYTES:,}", hint=_HINT)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EventInputError(f"{name} is not text: byte {exc.start} is not UTF-8", hint=_HINT) from None
    try:
        data = json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        data, deep = None, True
    except json.JSONDecodeError as exc:
        raise EventInputError(f"{name} is not JSON: {exc}", hint=_HINT) from None
    except ValueError as exc:  # a number Python will not convert (e.g. a float literal of 5,000 digits)
        raise EventInputError(f"{name} holds a value that cannot be read: {exc}", hint=_HINT) from None
    else:
        deep = _depth(data) > MAX_DEPTH
    if deep:
        raise EventInputError(f"{name} nests deeper than {MAX_DEPTH} levels; no event does", hint=_HINT)
    try:  # "\ud800" is valid JSON but not Unicode: nothing could print or store the event
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EventInputError(
            f"{name} holds a lone surrogate ({exc.object[exc.start : exc.end]!a}) in a string: not Unicode",
            hint=_HINT,
        ) from None
    return data


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


def _events(data: Any) -> list[UnifiedEvent]:
    from escher.events import normalize, normalize_batch

    if isinstance(data, list) and len(data) != 1:
        return normalize_batch(data)
    return [normalize(data)]


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
    events = _events(_parse(_read(source), source))
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

    data = _parse(_read(source), source)
    paths = resolve_paths()
    rules = rules_from_settings(load_settings(paths).extensions, paths.config_file)
    lookup = _estate(estate)
    results: list[dict[str, Any]] = []
    for event in _events(data):
        enriched = enrich(event, lookup)
        final, decision = rules.apply(enriched.event)
        results.append(
            {"event": final, "enrichment": enriched.enrichment.to_dict(), "decision": decision.to_dict()}
        )
    entry = resolve(data) if len(results) == 1 else None
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
