"""boto3 clients with Escher's retry policy; endpoints come from boto3's own settings.

boto3 reads ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` (and ``endpoint_url`` in the profile) by
itself, so pointing Escher at LocalStack or moto needs no code: only an explicit ``endpoint_url`` (the
``[aws] endpoint_url`` setting) overrides them.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from escher.clouds.errors import CloudError, Failure, check_names
from escher.lazy import require

__all__ = [
    "DEFAULT_ORG_ROLE",
    "DEFAULT_RETRIES",
    "Account",
    "AccountClient",
    "AccountSession",
    "AccountSessions",
    "SharedClients",
    "account_session",
    "check_regions",
    "client",
    "error_code",
    "errors",
    "is_not_found",
    "known_regions",
    "list_accounts",
    "translate",
]

# botocore's adaptive mode: standard retries (throttling, 5xx, transient errors) plus a client-side rate limiter.
DEFAULT_RETRIES: dict[str, Any] = {"mode": "adaptive", "max_attempts": 10}

_lock = threading.Lock()  # boto3 sessions are not thread-safe while they create clients


def client(
    service: str,
    region: str | None = None,
    *,
    retries: dict[str, Any] | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    session: Any = None,
) -> Any:
    """A boto3 client for ``service`` in ``region`` (None: the SDK's default region); made by ``session`` when
    given (an account's, from :func:`account_session` or :meth:`AccountSessions.enter`), else a new one."""
    config_mod = require("botocore.config", "aws")
    config = config_mod.Config(retries=dict(retries or DEFAULT_RETRIES), user_agent_extra="escher")
    if session is not None:
        return session.client(service, region_name=region, config=config, endpoint_url=endpoint_url)
    session = _session(profile)  # a new session (credentials read now), on the process's one loader
    with _lock:
        return session.client(service, region_name=region, config=config, endpoint_url=endpoint_url)


# the role AWS Organizations creates in each new member account
DEFAULT_ORG_ROLE = "OrganizationAccountAccessRole"


@dataclass(frozen=True, slots=True)
class Account:
    """An AWS account of the organization (or of an explicit list: then only ``id`` is known)."""

    id: str
    name: str = ""
    email: str = ""
    status: str = "ACTIVE"
    tags: dict[str, str] = field(default_factory=dict)


_loader: Any = None  # botocore's data loader, shared by the account sessions (see _session)


def _session(profile: str | None = None, **credentials: Any) -> Any:
    """A boto3 Session. Every session made here shares one botocore data loader, so the service models and
    endpoint rules are read from disk and parsed once per process, not once per account: an organization scan
    makes a session per account and a dozen clients in each, and the parsing was most of a client's cost."""
    global _loader
    boto3 = require("boto3", "aws")
    botocore_session = require("botocore.session", "aws")
    with _lock:
        core = botocore_session.get_session()
        if _loader is None:
            _loader = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _loader)
        session = boto3.session.Session(botocore_session=core, profile_name=profile, **credentials)
        paths = _loader.search_paths  # boto3 appends its data folder to the loader each time
        paths[:] = list(dict.fromkeys(paths))
        return session


def account_session(
    account_id: str | None = None,
    *,
    role: str = DEFAULT_ORG_ROLE,
    profile: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    session_name: str = "escher-scan",
) -> Any:
    """A boto3 Session acting in ``account_id``: the caller's own session for its own account (or None),
    else one on the credentials of ``role`` in that account, assumed through STS. A refusal (AssumeRole
    denied, no such role) raises the SDK's error; :func:`translate` says what it means. For many accounts at
    once, :class:`AccountSessions` asks STS who the caller is once."""
    if not account_id:
        return _session(profile)
    return AccountSessions(role=role, profile=profile, endpoint_url=endpoint_url, region=region).enter(
        account_id, session_name=session_name
    )


class AccountSessions:
    """Sessions into the accounts of an organization, made from one STS client and one GetCallerIdentity:
    :meth:`enter` is safe to call from many threads at once (the AssumeRole calls then overlap)."""

    def __init__(
        self,
        *,
        role: str = DEFAULT_ORG_ROLE,
        profile: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        share_clients: bool = False,
    ) -> None:
        self.role = role
        self.base = _session(profile)
        # an organization scan: one client per service and region for every account (see SharedClients)
        self._shared = SharedClients() if share_clients else None
        self.region = region or self.base.region_name
        config_mod = require("botocore.config", "aws")
        config = config_mod.Config(retries=dict(DEFAULT_RETRIES), user_agent_extra="escher")
        with _lock:
            self._sts = self.base.client(
                "sts", region_name=self.region, config=config, endpoint_url=endpoint_url
            )
        self._caller: dict[str, Any] | None = None
        self._caller_lock = threading.Lock()
        self._clients_lock = threading.Lock()

    @property
    def caller(self) -> dict[str, Any]:
        """GetCallerIdentity of the base credentials, asked once."""
        with self._caller_lock:
            if self._caller is None:
                self._caller = dict(self._sts.get_caller_identity())
            return self._caller

    def enter(self, account_id: str, *, session_name: str = "escher-scan") -> Any:
        caller = self.caller
        if caller["Account"] == account_id:
            return self.base
        partition = str(caller.get("Arn", "arn:aws:")).split(":")[1] or "aws"
        creds = self._sts.assume_role(
            RoleArn=f"arn:{partition}:iam::{account_id}:role/{self.role}", RoleSessionName=session_name
        )["Credentials"]
        return AccountSession(self.base, creds, self.region, self._clients_lock, self._shared)


class AccountSession:
    """What a boto3 Session is to the collectors and operations (``client()``, ``region_name``) for one account
    entered through AssumeRole: its clients are made by the organization's one base session on the role's
    keys. A boto3 Session per account cost more CPU to make (event handlers, config files, loaders) than the
    whole account's reading, and was made under a process-wide lock. Given ``shared``, its clients are the
    organization's shared ones, each call made on this account's keys (:class:`SharedClients`)."""

    def __init__(
        self,
        base: Any,
        credentials: dict[str, Any],
        region: str | None,
        lock: threading.Lock,
        shared: SharedClients | None = None,
    ) -> None:
        self._base = base
        self._keys = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
        self.region_name = region
        self._lock = lock
        self._shared = shared
        self._credentials: Any = None
        if shared is not None:
            creds_mod = require("botocore.credentials", "aws")
            self._credentials = creds_mod.Credentials(
                credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
            )

    def client(self, service: str, region_name: str | None = None, **kwargs: Any) -> Any:
        region = region_name or self.region_name
        if self._shared is not None:
            return AccountClient(self._shared.client(service, region, **kwargs), self._credentials)
        with (
            self._lock
        ):  # one base session shared by every account: creating clients on it is not thread-safe
            return self._base.client(service, region_name=region, **self._keys, **kwargs)


# the credentials of the account a call on a shared client is made for (set by AccountClient around each call)
_ACCOUNT_KEYS: ContextVar[Any] = ContextVar("escher_aws_account_keys", default=None)


class _AccountKeys:
    """What a botocore client takes for its credentials, answering with the keys of the account whose call is
    being made (:data:`_ACCOUNT_KEYS`): botocore reads them when it signs each request. A call outside an
    account's context is a bug, raised, never signed with other keys."""

    method = "escher-account"

    def _current(self) -> Any:
        keys = _ACCOUNT_KEYS.get()
        if keys is None:
            raise RuntimeError("a call on a shared AWS client outside any account (use AccountClient)")
        return keys

    def get_frozen_credentials(self) -> Any:
        return self._current().get_frozen_credentials()

    def get_deferred_property(self, name: str) -> Callable[[], Any]:
        return lambda: getattr(_ACCOUNT_KEYS.get(), name, None)

    @property
    def access_key(self) -> str:
        return str(self._current().access_key)

    @property
    def secret_key(self) -> str:
        return str(self._current().secret_key)

    @property
    def token(self) -> str | None:
        token = self._current().token
        return None if token is None else str(token)


class _AccountKeysProvider:
    """botocore's ``credential_provider`` component for the shared clients' session."""

    def load_credentials(self) -> _AccountKeys:
        return _AccountKeys()


class SharedClients:
    """One botocore client per service, region and configuration for all the accounts of an organization scan,
    each call signed with its own account's keys (:class:`AccountClient`). Making a client costs 10-20 ms of CPU
    (botocore copies its event handlers, builds the client class and the endpoint resolver): a client per
    account, service and region was most of an organization scan's CPU on a 2-core machine. Shared, the
    clients also share their connection pools (sized for the organization's workers) and botocore's adaptive
    rate limiter: a service throttling one account slows that service's calls in the others too."""

    POOL = (
        128  # connections per client: the organization pool's workers, each with a service's parallel parts
    )

    def __init__(self) -> None:
        self._session = _session()  # on the process's one loader
        # its credentials: the keys of the account whose call it is (the boto3 Session's botocore session)
        self._session._session.register_component("credential_provider", _AccountKeysProvider())
        self._clients: dict[tuple[str, str | None, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None, *, config: Any = None, **kwargs: Any) -> Any:
        config_mod = require("botocore.config", "aws")
        options = dict(getattr(config, "_user_provided_options", {}))
        key = (service, region, repr(sorted((k, repr(v)) for k, v in {**options, **kwargs}.items())))
        with self._lock:  # creating clients is not thread-safe in botocore
            if key not in self._clients:
                pooled = config_mod.Config(
                    max_pool_connections=max(self.POOL, options.get("max_pool_connections", 0))
                )
                merged = config.merge(pooled) if config is not None else pooled
                self._clients[key] = self._session.client(
                    service, region_name=region, config=merged, **kwargs
                )
            return self._clients[key]


class AccountClient:
    """A shared client (:class:`SharedClients`) acting for one account: each API call, page and wait runs with
    the account's keys in :data:`_ACCOUNT_KEYS`, so botocore signs it with them; everything else (``exceptions``,
    ``meta``, ``can_paginate``) is the shared client's."""

    def __init__(self, shared: Any, credentials: Any) -> None:
        self._shared = shared
        self._credentials = credentials

    def _in_account(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            token = _ACCOUNT_KEYS.set(self._credentials)
            try:
                return fn(*args, **kwargs)
            finally:
                _ACCOUNT_KEYS.reset(token)

        return call

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._shared, name)
        if name in self._shared.meta.method_to_api_mapping or name == "generate_presigned_url":
            return self._in_account(attr)
        if name == "get_paginator":
            return lambda op: _AccountPaginator(attr(op), self)
        if name == "get_waiter":
            return lambda waiter: _AccountWaiter(attr(waiter), self)
        return attr


class _AccountPaginator:
    def __init__(self, paginator: Any, client: AccountClient) -> None:
        self._paginator = paginator
        self._client = client

    def paginate(self, **kwargs: Any) -> _AccountPages:
        return _AccountPages(self._paginator.paginate(**kwargs), self._client)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._paginator, name)


class _AccountPages:
    """A botocore PageIterator whose requests (made as the pages are read) carry the account's keys."""

    def __init__(self, pages: Any, client: AccountClient) -> None:
        self._pages = pages
        self._client = client

    def __iter__(self) -> Iterator[Any]:
        it = iter(self._pages)
        while True:
            token = _ACCOUNT_KEYS.set(self._client._credentials)
            try:
                page = next(it)
            except StopIteration:
                return
            finally:
                _ACCOUNT_KEYS.reset(token)
            yield page

    def __getattr__(
        self, name: str
    ) -> Any:  # build_full_result, search, result_key_iters: read in the account
        attr = getattr(self._pages, name)
        return self._client._in_account(attr) if callable(attr) else attr


class _AccountWaiter:
    def __init__(self, waiter: Any, client: AccountClient) -> None:
        self._waiter = waiter
        self._client = client

    def wait(self, **kwargs: Any) -> None:
        self._client._in_account(self._waiter.wait)(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._waiter, name)


def list_accounts(
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    units: Iterable[str] = (),
    tags: dict[str, str] | None = None,
    active_only: bool = True,
) -> list[Account]:
    """The accounts of the caller's organization (the caller must be the management account or a delegated
    administrator). ``units``: only accounts under these OUs (or roots), at any depth; ``tags``: only
    accounts carrying every one of these tags."""
    org = client("organizations", "us-east-1", profile=profile, endpoint_url=endpoint_url)
    found: dict[str, dict[str, Any]] = {}
    if units:
        pending = list(units)
        while pending:
            parent = pending.pop()
            for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
                found.update({a["Id"]: a for a in page["Accounts"]})
            for page in org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent):
                pending += [ou["Id"] for ou in page["OrganizationalUnits"]]
    else:
        for page in org.get_paginator("list_accounts").paginate():
            found.update({a["Id"]: a for a in page["Accounts"]})
    out: list[Account] = []
    for acc_id, a in sorted(found.items()):
        status = str(a.get("Status", "ACTIVE"))
        if active_only and status != "ACTIVE":
            continue
        have: dict[str, str] = {}
        if tags:
            for page in org.get_paginator("list_tags_for_resource").paginate(ResourceId=acc_id):
                have.update({t["Key"]: t["Value"] for t in page["Tags"]})
            if any(have.get(k) != v for k, v in tags.items()):
                continue
        out.append(Account(acc_id, str(a.get("Name", "")), str(a.get("Email", "")), status, have))
    return out


def errors() -> tuple[type[BaseException], ...]:
    """The SDK's error types: what a failed AWS call raises after botocore's retries gave up."""
    exc = require("botocore.exceptions", "aws")
    return (exc.ClientError, exc.BotoCoreError)


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return type(error).__name__


def is_not_found(error: BaseException) -> bool:
    code = error_code(error)
    return code.endswith(("NotFound", ".NotFound", "NotFoundFault")) or code in {
        "NoSuchBucket",
        "ResourceNotFoundException",  # Lambda, Secrets Manager, Logs, ECS, ...
        "404",
        "NoSuchPublicAccessBlockConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
    }


_THROTTLED = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException",
    "RequestLimitExceeded", "TooManyRequestsException", "SlowDown", "ProvisionedThroughputExceededException",
    "RequestLimitExceededException", "BandwidthLimitExceeded", "PriorRequestNotComplete",
}  # fmt: skip
_DENIED = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden",
    "AllAccessDisabled", "UnauthorizedAccess", "OptInRequired", "AccountNotEnrolled",
}  # fmt: skip
_BAD_KEYS = {
    "AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
    "UnrecognizedClientException", "InvalidAccessKeyId", "InvalidToken", "MissingAuthenticationToken",
}  # fmt: skip
_CREDENTIALS_HINT = (
    "run 'aws configure' (or 'aws sso login'), or set AWS_PROFILE / AWS_ACCESS_KEY_ID, then retry"
)


def translate(exc: BaseException) -> CloudError | None:
    """What a botocore failure means and what to do about it; None if ``exc`` is not botocore's."""
    mod = sys.modules.get("botocore.exceptions")
    parsers = sys.modules.get("botocore.parsers")
    if mod is None:
        return None
    name = type(exc).__name__
    if parsers is not None and isinstance(exc, parsers.ResponseParserError):
        return CloudError(
            "aws",
            Failure.bad_response,
            "the AWS endpoint answered with something that is not an AWS API response",
            hint="check the region name and any endpoint override (AWS_ENDPOINT_URL, [aws] endpoint_url): "
            "an unknown region or a wrong URL often reaches a server that is not AWS",
        )
    if isinstance(exc, mod.ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message") or exc)
        operation = getattr(exc, "operation_name", "") or "the call"
        if code in _THROTTLED:
            return CloudError(
                "aws",
                Failure.throttled,
                f"AWS throttled {operation} ({code}) after retries",
                hint="try again in a few minutes, or read fewer regions at once (-r)",
                code=code,
            )
        if code in _BAD_KEYS:
            return CloudError(
                "aws",
                Failure.no_credentials,
                f"AWS refused the credentials: {code}: {message}",
                hint=_CREDENTIALS_HINT,
                code=code,
            )
        if code in _DENIED:
            return CloudError(
                "aws",
                Failure.denied,
                f"AWS denied {operation}: {message}",
                hint="grant this identity the permission named (read-only is enough for a scan), "
                "or skip that service or region",
                code=code,
            )
        return CloudError(
            "aws",
            Failure.refused,
            f"AWS refused {operation}: {code}: {message}",
            hint="see the message; the call can be retried once the cause is fixed",
            code=code,
        )
    if not isinstance(exc, mod.BotoCoreError):
        return None
    if isinstance(
        exc,
        mod.NoCredentialsError
        | mod.PartialCredentialsError
        | mod.ProfileNotFound
        | mod.CredentialRetrievalError
        | mod.TokenRetrievalError
        | mod.SSOError
        | mod.NoAuthTokenError,
    ):
        return CloudError(
            "aws",
            Failure.no_credentials,
            f"AWS credentials are missing or unusable: {exc}",
            hint=_CREDENTIALS_HINT,
            code=name,
        )
    if isinstance(exc, mod.InvalidRegionError | mod.NoRegionError | mod.UnknownRegionError):
        return CloudError(
            "aws",
            Failure.bad_region,
            str(exc),
            hint="name a region such as us-east-1 ([aws] regions, ESCHER_AWS__REGIONS or -r)",
            code=name,
        )
    if isinstance(
        exc,
        mod.EndpointConnectionError
        | mod.ConnectTimeoutError
        | mod.ReadTimeoutError
        | mod.ConnectionClosedError
        | mod.ProxyConnectionError
        | mod.SSLError
        | mod.HTTPClientError,
    ):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        return CloudError(
            "aws",
            Failure.unreachable,
            f"cannot reach AWS{f' at {endpoint}' if endpoint else ''}: {exc}",
            hint="check the network (and a proxy), the region name, and any endpoint override "
            "(AWS_ENDPOINT_URL, [aws] endpoint_url)",
            code=name,
        )
    return CloudError(
        "aws",
        Failure.refused,
        f"an AWS call failed: {exc}",
        hint="see the message; rerun with ESCHER_DEBUG=1 for the details",
        code=name,
    )


def known_regions() -> set[str]:
    """Every region in botocore's endpoint data, all partitions (commercial, China, GovCloud, ...)."""
    session = require("botocore.session", "aws").get_session()
    found: set[str] = set()
    for partition in session.get_available_partitions():
        found.update(session.get_available_regions("ec2", partition))
    return found


def check_regions(regions: Iterable[str], where: str = "[aws] regions or -r") -> None:
    """Refuse a region botocore does not know and that looks like a typo of one (``us-eats-1``)."""
    check_names("aws", "region", regions, known_regions(), pattern=r"[a-z]{2}(-[a-z]+)+-\d{1,2}", where=where)
