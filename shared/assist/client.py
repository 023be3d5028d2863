"""The conversational client: context in, typed answer out, with privacy on the way and a guard on return.

    assistant = Assistant(sources=[...], brain=HttpBrain(url), history=JsonlChatLog(path))
    answer = assistant.ask("stop all dev VMs in us-east-1")
    answer.response          # InformationResponse | ExecutionResponse | PlaybookResponse
    answer.source            # "brain" or "local" (the deterministic planner, in process)

What leaves the machine is exactly :meth:`Assistant.prepare`'s request: the query, the minimal context the
sources found (scrubbed: no credential-shaped string and no secret-named field survives) and the last few chat
turns, with identities replaced by ``person-NNNN`` tokens that :meth:`Pseudonymizer.restore` maps back in the
answer. A question that itself contains a credential is refused before anything is sent.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from pydantic import TypeAdapter, ValidationError

from escher.assist.history import ChatLog
from escher.assist.sources import ContextSource, gather
from escher.brain.models import (
    AskRequest,
    AskResponse,
    ContextItem,
    EventAnalysisRequest,
    EventAnalysisResponse,
    ExecutionResponse,
    ReportSummaryRequest,
    ReportSummaryResponse,
)
from escher.clouds import CLOUDS
from escher.errors import EscherError
from escher.privacy import (
    CredentialInPayloadError,
    Pseudonymizer,
    find_credentials,
    find_credentials_in,
    scrub,
)

if TYPE_CHECKING:
    from escher.events.model import UnifiedEvent

__all__ = [
    "Analysis",
    "Answer",
    "Assistant",
    "Brain",
    "BrainError",
    "BrainUnavailableError",
    "HttpBrain",
    "LocalBrain",
]

_ASK: TypeAdapter[Any] = TypeAdapter(AskResponse)
HISTORY_TURNS = 5
R = TypeVar("R", EventAnalysisResponse, ReportSummaryResponse)


class BrainUnavailableError(EscherError):
    """The brain cannot be reached (connection refused, DNS, timeout)."""


class BrainError(EscherError):
    """The brain answered with a typed error."""

    def __init__(self, message: str, *, hint: str | None = None, status: int = 0, error: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.error = error


class Brain(Protocol):
    name: str

    def ask(self, req: AskRequest) -> AskResponse: ...
    def analyze_event(self, req: EventAnalysisRequest) -> EventAnalysisResponse: ...
    def summarize_report(self, req: ReportSummaryRequest) -> ReportSummaryResponse: ...


class HttpBrain:
    """The brain over HTTP (self-hosted or Escher's), with ``httpx2``.

    Every request carries ``Authorization: Bearer <token>``: ``token``, else ``ESCHER_BRAIN_TOKEN`` (the
    factory passes ``[brain] token``, or the local brain's token file for a loopback URL)."""

    def __init__(
        self, url: str, *, timeout: float = 30.0, transport: Any = None, token: str | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.name = self.url
        self.timeout = timeout
        self._transport = transport
        self._token = token if token is not None else os.environ.get("ESCHER_BRAIN_TOKEN") or None

    def __repr__(self) -> str:  # never the token
        return f"HttpBrain({self.url!r})"

    def _post(self, path: str, body: Any) -> Any:
        import httpx2

        try:
            headers = {"authorization": f"Bearer {self._token}"} if self._token else {}
            with httpx2.Client(timeout=self.timeout, transport=self._transport) as client:
                resp = client.post(f"{self.url}{path}", json=body, headers=headers)
        except httpx2.TransportError as exc:
            raise BrainUnavailableError(f"the brain at {self.url} cannot be reached ({type(exc).__name__})",
                                        hint="check [brain] url in the config or ESCHER_BRAIN_URL") from None  # fmt: skip
        try:
            data = resp.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BrainError(f"the brain answered HTTP {resp.status_code} with a body that is not JSON",
                             hint="is the URL an Escher brain? 'escher brain serve' starts one", status=resp.status_code) from None  # fmt: skip
        if resp.status_code != 200:
            if not isinstance(data, dict):
                data = {}
            hint = data.get("hint")
            if resp.status_code == 401:
                hint = ("set ESCHER_BRAIN_TOKEN or [brain] token to the token `escher brain serve` printed"
                        if not self._token else "the brain has another token: copy the one `escher brain serve` printed")  # fmt: skip
            raise BrainError(str(data.get("message", f"HTTP {resp.status_code}")), hint=hint,
                             status=resp.status_code, error=str(data.get("error", "")))  # fmt: skip
        return data

    def ask(self, req: AskRequest) -> AskResponse:
        data = self._post("/v1/ask", req.model_dump(mode="json"))
        try:
            parsed: AskResponse = _ASK.validate_python(data)
        except ValidationError as exc:
            raise BrainError(f"the brain's answer does not match the v1 schema ({exc.error_count()} problems)",
                             hint="client and brain versions differ; upgrade the older one") from None  # fmt: skip
        return parsed

    def analyze_event(self, req: EventAnalysisRequest) -> EventAnalysisResponse:
        return EventAnalysisResponse.model_validate(
            self._post("/v1/events/analyze", req.model_dump(mode="json"))
        )

    def summarize_report(self, req: ReportSummaryRequest) -> ReportSummaryResponse:
        return ReportSummaryResponse.model_validate(
            self._post("/v1/reports/summarize", req.model_dump(mode="json"))
        )


class LocalBrain:
    """The deterministic planner in this process: the answer when no brain is configured or reachable."""

    name = "local planner"

    def __init__(self) -> None:
        from escher.brain.server import BrainService, ServerConfig

        self._service = BrainService(ServerConfig())  # no API key: rules only

    def ask(self, req: AskRequest) -> AskResponse:
        return self._service.ask(req)

    def analyze_event(self, req: EventAnalysisRequest) -> EventAnalysisResponse:
        return self._service.analyze_event(req)

    def summarize_report(self, req: ReportSummaryRequest) -> ReportSummaryResponse:
        return self._service.summarize_report(req)


@dataclass
class Answer:
    response: AskResponse
    source: Literal["brain", "local"]
    conversation_id: str
    notices: list[str] = field(default_factory=list)
    withheld: int = 0  # how many values were withheld as credential-shaped (kinds only are ever shown)
    pseudonymized: int = 0
    accounts: dict[str, str] = field(default_factory=dict)  # resource id -> its account, from the context

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source, "conversation_id": self.conversation_id,
                                "notices": self.notices, "withheld": self.withheld,
                                "response": _ASK.dump_python(self.response, mode="json")}  # fmt: skip
        if isinstance(self.response, ExecutionResponse):
            data["operation_ids"] = self.response.operation_ids
        return data


@dataclass
class Analysis(Generic[R]):
    """An event analysis or a report summary, with where it came from and what was withheld on the way."""

    response: R
    source: Literal["brain", "local"]
    notices: list[str] = field(default_factory=list)
    withheld: int = 0
    pseudonymized: int = 0


def _outbound(payload: Any) -> tuple[Any, Pseudonymizer, int]:
    """Scrubbed (credentials and secret-named fields withheld), then identities pseudonymized."""
    clean, withheld = scrub(payload)
    names = Pseudonymizer()
    out = names.apply(clean)
    leftover = find_credentials_in(out)
    if leftover:  # scrub and the server use the same patterns: this is a bug, never send
        raise CredentialInPayloadError(leftover)
    return out, names, len({f.where for f in withheld})  # values, not kinds: one value may show several


class Assistant:
    def __init__(
        self,
        sources: list[ContextSource],
        brain: Brain | None = None,
        *,
        history: ChatLog | None = None,
        local: Brain | None = None,
        clouds: list[str] | None = None,
        accounts: list[str] | None = None,
    ) -> None:
        self.sources = sources
        self.accounts = accounts  # None: the whole estate; else the context is only these accounts
        self.brain = brain
        self.history = history
        self._local = local
        self.clouds = [c for c in (clouds or []) if c in CLOUDS]

    @property
    def local(self) -> Brain:
        if self._local is None:
            self._local = LocalBrain()
        return self._local

    def prepare(self, query: str, conversation_id: str) -> tuple[AskRequest, Pseudonymizer, int]:
        """Exactly what will be sent, and the mapping that restores identities in the answer."""
        found = find_credentials(query, "query")
        if found:
            raise CredentialInPayloadError(found)
        items = gather(query, self.sources, accounts=self.accounts)
        turns = self.history.recent(conversation_id, HISTORY_TURNS) if self.history else []
        payload = {"query": query, "clouds": self.clouds,
                   "context": [i.model_dump(mode="json", exclude_defaults=True) for i in items],
                   "history": [t.model_dump() for t in turns]}  # fmt: skip
        out, names, withheld = _outbound(payload)
        return AskRequest.model_validate(out), names, withheld

    def ask(self, query: str, *, conversation_id: str | None = None, local_only: bool = False) -> Answer:
        conversation_id = conversation_id or uuid.uuid4().hex[:12]
        req, names, withheld = self.prepare(query, conversation_id)
        notices: list[str] = []
        source: Literal["brain", "local"] = "local"
        if self.brain is None or local_only:
            response = self.local.ask(req)
            notices.append(
                "answered by the local planner" + ("" if local_only else " (no brain URL is configured)")
            )
        else:
            try:
                response = self.brain.ask(req)
                source = "brain"
            except BrainUnavailableError as exc:
                response = self.local.ask(req)
                notices.append(f"{exc.message}; answered by the local planner instead")
        if withheld:
            notices.append(f"{withheld} credential-shaped value(s) were withheld from the context")
        restored: AskResponse = _ASK.validate_python(names.restore(_ASK.dump_python(response, mode="json")))
        original = AskRequest.model_validate(names.restore(req.model_dump(mode="json")))
        restored = self._guard(restored, original, notices)
        if self.history is not None:
            self.history.append(conversation_id, "user", query)
            self.history.append(conversation_id, "assistant", f"[{restored.kind}] {restored.summary}")
        owners = {c.id: c.account for c in original.context if c.kind == "resource" and c.account}
        return Answer(restored, source, conversation_id, notices, withheld, names.count, owners)

    def _guard(self, response: AskResponse, req: AskRequest, notices: list[str]) -> AskResponse:
        """Whatever the brain said, the client re-validates the plan against its own catalogue."""
        if not isinstance(response, ExecutionResponse):
            return response
        from escher.brain.catalog import OpsCatalog
        from escher.brain.guard import guard_steps
        from escher.brain.planner import known_targets

        result = guard_steps(response.steps, OpsCatalog(), known_targets=known_targets(req))
        notices.extend(n for n in result.notices if n not in response.notices)
        return response.model_copy(update={"steps": result.steps})

    # -- events and reports ----------------------------------------------------------------------------------
    def _call(
        self, call: Callable[[Brain], R], local_only: bool
    ) -> tuple[R, Literal["brain", "local"], list[str]]:
        if self.brain is None or local_only:
            return call(self.local), "local", ["answered by the local rules (no brain URL is configured)"]
        try:
            return call(self.brain), "brain", []
        except BrainUnavailableError as exc:
            return call(self.local), "local", [f"{exc.message}; answered by the local rules instead"]

    def analyze_event(
        self,
        event: UnifiedEvent | EventAnalysisRequest,
        *,
        context: Sequence[ContextItem] = (),
        local_only: bool = False,
    ) -> Analysis[EventAnalysisResponse]:
        """Severity, root cause, first aid and a playbook for an event; its raw payload never leaves."""
        from escher.assist.alerts import event_request

        req = event if isinstance(event, EventAnalysisRequest) else event_request(event, context)
        out, names, withheld = _outbound(req.model_dump(mode="json", exclude_defaults=True))
        sent = EventAnalysisRequest.model_validate(out)
        response, source, notices = self._call(lambda b: b.analyze_event(sent), local_only)
        restored = EventAnalysisResponse.model_validate(names.restore(response.model_dump(mode="json")))
        if (
            restored.first_aid
        ):  # the brain's first aid is a plan too: re-guarded against this client's catalogue
            from escher.brain.catalog import OpsCatalog
            from escher.brain.guard import guard_steps

            ev = req.event
            known = {ev.resource.id, ev.resource.name, ev.region, *(c.id for c in req.context)} - {""}
            result = guard_steps(restored.first_aid, OpsCatalog(), known_targets=known)
            notices.extend(n for n in result.notices if n not in restored.notices)
            restored = restored.model_copy(update={"first_aid": result.steps})
        if withheld:
            notices.append(f"{withheld} credential-shaped value(s) were withheld from the event")
        return Analysis(restored, source, notices, withheld, names.count)

    def summarize_report(
        self, req: ReportSummaryRequest, *, local_only: bool = False
    ) -> Analysis[ReportSummaryResponse]:
        """A prioritised narrative of scan results and cost, scrubbed and pseudonymized like a question."""
        out, names, withheld = _outbound(req.model_dump(mode="json", exclude_defaults=True))
        sent = ReportSummaryRequest.model_validate(out)
        response, source, notices = self._call(lambda b: b.summarize_report(sent), local_only)
        restored = ReportSummaryResponse.model_validate(names.restore(response.model_dump(mode="json")))
        if withheld:
            notices.append(f"{withheld} credential-shaped value(s) were withheld from the report")
        return Analysis(restored, source, notices, withheld, names.count)
