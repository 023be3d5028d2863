"""The brain's own knowledge: playbooks, the CLI reference and best practices, read from package data.

Loaded once at start-up into frozen, read-only structures (tuples of frozen models) and searched in memory. It
is global knowledge about clouds, not about any user: nothing a request carries is ever added to it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escher.brain.models import Cloud, Playbook, PlaybookStep
from escher.errors import EscherError

__all__ = [
    "CliEquivalent",
    "CloudCommand",
    "Knowledge",
    "KnowledgeError",
    "Practice",
    "load_knowledge",
    "referenced_operations",
]

_DATA = "escher.brain.knowledge.data"
_WORD = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "my",
        "all",
        "me",
        "is",
        "are",
        "be",
        "do",
        "i",
        "what",
        "which",
        "how",
        "with",
        "from",
        "by",
    ]
)


class KnowledgeError(EscherError):
    """The packaged knowledge is malformed (a packaging bug, caught by the tests)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CloudCommand(_Frozen):
    operation: str = ""
    cli: str


class CliEquivalent(_Frozen):
    action: str
    keywords: list[str] = Field(default_factory=list)
    aws: CloudCommand
    azure: CloudCommand
    gcp: CloudCommand

    def for_cloud(self, cloud: Cloud) -> CloudCommand:
        command: CloudCommand = getattr(self, cloud)
        return command


class Practice(_Frozen):
    id: str
    title: str
    clouds: list[Cloud]
    category: str
    text: str
    operations: list[str] = Field(default_factory=list)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _score(query: set[str], doc: set[str]) -> float:
    return len(query & doc) / (1.0 + 0.05 * len(doc)) if query else 0.0


@dataclass(frozen=True)
class Knowledge:
    playbooks: tuple[Playbook, ...]
    cli: tuple[CliEquivalent, ...]
    practices: tuple[Practice, ...]

    def counts(self) -> dict[str, int]:
        return {"playbooks": len(self.playbooks), "cli": len(self.cli), "practices": len(self.practices)}

    def playbook(self, playbook_id: str) -> Playbook | None:
        return next((p for p in self.playbooks if p.id == playbook_id), None)

    def find_playbooks(
        self, query: str, *, cloud: Cloud | None = None, category: str | None = None, limit: int = 3
    ) -> list[Playbook]:
        words = _words(query)
        scored: list[tuple[float, str, Playbook]] = []
        for p in self.playbooks:
            if category and p.category != category:
                continue
            if cloud and cloud not in p.clouds:
                continue
            text = " ".join([p.name, p.description, p.category.replace("_", " "), *p.keywords])
            s = _score(words, _words(text))
            if cloud is None and len(p.clouds) > 1:
                s += 0.5  # a question that names no cloud is about all of them
            if cloud is not None and p.clouds == [cloud]:
                s += 0.5
            if s > 0:
                scored.append((s, p.id, p))
        scored.sort(key=lambda t: (-t[0], t[1]))
        return [p for _, _, p in scored[:limit]]

    def find_cli(self, query: str, limit: int = 3) -> list[CliEquivalent]:
        words = _words(query)
        scored = [
            (_score(words, _words(e.action + " " + " ".join(e.keywords))), e.action, e) for e in self.cli
        ]
        return [e for s, _, e in sorted(scored, key=lambda t: (-t[0], t[1])) if s > 0][:limit]

    def find_practices(self, query: str, limit: int = 3) -> list[Practice]:
        words = _words(query)
        scored = [
            (_score(words, _words(f"{p.title} {p.text} {p.category}")), p.id, p) for p in self.practices
        ]
        return [p for s, _, p in sorted(scored, key=lambda t: (-t[0], t[1])) if s > 0][:limit]

    def digest(self) -> str:
        """The whole library as compact text for the language model's (cached) system prompt."""
        lines = ["# Playbook library (id: name -- steps as operation ids)"]
        for p in self.playbooks:
            ops = ", ".join(s.operation_id or f"[manual] {s.title}" for s in p.steps)
            lines.append(f"- {p.id} ({'/'.join(p.clouds)}, {p.category}): {p.name} -- {ops}")
        lines.append("\n# Multi-cloud equivalents (aws | azure | gcp)")
        for e in self.cli:
            lines.append(f"- {e.action}: {e.aws.cli} | {e.azure.cli} | {e.gcp.cli}")
        lines.append("\n# Best practices")
        for pr in self.practices:
            lines.append(f"- {pr.title}: {pr.text}")
        return "\n".join(lines)


def _read(name: str) -> dict[str, Any]:
    try:
        text = resources.files(_DATA).joinpath(name).read_text(encoding="utf-8")
        return tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeError(f"packaged knowledge file {name} cannot be read: {exc}",
                             hint="reinstall escher; this is a packaging bug") from exc  # fmt: skip


def _playbook(raw: dict[str, Any]) -> Playbook:
    steps = [
        PlaybookStep(
            title=s["title"],
            operation_id=s.get("operation") or None,
            params=s.get("params", {}),
            select_by_tags=s.get("select_by_tags", {}),
            note=s.get("note", ""),
        )
        for s in raw.get("steps", [])
    ]
    return Playbook(**{k: v for k, v in raw.items() if k != "steps"}, steps=steps)


@lru_cache(maxsize=1)
def load_knowledge() -> Knowledge:
    files = sorted(
        p.name
        for p in resources.files(_DATA).iterdir()
        if p.name.startswith("playbooks_") and p.name.endswith(".toml")
    )
    try:
        playbooks = tuple(_playbook(raw) for f in files for raw in _read(f).get("playbook", []))
        cli = tuple(
            CliEquivalent.model_validate(e) for e in _read("cli_reference.toml").get("equivalent", [])
        )
        practices = tuple(
            Practice.model_validate(p) for p in _read("best_practices.toml").get("practice", [])
        )
    except (ValidationError, TypeError, KeyError) as exc:
        raise KnowledgeError(
            f"packaged knowledge is malformed: {exc}", hint="fix the data file named"
        ) from exc
    ids = [p.id for p in playbooks]
    if len(ids) != len(set(ids)):
        raise KnowledgeError("two playbooks share an id", hint="make playbook ids unique")
    return Knowledge(playbooks=playbooks, cli=cli, practices=practices)


def referenced_operations(knowledge: Knowledge) -> set[str]:
    """Every catalogue id the knowledge refers to (the test checks each one exists)."""
    found = {s.operation_id for p in knowledge.playbooks for s in p.steps if s.operation_id}
    for e in knowledge.cli:
        found.update(c.operation for c in (e.aws, e.azure, e.gcp) if c.operation)
    for pr in knowledge.practices:
        found.update(pr.operations)
    return found
