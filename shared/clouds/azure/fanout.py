"""The organization scan's queue on Azure (:mod:`escher.pipeline.fanout`): a Storage queue in the Extension's
state account, consumed by the Function App's queue trigger.

``ESCHER_SCAN_QUEUE_URL`` is ``azqueue://<queue>?account_url=https://<account>.queue.core.windows.net``; the
worker's identity sends (Storage Queue Data Contributor on the state account).
``AZURE_STORAGE_CONNECTION_STRING`` wins over the URL's account, as for blobs (azurite's, with its
``QueueEndpoint``). Messages are base64, the Functions host's default ``messageEncoding``. The host dequeues
one message at a time per instance (batch size 1, no prefetch) and after :data:`MAX_DEQUEUE_COUNT` failed
deliveries moves a message to ``<queue>-poison``.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

from escher.errors import EscherError
from escher.lazy import require

__all__ = [
    "MAX_DEQUEUE_COUNT",
    "POISON_QUEUE",
    "QUEUE_CONNECTION",
    "SCAN_QUEUE",
    "SCHEME",
    "SEND_PERMISSION",
    "enter",
    "organization",
    "queue_client",
    "send",
]

SCAN_QUEUE = "escher-scan"  # in the state account; one per stack, as the account is
POISON_QUEUE = f"{SCAN_QUEUE}-poison"  # the Functions host's name for where it moves what it gave up on
QUEUE_CONNECTION = (
    "ESCHER_SCAN_QUEUE"  # the trigger's connection: app settings ESCHER_SCAN_QUEUE__queueServiceUri
)
MAX_DEQUEUE_COUNT = 3  # deliveries of one message before the host moves it to the poison queue
SCHEME = "azqueue"  # ESCHER_SCAN_QUEUE_URL's scheme names this cloud
SEND_PERMISSION = "Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action"
SUBSCRIPTION_API = "2022-12-01"


def _parse(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    if parts.scheme != "azqueue" or not parts.netloc:
        raise EscherError(
            f"not a Storage queue URL: {url[:80]!r}",
            hint="expected azqueue://<queue>?account_url=https://...",
        )
    account_url = parse_qs(parts.query).get("account_url", [None])[0]
    return parts.netloc, account_url


def queue_client(url: str) -> Any:
    """A ``QueueClient`` for ``url`` that encodes messages as the Functions host reads them (base64)."""
    queue_mod = require("azure.storage.queue", "azure")
    name, account_url = _parse(url)
    encode = queue_mod.TextBase64EncodePolicy()
    conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if conn:
        return queue_mod.QueueClient.from_connection_string(conn, name, message_encode_policy=encode)
    if not account_url:
        raise EscherError(
            f"the scan queue {name} names no account", hint="redeploy with 'escher extend azure'"
        )
    from escher.clouds.azure import credential

    return queue_mod.QueueClient(account_url, name, credential=credential(), message_encode_policy=encode)


def organization(settings: Any) -> bool:
    """``[azure] subscriptions`` or ``management_group`` ask for the organization."""
    return bool(settings.azure.subscriptions or settings.azure.management_group)


def send(url: str, bodies: list[str]) -> list[int]:
    """One message per body (a Storage queue has no batch send); the indexes that could not be sent."""
    from azure.core.exceptions import AzureError

    client = queue_client(url)
    failed: list[int] = []
    for i, body in enumerate(bodies):
        try:
            client.send_message(body)
        except AzureError:
            failed.append(i)
    return failed


def enter(account: str, ctx: Any) -> None:
    """The subscription must answer the worker's identity (ARM ``GET /subscriptions/{id}``); else the account
    is reported not scanned with why. A failure that may pass (throttled, ARM down) raises as it is."""
    from escher.clouds.azure import arm_pipeline_client, request
    from escher.clouds.azure.accounts import ARM

    client = arm_pipeline_client(
        ARM,
        credential_=getattr(ctx, "azure_credential", None),
        transport=getattr(ctx, "azure_transport", None),
    )
    try:
        response = client.send_request(
            request("GET", f"{ARM}/subscriptions/{account}?api-version={SUBSCRIPTION_API}")
        )
    except require("azure.core.exceptions", "azure").ClientAuthenticationError as exc:
        raise EscherError(
            f"subscription {account}: the worker's identity has no token: {str(exc).splitlines()[0][:200]}",
            hint="the Function App needs its system-assigned identity (escher extend azure)",
        ) from None
    if response.status_code in (401, 403, 404):
        raise EscherError(
            f"subscription {account} cannot be read: {_code(response)}",
            hint="grant the worker's identity Reader on the subscription (or the management group above it)",
        )
    response.raise_for_status()


def _code(response: Any) -> str:
    import json

    try:
        error = json.loads(response.text() or "{}").get("error") or {}
    except ValueError:
        error = {}
    return str(error.get("code") or f"HTTP {response.status_code}")
