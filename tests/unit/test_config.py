from __future__ import annotations

from pathlib import Path

import pytest

from escher.config import ConfigError, Paths, init_config, load_settings, resolve_paths


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(config_dir=tmp_path / "cfg", data_dir=tmp_path / "data")


def test_defaults_without_a_file(paths: Paths) -> None:
    settings = load_settings(paths, env={})
    assert settings.general.timezone == "UTC"
    assert settings.general.daily_scan_at == "02:00"
    assert settings.retention.cost_days == 90 and settings.retention.audit_days == 365


def test_init_is_idempotent_and_keeps_the_users_edits(paths: Paths) -> None:
    _, written = init_config(paths)
    assert written and paths.data_dir.is_dir()
    paths.config_file.write_text('[general]\ntimezone = "Europe/Paris"\n')
    _, written_again = init_config(paths)
    assert not written_again
    assert load_settings(paths, env={}).general.timezone == "Europe/Paris"


def test_written_defaults_load_back_identically(paths: Paths) -> None:
    init_config(paths)
    assert load_settings(paths, env={}) == load_settings(
        Paths(paths.config_dir / "none", paths.data_dir), env={}
    )


def test_broken_toml_names_the_file_and_line(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("[general]\ntimezone = \n")
    with pytest.raises(ConfigError) as err:
        load_settings(paths, env={})
    assert str(paths.config_file) in err.value.message and "line 2" in err.value.message


def test_unknown_key_and_bad_values_are_explained(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text('[general]\ntimezone = "Mars/Olympus"\n[aws]\nregoins = ["x"]\n')
    with pytest.raises(ConfigError) as err:
        load_settings(paths, env={})
    assert "[general.timezone]" in err.value.message and "unknown time zone" in err.value.message
    assert "[aws.regoins]" in err.value.message


def test_unknown_sections_are_kept_for_their_owners(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text('[[severity.rules]]\nwhen = "x"\n')
    assert load_settings(paths, env={}).extensions == {"severity": {"rules": [{"when": "x"}]}}


def test_environment_overrides(paths: Paths) -> None:
    env = {
        "ESCHER_AWS__REGIONS": "eu-west-1, eu-central-1",
        "ESCHER_DATABASE_URL": "postgresql://db/escher",
        "ESCHER_TIMEZONE": "Asia/Tokyo",
    }
    settings = load_settings(paths, env=env)
    assert settings.aws.regions == ["eu-west-1", "eu-central-1"]
    assert settings.store.database_url == "postgresql://db/escher"
    assert settings.general.timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"ESCHER_NOPE__X": "1"}, "unknown section 'nope'"),
        ({"ESCHER_AWS__REGOIN": "x"}, "unknown setting 'regoin'"),
        ({"ESCHER_GENERAL__DAILY_SCAN_AT": "25:00"}, "daily_scan_at"),
    ],
)
def test_bad_environment_overrides_are_explained(paths: Paths, env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_settings(paths, env=env)


def test_paths_follow_the_environment(tmp_path: Path) -> None:
    paths = resolve_paths({"ESCHER_CONFIG_DIR": str(tmp_path / "c"), "ESCHER_DATA_DIR": str(tmp_path / "d")})
    assert paths.config_file == tmp_path / "c" / "config.toml" and paths.data_dir == tmp_path / "d"


# -- issue 14: every config mistake is refused at load, exit 2, with the closest known name -------------------
def _write(paths: Paths, text: str | bytes) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        paths.config_file.write_bytes(text)
    else:
        paths.config_file.write_text(text)


def _refused(paths: Paths, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_settings(paths, env=env or {})
    assert err.value.exit_code == 2
    assert "--force" not in str(err.value)  # never advise a command that overwrites the user's file
    return err.value


def test_an_unknown_section_is_refused_with_the_closest_name(paths: Paths) -> None:
    _write(paths, "[notifi]\nroutes = {}\n")
    err = _refused(paths)
    assert "unknown section [notifi]" in err.message and "did you mean 'notify'" in err.message
    assert err.hint and "notify" in err.hint


@pytest.mark.parametrize(
    "section",
    ["severity", "remediation", "personas", "report", "extend", "notify", "state", "policy", "audit"],
)
def test_sections_owned_by_packages_are_kept(paths: Paths, section: str) -> None:
    _write(paths, f"[{section}]\n")
    assert load_settings(paths, env={}).extensions == {section: {}}


def test_an_unknown_key_names_the_closest_setting(paths: Paths) -> None:
    _write(paths, '[aws]\nregoins = ["us-east-1"]\n')
    err = _refused(paths)
    assert "unknown setting 'regoins'" in err.message and "did you mean 'regions'" in err.message


def test_a_binary_file_is_a_config_error(paths: Paths) -> None:
    _write(paths, bytes(range(256)) * 4)
    err = _refused(paths)
    assert "not a text file" in err.message


def test_a_bad_owned_section_is_a_config_error_not_a_policy_error(paths: Paths) -> None:
    _write(paths, "[remediation]\nstop_idle_instancs = true\n")
    err = _refused(paths)
    assert "[remediation]" in err.message and err.hint and "stop_idle_instances" in err.hint


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"ESCHER_AWS__REGIONS": "42"}, "'42' is not a region name"),
        ({"ESCHER_GCP__REGIONS": "us central1"}, "is not a region name"),
        ({"ESCHER_DATABASE_URL": "garbage://"}, "is not a Postgres URL"),
        ({"ESCHER_DATABASE_URL": "mysql://me:hunter2@db/x"}, "mysql://me:***@db/x is not a Postgres URL"),
        ({"ESCHER_DATABASE_URL": "postgresql://db/x?sslmod=require"}, "not a usable Postgres URL"),
        ({"ESCHER_BRAIN_URL": "localhost:8765"}, "is not an http(s) URL"),
        ({"ESCHER_BRAIN_URL": "http://127.0.0.1:port"}, "is not an http(s) URL"),
        ({"ESCHER_BRAIN_URL": "ftp://brain.example"}, "is not an http(s) URL"),
        ({"ESCHER_AWS__ENDPOINT_URL": "localhost:5000"}, "is not an http(s) URL"),
        ({"ESCHER_AWZ__REGIONS": "us-east-1"}, "did you mean 'aws'"),
        ({"ESCHER_AWS__REGOINS": "us-east-1"}, "did you mean 'regions'"),
    ],
)
def test_bad_variables_are_refused_at_load(paths: Paths, env: dict[str, str], words: str) -> None:
    err = _refused(paths, env)
    assert words in err.message
    assert "hunter2" not in str(err)


def test_good_urls_and_regions_load(paths: Paths) -> None:
    env = {
        "ESCHER_DATABASE_URL": "postgresql://me:pw@db.example:5432/escher?sslmode=require",
        "ESCHER_BRAIN_URL": "https://brain.example:8443/",
        "ESCHER_AWS__REGIONS": "us-east-1,us-gov-west-1,cn-north-1",
        "ESCHER_GCP__REGIONS": "europe-west4",
        "ESCHER_AZURE__LOCATIONS": "westeurope,eastus2",
    }
    settings = load_settings(paths, env=env)
    assert settings.brain.url == "https://brain.example:8443/"
    assert settings.aws.regions == ["us-east-1", "us-gov-west-1", "cn-north-1"]


def test_init_checks_the_variables_too(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCHER_AWS__REGIONS", "42")
    with pytest.raises(ConfigError) as err:  # the first run writes the file, then says the variable is wrong
        init_config(paths)
    assert "'42' is not a region name" in err.value.message
    before = paths.config_file.read_text()
    with pytest.raises(ConfigError):
        init_config(paths)
    assert paths.config_file.read_text() == before


# -- issue 17, item 9: the environment through pydantic-settings, and a commented config ----------------------
def test_a_variable_wins_over_the_file_and_takes_json_or_commas(paths: Paths) -> None:
    _write(paths, '[aws]\nregions = ["us-west-2"]\nprofile = "from-file"\n')
    assert load_settings(paths, env={}).aws.regions == ["us-west-2"]
    settings = load_settings(paths, env={"ESCHER_AWS__REGIONS": '["eu-west-1", "eu-central-1"]'})
    assert settings.aws.regions == ["eu-west-1", "eu-central-1"] and settings.aws.profile == "from-file"
    assert load_settings(paths, env={"ESCHER_AWS__ENABLED": "false"}).aws.enabled is False
    # the long form wins over the short one
    both = {"ESCHER_TIMEZONE": "Asia/Tokyo", "ESCHER_GENERAL__TIMEZONE": "Europe/Paris"}
    assert load_settings(paths, env=both).general.timezone == "Europe/Paris"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"ESCHER_AWS__REGIONS": "[eu-west-1"}, "environment variable ESCHER_AWS__REGIONS: '[eu-west-1'"),
        ({"ESCHER_AWS__ENABLED": "maybe"}, "environment variable ESCHER_AWS__ENABLED: [aws.enabled]"),
        ({"ESCHER_TIMEZONE": "Mars/Olympus"}, "environment variable ESCHER_TIMEZONE: [general.timezone]"),
    ],
)
def test_an_error_names_the_variable_it_came_from(paths: Paths, env: dict[str, str], words: str) -> None:
    _write(paths, '[general]\ntimezone = "UTC"\n')
    assert words in _refused(paths, env).message


def test_a_file_error_names_the_file_even_with_variables_set(paths: Paths) -> None:
    _write(paths, '[general]\ntimezone = "Mars/Olympus"\n')
    err = _refused(paths, {"ESCHER_AWS__REGIONS": "eu-west-1"})
    assert err.message.startswith(f"{paths.config_file}: [general.timezone]")


def test_init_writes_every_section_commented_and_it_loads_as_the_defaults(paths: Paths) -> None:
    import re

    from escher.config import EXTENSION_SECTIONS, Settings

    init_config(paths)
    text = paths.config_file.read_text()
    for section in set(Settings.model_fields) - {"extensions"}:
        assert f"\n[{section}]\n" in text
    for section in EXTENSION_SECTIONS:
        assert f"# -- [{section}]" in text
    assert "# regions = [" in text and '# project = ""' in text and "# idle_hours = 2.0" in text
    assert load_settings(paths, env={}) == load_settings(
        Paths(paths.config_dir / "none", paths.data_dir), env={}
    )
    # every commented setting and example is valid TOML that Escher accepts once uncommented
    setting = re.compile(r"^# (\[[a-z_.]+\]|[A-Za-z_]+ = .*|    .*,|\])$")
    uncommented = "\n".join(line[2:] if setting.match(line) else line for line in text.splitlines())
    assert uncommented.count("\nstop_idle_instances = false") == 1
    paths.config_file.write_text(uncommented)
    loaded = load_settings(paths, env={})
    assert loaded.extensions["remediation"]["idle_hours"] == 2.0
    assert loaded.general == Settings().general and loaded.aws.regions == ["us-east-1"]
