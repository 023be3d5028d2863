"""An AWS organization on moto: member accounts, each with one public bucket made inside the account through
its OrganizationAccountAccessRole (moto keeps each account's resources apart). Shared by the tests and the
bench.

moto grants every AssumeRole, whatever the role; :class:`DenyingProxy` stands in front of the moto server and
answers AssumeRole into chosen accounts as AWS does when the role is missing or does not trust the caller
(403 AccessDenied), forwarding everything else untouched.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.harness.http_answer import answering_server

REGION = "us-east-1"
ROLE = "OrganizationAccountAccessRole"


@dataclass
class Org:
    management: str
    members: dict[str, str] = field(default_factory=dict)  # account id -> its public bucket


def _client(service: str, session: Any = None) -> Any:
    import boto3
    from botocore.config import Config

    maker = session or boto3.session.Session()
    return maker.client(service, region_name=REGION, config=Config(retries={"max_attempts": 1}))


def member_session(account: str) -> Any:
    """A boto3 Session inside ``account``, through the organization role (as an administrator would)."""
    import boto3

    creds = _client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed")[
        "Credentials"
    ]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def seed_org(members: int, *, buckets_per_account: int = 1) -> Org:
    """An organization of ``members`` member accounts; in each, ``buckets_per_account`` public buckets."""
    org = _client("organizations")
    org.create_organization(FeatureSet="ALL")
    out = Org(management=_client("sts").get_caller_identity()["Account"])
    for i in range(members):
        status = org.create_account(AccountName=f"member-{i}", Email=f"member-{i}@example.com")
        account = status["CreateAccountStatus"]["AccountId"]
        s3 = _client("s3", member_session(account))
        for b in range(buckets_per_account):
            name = f"org-public-{i}-{b}-{account}"
            s3.create_bucket(Bucket=name)
            s3.put_bucket_acl(Bucket=name, ACL="public-read")
        out.members[account] = f"org-public-{i}-0-{account}"
    return out


_DENIED = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    "<Code>AccessDenied</Code><Message>User: arn:aws:iam::{caller}:user/escher is not authorized to perform: "
    "sts:AssumeRole on resource: {role}</Message></Error><RequestId>denied</RequestId></ErrorResponse>"
)


class DenyingProxy:
    """An HTTP proxy to the moto server that refuses AssumeRole into ``denied`` accounts (and can add a round
    trip to every request). It also answers DescribeSnapshots for ``OwnerIds=self`` as AWS does (moto
    ignores that filter)."""

    def __init__(
        self, upstream_port: int, denied: set[str], caller: str = "123456789012", *, delay: float = 0.0
    ) -> None:
        self.denied = denied
        self.delay = delay  # seconds added to every request, as a real API's round trip (the bench)
        self.refused = 0
        self._caller = caller
        self.key_account: dict[str, str] = {}  # access key id -> the account AssumeRole gave it for
        self._upstream = upstream_port
        self._server = answering_server(self.answer)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> DenyingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        if self.delay:
            time.sleep(self.delay)
        role = ""
        if method == "POST" and b"Action=AssumeRole" in body:
            role = parse_qs(body.decode()).get("RoleArn", [""])[0]
            if role.split(":")[4:5] and role.split(":")[4] in self.denied:
                self.refused += 1
                payload = _DENIED.format(caller=self._caller, role=role).encode()
                return 403, [("Content-Type", "text/xml")], payload
        conn = http.client.HTTPConnection("127.0.0.1", self._upstream, timeout=60)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() != "host"}
            conn.request(method, path, body=body or None, headers=fwd)
            resp = conn.getresponse()
            status, out_headers, payload = resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()
        if role and status == 200:  # remember whose the new keys are
            key_id = payload.split(b"<AccessKeyId>", 1)[-1].split(b"</AccessKeyId>", 1)[0].decode()
            self.key_account[key_id] = role.split(":")[4]
        if status == 200 and b"Action=DescribeSnapshots" in body and b"Owner.1=self" in body:
            payload = _own_snapshots(payload, self.account_of(headers))
        return status, out_headers, payload

    def account_of(self, headers: dict[str, str]) -> str:
        """The account a request was signed for: the one whose role gave out its key, else the caller's."""
        key_id = headers.get("Authorization", "").split("Credential=", 1)[-1].split("/", 1)[0]
        return self.key_account.get(key_id, self._caller)


def _own_snapshots(payload: bytes, account: str) -> bytes:
    """A DescribeSnapshots answer as AWS gives it for ``OwnerIds=self``: moto ignores the filter and adds
    some 1,400 public snapshots to every account's answer, which cost a scan seconds of XML parsing per
    account that no AWS account pays."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(payload)
    ns = root.tag[1:].split("}", 1)[0]  # moto 5.2 leaves out the trailing slash AWS's namespace has
    ET.register_namespace("", ns)
    found = root.find(f"{{{ns}}}snapshotSet")
    if found is None:
        return payload
    for item in list(found):
        if item.findtext(f"{{{ns}}}ownerId") != account:
            found.remove(item)
    return bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))


class ReplayingProxy(DenyingProxy):
    """A :class:`DenyingProxy` that records moto's answers and, once ``replaying`` is set, answers a request
    it has seen (same account, method, path and body) from that recording, after the same round trip, without
    asking moto (the bench: a cloud whose answering keeps up with many accounts). The account of a request is
    read from its signing key: the management account's, or the one an AssumeRole answer gave it to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.replaying = False
        self.replayed = 0
        self._seen: dict[tuple[str, str, str, bytes], tuple[int, list[tuple[str, str]], bytes]] = {}
        self._lock = threading.Lock()

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        key = (self.account_of(headers), method, path, body)
        with self._lock:
            seen = self._seen.get(key) if self.replaying else None
        if seen is not None:
            if self.delay:
                time.sleep(self.delay)
            self.replayed += 1
            return seen
        got = super().answer(method, path, headers, body)
        with self._lock:
            self._seen[key] = got
        return got
