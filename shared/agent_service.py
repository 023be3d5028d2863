"""The agent as a service: ``escher agent install|uninstall|status``, and what the agent does between jobs.

Service files, one per platform, each running ``escher agent`` as the user who installs it (never root):

- Linux: a systemd *user* unit ``~/.config/systemd/user/escher-agent.service`` (``Restart=on-failure``), enabled
  with ``systemctl --user enable --now``; it runs while the user is logged in (``loginctl enable-linger USER``
  keeps it running after logout: :data:`LINGER_HINT`);
- macOS: a launchd agent ``~/Library/LaunchAgents/dev.escher.agent.plist`` (``RunAtLoad``, restarted when it
  exits with an error), loaded with ``launchctl bootstrap gui/<uid>``;
- Windows: a Task Scheduler task ``Escher Agent`` from XML (at logon, restarted every minute on failure, no time
  limit), registered with ``schtasks /Create /XML``.

The environment the agent needs to find this installation (``ESCHER_CONFIG_DIR``, ``ESCHER_DATA_DIR``,
``ESCHER_STATE_URL``, ``ESCHER_DATABASE_URL``, ``AWS_PROFILE``, ...) is written into the unit or plist when it
is set at install time; the Windows task runs in the user's own environment. Secrets are never written: a
variable whose name says KEY, SECRET, TOKEN or PASSWORD is left out (the service reads them the way the CLI does).

:class:`Housekeeping` is the agent's between-jobs work -- ``escher watch`` rounds every ``[watch]
interval_seconds``, the store backup every ``[backup] interval_minutes``, the retention purge once a day -- one
callable the agent loop calls each pass; a failing part is reported and retried next time, never stops the rest.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from escher.errors import EscherError

__all__ = [
    "LINGER_HINT",
    "Housekeeping",
    "ServiceError",
    "ServiceFile",
    "ServiceStatus",
    "default_housekeeping",
    "install",
    "service_file",
    "status",
    "uninstall",
]

UNIT = "escher-agent.service"
LABEL = "dev.escher.agent"
TASK = "Escher Agent"
LINGER_HINT = "to keep the agent running after you log out: loginctl enable-linger $USER"
_PASSED = (
    "ESCHER_CONFIG_DIR",
    "ESCHER_DATA_DIR",
    "ESCHER_STATE_URL",
    "ESCHER_AUDIT_URL",
    "ESCHER_DATABASE_URL",
    "ESCHER_ANCHOR_DIR",
    "ESCHER_USER",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AZURE_CONFIG_DIR",
    "CLOUDSDK_CONFIG",
    "GOOGLE_APPLICATION_CREDENTIALS",
)
_SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "CONNECTION_STRING")

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class ServiceError(EscherError):
    """The service could not be installed, removed or queried."""


@dataclass(frozen=True)
class ServiceFile:
    platform: str  # "linux", "darwin", "win32"
    path: Path
    content: bytes
    enable: tuple[tuple[str, ...], ...]  # commands that register and start it
    disable: tuple[tuple[str, ...], ...]  # commands that stop and unregister it (failures tolerated)
    query: tuple[str, ...]


@dataclass(frozen=True)
class ServiceStatus:
    platform: str
    path: str
    installed: bool
    running: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _platform(name: str | None) -> str:
    name = name or sys.platform
    if name.startswith("linux"):
        return "linux"
    if name in ("darwin", "win32"):
        return name
    raise ServiceError(
        f"Escher cannot install its agent as a service on {name}",
        hint="run `escher agent` under your own supervisor, or `escher run-due` and `escher watch --once` from cron",
    )


def escher_command() -> list[str]:
    """The ``escher`` this Python runs (the venv's script), else the one on PATH, else ``python -m escher.cli``."""
    here = Path(sys.executable).parent
    for name in ("escher", "escher.exe"):
        if (here / name).exists():
            return [str(here / name)]
    found = shutil.which("escher")
    return [found] if found else [sys.executable, "-m", "escher.cli"]


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    """What the service needs to find this installation; never a secret (a database URL with a password is
    left out: the agent reads it the way the CLI does)."""
    passed = {k: env[k] for k in _PASSED if env.get(k) and not any(w in k for w in _SECRET_WORDS)}
    db = passed.get("ESCHER_DATABASE_URL", "")
    if "@" in db and ":" in db.split("://", 1)[-1].split("@", 1)[0]:
        del passed["ESCHER_DATABASE_URL"]
    return passed


def _systemd_quote(value: str) -> str:
    if any(c in value for c in "\n\r"):
        raise ServiceError("a path or setting holds a line break", hint="use paths without line breaks")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def _systemd_unit(command: list[str], env: dict[str, str], log_dir: Path) -> str:
    lines = [
        "[Unit]",
        "Description=Escher agent: scheduled jobs, watch, backups, retention",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_systemd_quote(c) for c in [*command, "agent"]),
        "Restart=on-failure",
        "RestartSec=30",
        'Environment="PYTHONUNBUFFERED=1"',
        *(f"Environment={_systemd_quote(f'{k}={v}')}" for k, v in sorted(env.items())),
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    del log_dir  # journald keeps the output: journalctl --user -u escher-agent
    return "\n".join(lines)


def _launchd_plist(command: list[str], env: dict[str, str], log_dir: Path) -> bytes:
    plist: dict[str, Any] = {
        "Label": LABEL,
        "ProgramArguments": [*command, "agent"],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 30,
        "ProcessType": "Background",
        "StandardOutPath": str(log_dir / "agent.log"),
        "StandardErrorPath": str(log_dir / "agent.log"),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1", **env},
    }
    return plistlib.dumps(plist, sort_keys=True)


def _task_xml(command: list[str], user: str) -> bytes:
    program, *args = [*command, "agent"]
    arguments = " ".join(f'"{a}"' if " " in a else a for a in args)
    xml = f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>Escher agent: scheduled jobs, watch, backups, retention</Description>
    <URI>\\{escape(TASK)}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>{escape(user)}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{escape(user)}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(program)}</Command>
      <Arguments>{escape(arguments)}</Arguments>
    </Exec>
  </Actions>
</Task>
"""
    return xml.encode("utf-16")


def service_file(
    platform: str | None = None,
    *,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    command: list[str] | None = None,
    uid: int | None = None,
) -> ServiceFile:
    """The service definition for this platform, not yet written."""
    plat = _platform(platform)
    env = os.environ if env is None else env
    home = home or Path.home()
    command = command or escher_command()
    passed = _environment(env)
    data_dir = Path(env.get("ESCHER_DATA_DIR") or home / ".local" / "share" / "escher")
    if plat == "linux":
        config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        path = config_home / "systemd" / "user" / UNIT
        content = _systemd_unit(command, passed, data_dir / "logs").encode()
        return ServiceFile(
            plat,
            path,
            content,
            enable=(
                ("systemctl", "--user", "daemon-reload"),
                ("systemctl", "--user", "enable", "--now", UNIT),
            ),
            disable=(
                ("systemctl", "--user", "disable", "--now", UNIT),
                ("systemctl", "--user", "daemon-reload"),
            ),
            query=("systemctl", "--user", "is-active", UNIT),
        )
    if plat == "darwin":
        domain = f"gui/{uid if uid is not None else os.getuid()}"  # type: ignore[attr-defined,unused-ignore]
        path = home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
        content = _launchd_plist(command, passed, home / "Library" / "Logs" / "Escher")
        return ServiceFile(
            plat,
            path,
            content,
            enable=(("launchctl", "bootstrap", domain, str(path)),),
            disable=(("launchctl", "bootout", f"{domain}/{LABEL}"),),
            query=("launchctl", "print", f"{domain}/{LABEL}"),
        )
    user = env.get("USERDOMAIN", "") + "\\" + env.get("USERNAME", "") if env.get("USERNAME") else ""
    path = data_dir / "service" / "escher-agent-task.xml"
    return ServiceFile(
        plat,
        path,
        _task_xml(command, user.lstrip("\\")),
        enable=(
            ("schtasks", "/Create", "/TN", TASK, "/XML", str(path), "/F"),
            ("schtasks", "/Run", "/TN", TASK),
        ),
        disable=(("schtasks", "/End", "/TN", TASK), ("schtasks", "/Delete", "/TN", TASK, "/F")),
        query=("schtasks", "/Query", "/TN", TASK, "/FO", "LIST"),
    )


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        return subprocess.CompletedProcess(list(argv), 127, "", f"{argv[0]}: not found")


def install(spec: ServiceFile, *, enable: bool = True, run: Runner = _run) -> ServiceStatus:
    """Write the service file (atomically, owner-only) and, with ``enable``, register and start it."""
    spec.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = spec.path.with_name(f".{spec.path.name}.tmp")
    tmp.write_bytes(spec.content)
    tmp.chmod(0o600 if spec.platform == "linux" else 0o644)
    os.replace(tmp, spec.path)
    if enable:
        for argv in spec.enable:
            done = run(argv)
            if done.returncode != 0:
                raise ServiceError(
                    f"`{' '.join(argv)}` failed: {(done.stderr or done.stdout).strip()[:300]}",
                    hint=f"the service file is written at {spec.path}; fix the cause and run "
                    "`escher agent install` again",
                )
    return status(spec, run=run)


def uninstall(spec: ServiceFile, *, run: Runner = _run) -> ServiceStatus:
    """Stop and unregister the service (a service that is not registered is fine), then remove its file."""
    for argv in spec.disable:
        run(argv)
    spec.path.unlink(missing_ok=True)
    return status(spec, run=run)


def status(spec: ServiceFile, *, run: Runner = _run) -> ServiceStatus:
    installed = spec.path.exists()
    done = run(spec.query)
    out = (done.stdout or done.stderr).strip()
    if spec.platform == "linux":
        running = out.splitlines()[0] == "active" if out else False
    elif spec.platform == "darwin":
        running = done.returncode == 0 and "state = running" in out
    else:
        running = done.returncode == 0 and "Running" in out
    return ServiceStatus(spec.platform, str(spec.path), installed, running, out[:500])


# -- what the agent does between jobs -------------------------------------------------------------------------
@dataclass
class Housekeeping:
    """Watch rounds, backups and the daily retention purge, each at its own pace; call it every agent pass."""

    watch: Callable[[], object] | None = None
    watch_every: timedelta = timedelta(seconds=60)
    backup: Callable[[], object] | None = None
    backup_every: timedelta = timedelta(hours=1)
    retention: Callable[[], object] | None = None
    retention_every: timedelta = timedelta(days=1)
    on_error: Callable[[str, BaseException], None] = lambda _part, _exc: None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # where the last runs are kept between processes (``escher run-due`` from cron); None: in memory
    state_file: Path | None = None
    last: dict[str, datetime] = field(default_factory=dict)

    def __call__(self) -> list[str]:
        """Run what is due; the names of the parts that ran (and succeeded)."""
        now = self.clock()
        self._load()
        done: list[str] = []
        for part, fn, every in (
            ("watch", self.watch, self.watch_every),
            ("backup", self.backup, self.backup_every),
            ("retention", self.retention, self.retention_every),
        ):
            if fn is None or (part in self.last and now - self.last[part] < every):
                continue
            try:
                fn()
            except EscherError as exc:  # reported and retried next pass; a bug propagates
                self.on_error(part, exc)
                continue
            self.last[part] = now
            done.append(part)
            self._save()
        return done

    def run(self) -> None:
        """One pass, for a loop that wants ``() -> None``."""
        self()

    def _load(self) -> None:
        if self.state_file is None or self.last or not self.state_file.exists():
            return
        import json

        try:
            raw = json.loads(self.state_file.read_text(encoding="utf-8"))
            self.last = {k: datetime.fromisoformat(v) for k, v in raw.items()}
        except (ValueError, AttributeError, TypeError):
            self.last = {}  # unreadable: everything is due once, then the file is rewritten

    def _save(self) -> None:
        if self.state_file is None:
            return
        import json

        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: v.isoformat() for k, v in self.last.items()}), encoding="utf-8")
        os.replace(tmp, self.state_file)


def default_housekeeping(
    on_error: Callable[[str, BaseException], None], *, persist: bool = False, watch: bool = True
) -> Housekeeping:
    """This laptop's housekeeping: watch when a cloud is configured, the store backup when a bucket is, the
    retention purge when the store is installed (``[retention]`` days). ``persist``: the last runs are kept in
    ``<data dir>/agent/housekeeping.json`` (for ``escher run-due``, a new process each time)."""
    from escher.config import load_settings, resolve_paths
    from escher.lazy import is_installed
    from escher.schedule.execute import store_backup_hook
    from escher.watch.runner import WatchConfig

    paths = resolve_paths()
    settings = load_settings(paths)
    watcher: list[Any] = []

    def watch_round() -> None:
        from escher.watch.runner import build_watcher

        if not watcher:
            watcher.append(build_watcher())
        for report in watcher[0].run_once():
            if report.error:  # one feed's failure is the agent's log line, not the end of the round
                on_error(f"watch {report.feed}", EscherError(report.error))

    def retention() -> None:
        from escher.store.retention import purge
        from escher.store.store import Store

        with Store.open(paths=paths) as store:
            purge(store, settings.retention)

    config = WatchConfig.from_extensions(settings.extensions)
    backup = store_backup_hook()  # None without the store extra or a bucket
    if backup is not None:
        from escher.store.backup import backup_interval

        backup_every = backup_interval(settings.extensions)
    else:
        backup_every = timedelta(hours=1)
    clouds = settings.aws.enabled or settings.azure.subscription_id or settings.gcp.project
    return Housekeeping(
        watch=watch_round if watch and clouds else None,
        watch_every=timedelta(seconds=config.interval_seconds),
        backup=backup,
        backup_every=backup_every,
        retention=retention if is_installed("escher.store.store") and is_installed("psycopg") else None,
        on_error=on_error,
        state_file=paths.data_dir / "agent" / "housekeeping.json" if persist else None,
    )
