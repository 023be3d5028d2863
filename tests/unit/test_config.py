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
