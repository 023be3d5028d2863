"""Record every AWS API call made in a block, as the IAM action it needs, through botocore's event system.

Each new botocore session registers the handlers listed in ``botocore.handlers.BUILTIN_HANDLERS``; the
recorder adds one ``before-call`` handler there (for the test's duration only), so the sessions the collectors
and ``escher.clouds.aws.client`` create for themselves report each call. No SDK method is replaced.

The mapping from an API operation to its IAM action is kept here, independent of the permission tables it
checks: most actions are ``<prefix>:<Operation>``, the exceptions below are from the Service Authorization
Reference.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# IAM prefix when it differs from botocore's service name
_PREFIX: dict[str, str] = {
    "efs": "elasticfilesystem",
    "resourcegroupstaggingapi": "tag",
    "accessanalyzer": "access-analyzer",
}
# (botocore service, operation) -> IAM action, where the action is not named after the operation
_ACTIONS: dict[tuple[str, str], str] = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
}
# calls that need no permission at all
NO_PERMISSION = {("sts", "GetCallerIdentity")}


def iam_action(service: str, operation: str) -> str | None:
    if (service, operation) in NO_PERMISSION:
        return None
    return _ACTIONS.get((service, operation)) or f"{_PREFIX.get(service, service)}:{operation}"


@dataclass
class CallRecorder:
    """Calls seen while a label is active: label -> {IAM action}."""

    calls: dict[str, set[str]] = field(default_factory=dict)
    label: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, model: Any, **_: Any) -> None:
        action = iam_action(model.service_model.service_name, model.name)
        with self._lock:
            if self.label is not None and action is not None:
                self.calls.setdefault(self.label, set()).add(action)

    @contextlib.contextmanager
    def recording(self, label: str) -> Iterator[None]:
        self.label = label
        try:
            yield
        finally:
            self.label = None

    def all(self) -> set[str]:
        return {a for found in self.calls.values() for a in found}
