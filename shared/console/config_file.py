"""Write one table of ``config.toml`` (``[report]``, ``[notify.routes]``) and keep the rest of the file.

The same approach as :func:`escher.policy.remediation.save_remediation`: only the table's lines are replaced
(other sections keep their comments and layout); when that cannot be done line by line (an inline table,
dotted keys) the file is rewritten from its parsed data. The result is parsed back and compared before it is
written to a temporary file and renamed over the config.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

from escher.config import ConfigError, Paths

__all__ = ["write_section"]


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


def write_section(paths: Paths, dotted: str, data: dict[str, Any]) -> None:
    import tomli_w

    from escher.policy.remediation import _replace_table

    text = paths.config_file.read_text(encoding="utf-8") if paths.config_file.exists() else ""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{paths.config_file} is not valid TOML: {exc}", hint="fix it first") from exc
    wanted = _merged(raw, dotted, data)
    new_text = _replace_table(text, dotted, tomli_w.dumps(_nested(dotted, data)))
    try:
        ok = new_text is not None and tomllib.loads(new_text) == wanted
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok or new_text is None:
        new_text = tomli_w.dumps(wanted)
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.config_file.with_name(f".{paths.config_file.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(new_text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(paths.config_file)
