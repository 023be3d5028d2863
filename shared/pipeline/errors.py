"""Errors of the event-to-remediation pipeline.

Two kinds matter to a worker: :class:`PermanentEventError` (this delivery can never succeed: the event goes to
the dead-letter destination with the reason, and the platform is told it was handled) and everything else
(transient: the platform retries the delivery; at-least-once markers make the retry safe).
"""

from __future__ import annotations

from escher.errors import EscherError

__all__ = [
    "DeadLetterError",
    "EventInProgressError",
    "PermanentEventError",
    "PipelineError",
    "StateStoreError",
]


class PipelineError(EscherError):
    """The pipeline cannot handle an event as configured."""


class PermanentEventError(PipelineError):
    """This event cannot be handled however often it is delivered (bad payload, no target in it, ...)."""


class EventInProgressError(PipelineError):
    """Another delivery of the same event holds the marker right now; retry later (it is not lost)."""

    exit_code = 75  # EX_TEMPFAIL


class StateStoreError(PipelineError):
    """The state storage (markers, audit objects, alerts) cannot be read or written."""


class DeadLetterError(PipelineError):
    """The dead-letter destination is unreachable or misconfigured: the event is NOT parked anywhere."""
