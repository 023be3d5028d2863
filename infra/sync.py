"""The laptop's side of settings travel: publish the effective settings to each extended cloud.

``escher extend CLOUD`` publishes after the deploy, ``escher extend sync-settings`` on demand, and the CLI
after any command that changed a setting while a cloud is extended (:func:`pending`: a local hash comparison,
no network, so commands that change nothing cost nothing). Per cloud:

1. the channel URLs the settings name go to the extension's secret store (the credential writers of
   :mod:`escher.infra.credentials`), only when they changed since the last sync;
2. the settings object is written to the state storage named by the stack's ``state_url`` output
   (:func:`escher.extend.settings_doc.publish`: a new version only when the content changed);
3. ``<data dir>/extend/<cloud>-settings.json`` records the version and hashes published.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from escher.clouds import CLOUDS
from escher.infra.program import InfraError

if TYPE_CHECKING:
    from escher.config import Paths, Settings
    from escher.extend.settings_doc import Built
    from escher.infra.credentials import WriterFactory
    from escher.pipeline.objects import PipelineObjects

__all__ = ["SyncResult", "extended_clouds", "pending", "sync_settings"]


@dataclass
class SyncResult:
    cloud: str
    version: int
    sha256: str
    changed: bool
    url: str
    secrets_written: list[str] = field(default_factory=list)
    secrets_missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def extended_clouds(paths: Paths) -> list[str]:
    from escher.infra.driver import LocalState

    local = LocalState.load(paths)
    return [c for c in CLOUDS if local.mode(c) == "thin-client"]


def _record_path(paths: Paths, cloud: str) -> Any:
    return paths.data_dir / "extend" / f"{cloud}-settings.json"


def _record(paths: Paths, cloud: str) -> dict[str, Any]:
    path = _record_path(paths, cloud)
    try:
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}
    except (OSError, json.JSONDecodeError):
        return {}  # rebuilt by the next sync


def _secrets_digest(secrets: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(secrets.items())).encode()).hexdigest()


def _built(paths: Paths, settings: Settings | None, env: Mapping[str, str] | None) -> Built:
    import os

    from escher.config import load_settings
    from escher.extend.settings_doc import build_content

    env = os.environ if env is None else env
    settings = settings or load_settings(paths, dict(env))
    return build_content(settings, paths, env)


def pending(paths: Paths, env: Mapping[str, str] | None = None) -> list[str]:
    """The extended clouds whose published settings differ from this machine's (no network)."""
    clouds = extended_clouds(paths)
    if not clouds:
        return []
    built = _built(paths, None, env)
    digest = _secrets_digest(built.secrets)
    return [
        c
        for c in clouds
        if _record(paths, c).get("sha256") != built.sha256 or _record(paths, c).get("secrets") != digest
    ]


def sync_settings(
    paths: Paths,
    clouds: list[str] | None = None,
    *,
    settings: Settings | None = None,
    env: Mapping[str, str] | None = None,
    writer: Callable[[str, str], WriterFactory] | None = None,
    objects: Callable[[str], PipelineObjects] | None = None,
    published_by: str = "",
) -> list[SyncResult]:
    """Publish to ``clouds`` (default: every extended cloud). ``writer`` (cloud, name prefix) -> the secret
    writer factory, ``objects`` (state URL) -> the store: the real ones by default, fakes in tests."""
    from escher.extend.settings_doc import publish
    from escher.infra.driver import load_outputs
    from escher.infra.spec import extend_settings

    clouds = clouds or extended_clouds(paths)
    if not clouds:
        raise InfraError(
            "no cloud is extended: there is nothing to publish the settings to",
            hint="run 'escher extend aws' (or azure, gcp) first",
        )
    if settings is None:
        import os

        from escher.config import load_settings

        settings = load_settings(paths, dict(os.environ if env is None else env))
    built = _built(paths, settings, env)
    from escher.infra.credentials import writer_for
    from escher.pipeline.objects import open_objects

    make_writer = writer or writer_for
    open_store = objects or open_objects
    prefix = extend_settings(settings).name_prefix
    results = []
    for cloud in clouds:
        outputs = load_outputs(paths, cloud)
        url = outputs.get("state_url")
        if not url:
            raise InfraError(
                f"the {cloud} stack's outputs name no state storage (state_url)",
                hint=f"run 'escher extend {cloud}' again: it records the outputs",
            )
        record = _record(paths, cloud)
        digest = _secrets_digest(built.secrets)
        written: list[str] = []
        if built.secrets and record.get("secrets") != digest:
            store = make_writer(cloud, prefix)(outputs)
            for name, value in sorted(built.secrets.items()):
                store.write(name, value)
                written.append(name)
        result = publish(open_store(str(url)), built, published_by=published_by)
        path = _record_path(paths, cloud)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"sha256": result.sha256, "version": result.version, "secrets": digest, "url": result.url}
        path.write_text(json.dumps(entry, indent=2), encoding="utf-8")
        results.append(
            SyncResult(
                cloud, result.version, result.sha256, result.changed, result.url, written, built.missing
            )
        )
    return results
