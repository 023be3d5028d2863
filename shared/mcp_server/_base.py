"""What the MCP tools share: the answer type, the channel that names the client, one call at a time, the stores
and the runtime every act uses (its ledger records name the channel; it is closed after each call)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from escher.audit import AuditRecord, AuditSink
from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.brain.models import Playbook
    from escher.policy.runtime import Runtime
    from escher.scans.persist import ResultStore
    from escher.store.server import EmbeddedServer

__all__ = ["Answer", "ChannelSink", "McpError", "ToolBase", "channel_for"]

_CLIENT = re.compile(r"[^A-Za-z0-9._ -]+")


class McpError(EscherError):
    """A tool cannot answer: an unknown plan or resource, nothing stored yet."""


def channel_for(client_name: str | None) -> str:
    """``mcp:<client name>``: the client's self-declared name, reduced to plain characters (it is data too)."""
    name = _CLIENT.sub("", (client_name or "").strip())[:64].strip() or "unknown-client"
    return f"mcp:{name}"


@dataclass
class Answer:
    """A tool's answer: a one-line summary for people and models, and the data (structured content)."""

    summary: str
    data: dict[str, Any]
    estate_text: bool = True  # False: Escher's own text (the playbook library), not the estate's


class ChannelSink:
    """An :class:`~escher.audit.AuditSink` that names the channel on every record it passes on."""

    def __init__(self, inner: AuditSink, channel: str) -> None:
        self.inner = inner
        self.channel = channel

    def append(self, record: AuditRecord) -> None:
        self.inner.append(record.model_copy(update={"details": {**record.details, "channel": self.channel}}))


class ToolBase:
    """One call at a time (a lock): the store connection and the ledger are not shared by threads."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._embedded: EmbeddedServer | bool | None = None  # None: not tried yet; False: not ours to hold

    @contextmanager
    def _serial(self) -> Iterator[None]:
        with self._lock:
            self._hold_embedded_store()
            yield

    def _hold_embedded_store(self) -> None:
        """Keep the embedded Postgres running while this server runs (it stops with its last user, so every
        call would otherwise start and stop it: ~0.4 s a call). Only when no database URL is configured."""
        if self._embedded is not None:
            return
        self._embedded = False
        from escher.config import load_settings, resolve_paths
        from escher.lazy import is_installed

        paths = resolve_paths()
        if load_settings(paths).store.database_url or not is_installed("pgserver"):
            return
        from escher.store.errors import StoreUnavailableError
        from escher.store.server import EmbeddedServer

        server = EmbeddedServer(paths.data_dir)
        try:
            server.start()
        except StoreUnavailableError:
            return  # not swallowed: each call that needs the store opens it itself and reports this with its hint
        self._embedded = server

    def close(self) -> None:
        """Release what the server held (the embedded Postgres handle)."""
        with self._lock:
            held, self._embedded = self._embedded, None
        if held is not None and not isinstance(held, bool):
            held.stop()

    # -- stores ----------------------------------------------------------------------------------------
    @contextmanager
    def _results(self) -> Iterator[ResultStore]:
        from escher.scans.persist import close_store, open_store

        store = open_store()
        try:
            yield store
        finally:
            close_store(store)

    def _playbooks(self) -> dict[str, tuple[str, Playbook]]:
        from escher.assist.playbooks import list_playbooks
        from escher.brain.knowledge import load_knowledge
        from escher.config import resolve_paths

        rows: dict[str, tuple[str, Playbook]] = {p.id: ("library", p) for p in load_knowledge().playbooks}
        rows.update((p.id, ("saved", p)) for p in list_playbooks(resolve_paths().data_dir))
        return rows

    @contextmanager
    def _runtime(self, channel: str) -> Iterator[Runtime]:
        """A runtime whose every record names the channel; its ledger is signed and anchored when done."""
        from escher.audit.ledger import LedgerAuditSink
        from escher.policy.runtime import open_runtime

        ledger = LedgerAuditSink()
        try:
            rt = open_runtime(sink=ChannelSink(ledger, channel))
            rt.self_approval = None  # never: approval is a person's act, outside this channel
            yield rt
        finally:
            ledger.close()
