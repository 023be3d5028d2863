"""Chat history: the client keeps the conversation (the brain never does) and sends back the last few turns.

:class:`JsonlChatLog` appends to ``<data dir>/assist/chat.jsonl`` until the store is in use;
:class:`StoreChatLog` writes ``escher.store`` ``ChatMessage`` records (the chat-history collection).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from escher.brain.models import ChatTurn

if TYPE_CHECKING:
    from escher.store.store import Store

__all__ = ["ChatLog", "JsonlChatLog", "MemoryChatLog", "StoreChatLog"]


class ChatLog(Protocol):
    def append(self, conversation_id: str, role: str, content: str) -> None: ...
    def recent(self, conversation_id: str, n: int) -> list[ChatTurn]: ...


class MemoryChatLog:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str]] = []

    def append(self, conversation_id: str, role: str, content: str) -> None:
        self.entries.append((conversation_id, role, content))

    def recent(self, conversation_id: str, n: int) -> list[ChatTurn]:
        turns = [ChatTurn(role=r, content=c[:4000]) for cid, r, c in self.entries  # type: ignore[arg-type]
                 if cid == conversation_id and r in ("user", "assistant")]  # fmt: skip
        return turns[-n:] if n else []


class JsonlChatLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, conversation_id: str, role: str, content: str) -> None:
        line = json.dumps({"at": datetime.now(UTC).isoformat(), "conversation_id": conversation_id,
                           "role": role, "content": content}, ensure_ascii=False)  # fmt: skip
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def recent(self, conversation_id: str, n: int) -> list[ChatTurn]:
        if not n or not self.path.exists():
            return []
        turns: list[ChatTurn] = []
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line after a crash: skip it, keep the rest
                if row.get("conversation_id") == conversation_id and row.get("role") in ("user", "assistant"):
                    turns.append(ChatTurn(role=row["role"], content=str(row.get("content", ""))[:4000]))
        return turns[-n:]


class StoreChatLog:
    """The chat-history collection of ``escher.store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def append(self, conversation_id: str, role: str, content: str) -> None:
        from escher.store.models import ChatMessage

        self.store.put(ChatMessage(conversation_id=conversation_id, role=role, content=content))  # type: ignore[arg-type]

    def recent(self, conversation_id: str, n: int) -> list[ChatTurn]:
        from escher.store.models import ChatMessage, Collection, SearchFilter

        if not n:
            return []
        # the store filters by role (a chat record's kind); the conversation is picked here, newest first
        roles = SearchFilter(kinds=("user", "assistant"))
        rows = [r for r in self.store.records(Collection.chat, roles, limit=500)
                if isinstance(r, ChatMessage) and r.conversation_id == conversation_id]  # fmt: skip
        rows.reverse()
        return [ChatTurn(role=r.role, content=r.content[:4000]) for r in rows[-n:]]  # type: ignore[arg-type]
