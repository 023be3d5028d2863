"""The brain's latency: the deterministic planner per utterance, the client's full local path, and ``/v1/ask``
on loopback (uvicorn on 127.0.0.1, a free port) — over the golden utterances and their test estate.

    python -m bench brain

Figures are printed, not asserted. Claude is not involved: the server runs without an API key (rules only), so
the round trip measures parsing, credential scanning, validation, planning, the guard and HTTP.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "unit" / "brain" / "golden_utterances.json"
ROUNDS = 30  # per utterance, in process
HTTP_ROUNDS = 10  # per utterance, over loopback


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def _time(fn: Callable[[], Any], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _report(label: str, samples: list[float], n_utterances: int) -> None:
    p50, p99, worst = _percentiles(samples)
    print(f"{label:46s} p50 {p50 * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms  max {worst * 1000:7.2f} ms"
          f"  ({n_utterances} utterances, {len(samples)} samples)")  # fmt: skip


@contextmanager
def _server(app: Any) -> Iterator[str]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the brain did not start for the benchmark")
        time.sleep(0.02)
    host, port = sock.getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main() -> None:
    import httpx2

    from escher.assist.client import Assistant, HttpBrain
    from escher.assist.sources import MemorySource
    from escher.brain.models import AskRequest
    from escher.brain.server import BrainService, ServerConfig, create_app
    from tests.unit.brain.estate import ESTATE

    golden = [case["q"] for case in json.loads(GOLDEN.read_text())]
    service = BrainService(
        ServerConfig(rate_per_minute=0)
    )  # no API key: the planner; one client, no rate limit
    requests = [AskRequest(query=q, context=ESTATE) for q in golden]
    print(f"estate: {len(ESTATE)} context items; {len(golden)} golden utterances")

    samples: list[float] = []
    per_utterance: list[tuple[float, str]] = []
    for req in requests:
        service.ask(req)  # warm
        times = _time(lambda r=req: service.ask(r), ROUNDS)  # type: ignore[misc]
        samples.extend(times)
        per_utterance.append((statistics.median(times), req.query))
    _report("planner (BrainService.ask, in process)", samples, len(golden))
    slowest = max(per_utterance)
    print(f"  slowest utterance: {slowest[0] * 1000:.2f} ms median  {slowest[1]!r}")

    assistant = Assistant([MemorySource(ESTATE)])
    client_samples: list[float] = []
    for q in golden:
        assistant.ask(q, local_only=True)
        client_samples.extend(_time(lambda q=q: assistant.ask(q, local_only=True), ROUNDS // 3))  # type: ignore[misc]
    _report("client, local (select+scrub+pseudonymize+guard)", client_samples, len(golden))

    from pydantic import TypeAdapter

    from escher.brain.models import AskResponse
    from escher.brain.server import parse_body

    adapter: TypeAdapter[Any] = TypeAdapter(AskResponse)
    raws = [json.dumps(r.model_dump(mode="json")).encode() for r in requests]
    handler: list[float] = []
    for raw in raws:  # what a route does, minus the socket: parse, credential scan, validate, plan, serialize
        handler.extend(_time(lambda b=raw: json.dumps(adapter.dump_python(  # type: ignore[misc]
            service.ask(parse_body(b, AskRequest, 1_000_000)), mode="json")), ROUNDS // 3))  # fmt: skip
    _report("server handler without the socket", handler, len(golden))

    app = create_app(service)
    auth = {"authorization": f"Bearer {app.token}"}
    with _server(app) as url:
        bodies = [r.model_dump(mode="json") for r in requests]
        print(f"request body: median {statistics.median(len(json.dumps(b)) for b in bodies)} bytes")
        with httpx2.Client(timeout=30, headers=auth) as http:
            kept: list[float] = []
            for body in bodies:
                assert http.post(f"{url}/v1/ask", json=body).status_code == 200
                kept.extend(_time(lambda b=body: http.post(f"{url}/v1/ask", json=b), HTTP_ROUNDS))  # type: ignore[misc]
        _report("POST /v1/ask, loopback, kept-alive connection", kept, len(golden))
        brain = HttpBrain(url, token=app.token)  # what the CLI does: one connection per question
        fresh: list[float] = []
        for req in requests:
            fresh.extend(_time(lambda r=req: brain.ask(r), HTTP_ROUNDS))  # type: ignore[misc]
        _report("HttpBrain.ask, loopback, new connection", fresh, len(golden))
    print(
        "  note: the kept-alive figure is ~40 ms above the handler: most likely TCP delayed ACK on loopback (not verified);"
    )
    print(
        "  a new connection avoids it but pays for the client's setup. The brain's own work is the handler line."
    )


if __name__ == "__main__":
    main()
