"""The published settings object: what travels (no secret), versions and hashes, conditional writes, and the
worker's cheap revalidation (a version check, no body, for an unchanged object)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from escher.config import Paths, Settings, load_settings
from escher.extend.settings_doc import (
    SETTINGS_KEY,
    PublishedSettings,
    SettingsDocumentError,
    build_content,
    publish,
    secret_env_name,
    settings_from_document,
)
from escher.pipeline.objects import MemoryObjects, StateObjects
from escher.state.local import LocalStore

SLACK = "slack://T000/B000/very-secret-token"


def write_config(tmp_path: Path, text: str) -> Paths:
    paths = Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(text, encoding="utf-8")
    return paths


CONFIG = f"""
[general]
timezone = "Europe/Paris"
[aws]
regions = ["eu-west-1", "eu-central-1"]
endpoint_url = "http://127.0.0.1:5000"
[gcp]
project = "acme-prod"
[azure]
subscription_id = "00000000-0000-0000-0000-000000000001"
[remediation]
make_public_buckets_private = true
[[severity.rules]]
name = "public buckets are critical"
event_type = "storage_bucket_public"
severity = "CRITICAL"
[notify.channels.slack]
url = "{SLACK}"
[notify.channels.email]
url_env = "MY_MAIL_URL"
[notify.routes]
HIGH = ["slack", "email", "banner"]
[report]
focus = "security"
[store]
database_url = "postgresql://u:dbsecret@db/escher"
"""


def built_from(tmp_path: Path, env: dict[str, str] | None = None) -> Any:
    paths = write_config(tmp_path, CONFIG)
    (paths.data_dir / "schedule").mkdir(parents=True, exist_ok=True)
    (paths.data_dir / "schedule" / "schedules.json").write_text(json.dumps({"s1": {"cron": "0 20 * * *"}}))
    (paths.data_dir / "templates.json").write_text(json.dumps({"nightly-stop": {"name": "nightly-stop"}}))
    return build_content(load_settings(paths, {}), paths, env or {})


def test_what_travels_and_what_stays_home(tmp_path: Path) -> None:
    built = built_from(tmp_path)
    text = json.dumps(built.content)
    assert SLACK not in text and "dbsecret" not in text and "127.0.0.1:5000" not in text
    config = built.content["config"]
    assert config["aws"]["regions"] == ["eu-west-1", "eu-central-1"]
    assert config["gcp"]["project"] == "acme-prod"
    assert config["azure"]["subscription_id"].endswith("1")
    assert config["extensions"]["remediation"]["make_public_buckets_private"] is True
    assert config["extensions"]["notify"]["channels"] == {
        "slack": {"secret": "notify-slack"},
        "email": {"secret": "notify-email"},
    }
    assert "store" not in config and "store" not in config["extensions"]
    assert built.content["schedules"] == {"s1": {"cron": "0 20 * * *"}}
    assert built.content["templates"] == {"nightly-stop": {"name": "nightly-stop"}}
    # the slack URL goes to the secret store; the e-mail URL's variable is unset here: named as missing
    assert built.secrets == {"notify-slack": SLACK}
    assert built.missing == ["notify-email"]
    assert built.content["secrets"] == ["notify-email", "notify-slack"]


def test_the_worker_gets_the_same_settings_back_with_secrets_from_its_environment(tmp_path: Path) -> None:
    objects = MemoryObjects()
    built = built_from(tmp_path, {"MY_MAIL_URL": "mailto://a:b@mail.example.com"})
    publish(objects, built)
    view = PublishedSettings(objects, max_age=0)
    doc = view.current()
    assert doc is not None
    settings = settings_from_document(doc)
    assert isinstance(settings, Settings)
    assert settings.aws.regions == ["eu-west-1", "eu-central-1"] and settings.aws.endpoint_url is None
    assert settings.general.timezone == "Europe/Paris"
    from escher.notify.config import load_notify
    from escher.policy.remediation import load_remediation
    from escher.rules import rules_from_settings

    assert load_remediation(settings.extensions).make_public_buckets_private is True
    assert [r.name for r in rules_from_settings(settings.extensions).user_rules] == [
        "public buckets are critical"
    ]
    notify = load_notify(settings.extensions)
    assert notify.routes["HIGH"] == ["slack", "email", "banner"]
    assert notify.urls({secret_env_name("notify-slack"): SLACK}) == {"slack": SLACK}


def test_versions_count_up_only_when_the_content_changes(tmp_path: Path) -> None:
    objects = MemoryObjects()
    first = publish(objects, built_from(tmp_path))
    again = publish(objects, built_from(tmp_path))
    assert (first.version, first.changed) == (1, True)
    assert (again.version, again.changed) == (1, False)
    changed = write_config(tmp_path, CONFIG.replace("make_public_buckets_private = true", ""))
    second = publish(objects, build_content(load_settings(changed, {}), changed, {}))
    assert (second.version, second.changed) == (2, True) and second.sha256 != first.sha256
    assert objects.list("settings/versions/") == [
        "settings/versions/000001.json",
        "settings/versions/000002.json",
    ]


class Racing(MemoryObjects):
    """Another laptop publishes between our read and our write, once."""

    def __init__(self, other: Any) -> None:
        super().__init__()
        self.other = other

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        if self.other is not None:
            other, self.other = self.other, None
            publish(self, other)
        return super().replace(key, data, version)


def test_a_concurrent_publish_is_not_overwritten_blindly(tmp_path: Path) -> None:
    mine = built_from(tmp_path / "a")
    theirs = build_content(Settings(), None, {})
    objects = Racing(theirs)
    publish(objects, build_content(Settings(general={"timezone": "Asia/Tokyo"}), None, {}))  # version 1
    result = publish(objects, mine)
    # theirs became version 2 between our read and our write; ours was re-read and written as version 3
    assert result.version == 3
    assert objects.list("settings/versions/")[-1] == "settings/versions/000003.json"


class CountingState:
    """An ``escher.state`` backend that counts what it is asked (a real local store underneath)."""

    def __init__(self, inner: LocalStore) -> None:
        self.inner = inner
        self.url = inner.url
        self.gets = 0
        self.lists = 0

    def get(self, key: str) -> Any:
        self.gets += 1
        return self.inner.get(key)

    def list(self, prefix: str = "") -> Iterator[Any]:
        self.lists += 1
        return self.inner.list(prefix)

    def put_if_absent(self, key: str, data: bytes) -> str:
        return self.inner.put_if_absent(key, data)

    def compare_and_swap(self, key: str, data: bytes, expected_version: str) -> str:
        return self.inner.compare_and_swap(key, data, expected_version)


def test_a_second_invocation_does_not_download_an_unchanged_object(tmp_path: Path) -> None:
    state = CountingState(LocalStore(tmp_path / "state"))
    objects = StateObjects(state)
    publish(objects, built_from(tmp_path))
    state.gets = state.lists = 0
    view = PublishedSettings(objects, max_age=0)
    first = view.current()
    assert (state.gets, state.lists) == (1, 1)  # cold start: the version, then the body
    second = view.current()
    assert second is first and (state.gets, state.lists) == (1, 2)  # only the version was read again
    changed = write_config(tmp_path, CONFIG.replace("Europe/Paris", "Asia/Tokyo"))
    publish(objects, build_content(load_settings(changed, {}), changed, {}))
    state.gets = state.lists = 0
    third = view.current()
    assert third is not None and third.version == 2 and state.gets == 1
    assert settings_from_document(third).general.timezone == "Asia/Tokyo"


def test_within_max_age_nothing_is_asked(tmp_path: Path) -> None:
    state = CountingState(LocalStore(tmp_path / "state"))
    objects = StateObjects(state)
    publish(objects, built_from(tmp_path))
    clock = [100.0]
    view = PublishedSettings(objects, max_age=30, clock=lambda: clock[0])
    view.current()
    state.gets = state.lists = 0
    clock[0] += 29
    view.current()
    assert (state.gets, state.lists) == (0, 0)
    clock[0] += 2
    view.current()
    assert (state.gets, state.lists) == (0, 1)


def test_a_tampered_object_is_refused(tmp_path: Path) -> None:
    objects = MemoryObjects()
    publish(objects, built_from(tmp_path))
    item = objects.get(SETTINGS_KEY)
    assert item is not None
    doc = json.loads(item.data)
    doc["content"]["config"]["extensions"]["remediation"]["make_public_buckets_private"] = False
    objects.put(SETTINGS_KEY, json.dumps(doc).encode())
    with pytest.raises(SettingsDocumentError, match="SHA-256"):
        PublishedSettings(objects, max_age=0).current()


def test_no_object_means_no_published_settings() -> None:
    assert PublishedSettings(MemoryObjects(), max_age=0).current() is None
