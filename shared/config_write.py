"""Write one table of ``config.toml`` and keep the rest of the file: the one way Escher edits the config.

``[remediation]`` (``escher remediation``), ``[notify]`` and ``[extend]`` (the ``escher extend`` setup),
``[report]`` and ``[notify.routes]`` (the console) all go through :func:`write_section`. Only the table's lines
(and its sub-tables', wherever they stand) are replaced, so the other sections keep their comments and layout;
the comments just above the next section stay with it. When the result does not parse back to exactly the
wanted data (the table was written another way: an inline table, dotted keys), the file is rewritten from its
parsed data instead: nothing is lost but its comments. The new text goes to a temporary file that is renamed
over the config, so a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import re
import tomllib
from typing import TYPE_CHECKING, Any

from escher.config import ConfigError

if TYPE_CHECKING:
    from escher.config import Paths

__all__ = ["replace_tables", "write_section"]

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def write_section(paths: Paths, dotted: str, data: dict[str, Any]) -> None:
    """Make table ``[dotted]`` (``remediation``, ``notify.routes``) hold exactly ``data``."""
    import tomli_w

    text = paths.config_file.read_text(encoding="utf-8") if paths.config_file.exists() else ""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{paths.config_file} is not valid TOML: {exc}", hint="fix it first") from exc
    wanted = _merged(raw, dotted, data)
    new_text = replace_tables(text, dotted, tomli_w.dumps(_nested(dotted, data)))
    try:
        ok = tomllib.loads(new_text) == wanted
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        new_text = tomli_w.dumps(wanted)
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.config_file.with_name(f".{paths.config_file.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(new_text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(paths.config_file)


def replace_tables(text: str, name: str, table: str) -> str:
    """``text`` without the lines of ``[name]`` and its sub-tables (``[notify.routes]`` may stand without a
    ``[notify]`` header), and ``table`` where the first of them was (else at the end)."""
    out: list[str] = []
    dropped: list[str] = []
    at: int | None = None
    mine = False
    for line in text.splitlines(keepends=True):
        if m := _HEADER.match(line):
            head = m.group(1)
            was, mine = mine, head == name or head.startswith(f"{name}.")
            if mine and at is None:
                at = len(out)
            if was and not mine:  # the comments just above this header are about it: they stay
                keep = len(dropped)
                while keep and (not dropped[keep - 1].strip() or dropped[keep - 1].lstrip().startswith("#")):
                    keep -= 1
                out.extend(kept for kept in dropped[keep:] if kept.strip())
            dropped = []
        (dropped if mine else out).append(line)
    if at is None:
        sep = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
        return text + sep + table
    gap = "\n" if at < len(out) else ""
    return "".join(out[:at]) + table + gap + "".join(out[at:])


def _nested(dotted: str, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = data
    for part in reversed(dotted.split(".")):
        out = {part: out}
    return out


def _merged(raw: dict[str, Any], dotted: str, data: dict[str, Any]) -> dict[str, Any]:
    merged = dict(raw)
    node = merged
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = node.get(part)
        node[part] = dict(child) if isinstance(child, dict) else {}
        node = node[part]
    node[leaf] = data
    return merged
