"""The user's effective settings as one object in the extension's state storage: ``settings/effective.json``.

The laptop publishes it (``escher extend``, ``escher extend sync-settings``, and again whenever the CLI changes a
setting while extended); a worker reads it at cold start and before each use checks only its version (the S3
ETag, the Blob ETag, the GCS generation: a list call, no body), so an unchanged object is never downloaded twice.

What travels: the remediation switches, severity rules, notification routes, report template, policy, personas,
``[extend]``, the approvers' public keys (``approvers``: each manager's, or the single operator's, the only keys
a worker accepts a grant's signature from), the schedule and retention settings, what to scan (AWS regions, the Azure subscription and
locations, the GCP project and regions), the approval templates and the user's schedules. What never travels:
secrets. A notification channel's URL (its token) goes to the extension's secret store and the object names it
(``{"secret": "notify-slack"}``); the database URL, the brain's token, profiles and local endpoints stay home.

The object is versioned (1, 2, ... on each change, written with create-if-absent / compare-and-swap, so two
laptops publishing at once never lose an update silently) and hashed (SHA-256 of its canonical content; a
worker refuses an object whose hash does not match). Each version is also kept under
``settings/versions/<version>.json`` (create-only).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.config import Paths, Settings
    from escher.pipeline.objects import PipelineObjects

__all__ = [
    "APPROVERS",
    "SETTINGS_KEY",
    "PublishResult",
    "PublishedSettings",
    "SettingsDocument",
    "SettingsDocumentError",
    "build_content",
    "content_hash",
    "publish",
    "secret_env_name",
    "settings_from_document",
    "version_of",
]

SETTINGS_KEY = "settings/effective.json"
VERSIONS_PREFIX = "settings/versions/"
SCHEMA_VERSION = 1
# the package-owned sections that travel (store, brain, state and audit are about this machine)
# each approver's public key(s), beside the sections (never read from a config file: the laptop fills it)
APPROVERS = "approvers"
TRAVELLING_EXTENSIONS = ("severity", "remediation", "notify", "report", "policy", "personas", "extend")
# laptop-only keys of the cloud sections: a profile or a local emulator endpoint means nothing in the cloud
LOCAL_ONLY_KEYS = {"aws": ("profile", "endpoint_url")}


class SettingsDocumentError(EscherError):
    """The published settings object cannot be built, written or trusted."""


class SettingsDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    version: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    published_at: str
    published_by: str = ""
    content: dict[str, Any]

    @property
    def secrets(self) -> list[str]:
        return list(self.content.get("secrets", []))


@dataclass(frozen=True)
class Built:
    """What the laptop publishes, and the secret values that go to the secret store instead."""

    content: dict[str, Any]
    secrets: dict[str, str]  # secret name -> value (never in the object)
    missing: list[str]  # referenced secrets with no value on this machine (an unset url_env)

    @property
    def sha256(self) -> str:
        return content_hash(self.content)


def content_hash(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(content)).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()


def secret_name(channel: str) -> str:
    """The secret-store name of a notification channel's URL."""
    return f"notify-{channel}".lower().replace("_", "-")


def secret_env_name(name: str) -> str:
    """Where a worker puts a secret it read, for the code that reads URLs from the environment (``url_env``)."""
    return "ESCHER_SECRET_" + "".join(c if c.isalnum() else "_" for c in name).upper()


def build_content(
    settings: Settings, paths: Paths | None = None, env: Mapping[str, str] | None = None
) -> Built:
    """The effective settings as they travel, plus the secrets found for the channels they name."""
    import os

    env = os.environ if env is None else env
    dumped = settings.model_dump(mode="json")
    config: dict[str, Any] = {}
    for section in ("general", "aws", "azure", "gcp", "retention"):
        values = dict(dumped[section])
        for key in LOCAL_ONLY_KEYS.get(section, ()):
            values.pop(key, None)
        config[section] = values
    extensions = {k: v for k, v in settings.extensions.items() if k in TRAVELLING_EXTENSIONS}
    secrets: dict[str, str] = {}
    missing: list[str] = []
    notify = extensions.get("notify")
    if isinstance(notify, dict) and isinstance(notify.get("channels"), dict):
        from escher.notify.config import load_notify

        parsed = load_notify({"notify": notify})  # the owner's validation: a bad section fails here
        channels: dict[str, Any] = {}
        for channel, spec in parsed.channels.items():
            name = secret_name(channel)
            channels[channel] = {"secret": name}
            value = spec.resolve(env)
            if value:
                secrets[name] = value
            else:
                missing.append(name)
        extensions["notify"] = {**notify, "channels": channels}
    if paths is not None:  # the approvers' public keys: the only ones a worker accepts a grant's signature by
        from escher.extend.approvals_remote import approver_keys

        extensions[APPROVERS] = approver_keys(paths.data_dir, settings.extensions, dict(env))
    config["extensions"] = extensions
    content: dict[str, Any] = {
        "config": config,
        "templates": _json_file(paths.data_dir / "templates.json") if paths else {},
        "schedules": _json_file(paths.data_dir / "schedule" / "schedules.json") if paths else {},
        "secrets": sorted({*secrets, *missing}),
    }
    return Built(json.loads(_canonical(content)), secrets, sorted(missing))


def _json_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SettingsDocumentError(
            f"{path} cannot be read to publish it: {exc}", hint="fix or move the file away, then sync again"
        ) from exc
    return dict(data) if isinstance(data, dict) else {}


def settings_from_document(doc: SettingsDocument) -> Settings:
    """The ``Settings`` a worker runs with: the published sections, channel secrets read from the environment
    variables named by :func:`secret_env_name` (the worker fills them from its secret store)."""
    from escher.config import Settings

    config = dict(doc.content.get("config", {}))
    extensions = dict(config.pop("extensions", {}))
    notify = extensions.get("notify")
    if isinstance(notify, dict) and isinstance(notify.get("channels"), dict):
        extensions["notify"] = {
            **notify,
            "channels": {
                name: {"url_env": secret_env_name(str(spec.get("secret", name)))}
                for name, spec in notify["channels"].items()
            },
        }
    try:
        return Settings.model_validate({**config, "extensions": extensions})
    except ValidationError as exc:
        raise SettingsDocumentError(
            f"the published settings version {doc.version} do not validate here: {exc.errors()[0]['msg']}",
            hint="run 'escher extend sync-settings' with this Escher version, or redeploy the worker",
        ) from None


def parse_document(data: bytes, where: str) -> SettingsDocument:
    try:
        doc = SettingsDocument.model_validate_json(data)
    except ValidationError as exc:
        raise SettingsDocumentError(
            f"{where} is not an Escher settings object: {exc.errors()[0]['msg']}",
            hint="run 'escher extend sync-settings' to publish it again",
        ) from None
    if doc.schema_version != SCHEMA_VERSION:
        raise SettingsDocumentError(
            f"{where} has schema {doc.schema_version}; this Escher reads {SCHEMA_VERSION}",
            hint="deploy the same Escher version as the laptop ('escher extend CLOUD')",
        )
    if content_hash(doc.content) != doc.sha256:
        raise SettingsDocumentError(
            f"{where}: the content does not match its SHA-256 (version {doc.version})",
            hint="someone changed the object by hand; run 'escher extend sync-settings' to publish it again",
        )
    return doc


@dataclass(frozen=True)
class PublishResult:
    version: int
    sha256: str
    changed: bool
    url: str


def publish(
    objects: PipelineObjects,
    built: Built,
    *,
    published_by: str = "",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    attempts: int = 20,
) -> PublishResult:
    """Write ``built`` as the next version unless the stored object already holds the same content."""
    url = str(getattr(getattr(objects, "state", None), "url", "")) + SETTINGS_KEY
    sha = built.sha256
    for _ in range(attempts):
        current = objects.get(SETTINGS_KEY)
        previous = 0
        if current is not None:
            try:
                doc = parse_document(current.data, url)
            except SettingsDocumentError:
                doc = None  # ours, but unreadable (an older schema, a hand edit): replaced by a good one
            if doc is not None and doc.sha256 == sha:
                return PublishResult(doc.version, sha, False, url)
            previous = doc.version if doc is not None else 0
        new = SettingsDocument(
            version=previous + 1,
            sha256=sha,
            published_at=now().isoformat(timespec="seconds"),
            published_by=published_by,
            content=built.content,
        )
        data = new.model_dump_json().encode()
        written = (
            objects.put_if_absent(SETTINGS_KEY, data)
            if current is None
            else objects.replace(SETTINGS_KEY, data, current.version)
        )
        if written is not None:
            objects.put_if_absent(f"{VERSIONS_PREFIX}{new.version:06d}.json", data)
            return PublishResult(new.version, sha, True, url)
    raise SettingsDocumentError(
        f"{url} kept changing while it was published ({attempts} attempts)",
        hint="another machine is publishing settings right now; run 'escher extend sync-settings' again",
    )


def version_of(objects: PipelineObjects, key: str) -> str | None:
    """The object's version without its body: a list call on a cloud backend (ETag / generation)."""
    state = getattr(objects, "state", None)
    if state is not None:
        from escher.state import StateError

        try:
            for info in state.list(key):
                if info.key == key:
                    return str(info.version)
        except StateError as exc:
            from escher.pipeline.errors import StateStoreError

            raise StateStoreError(
                f"cannot read the version of {state.url}{key}: {exc.message}", hint=exc.hint
            ) from exc
        return None
    item = objects.get(key)  # in-memory stores: no cheaper way, and no cost
    return None if item is None else item.version


class PublishedSettings:
    """A worker's view of the published object: read once, then revalidated by version (no body) at most
    every ``max_age`` seconds; a changed version is downloaded again, a removed one is forgotten."""

    def __init__(
        self, objects: PipelineObjects, *, max_age: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.objects = objects
        self.max_age = max_age
        self.clock = clock
        self.downloads = 0
        self.checks = 0
        self._doc: SettingsDocument | None = None
        self._version: str | None = None
        self._checked: float | None = None
        self._lock = threading.Lock()

    def current(self) -> SettingsDocument | None:
        with self._lock:
            now = self.clock()
            if self._checked is not None and now - self._checked < self.max_age:
                return self._doc
            self.checks += 1
            version = version_of(self.objects, SETTINGS_KEY)
            self._checked = now
            if version is None:
                self._doc, self._version = None, None
            elif version != self._version:
                item = self.objects.get(SETTINGS_KEY)
                self.downloads += 1
                if item is None:
                    self._doc, self._version = None, None
                else:
                    where = str(getattr(getattr(self.objects, "state", None), "url", "")) + SETTINGS_KEY
                    self._doc, self._version = parse_document(item.data, where), item.version
            return self._doc
