"""Where operations get their SDK clients: one object per run, built from settings, injectable in tests.

Clients are created once per (cloud, service, region) and shared by the worker threads (boto3, azure-core and
google-api-core clients are thread-safe once built). Tests hand in an azure-core transport, a ``requests``
adapter for google-cloud-compute and an ``httplib2``-like object for the discovery clients (Cloud SQL Admin,
IAM, Resource Manager, Logging, Monitoring); the SDKs run unchanged.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from escher.ops.model import OpError

__all__ = ["CloudContext"]


@dataclass
class CloudContext:
    aws_retries: dict[str, Any] | None = None  # None: escher.clouds.aws.DEFAULT_RETRIES (adaptive)
    aws_endpoint_url: str | None = None  # None: boto3's own AWS_ENDPOINT_URL[_<SERVICE>] settings
    aws_profile: str | None = None
    aws_session: Any = None  # an account's boto3 session (ops --account: the organization role assumed there)
    azure_subscription_id: str | None = None  # for selecting VMs by tag; a target's ARM id names its own
    azure_credential: Any = None
    azure_transport: Any = None
    azure_client_options: dict[str, Any] = field(default_factory=dict)
    gcp_credentials: Any = None
    gcp_session_adapter: Any = None
    gcp_discovery_http: Any = None  # httplib2-like: every googleapiclient discovery client rides on it
    gcp_project: str | None = None
    _cache: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Any = None) -> CloudContext:
        if settings is None:
            return cls()
        return cls(
            aws_endpoint_url=settings.aws.endpoint_url,
            aws_profile=settings.aws.profile,
            azure_subscription_id=settings.azure.subscription_id,
            gcp_project=settings.gcp.project,
        )

    def _cached(self, key: tuple[str, ...], build: Any) -> Any:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def aws(self, service: str, region: str | None = None) -> Any:
        from escher.clouds import aws

        return self._cached(
            ("aws", service, region or ""),
            lambda: aws.client(
                service,
                region,
                retries=self.aws_retries,
                endpoint_url=self.aws_endpoint_url,
                profile=None if self.aws_session is not None else self.aws_profile,
                session=self.aws_session,
            ),
        )

    def azure(self, kind: str, subscription_id: str) -> Any:
        from escher.clouds import azure

        return self._cached(
            ("azure", kind, subscription_id),
            lambda: azure.mgmt_client(
                kind,
                subscription_id,
                credential_=self.azure_credential,
                transport=self.azure_transport,
                **self.azure_client_options,
            ),
        )

    def azure_blob(self) -> Any:
        from escher.clouds import azure

        return self._cached(("azure", "blob"), lambda: azure.blob_service(credential_=self.azure_credential))

    def gcs(self) -> Any:
        from escher.clouds import gcp

        return self._cached(
            ("gcp", "storage"),
            lambda: gcp.storage_client(self.gcp_project, credentials_=self.gcp_credentials),
        )

    def gcp_compute(self, kind: str) -> Any:
        from escher.clouds import gcp

        return self._cached(
            ("gcp", "compute", kind),
            lambda: gcp.compute_client(
                kind, credentials_=self.gcp_credentials, session_adapter=self.gcp_session_adapter
            ),
        )

    def gcp_sql(self) -> Any:
        from escher.clouds import gcp

        return self._cached(
            ("gcp", "sqladmin"),
            lambda: gcp.sqladmin(credentials_=self.gcp_credentials, http=self.gcp_discovery_http),
        )

    def sdk_errors(self, cloud: str) -> tuple[type[BaseException], ...]:
        """The SDK error types of ``cloud``: a per-resource failure, reported, never hidden."""
        found: tuple[type[BaseException], ...] = _client_module(cloud).errors()
        return found

    def is_not_found(self, cloud: str, error: BaseException) -> bool:
        return bool(_client_module(cloud).is_not_found(error))

    @property
    def default_aws_region(self) -> str | None:
        return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def _client_module(cloud: str) -> Any:
    """``escher.clouds.<cloud>``, the provider's client module (its SDK's errors and what they mean)."""
    from escher.clouds.provider import PROVIDERS, one_of

    if cloud not in PROVIDERS:
        raise OpError(f"unknown cloud {cloud!r}", hint=f"use {one_of()}")
    return PROVIDERS[cloud].sdk_module()
