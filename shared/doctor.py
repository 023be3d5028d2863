"""What is ready on this machine: config, data dir, store, credentials and account per cloud, the brain, the
notification channels, Pulumi, optional extras.

Every check is read-only. Credential checks look at the standard chains the SDKs use, with the
instance-metadata endpoints turned off: a laptop has none, and probing them only adds seconds of timeouts. The
brain check makes two GET requests to the configured URL (liveness, then the token), nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from escher.config import ConfigError, Paths, Settings, load_settings, resolve_paths
from escher.lazy import is_installed

__all__ = ["Check", "Status", "run_checks"]

PULUMI_INSTALL_HINT = (
    "install the Pulumi CLI (https://www.pulumi.com/docs/install/: 'curl -fsSL https://get.pulumi.com | sh' "
    "or 'brew install pulumi'); until then 'escher extend CLOUD --plan' works offline"
)

# module to import -> (extra that provides it, what it is for)
EXTRAS: dict[str, tuple[str, str]] = {
    "boto3": ("aws", "AWS"),
    "azure.identity": ("azure", "Azure identity"),
    "azure.storage.blob": ("azure", "Azure Blob state"),
    "google.cloud.storage": ("gcp", "GCP storage"),
    "psycopg": ("store", "store driver"),
    "pgserver": ("store", "embedded Postgres + pgvector"),
    "pulumi": ("infra", "escher extend"),
    "anthropic": ("brain", "Claude in the brain"),
    "apprise": ("notify", "notifications"),
    "aws_lambda_powertools": ("workers", "AWS worker"),
    "functions_framework": ("workers", "GCP worker"),
    "mcp": ("mcp", "escher mcp (AI clients)"),
}


class Status(StrEnum):
    ok = "ok"
    warn = "warn"  # not ready, but nothing requires it
    fail = "fail"  # required and broken: doctor exits non-zero
    skip = "skip"  # not applicable (extra not installed, cloud disabled)


@dataclass(frozen=True)
class Check:
    area: str
    name: str
    status: Status
    detail: str
    hint: str | None = None
    required: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@contextmanager
def _no_metadata_probes() -> Iterator[None]:
    """Turn off the SDKs' instance-metadata lookups (169.254.169.254) for the duration of a check."""
    saved = {k: os.environ.get(k) for k in ("AWS_EC2_METADATA_DISABLED", "NO_GCE_CHECK")}
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["NO_GCE_CHECK"] = "True"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def check_config(paths: Paths) -> Check:
    try:
        load_settings(paths)  # the ESCHER_* variables count even without a file
    except ConfigError as exc:
        return Check("escher", "config", Status.fail, exc.message, hint=exc.hint, required=True)
    if not paths.config_file.exists():
        return Check(
            "escher",
            "config",
            Status.warn,
            f"no config at {paths.config_file}; defaults in use",
            hint="run 'escher init'",
        )
    return Check("escher", "config", Status.ok, str(paths.config_file), required=True)


def check_data_dir(paths: Paths) -> Check:
    directory = paths.data_dir
    if not directory.exists():
        return Check(
            "escher", "data dir", Status.warn, f"{directory} does not exist yet", hint="run 'escher init'"
        )
    if not os.access(directory, os.W_OK):
        return Check(
            "escher",
            "data dir",
            Status.fail,
            f"{directory} is not writable",
            hint="fix its permissions or set ESCHER_DATA_DIR",
            required=True,
        )
    return Check("escher", "data dir", Status.ok, str(directory), required=True)


def check_store(paths: Paths) -> Check:
    from escher.store.health import probe  # deferred: the store module imports this one

    return probe(paths)


def cloud_checks(settings: Settings | None, env: Mapping[str, str]) -> tuple[list[Check], list[Check]]:
    """Each cloud's credentials, and (with settings) the account a scan of it reads: its provider's
    ``doctor`` module (``escher.clouds.<cloud>.doctor``)."""
    from escher.clouds import PROVIDERS

    doctors = [p.load("doctor") for p in PROVIDERS.values() if "doctor" in p.refs]
    credentials: list[Check] = [d.credentials() for d in doctors]
    accounts: list[Check] = [c for d in doctors for c in d.account(settings, env)] if settings else []
    return credentials, accounts


def check_pulumi() -> Check:
    binary = shutil.which("pulumi")
    if binary is None:
        return Check("infra", "pulumi CLI", Status.warn, "not found on PATH", hint=PULUMI_INSTALL_HINT)
    try:
        out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(
            "infra", "pulumi CLI", Status.warn, f"{binary} did not answer: {exc}", hint=PULUMI_INSTALL_HINT
        )
    return Check("infra", "pulumi CLI", Status.ok, f"{out.stdout.strip() or 'unknown version'} at {binary}")


def check_extras() -> list[Check]:
    checks = []
    for module, (extra, purpose) in EXTRAS.items():
        if is_installed(module):
            checks.append(Check("extras", module, Status.ok, f"installed ({purpose})"))
        else:
            checks.append(
                Check(
                    "extras",
                    module,
                    Status.skip,
                    f"not installed ({purpose})",
                    hint=f"pip install 'escher[{extra}]'",
                )
            )
    return checks


def _get(url: str, token: str | None, timeout: float) -> int:
    """The HTTP status of a GET (0 when nothing answered)."""
    import urllib.error
    import urllib.request

    headers = {"authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return 0


def check_brain(settings: Settings, paths: Paths) -> list[Check]:
    """``[brain] url`` answers, and takes the token this machine would send (``[brain] token``, or for a brain on
    this machine the token file ``escher brain serve`` wrote)."""
    url = settings.brain.url
    if not url:
        return [Check("brain", "url", Status.ok, "none set: questions go to the local planner",
                      hint="to use a brain: set [brain] url (or ESCHER_BRAIN_URL), e.g. after 'escher brain serve'")]  # fmt: skip
    base = url.rstrip("/")
    timeout = min(settings.brain.timeout_seconds, 5.0)
    if _get(f"{base}/v1/health", None, timeout) != 200:
        return [Check("brain", "url", Status.warn, f"{base} does not answer /v1/health",
                      hint="start it ('escher brain serve') or fix [brain] url; until then the local planner answers")]  # fmt: skip
    checks = [Check("brain", "url", Status.ok, f"{base} answers")]
    token = settings.brain.token
    source = "[brain] token"
    if not token and (urlsplit(base).hostname or "") in ("127.0.0.1", "localhost", "::1"):
        from escher.assist.token import TokenFileError, read_token_file

        try:
            token = read_token_file(paths.data_dir)
        except TokenFileError as exc:
            return [*checks, Check("brain", "token", Status.warn, exc.message, hint=exc.hint)]
        source = "the local brain's token file"
    status = _get(f"{base}/openapi.json", token, timeout)
    if status == 200:
        checks.append(Check("brain", "token", Status.ok, f"accepted (from {source})"))
    elif status == 401:
        what = (
            f"the token from {source} is refused" if token else "the brain requires a token and none is set"
        )
        checks.append(Check("brain", "token", Status.warn, what,
                            hint="set [brain] token (or ESCHER_BRAIN_TOKEN) to the token 'escher brain serve' printed"))  # fmt: skip
    else:
        checks.append(
            Check("brain", "token", Status.warn, f"could not be checked (HTTP {status or 'no answer'})")
        )
    return checks


def check_notify(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    """Each channel of ``[notify.channels]`` has its URL (inline or from its variable) and apprise to send it."""
    from escher.notify.config import load_notify

    notify = load_notify(settings.extensions)  # already valid: load_settings checked the section
    if not notify.channels:
        return [Check("notify", "channels", Status.ok, "none set: alerts go to the banner and the morning report",
                      hint="add [notify.channels.NAME] with url = \"...\" (apprise), then 'escher notify test'")]  # fmt: skip
    checks = []
    urls = notify.urls(env)
    for name, channel in sorted(notify.channels.items()):
        if name in urls:
            checks.append(
                Check("notify", name, Status.ok, "URL set; 'escher notify test' sends a test message")
            )
        else:
            checks.append(Check("notify", name, Status.warn, f"{channel.url_env} is not set: nothing is sent here",
                                hint=f"export {channel.url_env}=... (the channel's apprise URL)"))  # fmt: skip
    if urls and not is_installed("apprise"):
        checks.append(Check("notify", "apprise", Status.warn, "not installed: the channels above send nothing",
                            hint="pip install 'escher[notify]'"))  # fmt: skip
    return checks


def run_checks(
    paths: Paths | None = None, *, with_store: bool = True, env: Mapping[str, str] | None = None
) -> list[Check]:
    env = os.environ if env is None else env
    paths = paths or resolve_paths()
    checks: list[Check] = [check_config(paths), check_data_dir(paths)]
    if with_store:
        checks.append(check_store(paths))
    try:
        settings: Settings | None = load_settings(paths)
    except ConfigError:  # check_config said so; the checks that read settings cannot run
        settings = None
    credentials, accounts = cloud_checks(settings, env)
    checks.extend(credentials)
    if settings is not None:
        checks.extend(accounts)
        checks.extend(check_brain(settings, paths))
        checks.extend(check_notify(settings, env))
    checks.append(check_pulumi())
    checks.extend(check_extras())
    order = {area: i for i, area in enumerate(dict.fromkeys(c.area for c in checks))}
    return sorted(checks, key=lambda c: order[c.area])  # each area's checks together (stable within)


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status is Status.fail and c.required for c in checks) else 0
