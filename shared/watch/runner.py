"""``escher watch``: read what happened since the last watermark and hand each event to the one pipeline.

One round (:meth:`Watcher.run_once`): for every feed, read [watermark - overlap, now], normalize each record
through the same normalizers as the workers (``escher.events``; a record that does not normalize is
dead-lettered with the reason, never dropped), run it through the pipeline, then move the watermark. A feed that
cannot be read is reported with the reason and, for AWS, the critical-state check runs instead
(:mod:`escher.watch.state`). The pipeline is the workers' own (:func:`escher.pipeline.runtime.build_pipeline`)
with the laptop's settings: the remediation switches, the approvals file ``escher approvals`` reads, the
store's signed ledger as the audit sink, alerts in the state storage ``escher alerts`` reads.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from escher.errors import EscherError
from escher.watch.feeds import ActivityFeed, FeedUnavailable, StateCheck
from escher.watch.state import StateDiff, finding_event
from escher.watch.watermarks import Watermarks

if TYPE_CHECKING:
    from escher.pipeline.core import Pipeline, PipelineResult

__all__ = ["FeedReport", "WatchConfig", "Watcher", "build_watcher"]


@dataclass(frozen=True)
class WatchConfig:
    """``[watch]`` in config.toml."""

    interval_seconds: float = 60.0
    lookback_minutes: float = 60.0  # a feed's first read reaches this far back
    state_check: str = "fallback"  # "fallback" (when AWS's activity API fails), "always", "off"

    @classmethod
    def from_extensions(cls, extensions: Mapping[str, Any]) -> WatchConfig:
        from pydantic import BaseModel, ConfigDict, Field, ValidationError

        from escher.errors import EscherError

        class _Watch(BaseModel):
            model_config = ConfigDict(extra="forbid")
            interval_seconds: float = Field(default=60.0, ge=5)
            lookback_minutes: float = Field(default=60.0, gt=0, le=60 * 24 * 90)
            state_check: str = Field(default="fallback", pattern="^(fallback|always|off)$")

        try:
            raw = _Watch.model_validate(extensions.get("watch") or {})
        except ValidationError as exc:
            raise EscherError(
                f"[watch] in the config is not valid: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}",
                hint="interval_seconds >= 5, lookback_minutes > 0, state_check = fallback | always | off",
            ) from None
        return cls(**raw.model_dump())


@dataclass
class FeedReport:
    feed: str
    read: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def add(self, result: PipelineResult) -> None:
        self.read += 1
        self.outcomes[result.outcome.value] += 1
        self.results.append(result.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "read": self.read,
            "outcomes": dict(self.outcomes),
            "error": self.error,
            "results": self.results,
        }


@dataclass
class Watcher:
    pipeline: Pipeline
    feeds: list[ActivityFeed]
    watermarks: Watermarks
    state_checks: list[tuple[str, StateCheck]] = field(default_factory=list)  # (cloud:account, check)
    config: WatchConfig = field(default_factory=WatchConfig)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def run_once(self) -> list[FeedReport]:
        now = self.clock()
        reports: list[FeedReport] = []
        failed_clouds: set[str] = set()
        for feed in self.feeds:
            report = FeedReport(feed.name)
            reports.append(report)
            since = self.watermarks.since(feed.name, now, timedelta(minutes=self.config.lookback_minutes))
            try:
                for record in feed.read(since, now):
                    report.add(self._handle(record, f"watch:{feed.name}", now))
            except FeedUnavailable as exc:
                report.error = str(exc)
                failed_clouds.add(feed.cloud)
                continue
            except EscherError as exc:  # a transient pipeline failure (state storage, ledger): retried next
                report.error = f"stopped after {report.read} records: {exc}"[:500]  # round from the watermark
                continue
            self.watermarks.advance(feed.name, now)
        if self.config.state_check != "off":
            for scope, check in self.state_checks:
                cloud = scope.split(":", 1)[0]
                if self.config.state_check == "always" or cloud in failed_clouds or not self.feeds:
                    reports.append(self._check_state(scope, check, now))
        return reports

    def _handle(self, record: dict[str, Any], source: str, now: datetime) -> PipelineResult:
        """A record the API returned, checked like a worker's delivery (size, depth, JSON) before anything
        reads it: one that is not is dead-lettered with the reason, never dropped."""
        from escher.pipeline import payloads
        from escher.pipeline.core import _delivery_id
        from escher.pipeline.errors import PermanentEventError

        try:
            payloads.check(record)
        except PermanentEventError as exc:
            return self.pipeline.dead_letter(
                record, exc, source=source, received_at=now, event_id=_delivery_id(record)
            )
        return self.pipeline.handle(record, source=source, received_at=now)

    def _check_state(self, scope: str, check: StateCheck, now: datetime) -> FeedReport:
        from escher.clouds import provider

        cloud = provider(scope.split(":", 1)[0])
        report = FeedReport(f"{scope}:state")
        diff = StateDiff(self.watermarks.objects, scope)
        try:
            findings = {f.key: f for f in check.findings()}
        except cloud.errors() as exc:
            error = cloud.translate(exc)
            report.error = f"the critical-state check failed: {error.message if error else exc}"[:300]
            return report
        state, to_raise = diff.diff(list(findings.values()), now)
        diff.save(state)  # the ids are fixed before anything acts: a crash re-raises the same ids
        account = scope.split(":", 1)[-1]
        for key in to_raise:
            entry = state[key]
            event = finding_event(findings[key], entry["event_id"], account, now)
            try:
                report.add(self.pipeline.handle_event(event, received_at=now))
            except EscherError as exc:  # left unhandled: the next round raises the same id again
                report.error = f"{key}: {exc}"[:500]
                continue
            entry["handled"] = True
            diff.save(state)
        return report

    def run_forever(
        self, on_round: Callable[[list[FeedReport]], None], sleep: Callable[[float], None] = time.sleep
    ) -> None:
        while True:
            started = time.monotonic()
            try:
                reports = self.run_once()
            except EscherError as exc:  # the state storage itself: say so, try again next interval
                reports = [FeedReport("watch", error=str(exc))]
            on_round(reports)
            sleep(max(0.0, self.config.interval_seconds - (time.monotonic() - started)))


def build_watcher(env: Mapping[str, str] | None = None, *, pipeline: Pipeline | None = None) -> Watcher:
    """The watcher for this laptop: a feed per configured cloud, account and region, the laptop's pipeline."""
    import os

    from escher.config import load_settings, resolve_paths

    env = dict(os.environ if env is None else env)
    paths = resolve_paths(env)
    settings = load_settings(paths, env)
    config = WatchConfig.from_extensions(settings.extensions)
    if pipeline is None:
        pipeline = local_pipeline(env)
    from escher.clouds import PROVIDERS

    feeds: list[ActivityFeed] = []
    checks: list[tuple[str, StateCheck]] = []
    for (
        cloud
    ) in PROVIDERS.values():  # each enabled cloud's feeds and state checks, as its provider names them
        if "watch" in cloud.refs and cloud.enabled(settings):
            sources = cloud.load("watch")(pipeline.cloud, settings)
            feeds += sources.feeds
            checks += sources.checks
    from escher.pipeline.runtime import state_objects

    return Watcher(pipeline, feeds, Watermarks(state_objects(env, settings.extensions)), checks, config)


def local_pipeline(env: Mapping[str, str]) -> Pipeline:
    """The workers' pipeline with the laptop's ledger as its audit sink (one ledger for every path)."""
    from escher.audit.ledger import LedgerAuditSink
    from escher.config import resolve_paths
    from escher.pipeline.runtime import build_pipeline

    return build_pipeline("local", env, audit=LedgerAuditSink(resolve_paths(dict(env))))
