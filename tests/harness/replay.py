"""The SDK-facing half of the functional tests' replays: canned bytes handed to real clients at their transport.

Three SDK seams are covered, each answered by one callable ``answer(method, url, headers, body) -> Reply``:

- :class:`ReplayTransport`: an azure-core ``HttpTransport`` for the azure-* clients;
- :class:`ReplayAdapter`: a ``requests`` adapter for google-cloud-* REST sessions;
- :class:`HttplibReplay`: the ``httplib2.Http`` interface googleapiclient calls.

What to answer (an ordered script, a route table, ...) is the caller's business; here is only the plumbing the
SDKs need, so the clients run unchanged: serialization, URL building, LRO polling and parsing are theirs.

Every scripted request must be made. A transport built on a script's bound method (``Replay(...).reply``) tracks
the script; at the end of the test the autouse fixture :func:`every_scripted_request_made` fails the test with
the responses never asked for (a script says what is left through ``unused()``, or a ``pending`` list). Use
:func:`all_used` to check scripts in the middle of a test. Load the fixture with
``pytest_plugins = ["tests.harness.replay"]`` or by importing it into a conftest.

Scripting what real APIs do, as :class:`Step` lists (``Replay(*steps)`` in the ops tests):
:func:`arm_async_operation` / :func:`arm_location_operation` (ARM long-running operations: 201/202 with
``Azure-AsyncOperation`` / ``Location``, polled to Succeeded, or to Failed with ARM's error body),
:func:`throttled` (429 with ``Retry-After``, then the answer), :func:`server_error` (a 5xx, then the answer),
:func:`arm_pages` / :func:`google_pages` (``nextLink`` / ``nextPageToken``), :func:`arm_not_found` /
:func:`google_not_found` (404 in each API's error shape).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from azure.core.pipeline.transport import HttpTransport
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

Reply = tuple[int, Mapping[str, str], bytes]
"""(status, extra response headers, JSON payload bytes)."""

Answer = Callable[[str, str, Any, Any], Reply]
"""(method, url, request headers, request body) -> :data:`Reply`."""

__all__ = [
    "ARM",
    "AccessAnalyzerEstate",
    "Answer",
    "BotocoreReplay",
    "HttplibReplay",
    "ReplayAdapter",
    "ReplayTransport",
    "Reply",
    "Step",
    "access_analyzer",
    "access_analyzer_in_front_of_moto",
    "all_used",
    "arm_async_operation",
    "arm_error",
    "arm_location_operation",
    "arm_not_found",
    "arm_pages",
    "aws_error",
    "every_scripted_request_made",
    "google_error",
    "google_not_found",
    "google_pages",
    "install_botocore_replay",
    "json_response",
    "server_error",
    "signed_region",
    "throttled",
    "track",
    "unused",
]

ARM = "https://management.azure.com"


# -- every scripted request was made ---------------------------------------------------------------------------
_tracked: list[Any] = []
_tracked_lock = threading.Lock()


def track(script: Any) -> None:
    """Remember ``script`` (anything with ``unused()`` or a ``pending`` list) for the end-of-test check."""
    if script is None or not (hasattr(script, "unused") or hasattr(script, "pending")):
        return
    with _tracked_lock:
        if not any(s is script for s in _tracked):
            _tracked.append(script)


def unused(script: Any) -> list[str]:
    """What ``script`` still holds that no request asked for, one line each."""
    if hasattr(script, "unused"):
        return [str(u) for u in script.unused()]
    return [_describe(p) for p in getattr(script, "pending", [])]


def _describe(item: Any) -> str:
    method, path = getattr(item, "method", None), getattr(item, "path", None)
    if method and path:
        status = getattr(item, "status", 200)
        query = getattr(item, "query", None)
        return f"{method} {path}{'?' + query if query else ''} -> {status}"
    return repr(item)


def _check(scripts: list[Any]) -> None:
    left = [(type(s).__name__, unused(s)) for s in scripts]
    left = [(name, items) for name, items in left if items]
    if left:
        lines = [f"  {name}: {item}" for name, items in left for item in items]
        raise AssertionError(
            "scripted responses were never asked for (make the script exact: every scripted request must be "
            "made):\n" + "\n".join(lines)
        )


@contextmanager
def all_used(*scripts: Any) -> Iterator[None]:
    """Fail on exit if any of ``scripts`` (or, given none, every script tracked so far) has unused responses."""
    yield
    with _tracked_lock:
        chosen = list(scripts) if scripts else list(_tracked)
    _check(chosen)


@pytest.fixture(autouse=True)
def every_scripted_request_made(request: pytest.FixtureRequest) -> Iterator[None]:
    """Autouse: at teardown, fail the test when a script handed to a replay transport has unused responses."""
    with _tracked_lock:
        _tracked.clear()
    yield
    with _tracked_lock:
        scripts = list(_tracked)
        _tracked.clear()
    report = getattr(request.node, "_replay_call_report", None)
    if report is not None and report.failed:
        return  # the test's own failure says more; an unused response after it is its consequence
    _check(scripts)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if call.when == "call":
        item._replay_call_report = outcome.get_result()  # type: ignore[attr-defined]


# -- scripting what the APIs really do -------------------------------------------------------------------------
@dataclass
class Step:
    """One scripted exchange: the request expected (method, path; ``query``: the query must contain it) and the
    response (JSON ``response`` body, ``status``, extra ``headers``)."""

    method: str
    path: str
    response: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    query: str | None = None


def arm_error(code: str, message: str) -> dict[str, Any]:
    """ARM's error response body (``ErrorResponse`` in azure-rest-api-specs' common types)."""
    return {"error": {"code": code, "message": message}}


def arm_not_found(resource_id: str, *, status_path: str | None = None) -> Step:
    """GET of a resource that does not exist: ARM's 404 ``ResourceNotFound`` with its usual message."""
    parts = resource_id.strip("/").split("/")
    lower = [p.lower() for p in parts]
    rg = parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower else ""
    typed = "/".join(parts[lower.index("providers") + 1 :]) if "providers" in lower else resource_id
    message = (
        f"The Resource '{typed}' under resource group '{rg}' was not found. For more details please go to "
        "https://aka.ms/ARMResourceNotFoundFix"
    )
    return Step("GET", status_path or resource_id, arm_error("ResourceNotFound", message), status=404)


def _operation_path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def arm_async_operation(
    method: str,
    path: str,
    operation_url: str,
    *,
    accepted: int = 202,
    body: Any = None,
    in_progress: int = 1,
    error: dict[str, Any] | None = None,
    location: str | None = None,
) -> list[Step]:
    """An ARM long-running operation tracked by ``Azure-AsyncOperation``: the request answered ``accepted``
    (201/202) with the header and ``Retry-After: 0``, then ``in_progress`` polls answering ``InProgress``, then
    ``Succeeded`` - or, with ``error`` (an :func:`arm_error` body), ``Failed`` carrying that error. ``location``
    adds a ``Location`` header too (as Compute does): the SDK then GETs it after success for a POST. The final
    GET of the resource a PUT/PATCH makes after success is the caller's next step."""
    headers = {"Azure-AsyncOperation": operation_url, "Retry-After": "0"}
    if location:
        headers["Location"] = location
    op_path = _operation_path(operation_url)
    name = op_path.rsplit("/", 1)[-1]
    steps = [Step(method, path, body, status=accepted, headers=headers)]
    steps += [Step("GET", op_path, {"name": name, "status": "InProgress"}) for _ in range(in_progress)]
    if error is None:
        steps.append(Step("GET", op_path, {"name": name, "status": "Succeeded"}))
    else:
        steps.append(Step("GET", op_path, {"name": name, "status": "Failed", **error}))
    return steps


def arm_location_operation(
    method: str,
    path: str,
    location: str,
    *,
    in_progress: int = 1,
    result: Any = None,
    error: dict[str, Any] | None = None,
    error_status: int = 400,
) -> list[Step]:
    """An ARM long-running operation tracked by ``Location`` only: 202 with the header, the location answering
    202 ``in_progress`` times, then 200 with ``result`` - or ``error_status`` with ``error`` (ARM's failure)."""
    headers = {"Location": location, "Retry-After": "0"}
    loc_path = _operation_path(location)
    steps = [Step(method, path, None, status=202, headers=headers)]
    steps += [Step("GET", loc_path, None, status=202, headers=headers) for _ in range(in_progress)]
    if error is None:
        steps.append(Step("GET", loc_path, result, status=200))
    else:
        steps.append(Step("GET", loc_path, error, status=error_status))
    return steps


def throttled(step: Step, *, retry_after: str = "0", times: int = 1, google: bool = False) -> list[Step]:
    """``step`` answered 429 ``times`` first (``Retry-After``; ARM's ``TooManyRequests`` body, or Google's
    ``rateLimitExceeded`` with ``google``), then as scripted: the SDK's retry policy must ask again."""
    body = (
        google_error(429, "Quota exceeded for quota metric 'Queries'.", "rateLimitExceeded")
        if google
        else arm_error("TooManyRequests", "The request is being throttled as the limit has been reached.")
    )
    first = Step(
        step.method, step.path, body, status=429, headers={"Retry-After": retry_after}, query=step.query
    )
    return [first] * times + [step]


def server_error(step: Step, *, status: int = 503, times: int = 1, google: bool = False) -> list[Step]:
    """``step`` answered with a 5xx ``times`` first (ARM's or, with ``google``, Google's error body), then as
    scripted: the SDK's retry policy must ask again."""
    body = (
        google_error(status, "The service is currently unavailable.", "backendError")
        if google
        else arm_error("ServiceUnavailable", "The service is temporarily unavailable, retry later.")
    )
    first = Step(step.method, step.path, body, status=status, headers={"Retry-After": "0"}, query=step.query)
    return [first] * times + [step]


def arm_pages(path: str, pages: list[list[Any]], *, api_version: str) -> list[Step]:
    """A list operation answered in pages, each but the last with ARM's absolute ``nextLink`` (a ``$skiptoken``)."""
    steps = []
    for i, page in enumerate(pages):
        body: dict[str, Any] = {"value": page}
        if i < len(pages) - 1:
            body["nextLink"] = f"{ARM}{path}?api-version={api_version}&$skiptoken=page{i + 1}"
        steps.append(Step("GET", path, body, query=f"skiptoken=page{i}" if i else None))
    return steps


def google_pages(path: str, key: str, pages: list[list[Any]], **extra: Any) -> list[Step]:
    """A Google list answered in pages: ``key`` holds the items, ``nextPageToken`` on all but the last; the
    next request must carry ``pageToken``."""
    steps = []
    for i, page in enumerate(pages):
        body: dict[str, Any] = {**extra, key: page}
        if i < len(pages) - 1:
            body["nextPageToken"] = f"page{i + 1}"
        steps.append(Step("GET", path, body, query=f"pageToken=page{i}" if i else None))
    return steps


_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def google_error(code: int, message: str, reason: str) -> dict[str, Any]:
    """Google's JSON error body (``error.code/message/errors[]/status``), as the REST APIs answer."""
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": _GOOGLE_STATUS.get(code, "UNKNOWN"),
        }
    }


def google_not_found(path: str, what: str, *, method: str = "GET") -> Step:
    """A Google API's 404 for ``what`` (``projects/p/zones/z/instances/i``, ``orders-db``)."""
    return Step(
        method, path, google_error(404, f"The resource '{what}' was not found", "notFound"), status=404
    )


def json_response(reply: Reply, url: str, request: Any) -> requests.Response:
    """A ``requests.Response`` carrying ``reply`` as JSON, for requests adapters and azure-core alike."""
    status, headers, payload = reply
    resp = requests.Response()
    resp.status_code = status
    resp.raw = io.BytesIO(payload)
    resp.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
    resp.url = url
    resp.request = request
    resp.encoding = "utf-8"
    return resp


class ReplayTransport(HttpTransport):  # type: ignore[misc]
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        track(getattr(answer, "__self__", None))

    def request_body(self, request: Any) -> Any:
        return request.content

    def send(self, request: Any, **kwargs: Any) -> Any:
        from azure.core.rest._requests_basic import RestRequestsTransportResponse

        reply = self.answer(request.method, request.url, request.headers, self.request_body(request))
        response = RestRequestsTransportResponse(
            request=request, internal_response=json_response(reply, request.url, None)
        )
        response.read()
        return response

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> ReplayTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        pass


class ReplayAdapter(BaseAdapter):  # type: ignore[misc]
    def __init__(self, answer: Answer) -> None:
        super().__init__()
        self.answer = answer
        track(getattr(answer, "__self__", None))

    def send(self, request: Any, **kwargs: Any) -> requests.Response:
        reply = self.answer(request.method, request.url, request.headers, request.body)
        return json_response(reply, request.url, request)

    def close(self) -> None:
        pass


class HttplibReplay:
    """What googleapiclient needs from ``httplib2.Http``: ``request()`` returning (response, content)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        track(getattr(answer, "__self__", None))

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **kw: Any) -> Any:
        import httplib2

        status, extra, payload = self.answer(method, uri, headers, body)
        return httplib2.Response({"status": status, "content-type": "application/json", **extra}), payload


# -- botocore ------------------------------------------------------------------------------------------------
class _RawBody:
    """What ``botocore.awsrequest.AWSResponse`` reads its body from (``stream()``, as urllib3's response)."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self.payload


def signed_region(headers: Any) -> str:
    """The region a SigV4-signed botocore request was signed for (its ``Authorization`` credential scope):
    with ``AWS_ENDPOINT_URL`` set the URL no longer names it."""
    auth = headers.get("Authorization", b"")
    auth = auth.decode() if isinstance(auth, bytes) else str(auth)
    scope = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    return scope[2] if len(scope) > 2 else ""


class BotocoreReplay:
    """A ``before-send`` handler answering one botocore service at its transport: botocore emits
    ``before-send.<service-id>.<Operation>`` with the signed request just before the HTTP send, and sends
    nothing when a handler returns an ``AWSResponse`` (botocore's documented hook for this). The real client
    builds, signs and parses; only the bytes are canned. ``answer`` returning None lets the request through
    (to the emulator). :func:`install_botocore_replay` registers it on every botocore session made after."""

    def __init__(self, service_id: str, answer: Callable[[str, str, Any, Any], Reply | None]) -> None:
        self.service_id = service_id
        self.answer = answer
        track(getattr(answer, "__self__", None))

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        reply = self.answer(request.method, request.url, request.headers, request.body)
        if reply is None:
            return None
        status, headers, payload = reply
        return AWSResponse(
            request.url, status, {"Content-Type": "application/json", **headers}, _RawBody(payload)
        )


def install_botocore_replay(monkeypatch: pytest.MonkeyPatch, replay: BotocoreReplay) -> None:
    """Register ``replay`` with the handlers every new botocore session starts with (for this test only), so
    the sessions the collectors make for themselves send the service's requests to it."""
    from botocore import handlers

    event = ("before-send." + replay.service_id, replay)
    monkeypatch.setattr(handlers, "BUILTIN_HANDLERS", [*handlers.BUILTIN_HANDLERS, event])


def aws_error(status: int, code: str, message: str) -> Reply:
    """A rest-json service's error (``x-amzn-ErrorType`` and a ``message`` body), as Access Analyzer answers."""
    return status, {"x-amzn-ErrorType": code}, json.dumps({"message": message}).encode()


def access_analyzer(
    name: str, region: str, *, type_: str = "ACCOUNT", status: str = "ACTIVE"
) -> dict[str, Any]:
    """One ``AnalyzerSummary`` of ListAnalyzers (botocore's accessanalyzer service-2.json)."""
    summary: dict[str, Any] = {
        "arn": f"arn:aws:access-analyzer:{region}:123456789012:analyzer/{name}",
        "name": name,
        "type": type_,
        "createdAt": "2026-01-05T09:00:00Z",
        "status": status,
    }
    if status == "FAILED":
        summary["statusReason"] = {"code": "SERVICE_LINKED_ROLE_CREATION_FAILED"}
    return summary


@dataclass
class AccessAnalyzerEstate:
    """IAM Access Analyzer for a moto account (moto has none): ListAnalyzers answered per region from
    ``regions`` (region -> analyzer summaries); a region not in it gets ``default`` (None: the request goes on
    to moto, which cannot answer it). ``asked`` counts the regions' requests."""

    regions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    default: Callable[[str], list[dict[str, Any]]] | None = None
    asked: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, method: str, url: str, headers: Any, body: Any) -> Reply | None:
        from urllib.parse import urlsplit

        region = signed_region(headers)
        assert (method, urlsplit(url).path) == ("GET", "/analyzer"), f"unexpected {method} {url}"
        with self._lock:
            self.asked[region] = self.asked.get(region, 0) + 1
        if region in self.regions:
            found = self.regions[region]
        elif self.default is not None:
            found = self.default(region)
        else:
            return None
        return 200, {}, json.dumps({"analyzers": found}).encode()

    def unused(self) -> list[str]:
        return [f"GET /analyzer in {r}" for r in self.regions if not self.asked.get(r)]


def _one_active_analyzer(region: str) -> list[dict[str, Any]]:
    return [access_analyzer("default", region)]


@pytest.fixture(autouse=True)
def access_analyzer_in_front_of_moto(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, every_scripted_request_made: None
) -> Iterator[AccessAnalyzerEstate | None]:
    """Autouse for tests on the moto server (``aws_env``/``moto``): moto 5.2.6 has no IAM Access Analyzer (it
    answers 500 "Unable to find appropriate backend"), so its ListAnalyzers is replayed in front of moto, one
    ACTIVE account analyzer per region unless the test says otherwise (request this fixture and set
    ``regions``, or ``default = None`` to let the requests reach moto)."""
    if not {"aws_env", "moto"} & set(request.fixturenames):
        yield None
        return
    estate = AccessAnalyzerEstate(default=_one_active_analyzer)
    install_botocore_replay(monkeypatch, BotocoreReplay("accessanalyzer", estate.reply))
    # the escher processes the test starts (``escher scan`` as a subprocess) get the same default through a
    # botocore client plugin; only its folder goes on their path
    import os
    from pathlib import Path

    plugins = str(Path(__file__).parent / "botocore_plugins")
    monkeypatch.setenv(
        "BOTOCORE_EXPERIMENTAL__PLUGINS", "escher_moto_access_analyzer=escher_moto_access_analyzer"
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (plugins, os.environ.get("PYTHONPATH")) if p))
    yield estate
