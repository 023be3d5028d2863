"""Typed reads from untrusted JSON that fail with a ``NormalizationError`` naming the field.

Normalizers read payloads only through :class:`Fields`, so a missing key or a value of the wrong type always
becomes the one typed error (the fuzz tests hold this), never a ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import math
from typing import Any

from escher.events.errors import NormalizationError

__all__ = ["Fields"]

_new = object.__new__


class Fields:
    """A JSON object with its path from the payload root (for messages) and the source kind."""

    __slots__ = ("_key", "_parent", "data", "kind")

    def __init__(self, data: Any, kind: str, path: str = "") -> None:
        # The path string is built only when an error needs it (most reads succeed): until then a child keeps
        # its parent and its key, ``name`` or ``(name, index)`` for a list item; the root keeps its path.
        self._parent: Fields | None = None
        self._key: str | tuple[str, int] = path
        if not isinstance(data, dict):
            raise NormalizationError(kind, path or "<root>", f"must be a JSON object, got {_type(data)}")
        self.data: dict[str, Any] = data
        self.kind = kind

    def _child(self, value: dict[str, Any], key: str | tuple[str, int]) -> Fields:
        # The hot path of every read of a nested object: no argument parsing, no isinstance (the caller checked).
        child = _new(Fields)
        child.data, child.kind, child._parent, child._key = value, self.kind, self, key
        return child

    @property
    def path(self) -> str:
        key = self._key
        if self._parent is None:
            return key if isinstance(key, str) else ""
        if isinstance(key, str):
            return self._parent.where(key)
        return f"{self._parent.where(key[0])}[{key[1]}]"

    def where(self, key: str) -> str:
        base = self.path
        return f"{base}.{key}" if base else key

    def fail(self, key: str, problem: str) -> NormalizationError:
        return NormalizationError(self.kind, self.where(key), problem)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    # -- objects and lists ---------------------------------------------------------------------------
    def obj(self, key: str) -> Fields:
        value = self.data.get(key)
        if value is None:
            raise self.fail(key, "is missing")
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a JSON object, got {_type(value)}")
        return self._child(value, key)

    def opt_obj(self, key: str) -> Fields | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a JSON object, got {_type(value)}")
        return self._child(value, key)

    def array(self, key: str, *, required: bool = False) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is missing")
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, got {_type(value)}")
        return value

    def objs(self, key: str) -> list[Fields]:
        """A list of objects, each checked (``key[i]`` in messages)."""
        out: list[Fields] = []
        for i, item in enumerate(self.array(key)):
            if not isinstance(item, dict):
                raise NormalizationError(
                    self.kind, f"{self.where(key)}[{i}]", f"must be a JSON object, got {_type(item)}"
                )
            out.append(self._child(item, (key, i)))
        return out

    def str_map(self, key: str) -> dict[str, str]:
        """An object of scalars as strings (tags, labels); absent is empty."""
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be an object, got {_type(value)}")
        out: dict[str, str] = {}
        for k, v in value.items():
            if isinstance(v, dict | list):
                raise self.fail(f"{key}.{k}", f"must be a string, got {_type(v)}")
            out[str(k)] = "" if v is None else _scalar(v)
        return out

    # -- scalars -------------------------------------------------------------------------------------
    def text(self, key: str) -> str:
        value = self.data.get(key)
        if type(value) is str and value:  # the common case first: read on every event, many times
            return value
        if value is None:
            raise self.fail(key, "is missing")
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {_type(value)}")
        if not value:
            raise self.fail(key, "is empty")
        return value

    def opt_str(self, key: str, default: str = "") -> str:
        value = self.data.get(key)
        if type(value) is str:
            return value
        if value is None:
            return default
        if isinstance(value, str):  # a str subclass (a StrEnum from a Python caller)
            return value
        if isinstance(value, bool | int | float):
            return _scalar(value)
        raise self.fail(key, f"must be a string, got {_type(value)}")

    def num(self, key: str) -> float:
        value = self.opt_num(key)
        if value is None:
            raise self.fail(key, "is missing")
        return value

    def opt_num(self, key: str) -> float | None:
        """A finite number; numeric strings are accepted because several clouds send amounts as strings."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise self.fail(key, "must be a number, got a boolean")
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.replace(",", ""))
            except ValueError:
                raise self.fail(key, f"must be a number, got {value[:40]!r}") from None
        else:
            raise self.fail(key, f"must be a number, got {_type(value)}")
        if not math.isfinite(number):
            raise self.fail(key, "must be a finite number")
        return number

    def opt_bool(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.fail(key, f"must be a boolean, got {_type(value)}")


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
