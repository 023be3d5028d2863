"""``escher agent install|uninstall|status``: the generated systemd user unit (checked by ``systemd-analyze
verify`` where it exists), launchd plist and Task Scheduler XML; registration commands through a recording
runner; the agent's housekeeping pace and error handling."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escher.agent_service import Housekeeping, ServiceError, install, service_file, status, uninstall
from escher.errors import EscherError

ESCHER = [str(Path(sys.executable).parent / "escher")]
ENV = {
    "ESCHER_DATA_DIR": "/home/u/escher data 100%",
    "ESCHER_STATE_URL": "s3://bucket/laptop",
    "ESCHER_DATABASE_URL": "postgresql://app:hunter2@db/escher",
    "AWS_PROFILE": "ops",
    "AWS_SECRET_ACCESS_KEY": "never",
}


class Recorder:
    def __init__(self, answers: dict[str, tuple[int, str]] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        code, out = self.answers.get(argv[-1] if argv[0] != "systemctl" else argv[2], (0, ""))
        return subprocess.CompletedProcess(list(argv), code, out, "")


def test_systemd_user_unit_runs_the_agent_with_the_installation_env(tmp_path: Path) -> None:
    spec = service_file("linux", home=tmp_path, env=ENV, command=ESCHER)
    unit = spec.content.decode()
    assert spec.path == tmp_path / ".config" / "systemd" / "user" / "escher-agent.service"
    assert f'ExecStart="{ESCHER[0]}" "agent"' in unit
    assert 'Environment="ESCHER_DATA_DIR=/home/u/escher data 100%%"' in unit  # % escaped for systemd
    assert 'Environment="AWS_PROFILE=ops"' in unit
    assert "hunter2" not in unit and "never" not in unit  # no secret is written
    assert "Restart=on-failure" in unit and "WantedBy=default.target" in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    spec = service_file("linux", home=tmp_path, env={"ESCHER_DATA_DIR": str(tmp_path)}, command=ESCHER)
    path = tmp_path / spec.path.name
    path.write_bytes(spec.content)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    broken = tmp_path / "broken-escher.service"
    broken.write_text(spec.content.decode().replace("ExecStart=", "ExecStart=relative/"))
    bad = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(broken)], capture_output=True, text=True
    )
    assert bad.returncode != 0  # the check can fail


def test_install_status_uninstall_on_linux(tmp_path: Path) -> None:
    spec = service_file("linux", home=tmp_path, env={}, command=ESCHER)
    run = Recorder({"is-active": (0, "active\n")})
    state = install(spec, run=run)
    assert state.installed and state.running
    assert run.calls[:2] == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "escher-agent.service"],
    ]
    assert spec.path.stat().st_mode & 0o777 == 0o600
    gone = uninstall(spec, run=Recorder({"is-active": (3, "inactive\n")}))
    assert not gone.installed and not gone.running and not spec.path.exists()


def test_a_failed_enable_says_what_failed(tmp_path: Path) -> None:
    spec = service_file("linux", home=tmp_path, env={}, command=ESCHER)
    with pytest.raises(ServiceError, match="daemon-reload"):
        install(spec, run=Recorder({"daemon-reload": (1, "Failed to connect to bus")}))
    assert spec.path.exists()  # written: the hint says where


def test_launchd_plist(tmp_path: Path) -> None:
    spec = service_file("darwin", home=tmp_path, env=ENV, command=ESCHER, uid=501)
    plist = plistlib.loads(spec.content)
    assert spec.path == tmp_path / "Library" / "LaunchAgents" / "dev.escher.agent.plist"
    assert plist["ProgramArguments"] == [*ESCHER, "agent"]
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["EnvironmentVariables"]["ESCHER_STATE_URL"] == "s3://bucket/laptop"
    assert "ESCHER_DATABASE_URL" not in plist["EnvironmentVariables"]
    assert spec.enable == (("launchctl", "bootstrap", "gui/501", str(spec.path)),)
    run = Recorder({"gui/501/dev.escher.agent": (0, "state = running\n")})
    assert status(spec, run=run).running


def test_windows_task_xml(tmp_path: Path) -> None:
    cmd = ["C:\\Program Files\\Escher\\escher.exe"]
    spec = service_file("win32", home=tmp_path, env={"USERNAME": "ann", "USERDOMAIN": "PC"}, command=cmd)
    assert spec.content.decode("utf-16").startswith('<?xml version="1.0" encoding="UTF-16"?>')
    root = ET.fromstring(spec.content)
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    assert root.findtext("t:Actions/t:Exec/t:Command", namespaces=ns) == cmd[0]
    assert root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=ns) == "agent"
    assert root.findtext("t:Triggers/t:LogonTrigger/t:UserId", namespaces=ns) == "PC\\ann"
    assert root.findtext("t:Settings/t:RestartOnFailure/t:Interval", namespaces=ns) == "PT1M"
    assert root.findtext("t:Settings/t:ExecutionTimeLimit", namespaces=ns) == "PT0S"
    assert spec.enable[0][:2] == ("schtasks", "/Create")


def test_unknown_platform_is_refused_with_advice() -> None:
    with pytest.raises(ServiceError, match="cron"):
        service_file("sunos5")


def test_housekeeping_paces_each_part_and_survives_a_failing_one() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    ran: list[str] = []
    errors: list[str] = []

    def failing() -> None:
        ran.append("backup")
        raise EscherError("bucket unreachable")

    house = Housekeeping(
        watch=lambda: ran.append("watch"),
        watch_every=timedelta(seconds=60),
        backup=failing,
        retention=lambda: ran.append("retention"),
        on_error=lambda part, exc: errors.append(f"{part}: {exc}"),
        clock=lambda: now[0],
    )
    house()
    assert ran == ["watch", "backup", "retention"] and errors == ["backup: bucket unreachable"]
    now[0] += timedelta(seconds=30)
    house()
    assert ran[3:] == ["backup"]  # watch not due yet; the failed backup is retried; retention daily
    now[0] += timedelta(seconds=31)
    house()
    assert ran[4:] == ["watch", "backup"]


def test_housekeeping_remembers_its_last_runs_between_processes(tmp_path: Path) -> None:
    state = tmp_path / "agent" / "housekeeping.json"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ran: list[str] = []

    def house() -> Housekeeping:
        return Housekeeping(
            backup=lambda: ran.append("backup"),
            retention=lambda: ran.append("retention"),
            clock=lambda: now,
            state_file=state,
        )

    assert house()() == ["backup", "retention"]
    assert house()() == []  # a new process (escher run-due from cron): not due again
    now += timedelta(hours=1)
    assert house()() == ["backup"]
    state.write_text("not json")
    assert house()() == ["backup", "retention"]  # unreadable: everything once, then rewritten


def test_default_housekeeping_for_a_laptop_without_a_bucket(escher_home: Path) -> None:
    from escher.agent_service import default_housekeeping

    house = default_housekeeping(lambda part, exc: None, persist=True)
    assert house.watch is not None and house.backup is None  # AWS is on by default; no bucket configured
    assert house.state_file == escher_home / "data" / "agent" / "housekeeping.json"
    assert default_housekeeping(lambda part, exc: None, watch=False).watch is None
