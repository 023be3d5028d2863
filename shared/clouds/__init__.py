"""The clouds as providers, and the only place cloud SDK clients are built: ``escher.clouds.aws``, ``.azure``, ``.gcp``.

:data:`PROVIDERS` (``escher.clouds.provider``) registers each cloud once: its SDK, its extra, the Escher
modules that belong to it, and where its session, state backend, secrets backend, cost source, watch feed
and infra component live. :data:`CLOUDS` and the :data:`Cloud` literal derive from it.

Each client module builds SDK clients that honour the SDK's own endpoint settings (``AWS_ENDPOINT_URL`` and its
per-service forms, Azure connection strings, ``STORAGE_EMULATOR_HOST``) and its own retry machinery, and names
the SDK's error types so callers can catch exactly those. Importing this package imports no SDK.
"""

from __future__ import annotations

from escher.clouds.provider import (
    CLOUDS,
    PROVIDERS,
    AccountListing,
    Cloud,
    Provider,
    UnknownCloudError,
    owner_of,
    provider,
    providers_for,
    sdk_owner,
    state_provider,
)

__all__ = [
    "CLOUDS",
    "PROVIDERS",
    "AccountListing",
    "Cloud",
    "Provider",
    "UnknownCloudError",
    "owner_of",
    "provider",
    "providers_for",
    "sdk_owner",
    "state_provider",
]
