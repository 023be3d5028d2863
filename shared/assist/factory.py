"""Build the assistant this installation uses from its settings: sources, brain, chat history."""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from escher.assist.alerts import open_alert_source
from escher.assist.client import Assistant, HttpBrain
from escher.assist.history import ChatLog, JsonlChatLog, StoreChatLog
from escher.assist.sources import ContextSource, EstateSource, StoreSource
from escher.clouds import CLOUDS
from escher.config import Paths, Settings

if TYPE_CHECKING:
    from escher.scans.persist import ResultStore

__all__ = ["open_assistant"]


def _open_store(settings: Settings, paths: Paths, stack: ExitStack) -> Any:
    """The knowledge store, only when this installation has one (opening it may start embedded Postgres)."""
    from escher.lazy import is_installed

    if not is_installed("escher.store.store"):
        return None
    from escher.store.server import pgdata_dir

    if not (settings.store.database_url or pgdata_dir(paths.data_dir).exists()):
        return None
    from escher.store.store import Store

    store = Store.open(settings, paths)
    stack.callback(store.close)
    return store


def _token(settings: Settings, paths: Paths, url: str) -> str | None:
    """``[brain] token`` / ``ESCHER_BRAIN_TOKEN``; for a brain on this machine, the token file it wrote. The
    file is never sent to a brain elsewhere."""
    if settings.brain.token:
        return settings.brain.token
    from urllib.parse import urlsplit

    from escher.assist.token import read_token_file

    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    return read_token_file(paths.data_dir) if host in ("127.0.0.1", "localhost", "::1") else None


def open_assistant(
    settings: Settings,
    paths: Paths,
    stack: ExitStack,
    *,
    brain_url: str | None = None,
    use_store: bool = True,
    accounts: list[str] | None = None,
) -> Assistant:
    """The assistant; with ``accounts``, its context (estate, findings, costs, alerts) is only theirs."""
    from escher.scans.persist import open_store as open_results

    sources: list[ContextSource] = []
    history: ChatLog = JsonlChatLog(paths.data_dir / "assist" / "chat.jsonl")
    store = _open_store(settings, paths, stack) if use_store else None
    results: ResultStore
    if store is not None:
        from escher.scans.persist_store import StoreResults

        sources.append(StoreSource(store, accounts))
        history = StoreChatLog(store)
        results = StoreResults(store)  # the scans' estate, costs and findings, on the same connection
    else:  # never start an embedded database just to answer a question: the JSON files, if any
        results = open_results(paths.data_dir, prefer_store=False)
    sources.append(EstateSource(results, accounts))
    alerts = open_alert_source(paths.data_dir)
    if alerts is not None:
        sources.append(alerts)
    url = brain_url or settings.brain.url
    brain = (
        HttpBrain(url, timeout=settings.brain.timeout_seconds, token=_token(settings, paths, url))
        if url
        else None
    )
    clouds: list[str] = [c for c in CLOUDS if getattr(settings, c).enabled]
    return Assistant(sources, brain, history=history, clouds=clouds, accounts=accounts)
