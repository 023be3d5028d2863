"""Admission of a new schedule: refuse at ``schedule add`` what the policy gate would refuse every night.

A scheduled operation runs with nobody there to approve it. Bound by a manager's template it runs inside the
template (checked at add time by the CLI, which reads the template store). Without one it runs as the
*automation* persona, which the gate (:mod:`escher.policy.gate`) lets through only for an operation that a
``[remediation]`` switch pre-approves. Saving such a job anyway would only record a refusal at every slot.
"""

from __future__ import annotations

from escher.policy.remediation import RemediationSettings, pre_approved
from escher.schedule.jobs import Job, JobError

__all__ = ["ScheduleRefusedError", "check_admissible", "refusal"]


class ScheduleRefusedError(JobError):
    """The policy would refuse this job at every run (exit 4: refused by policy)."""

    exit_code = 4


def refusal(job: Job, remediation: RemediationSettings) -> str | None:
    """Why the gate will refuse ``job`` at each run, or None when it may run. Same rule, same facts (none:
    a schedule is no event) as the gate's automation branch."""
    if job.kind != "operation" or job.template or job.operation is None:
        return None
    if pre_approved(remediation, job.operation, {}) is not None:
        return None
    return (
        f"{job.operation} is not pre-approved for automatic remediation, and without a template a schedule "
        "runs as the automation persona, which the policy gate refuses at every run"
    )


def check_admissible(job: Job, remediation: RemediationSettings) -> None:
    why = refusal(job, remediation)
    if why is not None:
        raise ScheduleRefusedError(
            why,
            hint="bound it with a manager's template (`escher schedule add ... --template NAME`, see `escher "
            "templates list`) or turn on the [remediation] switch that covers it (`escher remediation list`)",
        )
