"""Follow-ups in a conversation: "only the dev ones" narrows what the previous answer selected.

The brain keeps nothing between requests, so the client carries the thread: a follow-up is sent as the
refinement *followed by* the previous request ("only the dev ones; list the instances in us-east-1"), so it is
read by the same resolution as any request (every word must resolve in the estate), and where the two disagree
the refinement's filter is the one parsed. Then the answer is held to the previous selection: an information
answer keeps only resources the previous answer had; a plan that would reach anything outside it is not shown
as a plan at all. A follow-up never widens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from escher.brain.models import ExecutionResponse, InformationResponse, TableData

if TYPE_CHECKING:
    from escher.assist.client import Answer, Assistant

__all__ = ["Conversation", "ThreadedAssistant", "completion_words", "is_followup"]

_FOLLOWUP = re.compile(
    r"^\s*(?:(?:and|but)\s+)?(?:only|just|of (?:those|these|them)|which of (?:those|these|them)|those|these|"
    r"them|the ones|what about|how about|same for|now only|except)\b",
    re.IGNORECASE,
)


def is_followup(text: str) -> bool:
    """A short refinement of the previous answer ("only the dev ones", "just those in us-east-1")."""
    return bool(_FOLLOWUP.search(text)) and len(text.split()) <= 12


def _selection(answer: Answer) -> list[str] | None:
    r = answer.response
    listing = (
        r.table is not None and r.table.columns[:1] == ["id"] if isinstance(r, InformationResponse) else False
    )
    if isinstance(r, InformationResponse) and (r.resource_ids or listing):
        return list(r.resource_ids)  # a listing that found nothing selects nothing: follow-ups find nothing
    if isinstance(r, ExecutionResponse):
        return sorted({t for s in r.steps for t in s.targets})
    return None


@dataclass
class Conversation:
    """One chat's thread, on the client: the last request and what its answer selected."""

    id: str
    last_query: str | None = None
    last_selection: list[str] | None = None
    turns: int = field(default=0)

    def request(self, text: str) -> tuple[str, bool]:
        """What to send for ``text``: itself, or (a follow-up) the refinement before the previous request."""
        if self.last_query and is_followup(text):
            return f"{text.strip().rstrip('.?!')}; {self.last_query}", True
        return text, False

    def narrow(self, answer: Answer, followup: bool) -> Answer:
        """Hold a follow-up's answer to the previous selection (see the module docstring)."""
        keep = self.last_selection
        if not followup or keep is None:
            return answer
        r = answer.response
        if isinstance(r, InformationResponse) and r.resource_ids:
            kept = [i for i in r.resource_ids if i in keep]
            if len(kept) == len(r.resource_ids):
                return answer
            table = r.table
            if table is not None and table.rows:
                first = [row for row in table.rows if row and row[0] in kept]
                table = TableData(columns=table.columns, rows=first)
            note = f"narrowed to the previous answer's selection: {len(kept)} of {len(r.resource_ids)} kept"
            answer.response = r.model_copy(
                update={"resource_ids": kept, "table": table, "notices": [*r.notices, note],
                        "summary": f"{len(kept)} of the previous answer's resource(s) match"}
            )  # fmt: skip
        elif isinstance(r, ExecutionResponse):
            outside = sorted({t for s in r.steps for t in s.targets} - set(keep))
            if outside:
                answer.response = InformationResponse(
                    intent=r.intent, filters=r.filters,
                    summary="That follow-up would reach resources the previous answer did not select "
                    f"({', '.join(outside[:3])}{'...' if len(outside) > 3 else ''}). Nothing was planned; "
                    "ask for them on their own.",
                )  # fmt: skip
        return answer

    def remember(self, query: str, answer: Answer) -> None:
        """Keep this exchange as the thread; a follow-up's selection is within the previous one already."""
        self.turns += 1
        self.last_query, self.last_selection = query, _selection(answer)


class ThreadedAssistant:
    """An :class:`~escher.assist.client.Assistant` that carries one conversation's thread (what ``escher chat``
    asks through): each request is sent as :meth:`Conversation.request` makes it, each answer is held to the
    previous selection, and a follow-up says how it was read."""

    def __init__(self, inner: Assistant, conversation: Conversation) -> None:
        self.inner = inner
        self.conversation = conversation

    def ask(self, query: str, *, conversation_id: str | None = None, local_only: bool = False) -> Answer:
        text, followup = self.conversation.request(query)
        answer = self.inner.ask(text, conversation_id=conversation_id or self.conversation.id,
                                local_only=local_only)  # fmt: skip
        answer = self.conversation.narrow(answer, followup)
        if followup:
            answer.notices.append(f"follow-up, read as: {text}")
        self.conversation.remember(text, answer)
        return answer


_VERBS = ("list", "show", "stop", "start", "restart", "resize", "snapshot", "make private", "encrypt",
          "which", "why", "compare", "only", "exit", "quit")  # fmt: skip


def completion_words(assistant: Assistant, limit: int = 5000) -> list[str]:
    """What the chat prompt completes: its verbs, and the names and ids of the latest estate's resources."""
    from escher.assist.sources import EstateSource

    words: dict[str, None] = dict.fromkeys(_VERBS)
    for source in assistant.sources:
        if isinstance(source, EstateSource):
            estate = source.store.latest("estate") or {}
            for rec in estate.get("records", [])[:limit]:
                if isinstance(rec, dict):
                    for key in ("name", "id"):
                        if rec.get(key):
                            words.setdefault(str(rec[key]))
    return list(words)
