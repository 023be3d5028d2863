"""User schedules in the cloud: ``escher schedule add|remove`` mirrored to the extension of the job's cloud.

A schedule runs in the extension of each cloud its job names (an operation: its cloud; a scan or report: the
clouds it lists) that is extended; the others stay on the laptop. :func:`cloud_homes` decides it, for
``schedule add|remove`` here and for the laptop's runner (``run-due``, ``escher agent``: it does not run what a
cloud runs), from the extend state as it is now: after ``escher destroy`` the laptop runs them again.
:func:`add_in_clouds` /
:func:`remove_in_clouds` do it for every cloud through its provider's ``schedules`` module: AWS an EventBridge
Scheduler schedule (:mod:`escher.clouds.aws.schedules`), GCP a Cloud Scheduler job
(:mod:`escher.clouds.gcp.schedules`), each with ``remote(paths, client)``; Azure the published settings, run by
the stack's every-minute timer (:mod:`escher.clouds.azure.schedules`, ``publish(paths)``).

The cloud schedule is created first; the caller saves the local one only after it exists (and removes the cloud
one again if saving fails), so the two never disagree about what runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from escher.clouds.provider import PROVIDERS
from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.config import Paths
    from escher.schedule.jobs import Schedule

__all__ = [
    "USER_PREFIX",
    "CloudScheduleError",
    "Mirrored",
    "add_in_clouds",
    "cloud_homes",
    "mirror_schedules",
    "remove_in_clouds",
    "runs_in",
    "schedule_name",
    "user_schedule_input",
]

USER_PREFIX = "escher-user-"
JOB = "user_schedule"


class CloudScheduleError(EscherError):
    """The cloud schedule could not be created or removed; nothing was changed locally."""

    exit_code = 1


def schedule_name(schedule_id: str) -> str:
    return f"{USER_PREFIX}{schedule_id}"


def user_schedule_input(schedule_id: str) -> dict[str, str]:
    return {"job": JOB, "schedule_id": schedule_id}


# -- all three clouds ---------------------------------------------------------------------------------------------
CLOUD_NAMES = {p.name: p.label for p in PROVIDERS.values()}  # "AWS", "Azure", "GCP"


def runs_in(job_clouds: Iterable[str], extended: Iterable[str]) -> list[str]:
    """The extended clouds that run a job of ``job_clouds`` (in the order aws, azure, gcp)."""
    wanted, have = set(job_clouds), set(extended)
    from escher.clouds import CLOUDS

    return [c for c in CLOUDS if c in wanted and c in have]


def cloud_homes(paths: Paths) -> Callable[[Iterable[str]], list[str]]:
    """job clouds -> the extended clouds that run the job (:func:`runs_in` over the extend state, read once
    now): what ``schedule add|remove`` mirrors to and what the laptop's runner leaves to the cloud."""
    extended = _extended(paths)
    return lambda job_clouds: runs_in(job_clouds, extended)


@dataclass
class _Remote:
    """One extended cloud's schedule calls, with its target resolved (so a missing output stops before any
    cloud is changed)."""

    cloud: str
    create: Callable[[Schedule], str]
    delete: Callable[[str], bool]


def _schedules(cloud: str) -> Any:
    """The cloud's schedules module (its provider's ``schedules``): ``remote(paths, client)`` where each
    schedule is a cloud object, ``publish(paths)`` where the schedules ride in the published settings."""
    from escher.clouds import provider

    found = provider(cloud)
    return found.load("schedules") if "schedules" in found.refs else None


def _remotes(paths: Paths, clouds: list[str], clients: Mapping[str, Any]) -> list[_Remote]:
    out: list[_Remote] = []
    for cloud in clouds:
        module = _schedules(cloud)
        calls = module.remote(paths, clients.get(cloud)) if hasattr(module, "remote") else None
        if calls is not None:
            out.append(_Remote(cloud, *calls))
    return out


def _published(clouds: Iterable[str]) -> list[str]:
    """The clouds among ``clouds`` whose schedules ride in the published settings (Azure)."""
    return [c for c in clouds if hasattr(_schedules(c), "publish")]


def _publish(clouds: list[str]) -> Callable[[Paths], int]:
    return lambda paths: sum(_schedules(c).publish(paths) for c in clouds)


def _extended(paths: Paths) -> list[str]:
    from escher.infra.sync import extended_clouds

    return extended_clouds(paths)


def add_in_clouds(
    paths: Paths,
    schedule: Schedule,
    save: Callable[[], object],
    *,
    clients: Mapping[str, Any] | None = None,
    publish: Callable[[Paths], int] | None = None,
    unsave: Callable[[], object] | None = None,
) -> list[str]:
    """Create ``schedule`` in every extended cloud that runs it, save it on the laptop (``save``), then publish
    the settings to Azure when Azure runs it; the clouds it now runs in. A failure at any step undoes the
    steps before it (the cloud schedules are deleted, ``unsave`` undoes the save), so the laptop and the
    clouds never disagree about what runs. ``clients``: cloud -> SDK client (tests replay there)."""
    clouds = cloud_homes(paths)(schedule.job.clouds)
    remotes = _remotes(paths, clouds, clients or {})
    made: list[_Remote] = []
    try:
        for remote in remotes:
            remote.create(schedule)
            made.append(remote)
        save()
        if _published(clouds):
            try:
                (publish or _publish(_published(clouds)))(paths)
            except BaseException:
                if unsave is not None:
                    unsave()
                raise
    except BaseException:
        for remote in reversed(made):
            remote.delete(schedule.id)
        raise
    return clouds


def remove_in_clouds(
    paths: Paths,
    schedule_id: str,
    job_clouds: Iterable[str],
    remove: Callable[[], object],
    *,
    restore: Callable[[], object] | None = None,
    clients: Mapping[str, Any] | None = None,
    publish: Callable[[Paths], int] | None = None,
) -> list[str]:
    """Delete the cloud schedules of ``schedule_id`` first (a failure leaves the laptop's, which still runs
    there), then remove it on the laptop (``remove``), then publish to Azure when Azure ran it (a failure puts
    the laptop's back with ``restore``: Azure still runs it). The clouds it ran in."""
    clouds = cloud_homes(paths)(job_clouds)
    for remote in _remotes(paths, clouds, clients or {}):
        remote.delete(schedule_id)
    remove()
    if _published(clouds):
        try:
            (publish or _publish(_published(clouds)))(paths)
        except BaseException:
            if restore is not None:
                restore()
            raise
    return clouds


@dataclass
class Mirrored:
    """What :func:`mirror_schedules` did: the cloud schedules made (names), and each schedule it could not."""

    cloud: str
    made: list[str]
    failed: dict[str, str]  # schedule id -> why

    def to_dict(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "made": self.made, "failed": self.failed}


def mirror_schedules(
    paths: Paths, cloud: str, schedules: Iterable[Schedule], *, clients: Mapping[str, Any] | None = None
) -> Mirrored:
    """Make the cloud schedule of every laptop schedule that ``cloud`` runs, once ``cloud`` is extended: the
    schedules added before ``escher extend`` (or kept through a destroy and an extend again), which the
    laptop's runner now leaves to the extension (:func:`cloud_homes`). Create or update, so running it twice
    changes nothing. Azure has nothing per schedule (the published settings carry them); the built-in daily
    job is the stack's own. Never raises: the deployment stands; what failed is in ``failed``."""
    module = _schedules(cloud)
    if cloud not in _extended(paths) or not hasattr(module, "remote"):  # nothing per schedule (Azure)
        return Mirrored(cloud, [], {})
    wanted = [s for s in schedules if s.id != "daily" and runs_in(s.job.clouds, [cloud])]
    if not wanted:
        return Mirrored(cloud, [], {})
    clients = dict(clients or {})
    try:
        if clients.get(cloud) is None and hasattr(module, "default_client"):
            clients[cloud] = module.default_client()
        [remote] = _remotes(paths, [cloud], clients)
    except EscherError as exc:  # outputs the schedules need are missing, no GCP credentials
        return Mirrored(cloud, [], {s.id: str(exc) for s in wanted})
    made, failed = [], {}
    for s in wanted:
        try:
            made.append(remote.create(s))
        except EscherError as exc:  # CloudScheduleError, or a cron the cloud cannot express (CronError)
            failed[s.id] = str(exc)
    return Mirrored(cloud, made, failed)
