"""The brain on 127.0.0.1 and a free port (uvicorn in a thread), recording every body it receives."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from escher.brain.llm import LlmSettings
from escher.brain.server import BrainService, ServerConfig, create_app


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

        self.recorder = Recorder(create_app(service))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.server = uvicorn.Server(uvicorn.Config(self.recorder, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> RunningBrain:
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


@pytest.fixture
def rules_brain() -> Iterator[RunningBrain]:
    with RunningBrain(BrainService(ServerConfig())) as brain:
        yield brain


@pytest.fixture
def claude_brain(fake_anthropic_server: Any, fake_anthropic: Any) -> Iterator[RunningBrain]:
    settings = LlmSettings(api_key="test-key", base_url=fake_anthropic_server.base_url, max_retries=0)
    with RunningBrain(BrainService(ServerConfig(llm=settings))) as brain:
        yield brain
