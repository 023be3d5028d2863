"""The CLI as a user types it: the installed ``escher`` script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from escher import __version__

ESCHER = str(Path(sys.executable).parent / "escher")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ESCHER, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"escher {__version__}"
    out = run("--help")
    assert out.returncode == 0 and "init" in out.stdout and "doctor" in out.stdout


def test_init_then_doctor_as_json(escher_home: Path) -> None:
    first = run("--output", "json", "init")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["written"] is True
    again = json.loads(run("-o", "json", "init").stdout)
    assert again["written"] is False
    doctor = run("-o", "json", "doctor", "--no-store")
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 0 and report["ok"] is True
    by_name = {(c["area"], c["name"]): c for c in report["checks"]}
    assert by_name[("escher", "config")]["status"] == "ok"
    # the suite scrubs credentials: the chains must say so, and what to do
    assert by_name[("aws", "credentials")]["status"] == "warn"
    assert "aws configure" in by_name[("aws", "credentials")]["hint"]


def test_doctor_finds_aws_credentials_in_the_standard_chain(escher_home: Path) -> None:
    report = json.loads(
        run(
            "-o",
            "json",
            "doctor",
            "--no-store",
            env={"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"},
        ).stdout
    )
    aws = next(c for c in report["checks"] if c["area"] == "aws")
    assert aws["status"] == "ok" and "env" in aws["detail"]
    assert "AKIAEXAMPLE" not in json.dumps(report)  # doctor never prints a credential


def test_doctor_fails_when_the_config_is_broken(escher_home: Path) -> None:
    run("init")
    (escher_home / "config" / "config.toml").write_text("[general]\ntimezone = 'Nowhere/Land'\n")
    out = run("doctor", "--no-store")
    assert out.returncode == 1
    assert "unknown time zone" in out.stdout


def test_a_broken_config_is_a_clear_error_with_advice(escher_home: Path) -> None:
    run("init")
    (escher_home / "config" / "config.toml").write_text("[general\n")
    out = run("init")
    assert out.returncode == 2
    assert "Error:" in out.stderr and "What to do:" in out.stderr
    as_json = json.loads(run("-o", "json", "init").stdout)
    assert as_json["error"] == "ConfigError" and as_json["hint"]


@pytest.mark.parametrize("args", [["--output", "yaml", "init"], ["no-such-command"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert run(*args).returncode == 2


# -- issue 14: nothing a user can do prints a traceback ---------------------------------------------------
def _clean_failure(out: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    assert "Error:" in out.stderr and "What to do:" in out.stderr
    # compared without whitespace: the error wraps at 80 columns, inside a long path too (a longer temp dir, as
    # under pytest-xdist, moves the break into the words)
    assert "".join(words.split()) in "".join(out.stderr.split()), out.stderr
    assert "--force" not in out.stderr


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"ESCHER_AWS__REGIONS": "42"}, "'42' is not a region name"),
        ({"ESCHER_DATABASE_URL": "garbage://"}, "is not a Postgres URL"),
        ({"ESCHER_BRAIN_URL": "localhost:8765"}, "is not an http(s) URL"),
        ({"ESCHER_NOTIFI__ROUTES": "x"}, "unknown section 'notifi'"),
    ],
)
def test_a_bad_variable_exits_2_without_a_traceback(
    escher_home: Path, env: dict[str, str], words: str
) -> None:
    _clean_failure(run("scan", env=env), 2, words)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (bytes(range(256)), "is not a text file"),
        (b"[awz]\nregions = ['us-east-1']\n", "did you mean 'aws'"),
        (b"[remediation]\nnope = true\n", "[remediation]"),
    ],
)
def test_a_bad_config_file_exits_2_without_a_traceback(escher_home: Path, content: bytes, words: str) -> None:
    (escher_home / "config").mkdir()
    (escher_home / "config" / "config.toml").write_bytes(content)
    _clean_failure(run("scan"), 2, words)
    assert json.loads(run("-o", "json", "report").stdout)["error"] == "ConfigError"


def test_an_unknown_cloud_is_a_usage_error(escher_home: Path) -> None:
    out = run("scan", "-c", "gpc")
    assert out.returncode == 2 and "unknown cloud 'gpc'" in out.stderr and "Traceback" not in out.stderr


def test_an_endpoint_the_sdk_refuses_is_a_setup_error(escher_home: Path) -> None:
    env = {"AWS_ENDPOINT_URL": "notaurl", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    # the scan starts the embedded store first: outside pytest's base dir, whose mode other sessions reset
    with tempfile.TemporaryDirectory(prefix="escher-cli-") as data:
        out = run("scan", env={**env, "ESCHER_DATA_DIR": data})
    _clean_failure(out, 2, "the AWS SDK refused its settings: Invalid endpoint: notaurl")


def test_a_mistyped_region_is_refused_before_any_call_with_the_closest_name(escher_home: Path) -> None:
    out = run("scan", "-r", "us-eats-1", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    _clean_failure(out, 2, "'us-eats-1' is not an AWS region; did you mean 'us-east-1'?")


BOOM = """
import sys
from escher.cli.main import app, run

@app.command("boom")
def boom() -> None:
    raise KeyError("a bug")

sys.argv = ["escher", "boom"]
run()
"""


def test_an_unexpected_error_is_one_line_and_its_traceback_only_under_escher_debug() -> None:
    def boom(debug: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "ESCHER_DEBUG"}
        if debug is not None:
            env["ESCHER_DEBUG"] = debug
        return subprocess.run(
            [sys.executable, "-c", BOOM], capture_output=True, text=True, env=env, timeout=60
        )

    plain = boom(None)
    _clean_failure(plain, 1, "unexpected KeyError: 'a bug'")
    assert "ESCHER_DEBUG=1" in plain.stderr
    debug = boom("1")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "KeyError" in debug.stderr


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper than"),
        (b'{"detail": ' * 500 + b"1" + b"}" * 500, "nests deeper than"),
        (b'{"id": ' + b"9" * 5000 + b"}", "5000-digit number"),
        (bytes(range(256)), "is not text"),
        (b'{"id": ', "is not JSON"),
    ],
)
def test_events_normalize_on_hostile_input_exits_2(tmp_path: Path, body: bytes, words: str) -> None:
    path = tmp_path / "event.json"
    path.write_bytes(body)
    _clean_failure(run("events", "normalize", str(path)), 2, words)


def _malformed(count: int) -> list[bytes]:
    """Deterministic garbage around real delivered events: truncated, bytes flipped, nested, huge, not text."""
    import random

    from tests.unit.events._samples import SAMPLES

    rng = random.Random(14)
    samples = [p.read_bytes() for p in sorted(SAMPLES.rglob("*.json"))]
    out: list[bytes] = []
    while len(out) < count:
        body = rng.choice(samples)
        kind = len(out) % 6
        if kind == 0:
            out.append(body[: rng.randrange(len(body))])
        elif kind == 1:
            flipped = bytearray(body)
            for _ in range(rng.randrange(1, 8)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            out.append(bytes(flipped))
        elif kind == 2:
            depth = rng.choice([65, 500, 5_000, 200_000])
            out.append(b'{"detail": ' * depth + body + b"}" * depth)
        elif kind == 3:
            out.append(body.replace(b"{", b'{"n": ' + b"7" * rng.choice([41, 4_301, 50_000]) + b", ", 1))
        elif kind == 4:
            out.append(rng.randbytes(rng.randrange(1, 2_000)))
        else:
            out.append(body.replace(b'"', b'"\\ud800', 1))
    return out


def test_events_normalize_never_raises_anything_but_an_escher_error(tmp_path: Path) -> None:
    # the real script per file would take minutes; the same app, in process, shows what escapes
    from typer.testing import CliRunner

    from escher.cli.main import app
    from escher.errors import EscherError

    runner = CliRunner()
    escaped, exit_codes = [], set()
    for i, body in enumerate(_malformed(250)):
        path = tmp_path / f"{i}.json"
        path.write_bytes(body)
        result = runner.invoke(app, ["events", "normalize", str(path)])
        if result.exception is not None and not isinstance(result.exception, EscherError | SystemExit):
            escaped.append((i, repr(result.exception)[:200]))
        elif isinstance(result.exception, EscherError):
            exit_codes.add(result.exception.exit_code)
    assert not escaped, (
        escaped
    )  # before issue 14: 9 of 250 malformed files raised RecursionError / ValueError
    assert exit_codes <= {2, 4}


def test_a_config_or_data_dir_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    env = {"ESCHER_CONFIG_DIR": str(a_file / "config"), "ESCHER_DATA_DIR": str(tmp_path / "data")}
    _clean_failure(run("init", env=env), 2, f"cannot create {a_file / 'config'}")
    env = {"ESCHER_CONFIG_DIR": str(tmp_path / "config"), "ESCHER_DATA_DIR": str(a_file / "data")}
    _clean_failure(run("store", "status", env=env), 4, "cannot create the data dir")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_said_plainly_not_called_a_bug() -> None:
    with open("/dev/full", "w") as full:
        out = subprocess.run(
            [ESCHER, "scan", "--list-checks"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60
        )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "No space left on device" in out.stderr and "bug" not in out.stderr
