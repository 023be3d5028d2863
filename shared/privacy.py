"""What may leave the user's machine: credential detection, scrubbing and identity pseudonymization.

Used on both sides of the brain. The client scrubs and pseudonymizes everything it sends; the server refuses any
payload that still carries a credential-shaped string. Detection names the *kind* of secret and where it was,
never its value, so a refusal or a log line cannot leak what it found.

    findings = find_credentials(text)              # [] when clean
    clean, withheld = scrub(payload)               # JSON-like data with secrets replaced by a marker
    names = Pseudonymizer(); out = names.apply(clean); back = names.restore(answer)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from escher.errors import EscherError

__all__ = [
    "CredentialFinding",
    "CredentialInPayloadError",
    "Pseudonymizer",
    "cut",
    "find_credentials",
    "find_credentials_in",
    "scrub",
]

WITHHELD = "[withheld]"


@dataclass(frozen=True)
class CredentialFinding:
    kind: str
    where: str  # a JSON path such as "context[3].tags.note", or "text"

    def __str__(self) -> str:
        return f"{self.kind} at {self.where}"


class CredentialInPayloadError(EscherError):
    """Something about to cross the privacy boundary looks like a credential."""

    exit_code = 2

    def __init__(self, findings: list[CredentialFinding]) -> None:
        kinds = ", ".join(sorted({f.where + ": " + f.kind for f in findings})[:8])
        super().__init__(
            f"the request carries credential-shaped text ({kinds}); it was refused and not processed",
            hint="send only the question and resource metadata; the Escher client scrubs secrets for you",
        )
        self.findings = findings


def cut(text: str, limit: int) -> str:
    """``text[:limit]``, unless the cut would leave part of a secret that is then too short to be recognised
    (a truncated token is still a leak): then the whole value is withheld. Cut with this, scrub after."""
    if len(text) <= limit:
        return text
    from escher.secret_scan import scan_text

    if any(s.start < limit < s.end or (s.whole and s.start < limit) for s in scan_text(text)):
        return WITHHELD
    return text[:limit]


def find_credentials(text: str, where: str = "text") -> list[CredentialFinding]:
    """The kinds of credential-shaped text in ``text`` (linear in its length; see :mod:`escher.secret_scan`)."""
    from escher.secret_scan import scan_text

    return [CredentialFinding(kind, where) for kind in dict.fromkeys(s.kind for s in scan_text(text))]


_Path = tuple[str | int, ...]


@dataclass
class _Leaves:
    """Every string of JSON-like data (values, then keys) with where it sits, gathered without recursion.

    A string is kept as (its container's path, its key or index): a path tuple is built per container, not per
    string, which halves the walk on a megabyte of context items."""

    values: list[tuple[_Path, str | int | None, str]] = field(default_factory=list)  # None: the data itself
    keys: list[tuple[_Path, str]] = field(default_factory=list)  # (the dict's path, the key)
    fields: dict[_Path, None] = field(default_factory=dict)  # secret-named fields that hold something

    @classmethod
    def of(cls, data: Any) -> _Leaves:
        from escher.secret_scan import benign_value, secret_key_name

        out = cls()
        values, keys, fields = out.values, out.keys, out.fields
        if isinstance(data, str):
            values.append(((), None, data))
        stack: list[tuple[_Path, Any, _Path | None]] = (
            [((), data, None)] if isinstance(data, dict | list | tuple) else []
        )
        while stack:
            path, container, secret_root = stack.pop()
            if isinstance(container, dict):
                for k, v in container.items():
                    key = k if isinstance(k, str) else str(k)
                    keys.append((path, key))
                    root = secret_root
                    if root is None and secret_key_name(key):
                        root = (*path, key)
                    if isinstance(v, str):
                        values.append((path, key, v))
                        if root is not None and not benign_value(v):
                            fields[root] = None
                    elif isinstance(v, dict | list | tuple):
                        stack.append(((*path, key), v, root))
            else:
                for i, v in enumerate(container):
                    if isinstance(v, str):
                        values.append((path, i, v))
                        if secret_root is not None and not benign_value(v):
                            fields[secret_root] = None
                    elif isinstance(v, dict | list | tuple):
                        stack.append(((*path, i), v, secret_root))
        return out

    def scan(self) -> tuple[dict[_Path, list[Any]], dict[tuple[_Path, str], list[str]]]:
        """Spans per value path, and finding kinds per (dict path, key)."""
        from escher.secret_scan import scan_strings

        strings = [s for _, _, s in self.values] + [k for _, k in self.keys]
        by_value: dict[_Path, list[Any]] = {}
        by_key: dict[tuple[_Path, str], list[str]] = {}
        n = len(self.values)
        for i, span in scan_strings(strings):
            if i < n:
                parent, key, _ = self.values[i]
                by_value.setdefault(parent if key is None else (*parent, key), []).append(span)
            else:
                by_key.setdefault(self.keys[i - n], []).append(span.kind)
        return by_value, by_key


def _show(where: str, path: _Path, bad_keys: dict[tuple[_Path, str], list[str]]) -> str:
    """A JSON path a person can read; a key that is itself credential-shaped is shown as ``<key>``."""
    out = where
    for i, part in enumerate(path):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ".<key>" if (path[:i], part) in bad_keys else f".{part[:64]}"
    return out


def find_credentials_in(data: Any, where: str = "$") -> list[CredentialFinding]:
    """Every credential-shaped string anywhere in JSON-like data (keys included), and every secret-named field
    that holds a value: ``{"password": "hunter2"}`` is refused although ``hunter2`` alone is no shape."""
    leaves = _Leaves.of(data)
    by_value, by_key = leaves.scan()
    found: dict[tuple[str, str], None] = {}
    for path, spans in by_value.items():
        for span in spans:
            found[(span.kind, _show(where, path, by_key))] = None
    for (path, _key), kinds in by_key.items():
        for kind in kinds:
            found[(kind, _show(where, path, by_key) + ".<key>")] = None
    for path in leaves.fields:
        found[("secret_field", _show(where, path, by_key))] = None
    return [CredentialFinding(kind, at) for kind, at in found]


def _withhold(text: str, spans: list[Any]) -> str:
    """A short value, or one holding a key block, goes whole; a long text (a log line) loses only the spans."""
    if len(text) <= 256 or any(s.whole for s in spans):
        return WITHHELD
    out, pos = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.end <= pos:
            continue
        out.append(text[pos : max(pos, span.start)])
        out.append(WITHHELD)
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def scrub(data: Any, where: str = "$") -> tuple[Any, list[CredentialFinding]]:
    """A copy of ``data`` with every credential-shaped string, and every secret-named field, withheld."""
    leaves = _Leaves.of(data)
    by_value, by_key = leaves.scan()
    withheld: list[CredentialFinding] = []

    def walk(value: Any, path: _Path) -> Any:
        if path in leaves.fields:
            withheld.append(CredentialFinding("secret_field", _show(where, path, by_key)))
            return WITHHELD
        if isinstance(value, str):
            spans = by_value.get(path)
            if not spans:
                return value
            withheld.extend(
                CredentialFinding(k, _show(where, path, by_key)) for k in dict.fromkeys(s.kind for s in spans)
            )
            return _withhold(value, spans)
        if isinstance(value, dict):
            kept = {}
            for k, v in value.items():
                if (path, str(k)) in by_key:
                    withheld.extend(
                        CredentialFinding(kind, _show(where, path, by_key) + ".<key>")
                        for kind in by_key[(path, str(k))]
                    )
                    continue
                kept[k] = walk(v, (*path, str(k)))
            return kept
        if isinstance(value, list | tuple):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    return walk(data, ()), withheld


# Bounded repeats: an unbounded local part made a long dotted string quadratic.
_EMAIL = re.compile(
    r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b"
)
_ARN_PRINCIPAL = re.compile(
    r"(arn:aws[a-z-]*:(?:iam|sts)::\d{12}:(?:user|assumed-role/[^/\s\"']+))/([^\s\"',]+)"
)
_TOKEN = re.compile(r"person-\d{4}(?:@redacted\.invalid)?")
# Tag / field names whose values name a person.
_PERSON_KEYS = re.compile(
    r"(?i)^(owner|created[_-]?by|createdby|contact|author|user(name)?|requester|email)$"
)


@dataclass
class Pseudonymizer:
    """Identities out, stable tokens in; the same person gets the same token within one exchange.

    One instance per exchange: ``apply`` on the way out, ``restore`` on the answer. The mapping lives only in
    the client's memory and is never sent.
    """

    _forward: dict[str, str] = field(default_factory=dict)
    _back: dict[str, str] = field(default_factory=dict)

    def _token(self, original: str, email: bool) -> str:
        if original in self._forward:
            return self._forward[original]
        n = len(self._forward) + 1
        token = f"person-{n:04d}" + ("@redacted.invalid" if email else "")
        self._forward[original] = token
        self._back[token] = original
        return token

    def text(self, value: str) -> str:
        if _TOKEN.fullmatch(value):
            return value
        value = _EMAIL.sub(lambda m: m.group(0) if _TOKEN.fullmatch(m.group(0)) else self._token(m.group(0), True),
                           value)  # fmt: skip
        return _ARN_PRINCIPAL.sub(lambda m: f"{m.group(1)}/{self._token(m.group(2), False)}", value)

    def apply(self, data: Any, key: str | None = None) -> Any:
        if isinstance(data, str):
            if key is not None and _PERSON_KEYS.match(key) and data and not _EMAIL.fullmatch(data):
                return self._token(data, False)
            return self.text(data)
        if isinstance(data, dict):
            return {k: self.apply(v, str(k)) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.apply(v) for v in data]
        return data

    def restore(self, data: Any) -> Any:
        if isinstance(data, str):
            return _TOKEN.sub(lambda m: self._back.get(m.group(0), m.group(0)), data)
        if isinstance(data, dict):
            return {k: self.restore(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.restore(v) for v in data]
        return data

    @property
    def count(self) -> int:
        return len(self._forward)
