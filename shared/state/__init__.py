"""Object storage as Escher's state: one interface over S3, Azure Blob, GCS and a local directory.

Every backend offers ``get``, ``list``, ``put_if_absent`` (create-only) and ``compare_and_swap`` (on the
ETag or generation), which is all that idempotency markers, append-only record objects and shared documents
need. :func:`open_state` picks a backend from a URL: ``s3://bucket/prefix``, ``gs://bucket/prefix``,
``az://container/prefix`` (``AZURE_STORAGE_CONNECTION_STRING`` or ``?account_url=``), ``file:///path``.
Cloud SDKs are imported only when a backend is built (through ``escher.clouds``).
"""

from __future__ import annotations

import inspect
import os
from urllib.parse import parse_qs, urlparse

from escher.state._base import (
    AlreadyExistsError,
    Blob,
    NotFoundError,
    ObjectInfo,
    ObjectStore,
    StateError,
    VersionConflictError,
    update_json,
)

__all__ = [
    "AlreadyExistsError",
    "Blob",
    "NotFoundError",
    "ObjectInfo",
    "ObjectStore",
    "StateError",
    "VersionConflictError",
    "open_state",
    "state_url",
    "update_json",
]

STATE_URL_ENV = "ESCHER_STATE_URL"


def state_url(extensions: dict[str, object] | None = None) -> str | None:
    """The configured state URL: ``ESCHER_STATE_URL``, else ``[state] url`` in the config file."""
    if url := os.environ.get(STATE_URL_ENV):
        return url
    section = (extensions or {}).get("state")
    if isinstance(section, dict) and isinstance(section.get("url"), str):
        return str(section["url"])
    return None


def open_state(url: str) -> ObjectStore:
    parsed = urlparse(url)
    name, prefix = parsed.netloc, parsed.path.lstrip("/")
    if parsed.scheme == "file":
        from escher.state.local import LocalStore

        return LocalStore(parsed.path or name)
    if not name:
        raise StateError(f"the state URL {url!r} names no bucket", hint="e.g. s3://my-bucket/escher")
    from escher.clouds import PROVIDERS, state_provider

    owner = state_provider(parsed.scheme)
    if owner is None:
        examples = ", ".join(p.state_example for p in PROVIDERS.values())
        raise StateError(
            f"unknown state URL scheme {parsed.scheme!r} in {url!r}", hint=f"use {examples} or file:///path"
        )
    backend = owner.load("state_backend")
    # a Blob container reached through an identity (no connection string) names its account: ?account_url=
    accepted = inspect.signature(backend).parameters
    options = {k: v[0] for k, v in parse_qs(parsed.query).items() if k == "account_url" and k in accepted}
    store: ObjectStore = backend(name, prefix, **options)
    return store
