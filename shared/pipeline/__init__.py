"""The event-to-remediation pipeline: one path from a cloud event to a verified fix, an audit record, a
notification and an alert.

    normalize -> enrich -> severity -> decide (pre-approved? else request approval) -> plan -> execute ->
    verify -> audit -> notify -> store the alert record

The workers (``escher.workers.aws|azure|gcp``) are thin: they parse the platform's envelope and call
:meth:`Pipeline.handle`. Importing this package imports no cloud SDK; :func:`build_pipeline` wires the real
backends from the environment on first use.
"""

from __future__ import annotations

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
from escher.pipeline.objects import ObjectStore
from escher.pipeline.remediations import REMEDIATIONS, Remediation, remediation_for
from escher.pipeline.runtime import build_pipeline

__all__ = [
    "REMEDIATIONS",
    "DeadLetter",
    "DeadLetterError",
    "DeadLetterSink",
    "EventInProgressError",
    "Markers",
    "ObjectStore",
    "Outcome",
    "PermanentEventError",
    "Pipeline",
    "PipelineError",
    "PipelineResult",
    "Remediation",
    "Stage",
    "StateStoreError",
    "build_pipeline",
    "remediation_for",
]
