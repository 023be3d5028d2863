"""The organization scan's queue on GCP (:mod:`escher.pipeline.fanout`): a Pub/Sub topic whose push
subscription posts each message to the scan function (``on_scan``), one request an instance, with a
dead-letter topic after :data:`MAX_DELIVERY_ATTEMPTS` deliveries.

``ESCHER_SCAN_QUEUE_URL`` is ``pubsub://projects/<project>/topics/<topic>`` (``PUBSUB_EMULATOR_HOST``
honoured by the SDK).
"""

from __future__ import annotations

from typing import Any

from escher.errors import EscherError

__all__ = [
    "MAX_DELIVERY_ATTEMPTS",
    "SCHEME",
    "SEND_PERMISSION",
    "enter",
    "organization",
    "send",
    "topic_path",
]

SCHEME = "pubsub"  # ESCHER_SCAN_QUEUE_URL's scheme names this cloud
SEND_PERMISSION = "pubsub.topics.publish"
MAX_DELIVERY_ATTEMPTS = 5  # Pub/Sub's minimum: then the message goes to the scan's dead-letter topic


def topic_path(url: str) -> str:
    path = url.removeprefix("pubsub://").strip("/")
    parts = path.split("/")
    if not url.startswith("pubsub://") or len(parts) != 4 or parts[0] != "projects" or parts[2] != "topics":
        raise EscherError(
            f"not a Pub/Sub topic URL: {url[:80]!r}",
            hint="expected pubsub://projects/<project>/topics/<topic>",
        )
    return path


def organization(settings: Any) -> bool:
    """``[gcp] projects`` or ``parent`` ask for the organization."""
    return bool(settings.gcp.projects or settings.gcp.parent)


def send(url: str, bodies: list[str]) -> list[int]:
    """Publish each body (the client batches them); the indexes Pub/Sub refused."""
    from escher.clouds import gcp

    topic = topic_path(url)
    client = gcp.publisher()
    futures = [client.publish(topic, body.encode()) for body in bodies]
    failed: list[int] = []
    for i, future in enumerate(futures):
        try:
            future.result(timeout=60)
        except Exception:  # noqa: BLE001 - the publish future raises the API's or the transport's error
            failed.append(i)
    return failed


def enter(account: str, ctx: Any) -> None:
    """The project must answer the worker's identity (Resource Manager v3 ``projects.get``); else the account
    is reported not scanned with why. A failure that may pass (throttled, the API down) raises as it is."""
    from googleapiclient.errors import HttpError

    from escher.clouds.gcp import auth_errors, discovery_client

    try:
        crm = discovery_client(
            "cloudresourcemanager",
            "v3",
            credentials_=getattr(ctx, "gcp_credentials", None),
            http=getattr(ctx, "gcp_discovery_http", None),
        )
        project = crm.projects().get(name=f"projects/{account}").execute()
    except auth_errors() as exc:
        raise EscherError(
            f"project {account}: the worker has no credentials: {str(exc).splitlines()[0][:200]}",
            hint="the function runs as its service account (escher extend gcp)",
        ) from None
    except HttpError as exc:
        if exc.resp.status not in (403, 404):
            raise
        raise EscherError(
            f"project {account} cannot be read: {exc.resp.status} {exc.reason or ''}".strip(),
            hint="grant the worker's service account a reading role on the project (or on its folder)",
        ) from None
    if project.get("state", "ACTIVE") != "ACTIVE":
        raise EscherError(f"project {account} is {project.get('state')}", hint="it is not scanned")
