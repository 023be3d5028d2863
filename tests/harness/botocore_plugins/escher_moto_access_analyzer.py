"""A botocore client plugin for escher processes a test starts against the moto server (``escher scan`` run as
a subprocess): moto 5.2.6 has no IAM Access Analyzer, so ListAnalyzers is answered at botocore's transport
(``before-send``) with one ACTIVE account analyzer in the region the request was signed for, as the in-process
replay does (``tests.harness.replay.access_analyzer_in_front_of_moto``, which sets
``BOTOCORE_EXPERIMENTAL__PLUGINS`` and puts this folder on ``PYTHONPATH`` for the test's subprocesses).

botocore imports the module named in ``BOTOCORE_EXPERIMENTAL__PLUGINS`` and calls
:func:`initialize_client_plugin` with each client it creates; only this folder is put on the path, so nothing
else of the test tree is importable in the subprocess. Self-contained: botocore only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


class _Raw:
    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self.payload


def _region(headers: Any) -> str:
    auth = headers.get("Authorization", b"")
    auth = auth.decode() if isinstance(auth, bytes) else str(auth)
    scope = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    return scope[2] if len(scope) > 2 else "us-east-1"


def _list_analyzers(request: Any, **_: Any) -> Any:
    from botocore.awsrequest import AWSResponse

    region = _region(request.headers)
    body = {
        "analyzers": [
            {
                "arn": f"arn:aws:access-analyzer:{region}:123456789012:analyzer/default",
                "name": "default",
                "type": "ACCOUNT",
                "createdAt": "2026-01-05T09:00:00Z",
                "status": "ACTIVE",
            }
        ]
    }
    return AWSResponse(
        request.url, 200, {"Content-Type": "application/json"}, _Raw(json.dumps(body).encode())
    )


def initialize_client_plugin(client: Any) -> None:
    if client.meta.service_model.service_name == "accessanalyzer":
        client.meta.events.register("before-send.accessanalyzer.ListAnalyzers", _list_analyzers)
