"""Saved playbooks: the user's own copies, in ``<data dir>/playbooks/<id>.json``; a user's copy overrides
Escher's library playbook of the same id (the vision's "playbook override")."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from escher.brain.models import Playbook
from escher.errors import EscherError

__all__ = ["PlaybookStoreError", "list_playbooks", "load_playbook", "save_playbook"]

_SAFE = re.compile(r"[^a-z0-9_-]+")


class PlaybookStoreError(EscherError):
    """A saved playbook cannot be read or written."""


def _path(root: Path, playbook_id: str) -> Path:
    name = _SAFE.sub("-", playbook_id.lower()).strip("-") or "playbook"
    return root / "playbooks" / f"{name}.json"


def save_playbook(root: Path, playbook: Playbook) -> Path:
    path = _path(root, playbook.id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(playbook.model_dump_json(indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise PlaybookStoreError(f"cannot save playbook to {path}: {exc.strerror}",
                                 hint="check the data dir's permissions (ESCHER_DATA_DIR)") from None  # fmt: skip
    return path


def load_playbook(root: Path, playbook_id: str) -> Playbook | None:
    path = _path(root, playbook_id)
    if not path.exists():
        return None
    try:
        return Playbook.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise PlaybookStoreError(
            f"saved playbook {path} is unreadable: {exc}", hint="fix or delete the file"
        ) from None


def list_playbooks(root: Path) -> list[Playbook]:
    folder = root / "playbooks"
    return (
        [p for f in sorted(folder.glob("*.json")) if (p := load_playbook(root, f.stem))]
        if folder.exists()
        else []
    )
