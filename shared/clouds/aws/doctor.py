"""What ``escher doctor`` says about AWS (its provider's ``doctor``): the credentials the standard chain
finds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.doctor import Check

__all__ = ["account", "credentials"]


def credentials() -> Check:
    """The standard chain's credentials, found without a call (no instance-metadata probe)."""
    from escher.doctor import Check, Status, _no_metadata_probes
    from escher.lazy import is_installed

    if not is_installed("boto3"):
        return Check(
            "aws", "credentials", Status.skip, "boto3 not installed", hint="pip install 'escher[aws]'"
        )
    from escher.clouds import aws

    with _no_metadata_probes():
        session = aws.account_session()
        creds = session.get_credentials()
    if creds is None:
        return Check(
            "aws",
            "credentials",
            Status.warn,
            "the standard chain found no credentials",
            hint="run 'aws configure' or 'aws sso login', or set AWS_PROFILE",
        )
    region = session.region_name or "no default region"
    return Check("aws", "credentials", Status.ok, f"found via {creds.method} ({region})")


def account(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    """Nothing to check: a scan reads the credentials' own account (or the organization's, with
    --all-accounts)."""
    return []
