"""The test harness: real servers on 127.0.0.1 and free ports, started once per session and always stopped.

Session fixtures (the server): ``moto``, ``azurite``, ``fake_gcs``, ``gcs_emulator``, ``pubsub_emulator``,
``postgres``, ``fake_anthropic_server``. Function fixtures point the SDKs at them for one test and clean up:
``aws_env`` (moto reset after the test), ``azure_env``, ``gcs_env``, ``pubsub_env``, ``fake_anthropic``,
``pulumi_mocks``, ``escher_home`` (a private config + data dir).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from escher.emulators import (
    AzuriteEmulator,
    EmbeddedPostgres,
    FakeGcsEmulator,
    GcsStorageEmulator,
    MotoEmulator,
    PubSubEmulator,
)
from tests.harness.fake_anthropic import FakeAnthropic, FakeAnthropicServer

if TYPE_CHECKING:
    from tests.harness.pulumi_mocks import Recorder

# Every replay test fails at teardown when a scripted response was never asked for (tests/harness/replay.py).
pytest_plugins = ["tests.harness.replay"]

# Never reach a real cloud or a metadata endpoint from the suite, whatever the developer's shell has.
_SCRUB = (
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "STORAGE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "ANTHROPIC_API_KEY",
    "ESCHER_DATABASE_URL",
    "ESCHER_BRAIN_URL",
    "ESCHER_OUTPUT",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in _SCRUB:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path_factory.getbasetemp() / "no-azure"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path_factory.getbasetemp() / "no-gcloud"))


@pytest.fixture
def escher_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config dir and data dir for one test."""
    monkeypatch.setenv("ESCHER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("ESCHER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _apply(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


# -- AWS --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def moto() -> Iterator[MotoEmulator]:
    with MotoEmulator() as server:
        yield server


@pytest.fixture
def aws_env(moto: MotoEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoEmulator]:
    """boto3 in this test talks to the moto server (AWS_ENDPOINT_URL); the account is emptied afterwards."""
    _apply(monkeypatch, moto.env())
    yield moto
    moto.reset()


# -- Azure ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def azurite() -> Iterator[AzuriteEmulator]:
    with AzuriteEmulator() as server:
        yield server


@pytest.fixture
def azure_env(azurite: AzuriteEmulator, monkeypatch: pytest.MonkeyPatch) -> AzuriteEmulator:
    _apply(monkeypatch, azurite.env())
    return azurite


# -- GCP --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[FakeGcsEmulator]:
    with FakeGcsEmulator() as server:
        yield server


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsStorageEmulator]:
    with GcsStorageEmulator() as server:
        yield server


@pytest.fixture
def gcs_env(fake_gcs: FakeGcsEmulator, monkeypatch: pytest.MonkeyPatch) -> FakeGcsEmulator:
    """google-cloud-storage in this test talks to fake-gcs-server (STORAGE_EMULATOR_HOST)."""
    _apply(monkeypatch, fake_gcs.env())
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "escher-test")
    return fake_gcs


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[PubSubEmulator]:
    emulator = PubSubEmulator()
    if reason := emulator.available():
        pytest.skip(f"Pub/Sub emulator unavailable: {reason}")
    with emulator as server:
        yield server


@pytest.fixture
def pubsub_env(pubsub_emulator: PubSubEmulator, monkeypatch: pytest.MonkeyPatch) -> PubSubEmulator:
    _apply(monkeypatch, pubsub_emulator.env())
    return pubsub_emulator


# -- Postgres + pgvector ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    with EmbeddedPostgres() as server:
        yield server


@pytest.fixture
def pg_database(postgres: EmbeddedPostgres, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database for one test; its URL. Dropped afterwards."""
    import re

    import psycopg

    name = "t_" + re.sub(r"[^a-z0-9]", "_", request.node.name.lower())[:40] + f"_{os.getpid()}"
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres.url(name)
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- Anthropic --------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def fake_anthropic_server() -> Iterator[FakeAnthropicServer]:
    server = FakeAnthropicServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_anthropic(fake_anthropic_server: FakeAnthropicServer) -> FakeAnthropic:
    """A fresh fake behind the loopback server: queue replies, read ``.requests``."""
    fake_anthropic_server.fake = FakeAnthropic()
    return fake_anthropic_server.fake


# -- Pulumi -----------------------------------------------------------------------------------------------
@pytest.fixture
def pulumi_mocks() -> Recorder:
    from tests.harness.pulumi_mocks import install_mocks

    return install_mocks()
