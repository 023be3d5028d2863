"""The brain on 127.0.0.1 and a free port (uvicorn in a thread), recording every body it receives; and an EC2
estate seeded in moto and read by a real ``escher scan`` (``estate``)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.brain.llm import LlmSettings
from escher.brain.server import BrainService, ServerConfig, create_app
from escher.emulators import MotoEmulator


class Recorder:
    """ASGI wrapper: keeps the raw request bodies the brain received."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def recording_receive() -> Any:
            msg = await receive()
            if msg.get("type") == "http.request":
                self.bodies.append(msg.get("body", b""))
            return msg

        await self.app(scope, recording_receive, send)


class RunningBrain:
    def __init__(self, service: BrainService) -> None:
        import uvicorn

        app = create_app(service)
        self.token: str = app.token  # the clients in these tests find it in ESCHER_BRAIN_TOKEN
        self.recorder = Recorder(app)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.server = uvicorn.Server(uvicorn.Config(self.recorder, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> RunningBrain:
        self._saved_token = os.environ.get("ESCHER_BRAIN_TOKEN")
        os.environ["ESCHER_BRAIN_TOKEN"] = self.token
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the brain did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
        if self._saved_token is None:
            os.environ.pop("ESCHER_BRAIN_TOKEN", None)
        else:
            os.environ["ESCHER_BRAIN_TOKEN"] = self._saved_token


@pytest.fixture
def rules_brain() -> Iterator[RunningBrain]:
    with RunningBrain(BrainService(ServerConfig())) as brain:
        yield brain


@pytest.fixture
def claude_brain(fake_anthropic_server: Any, fake_anthropic: Any) -> Iterator[RunningBrain]:
    settings = LlmSettings(api_key="test-key", base_url=fake_anthropic_server.base_url, max_retries=0)
    with RunningBrain(BrainService(ServerConfig(llm=settings))) as brain:
        yield brain


# -- an EC2 estate in moto, scanned -----------------------------------------------------------------------
@dataclass
class Estate:
    dev: list[str]  # us-east-1, env=dev
    prod: list[str]  # us-east-1, env=prod
    west_dev: list[str]  # us-west-2, env=dev: the region in the question excludes it

    def states(self) -> dict[str, str]:
        import boto3

        out: dict[str, str] = {}
        for region, ids in (("us-east-1", self.dev + self.prod), ("us-west-2", self.west_dev)):
            ec2 = boto3.client("ec2", region_name=region)
            for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
                for i in r["Instances"]:
                    out[i["InstanceId"]] = i["State"]["Name"]
        return out


def _launch(region: str, env: str, n: int) -> list[str]:
    import boto3

    ec2 = boto3.client("ec2", region_name=region)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    spec = {
        "ResourceType": "instance",
        "Tags": [{"Key": "env", "Value": env}, {"Key": "Name", "Value": f"{env}-web"}],
    }
    out = ec2.run_instances(
        ImageId=image, MinCount=n, MaxCount=n, InstanceType="t3.micro", TagSpecifications=[spec]
    )
    return sorted(i["InstanceId"] for i in out["Instances"])


def chat_rows(url: str, home: Path) -> list[dict[str, Any]]:
    """The chat-history collection of the knowledge store, oldest first."""
    from escher.config import Paths
    from escher.store.store import Store

    with Store.open(paths=Paths(home / "config", home / "data"), url=url) as store:
        rows = [r.model_dump(mode="json") for r in store.records("chat", limit=1000)]
    return sorted(rows, key=lambda r: r["at"])


@pytest.fixture
def estate(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> Estate:
    """Seeded in moto, then read by a real scan into the knowledge store (Postgres + pgvector), which is where
    ``escher ask`` finds its context and keeps its chat history."""
    monkeypatch.setenv("ESCHER_USER", "mona")  # no [personas] section: the one user is the manager
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    seeded = Estate(
        _launch("us-east-1", "dev", 2), _launch("us-east-1", "prod", 2), _launch("us-west-2", "dev", 1)
    )
    from escher.cli.main import app

    args = ["scan", "-r", "us-east-1", "-r", "us-west-2", "--checks", "aws.ec2.*", "-o", "json"]
    scanned = CliRunner().invoke(app, args)
    assert scanned.exit_code in (0, 1), scanned.output  # 1: there are findings; the inventory is what counts
    from escher.config import Paths
    from escher.store.store import Store

    with Store.open(paths=Paths(escher_home / "config", escher_home / "data"), url=pg_database) as store:
        items = store.records("inventory", limit=1000)
    seen = {
        getattr(r, "resource_id", "") for r in items if getattr(r, "resource_type", "") == "aws.ec2.instance"
    }
    assert seen == set(seeded.dev + seeded.prod + seeded.west_dev)
    return seeded
