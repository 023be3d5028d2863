"""Wiring: build the pipeline from the configuration and the environment, once per process (warm starts reuse it).

Environment (set by ``escher extend`` on the function; ``escher demo`` sets its own):

- ``ESCHER_STATE_URL``: markers, alerts, approvals (``s3://``, ``azblob://``, ``gs://``, a dir);
  default ``<data dir>/state``;
- ``ESCHER_AUDIT_URL``: the audit objects (same formats); in Extend mode the WORM bucket/container (Object
  Lock, immutability policy, retention); default: the state storage (Local Only, ``escher demo``);
- ``ESCHER_EVENTS_LOG_PREFIX``: where the records of events that led to no decision go, in the state storage
  (it expires after ``ESCHER_EVENTS_LOG_DAYS`` by the storage's lifecycle rule); unset: the audit objects;
- ``ESCHER_DEAD_LETTER_URL``: where unhandleable events go (``sqs://``, ``pubsub://``, ``azblob://``, a dir);
  default ``dead-letters/`` in the state storage;
- the usual ``ESCHER_CONFIG_DIR`` (config.toml with ``[remediation]``, ``[severity]``, ``[notify]``) and the
  cloud SDKs' own variables.

With ``ESCHER_STATE_URL`` set and a settings object published there by the laptop (``escher extend``,
:mod:`escher.extend.settings_doc`), that object is the worker's configuration: switches, rules, routes, what to
scan. It is read at cold start and revalidated by version (no body) at most every
``ESCHER_SETTINGS_MAX_AGE_SECONDS`` (default 30); a new version rebuilds the pipeline. ``ESCHER_OPERATIONS``
(the operations the extension's role was generated from) limits the fixes a worker tries.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from escher.pipeline.core import Pipeline
from escher.pipeline.objects import PipelineObjects

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.extend.settings_doc import PublishedSettings, SettingsDocument

__all__ = [
    "audit_objects",
    "build_pipeline",
    "configured_state_url",
    "effective_settings",
    "override",
    "published_settings",
    "reset",
    "state_objects",
]

_cache: dict[tuple[str, ...], Pipeline] = {}
_published: dict[str, PublishedSettings] = {}
_overrides: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()
_ENV_KEYS = (
    "ESCHER_STATE_URL",
    "ESCHER_AUDIT_URL",
    "ESCHER_DEAD_LETTER_URL",
    "ESCHER_CONFIG_DIR",
    "ESCHER_DATA_DIR",
    "ESCHER_OPERATIONS",
    "ESCHER_EVENTS_LOG_PREFIX",
)


def reset() -> None:
    """Forget the cached pipelines and overrides (tests that change the environment)."""
    with _lock:
        _cache.clear()
        _overrides.clear()
        _published.clear()


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
    published = published_settings(env)
    key = (worker, *(env.get(k, "") for k in _ENV_KEYS), published.sha256 if published else "")
    with _lock:
        if key not in _cache or overrides:
            pipeline = _build(worker, env, published=published, **overrides)
            if overrides:
                return pipeline
            _cache[key] = pipeline
        return _cache[key]


def published_settings(env: Mapping[str, str]) -> SettingsDocument | None:
    """The settings the laptop published to this worker's state storage (``escher extend``), revalidated by
    version at most every ``ESCHER_SETTINGS_MAX_AGE_SECONDS`` (30); None without a state URL or an object."""
    url = env.get("ESCHER_STATE_URL")
    if not url:
        return None  # Local Only: the config file is the settings
    from escher.extend.settings_doc import PublishedSettings
    from escher.pipeline.objects import open_objects

    max_age = float(env.get("ESCHER_SETTINGS_MAX_AGE_SECONDS", 30))
    with _lock:
        view = _published.get(url)
        if view is None or view.max_age != max_age:
            view = _published[url] = PublishedSettings(open_objects(url), max_age=max_age)
    return view.current()


def configured_state_url(env: Mapping[str, str], extensions: Mapping[str, Any] | None = None) -> str | None:
    """``ESCHER_STATE_URL``, else ``[state] url`` in the config (``escher.state``'s rule); None: Local Only."""
    from escher.state import state_url

    return env.get("ESCHER_STATE_URL") or state_url(dict(extensions or {}))


def state_objects(
    env: Mapping[str, str] | None = None, extensions: Mapping[str, Any] | None = None
) -> PipelineObjects:
    """The state storage this installation uses: the configured state URL, else ``<data dir>/state``."""
    from escher.config import resolve_paths
    from escher.pipeline.objects import open_objects

    env = os.environ if env is None else env
    url = configured_state_url(env, extensions)
    return open_objects(url or str(resolve_paths(dict(env)).data_dir / "state"))


def audit_objects(
    env: Mapping[str, str] | None = None, extensions: Mapping[str, Any] | None = None
) -> PipelineObjects:
    """Where audit objects are written and read back: ``ESCHER_AUDIT_URL`` (the WORM audit bucket/container
    in Extend mode), else the state storage (:func:`state_objects`)."""
    from escher.pipeline.objects import open_objects

    env = os.environ if env is None else env
    url = env.get("ESCHER_AUDIT_URL")
    return open_objects(url) if url else state_objects(env, extensions)


def effective_settings(
    worker: str, env: Mapping[str, str], published: SettingsDocument | None = None
) -> tuple[Settings, dict[str, str]]:
    """The settings this process runs with and the environment its notifier reads: the published object (its
    channel secrets read from this cloud's secret store) when there is one, else config.toml + ``ESCHER_*``."""
    from escher.config import load_settings, resolve_paths

    if published is None:
        env_dict = dict(env)
        return load_settings(resolve_paths(env_dict), env_dict), env_dict
    from escher.extend.secrets import read_secrets
    from escher.extend.settings_doc import settings_from_document

    settings = settings_from_document(published)
    extend = settings.extensions.get("extend") or {}
    prefix = str(extend.get("name_prefix") or "escher") if isinstance(extend, dict) else "escher"
    found = read_secrets(worker, published.secrets, env, name_prefix=prefix, project=settings.gcp.project)
    return settings, {**env, **found}


def _build(
    worker: str, env: Mapping[str, str], *, published: SettingsDocument | None = None, **overrides: Any
) -> Pipeline:
    from escher.alerts.store import AlertStore
    from escher.audit.objects import ObjectAuditSink
    from escher.config import resolve_paths
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
    settings, notify_env = effective_settings(worker, env, published)
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
            load_notify(settings.extensions), env=notify_env, morning_report=queue_for_morning
        ),
        "dead_letters": open_dead_letters(dl_url) if dl_url else ObjectDeadLetters(objects),
        # Local Only: the approvals file the CLI reads ('escher approvals approve ID'); in a cloud worker, the
        # state storage, which 'escher sync' pulls and a laptop's decision is written back to (escher.extend)
        "approvals": ObjectApprovalStore(objects) if remote_state else JsonFileApprovalStore(paths.data_dir),
        "rules": rules_from_settings(settings.extensions, paths.config_file),
        "remediation": load_remediation(settings.extensions),
        "cloud": CloudContext.from_settings(settings),
        "estate": InventoryEstate.load(objects),
        "remediations": _enabled_remediations(env),
        # records of undecided events: the state storage's expiring prefix, never the WORM audit storage
        "events_log": (
            ObjectAuditSink(objects, env["ESCHER_EVENTS_LOG_PREFIX"])
            if env.get("ESCHER_EVENTS_LOG_PREFIX")
            else None
        ),
    }
    parts.update(_overrides.get(worker, {}))
    parts.update(overrides)
    return Pipeline(**parts)


def _enabled_remediations(env: Mapping[str, str]) -> tuple[Any, ...] | None:
    """Only the fixes whose operation the extension enabled (``ESCHER_OPERATIONS``, the operations its role
    was generated from): a fix the role may not run is left as an open alert, never tried and denied."""
    enabled = env.get("ESCHER_OPERATIONS")
    if enabled is None:
        return None  # Local Only: the user's own credentials decide
    from escher.pipeline.remediations import load_remediations

    wanted = {op.strip() for op in enabled.split(",") if op.strip()}
    return tuple(r for r in load_remediations() if r.operation in wanted)
