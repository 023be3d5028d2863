"""The one error type a failed cloud call becomes, and the lookup that picks the cloud's own mapping.

Which SDK an exception comes from, and so which provider maps it, is read from the provider registry. Each cloud module (``escher.clouds.aws``, ``.azure``, ``.gcp``) has a ``translate(exc)`` that knows its SDK's
exceptions and says what to do; :func:`translate` here finds the right one from the exception's module, so it
imports no SDK: an SDK exception exists only if its SDK is already loaded.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from enum import StrEnum

from escher.clouds.provider import PROVIDERS, sdk_owner
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
    setup = "sdk_setup"  # the SDK refused its own settings (an endpoint that is not a URL, a bad config file)
    refused = "refused"  # any other error the cloud answered with


_EXIT = {Failure.no_credentials: 4, Failure.denied: 4, Failure.bad_region: 2, Failure.setup: 2}


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


def _sdk_entry(module: str) -> tuple[str, str, str, str] | None:
    """The root package of an SDK exception -> the Escher module that maps it, the cloud, the SDK's name for
    people and where it reads its settings (from the provider registry)."""
    found = sdk_owner(module)
    if found is None:
        return None
    return (found.client_module, found.name, found.sdk_title, found.sdk_settings)


def translate(exc: BaseException) -> CloudError | None:
    """The :class:`CloudError` for a cloud SDK's exception; None for anything else.

    A plain ``ValueError`` & co. raised from inside an SDK (``Invalid endpoint: notaurl`` for
    ``AWS_ENDPOINT_URL=notaurl``) is the SDK refusing its settings, not a bug in Escher: it is reported so.
    """
    if isinstance(exc, CloudError):
        return exc
    for cls in type(exc).__mro__:
        entry = _sdk_entry(cls.__module__)
        if entry is not None:
            found: CloudError | None = importlib.import_module(entry[0]).translate(exc)
            return found
    entry = _raised_in_sdk(exc)
    if entry is None:
        return None
    _module, cloud, sdk, settings = entry
    return CloudError(
        cloud,
        Failure.setup,
        f"the {sdk} refused its settings: {exc}",
        hint=f"check the {settings} (endpoint URLs, profiles, regions)",
        code=type(exc).__name__,
    )


def _raised_in_sdk(exc: BaseException) -> tuple[str, str, str, str] | None:
    tb, innermost = exc.__traceback__, None
    while tb is not None:
        innermost = tb.tb_frame.f_globals.get("__name__", "")
        tb = tb.tb_next
    if not isinstance(innermost, str) or not isinstance(exc, ValueError):  # a TypeError there is our bug
        return None
    return _sdk_entry(innermost)


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
            f"{name!r} is not {_article(cloud)} {kind}{guess}",
            hint=f"fix it in {where}; known names include {', '.join(nearest)}",
        )


def _article(cloud: str) -> str:
    title = PROVIDERS[cloud].title if cloud in PROVIDERS else cloud
    return f"{'an' if title[:1].upper() in 'AEIOU' else 'a'} {title}"
