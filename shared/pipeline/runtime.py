"""Wiring: build the pipeline from the configuration and the environment, once per process (warm starts reuse it).

Environment (set by ``escher extend`` on the function; ``escher demo`` sets its own):

- ``ESCHER_STATE_URL``: markers, alerts, approvals (``s3://``, ``azblob://``, ``gs://``, a dir);
  default ``<data dir>/state``;
- ``ESCHER_AUDIT_URL``: the audit objects (same formats); in Extend mode the WORM bucket/container (Object
  Lock, immutability policy, retention); default: the state storage (Local Only, ``escher demo``);
- ``ESCHER_DEAD_LETTER_URL``: where unhandleable events go (``sqs://``, ``pubsub://``, ``azblob://``, a dir);
  default ``dead-letters/`` in the state storage;
- the usual ``ESCHER_CONFIG_DIR`` (config.toml with ``[remediation]``, ``[severity]``, ``[notify]``) and the
  cloud SDKs' own variables.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from escher.pipeline.core import Pipeline
from escher.pipeline.objects import ObjectStore

__all__ = [
    "audit_objects",
    "build_pipeline",
    "configured_state_url",
    "override",
    "reset",
    "state_objects",
]

_cache: dict[tuple[str, ...], Pipeline] = {}
_overrides: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()
_ENV_KEYS = (
    "ESCHER_STATE_URL",
    "ESCHER_AUDIT_URL",
    "ESCHER_DEAD_LETTER_URL",
    "ESCHER_CONFIG_DIR",
    "ESCHER_DATA_DIR",
)


def reset() -> None:
    """Forget the cached pipelines and overrides (tests that change the environment)."""
    with _lock:
        _cache.clear()
        _overrides.clear()


@contextmanager
def override(worker: str, **parts: Any) -> Iterator[None]:
    """Hand the pipeline of ``worker`` some parts (a ``CloudContext`` with a replay transport, a notifier) while
    the platform calls the real entry point: ``escher demo`` and the replay tests use it."""
    with _lock:
        _overrides[worker] = parts
        _cache.clear()
    try:
        yield
    finally:
        with _lock:
            _overrides.pop(worker, None)
            _cache.clear()


def build_pipeline(worker: str, env: Mapping[str, str] | None = None, **overrides: Any) -> Pipeline:
    env = os.environ if env is None else env
    key = (worker, *(env.get(k, "") for k in _ENV_KEYS))
    with _lock:
        if key not in _cache or overrides:
            pipeline = _build(worker, env, **overrides)
            if overrides:
                return pipeline
            _cache[key] = pipeline
        return _cache[key]


def configured_state_url(env: Mapping[str, str], extensions: Mapping[str, Any] | None = None) -> str | None:
    """``ESCHER_STATE_URL``, else ``[state] url`` in the config (``escher.state``'s rule); None: Local Only."""
    from escher.state import state_url

    return env.get("ESCHER_STATE_URL") or state_url(dict(extensions or {}))


def state_objects(
    env: Mapping[str, str] | None = None, extensions: Mapping[str, Any] | None = None
) -> ObjectStore:
    """The state storage this installation uses: the configured state URL, else ``<data dir>/state``."""
    from escher.config import resolve_paths
    from escher.pipeline.objects import open_objects

    env = os.environ if env is None else env
    url = configured_state_url(env, extensions)
    return open_objects(url or str(resolve_paths(dict(env)).data_dir / "state"))


def audit_objects(
    env: Mapping[str, str] | None = None, extensions: Mapping[str, Any] | None = None
) -> ObjectStore:
    """Where audit objects are written and read back: ``ESCHER_AUDIT_URL`` (the WORM audit bucket/container
    in Extend mode), else the state storage (:func:`state_objects`)."""
    from escher.pipeline.objects import open_objects

    env = os.environ if env is None else env
    url = env.get("ESCHER_AUDIT_URL")
    return open_objects(url) if url else state_objects(env, extensions)


def _build(worker: str, env: Mapping[str, str], **overrides: Any) -> Pipeline:
    from escher.alerts.store import AlertStore, ObjectAuditSink
    from escher.config import load_settings, resolve_paths
    from escher.notify.config import load_notify
    from escher.notify.send import AppriseNotifier, Message
    from escher.ops import CloudContext
    from escher.pipeline.adapters import InventoryEstate, MorningQueue, ObjectApprovalStore
    from escher.pipeline.deadletter import ObjectDeadLetters, open_dead_letters
    from escher.pipeline.markers import Markers
    from escher.pipeline.objects import open_objects
    from escher.policy.approvals import JsonFileApprovalStore
    from escher.policy.remediation import load_remediation
    from escher.rules import rules_from_settings

    env_dict = dict(env)
    paths = resolve_paths(env_dict)
    settings = load_settings(paths, env_dict)
    objects = state_objects(env, settings.extensions)
    remote_state = configured_state_url(env, settings.extensions) is not None
    dl_url = env.get("ESCHER_DEAD_LETTER_URL")
    morning = MorningQueue(objects)

    def queue_for_morning(message: Message) -> None:
        morning.add(message.alert_id, message.title, message.body)

    parts: dict[str, Any] = {
        "worker": worker,
        "markers": Markers(
            objects, lease=timedelta(seconds=float(env.get("ESCHER_MARKER_LEASE_SECONDS", 300)))
        ),
        "audit": ObjectAuditSink(
            open_objects(env["ESCHER_AUDIT_URL"]) if env.get("ESCHER_AUDIT_URL") else objects
        ),
        "alerts": AlertStore(objects),
        "notifier": AppriseNotifier(
            load_notify(settings.extensions), env=env, morning_report=queue_for_morning
        ),
        "dead_letters": open_dead_letters(dl_url) if dl_url else ObjectDeadLetters(objects),
        # Local Only: the approvals file the CLI reads ('escher approvals approve ID'); in a cloud worker, the
        # state storage (the laptop's CLI does not read that yet: see the README)
        "approvals": ObjectApprovalStore(objects) if remote_state else JsonFileApprovalStore(paths.data_dir),
        "rules": rules_from_settings(settings.extensions, paths.config_file),
        "remediation": load_remediation(settings.extensions),
        "cloud": CloudContext.from_settings(settings),
        "estate": InventoryEstate.load(objects),
    }
    parts.update(_overrides.get(worker, {}))
    parts.update(overrides)
    return Pipeline(**parts)
