"""What a delivery may hold before the pipeline reads it, and how to keep one that it cannot read.

A cloud delivers JSON, but a poison message can hold what breaks the code that reads it: nesting ~1,000 deep
(``RecursionError`` in ``json`` and pydantic), an integer over 4,300 digits (``ValueError`` on ``str()``), a lone
surrogate (``UnicodeEncodeError`` when it is written as UTF-8), NaN, bytes, or megabytes of it. Each limit here is
checked in one pass without recursion, so the check itself cannot be the thing that breaks:

- :func:`parse_json`: body text -> value, or :class:`PermanentEventError` saying what is wrong;
- :func:`problem`: why a parsed value is not plain JSON within the limits (None when it is);
- :func:`render`: any value as bytes (JSON text where it can be), never raising: what a dead letter keeps.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring_ascii as _quote  # type: ignore[attr-defined]
from typing import Any

from escher.pipeline.errors import PermanentEventError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_INT_DIGITS", "parse_json", "problem", "render"]

MAX_DEPTH = 64  # CloudTrail, Event Grid and audit-log events nest ~15 deep at most
MAX_INT_DIGITS = 1000  # Python refuses str() above 4,300 digits; no cloud event field comes near 1,000
MAX_BYTES = 1 << 20  # Event Grid's per-event limit; EventBridge and SQS allow 256 KiB / 1 MiB
_INT_LIMIT = 10**MAX_INT_DIGITS  # the smallest integer with more digits than that

_HINT = "the event is parked with its payload; a cloud never sends this, so look at who published it"


def parse_json(body: str | bytes | bytearray) -> Any:
    """The JSON value of a delivery body, within the limits; :class:`PermanentEventError` says what is wrong."""
    if len(body) > MAX_BYTES:
        raise PermanentEventError(
            f"the body is {len(body):,} bytes, over the {MAX_BYTES:,} limit", hint=_HINT
        )
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PermanentEventError(f"the body is not UTF-8 text ({exc.reason})", hint=_HINT) from None
    try:
        value = json.loads(body, parse_int=_int, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise PermanentEventError(f"the body is not JSON ({exc})", hint=_HINT) from None
    except RecursionError:
        raise PermanentEventError(f"the body is nested deeper than {MAX_DEPTH} levels", hint=_HINT) from None
    except ValueError as exc:  # _int's and _constant's refusals (and Python's own digit limit)
        raise PermanentEventError(f"the body {exc}", hint=_HINT) from None
    found = problem(value)
    if found is not None:
        raise PermanentEventError(f"the body {found}", hint=_HINT)
    return value


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"holds an integer of {len(digits):,} digits (the limit is {MAX_INT_DIGITS:,})")
    return int(digits)


def _constant(name: str) -> float:
    raise ValueError(f"holds {name}, which JSON does not allow")


def check(payload: Any) -> None:
    """Raise :class:`PermanentEventError` when ``payload`` is not plain JSON within the limits."""
    found = problem(payload)
    if found is not None:
        raise PermanentEventError(f"the event {found}", hint=_HINT)


def problem(value: Any, *, max_bytes: int | None = MAX_BYTES) -> str | None:
    """Why ``value`` is not plain JSON within the limits (e.g. "is nested deeper than 64 levels at detail.x"),
    or None; ``max_bytes=None`` checks everything but the size. Iterative: a value nested a million deep is
    measured, not recursed into."""
    size = 0
    # (value, depth, path): path is a linked (parent, key) pair, spelled out only for the message
    stack: list[tuple[Any, int, Any]] = [(value, 0, None)]
    while stack:
        item, depth, path = stack.pop()
        kind = type(item)
        if kind is str:
            found = _text_problem(item)
            if found:
                return f"holds {found} at {_where(path)}"
            size += len(item) + 2
        elif kind is dict or kind is list or kind is tuple:
            if depth >= MAX_DEPTH:
                return f"is nested deeper than {MAX_DEPTH} levels at {_where(path)}"
            size += 2
            if kind is dict:
                for key, child in item.items():
                    if type(key) is not str:
                        return f"has a key of type {type(key).__name__} at {_where(path)} (JSON keys are strings)"
                    found = _text_problem(key)
                    if found:
                        return f"holds {found} in a key at {_where(path)}"
                    size += len(key) + 4
                    stack.append((child, depth + 1, (path, key)))
            else:
                stack.extend((child, depth + 1, (path, i)) for i, child in enumerate(item))
        elif kind is int:
            if not -_INT_LIMIT < item < _INT_LIMIT:
                return f"holds an integer of over {MAX_INT_DIGITS:,} digits at {_where(path)}"
            size += 8
        elif kind is float:
            if not math.isfinite(item):
                return f"holds {item}, which JSON does not allow, at {_where(path)}"
            size += 8
        elif item is None or kind is bool:
            size += 4
        else:
            return f"holds a value of type {kind.__name__} at {_where(path)}, which JSON cannot carry"
        if max_bytes is not None and size > max_bytes:
            return f"is over {max_bytes:,} bytes"
    return None


def _text_problem(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"a lone surrogate ({text[exc.start]!a})"
    return None


def _where(path: Any) -> str:
    parts: list[str] = []
    while path is not None:
        path, key = path
        parts.append(
            f"[{key}]"
            if isinstance(key, int)
            else f".{key[:40]}"
            if key.isidentifier()
            else f"[{key[:40]!a}]"
        )
    where = "".join(reversed(parts)).lstrip(".") or "the top level"
    return where if len(where) <= 120 else f"{where[:40]}...{where[-60:]}"


def render(value: Any) -> bytes:
    """``value`` as bytes that keep everything it holds: JSON text (ASCII, lone surrogates as ``\\udXXX``
    escapes) for the JSON types at any depth, ``str()`` of the rest. Never raises; no recursion."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    try:  # the C encoder when it can (most values); the loop below for the depth and the integers it refuses
        return json.dumps(value, default=_other, separators=(",", ":")).encode("ascii")
    except (RecursionError, ValueError, TypeError):
        pass
    out: list[str] = []
    stack: list[Any] = [value]  # values, and the literal str pieces (closing brackets, commas) between them
    while stack:
        item = stack.pop()
        if type(item) is _Piece:
            out.append(item)
        elif isinstance(item, str):
            out.append(_quote(item))
        elif item is None or isinstance(item, bool):
            out.append({None: "null", True: "true", False: "false"}[item])
        elif isinstance(item, int):
            out.append(_int_text(item))
        elif isinstance(item, float):
            out.append(json.dumps(item))  # NaN / Infinity as Python writes them: they are why it is here
        elif isinstance(item, dict):
            out.append("{")
            pending: list[Any] = [_Piece("}")]
            for i, (key, child) in enumerate(reversed(item.items())):
                pending += [child, _Piece(_quote(key if isinstance(key, str) else _safe_str(key)) + ":")]
                if i < len(item) - 1:
                    pending.append(_Piece(","))
            stack.extend(pending)
        elif isinstance(item, list | tuple):
            out.append("[")
            pending = [_Piece("]")]
            for i, child in enumerate(reversed(item)):
                pending.append(child)
                if i < len(item) - 1:
                    pending.append(_Piece(","))
            stack.extend(pending)
        else:
            out.append(_quote(_other(item)))
    return "".join(out).encode("ascii")


class _Piece(str):
    """Literal JSON punctuation on :func:`render`'s stack (told apart from string values by its type)."""


def _int_text(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # over Python's digit limit: hexadecimal has none, and is exact
        return hex(value)


def _other(value: object) -> str:
    """What JSON has no type for, as text: bytes as their characters (a byte that is not UTF-8 as a lone surrogate, U+DC80-U+DCFF)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="surrogateescape")
    return _safe_str(value)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except (ValueError, TypeError, RecursionError):
        return f"<{type(value).__name__}>"
