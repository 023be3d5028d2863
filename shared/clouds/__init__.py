"""The only place cloud SDKs are imported, lazily: ``escher.clouds.aws``, ``.azure``, ``.gcp``.

Each module builds SDK clients that honour the SDK's own endpoint settings (``AWS_ENDPOINT_URL`` and its
per-service forms, Azure connection strings, ``STORAGE_EMULATOR_HOST``) and its own retry machinery, and names
the SDK's error types so callers can catch exactly those. Importing this package imports no SDK.
"""

from __future__ import annotations

__all__: list[str] = []
