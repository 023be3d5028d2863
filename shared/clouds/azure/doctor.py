"""What ``escher doctor`` says about Azure (its provider's ``doctor``): DefaultAzureCredential's sources and
the subscription a scan reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.doctor import Check

__all__ = ["account", "credentials"]


def credentials() -> Check:
    """DefaultAzureCredential's sources, read without requesting a token (which would reach the network)."""
    import os
    import shutil
    from pathlib import Path

    from escher.doctor import Check, Status
    from escher.lazy import is_installed

    if not is_installed("azure.identity"):
        return Check(
            "azure",
            "credentials",
            Status.skip,
            "azure-identity not installed",
            hint="pip install 'escher[azure]'",
        )
    env = os.environ
    if (
        env.get("AZURE_CLIENT_ID")
        and env.get("AZURE_TENANT_ID")
        and (env.get("AZURE_CLIENT_SECRET") or env.get("AZURE_CLIENT_CERTIFICATE_PATH"))
    ):
        return Check(
            "azure", "credentials", Status.ok, "service principal from AZURE_* environment variables"
        )
    if env.get("AZURE_FEDERATED_TOKEN_FILE"):
        return Check("azure", "credentials", Status.ok, "workload identity (AZURE_FEDERATED_TOKEN_FILE)")
    azure_dir = Path(env.get("AZURE_CONFIG_DIR", Path.home() / ".azure"))
    if shutil.which("az") and (azure_dir / "azureProfile.json").exists():
        return Check("azure", "credentials", Status.ok, f"Azure CLI login ({azure_dir})")
    return Check(
        "azure",
        "credentials",
        Status.warn,
        "DefaultAzureCredential has no source configured",
        hint="run 'az login', or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET",
    )


def account(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    """The subscription a scan reads, when Azure is enabled: a warning here is the scan's error ahead of
    time."""
    from escher.doctor import Check, Status

    if not settings.azure.enabled:
        return []
    subscription = settings.azure.subscription_id  # what the scan reads (AZURE_SUBSCRIPTION_ID is not)
    if subscription:
        return [Check("azure", "subscription", Status.ok, subscription)]
    hint = (
        'add subscription_id = "..." under [azure] in the config (or ESCHER_AZURE__SUBSCRIPTION_ID), '
        "or pass --subscription ID; or set [azure] enabled = false"
    )
    return [Check("azure", "subscription", Status.warn, "no subscription set: Azure cannot be scanned", hint)]
