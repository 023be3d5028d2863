"""The event-to-remediation pipeline: one path from a cloud event to a verified fix, an audit record, a
notification and an alert.

    normalize -> enrich -> severity -> decide (pre-approved? else request approval) -> plan -> execute ->
    verify -> audit -> notify -> store the alert record

The workers (``escher.workers.aws|azure|gcp``) are thin: they parse the platform's envelope and call
:meth:`Pipeline.handle`. Importing this package imports nothing else: the names below load their module on
first use (a worker's cold import stays a few milliseconds; eager re-exports would cost ~150 ms of pydantic
models before the first event arrives).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from escher.pipeline.core import Outcome, Pipeline, PipelineResult
    from escher.pipeline.deadletter import DeadLetter, DeadLetterSink
    from escher.pipeline.errors import (
        DeadLetterError,
        EventInProgressError,
        PermanentEventError,
        PipelineError,
        StateStoreError,
    )
    from escher.pipeline.markers import Markers, Stage
    from escher.pipeline.objects import PipelineObjects
    from escher.pipeline.remediations import Remediation, load_remediations, remediation_for
    from escher.pipeline.runtime import build_pipeline

_WHERE = {
    "Outcome": "core",
    "Pipeline": "core",
    "PipelineResult": "core",
    "DeadLetter": "deadletter",
    "DeadLetterSink": "deadletter",
    "DeadLetterError": "errors",
    "EventInProgressError": "errors",
    "PermanentEventError": "errors",
    "PipelineError": "errors",
    "StateStoreError": "errors",
    "Markers": "markers",
    "Stage": "markers",
    "PipelineObjects": "objects",
    "load_remediations": "remediations",
    "Remediation": "remediations",
    "remediation_for": "remediations",
    "build_pipeline": "runtime",
}

__all__ = [
    "DeadLetter",
    "DeadLetterError",
    "DeadLetterSink",
    "EventInProgressError",
    "Markers",
    "Outcome",
    "PermanentEventError",
    "Pipeline",
    "PipelineError",
    "PipelineObjects",
    "PipelineResult",
    "Remediation",
    "Stage",
    "StateStoreError",
    "build_pipeline",
    "load_remediations",
    "remediation_for",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'escher.pipeline' has no attribute {name!r}")
    return getattr(importlib.import_module(f"escher.pipeline.{module}"), name)
