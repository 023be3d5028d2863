"""An organization scan's accounts share one botocore client per service and region, and each call is still
signed with its own account's keys, whichever thread makes it; a call on a shared client outside any account
is refused before anything is sent. The requests are answered by a ``before-send`` handler on the real client
(botocore's event hook), so nothing leaves the process."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("boto3")

from escher.clouds.aws import AccountSession, SharedClients

_STS_OK = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    b"<Arn>arn:aws:iam::111111111111:user/x</Arn><UserId>X</UserId><Account>111111111111</Account>"
    b"</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
    b"</GetCallerIdentityResponse>"
)


def _account(shared: SharedClients, key: str) -> AccountSession:
    creds = {"AccessKeyId": key, "SecretAccessKey": "secret-" + key, "SessionToken": "token-" + key}
    return AccountSession(None, creds, "us-east-1", threading.Lock(), shared)


def _answer_locally(client: Any, signed: list[str]) -> None:
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield _STS_OK

    def before_send(request: Any, **_: Any) -> Any:
        auth = request.headers.get("Authorization", b"")
        auth = auth.decode() if isinstance(auth, bytes) else auth
        signed.append(auth.split("Credential=", 1)[1].split("/", 1)[0])
        return AWSResponse(request.url, 200, {}, Raw())

    client.meta.events.register("before-send.sts", before_send)


def test_accounts_share_one_client_and_each_call_is_signed_with_its_own_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    shared = SharedClients()
    accounts = [_account(shared, f"AKIAACCOUNT{i:05d}") for i in range(6)]
    clients = [a.client("sts") for a in accounts]
    assert len({id(c._shared) for c in clients}) == 1  # one botocore client for the six accounts
    signed: list[str] = []
    _answer_locally(clients[0]._shared, signed)

    def call(i: int) -> str:
        clients[i % 6].get_caller_identity()
        return f"AKIAACCOUNT{i % 6:05d}"

    with ThreadPoolExecutor(8) as pool:
        expected = list(pool.map(call, range(60)))
    assert sorted(signed) == sorted(expected)  # every call on its own account's key, none on another's


def test_a_call_on_a_shared_client_outside_any_account_is_refused() -> None:
    shared = SharedClients()
    raw = shared.client("sts", "us-east-1")
    signed: list[str] = []
    _answer_locally(raw, signed)
    with pytest.raises(RuntimeError, match="outside any account"):
        raw.get_caller_identity()
    assert signed == []
