"""What ``escher doctor`` says about Google Cloud (its provider's ``doctor``): Application Default
Credentials and the project a scan reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.doctor import Check

__all__ = ["account", "credentials"]


def credentials() -> Check:
    """Application Default Credentials, found without a call (no metadata-server probe)."""
    from escher.doctor import Check, Status, _no_metadata_probes
    from escher.lazy import is_installed

    if not is_installed("google.auth"):
        return Check(
            "gcp", "credentials", Status.skip, "google-auth not installed", hint="pip install 'escher[gcp]'"
        )
    from escher.clouds import gcp

    with _no_metadata_probes():
        found, project = gcp.default_project()
        if not found:
            return Check(
                "gcp",
                "credentials",
                Status.warn,
                "application default credentials not found",
                hint="run 'gcloud auth application-default login' or set GOOGLE_APPLICATION_CREDENTIALS",
            )
    return Check(
        "gcp", "credentials", Status.ok, f"application default credentials (project {project or 'unset'})"
    )


def account(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    """The project a scan reads, when GCP is enabled: a warning here is the scan's error ahead of time."""
    from escher.doctor import Check, Status

    if not settings.gcp.enabled:
        return []
    project = settings.gcp.project or env.get("GOOGLE_CLOUD_PROJECT")
    if project:
        return [Check("gcp", "project", Status.ok, project)]
    return [Check("gcp", "project", Status.warn, "no project set: GCP cannot be scanned",
                  hint="add project = \"...\" under [gcp] in the config, or pass --project "
                  "PROJECT (or set [gcp] enabled = false)")]  # fmt: skip
