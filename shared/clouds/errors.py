"""The one error type a failed cloud call becomes, and the lookup that picks the cloud's own mapping.

Each cloud module (``escher.clouds.aws``, ``.azure``, ``.gcp``) has a ``translate(exc)`` that knows its SDK's
exceptions and says what to do; :func:`translate` here finds the right one from the exception's module, so it
imports no SDK: an SDK exception exists only if its SDK is already loaded.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from enum import StrEnum

from escher.errors import EscherError

__all__ = ["CloudError", "Failure", "check_names", "translate"]


class Failure(StrEnum):
    """What kind of failure, as scripts see it (``code`` of a part not read)."""

    unreachable = "unreachable"
    bad_response = "bad_response"
    no_credentials = "no_credentials"
    denied = "access_denied"
    throttled = "throttled"
    bad_region = "bad_region"
    refused = "refused"  # any other error the cloud answered with


_EXIT = {Failure.no_credentials: 4, Failure.denied: 4, Failure.bad_region: 2}


class CloudError(EscherError):
    """A cloud call failed in a way a person can act on: unreachable, refused, throttled, no credentials."""

    def __init__(self, cloud: str, failure: Failure, message: str, *, hint: str, code: str = "") -> None:
        super().__init__(message, hint=hint)
        self.cloud = cloud
        self.failure = failure
        self.code = code or failure.value
        self.exit_code = _EXIT.get(failure, 1)

    def to_dict(self) -> dict[str, str | None]:
        return {**super().to_dict(), "cloud": self.cloud, "failure": self.failure.value}


# the root package of an SDK exception -> the Escher module that maps it
_MODULES = {
    "botocore": "escher.clouds.aws",
    "boto3": "escher.clouds.aws",
    "azure": "escher.clouds.azure",
    "msal": "escher.clouds.azure",
    "google": "escher.clouds.gcp",
    "googleapiclient": "escher.clouds.gcp",
}


def translate(exc: BaseException) -> CloudError | None:
    """The :class:`CloudError` for a cloud SDK's exception; None for anything else."""
    if isinstance(exc, CloudError):
        return exc
    for cls in type(exc).__mro__:
        module = _MODULES.get(cls.__module__.partition(".")[0])
        if module is not None:
            found: CloudError | None = importlib.import_module(module).translate(exc)
            return found
    return None


_NAMES = {"aws": "an AWS", "azure": "an Azure", "gcp": "a Google Cloud"}


def check_names(
    cloud: str, kind: str, names: Iterable[str], known: Iterable[str], *, pattern: str, where: str
) -> None:
    """Refuse a region (location) name that is not in ``known`` and is a likely typo of one, or does not look
    like a region at all (``pattern``); accept an unlisted name of the right shape (a region newer than the
    list)."""
    import re

    listed = sorted(set(known))
    for name in names:
        if name in listed:
            continue
        close = difflib.get_close_matches(name, listed, n=1, cutoff=0.8)
        if not close and re.fullmatch(pattern, name):
            continue
        guess = f"; did you mean '{close[0]}'?" if close else ""
        nearest = difflib.get_close_matches(name, listed, n=4, cutoff=0.0) or listed[:4]
        raise CloudError(
            cloud,
            Failure.bad_region,
            f"{name!r} is not {_NAMES.get(cloud, cloud)} {kind}{guess}",
            hint=f"fix it in {where}; known names include {', '.join(nearest)}",
        )
