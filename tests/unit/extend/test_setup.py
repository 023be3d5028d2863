"""The answers of 'escher extend CLOUD' (escher.extend.setup): defaults from the config or the SDK, the flags'
checks, what would change, the config written section by section; and the wizard's questions fed from stdin."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.config import Paths, Settings, resolve_paths
from escher.extend import setup


def _settings(**sections: object) -> Settings:
    known = {k: v for k, v in sections.items() if k in Settings.model_fields}
    return Settings.model_validate(
        {**known, "extensions": {k: v for k, v in sections.items() if k not in known}}
    )


def test_the_region_is_the_configs_else_the_sdks_else_the_default() -> None:
    assert setup.default_region(
        "aws", _settings(aws={"regions": ["eu-west-3"]}), {"AWS_REGION": "us-west-2"}
    ) == ("eu-west-3")
    assert setup.default_region("aws", _settings(), {"AWS_DEFAULT_REGION": "ap-south-1"}) == "ap-south-1"
    assert setup.default_region("aws", _settings(), {}) == "us-east-1"
    assert (
        setup.default_region("gcp", _settings(), {"CLOUDSDK_COMPUTE_REGION": "europe-west1"})
        == "europe-west1"
    )
    assert setup.default_region("azure", _settings(azure={"locations": ["westeurope"]}), {}) == "westeurope"


@pytest.mark.parametrize(
    ("cloud", "region"), [("aws", "us-gov-west-1"), ("azure", "eastus2"), ("gcp", "us-central1")]
)
def test_region_names_each_cloud_uses_pass(cloud: str, region: str) -> None:
    assert setup.validate_region(cloud, f" {region.upper()} ") == region


@pytest.mark.parametrize(
    ("cloud", "region"), [("aws", "westeurope"), ("gcp", "us-east-1"), ("azure", "us-east-1")]
)
def test_another_clouds_region_name_is_refused(cloud: str, region: str) -> None:
    with pytest.raises(setup.SetupError, match="is not a region name of"):
        setup.validate_region(cloud, region)


def test_flags_change_the_defaults_and_pass_the_same_checks() -> None:
    settings = _settings(remediation={"encrypt_unencrypted_volumes": True})
    base = setup.default_answers("aws", settings, {})
    assert base.remediation["encrypt_unencrypted_volumes"] is True and base.copy_credentials == []
    answers = setup.with_flags(
        base, settings, enable=["stop-idle-instances"], disable=["encrypt_unencrypted_volumes"], idle_hours=4,
        channels=["Slack=$SLACK_URL", "hook=json://example.com/x"], notify_email="ops@example.com",
        copy_credentials=["AZURE"],
    )  # fmt: skip
    assert answers.remediation["stop_idle_instances"] is True and answers.remediation["idle_hours"] == 4
    assert answers.remediation["encrypt_unencrypted_volumes"] is False
    assert [(c.name, c.url_env, c.url) for c in answers.channels] == [
        ("slack", "SLACK_URL", None),
        ("hook", None, "json://example.com/x"),
    ]
    assert [c.shown() for c in answers.channels] == ["$SLACK_URL", "json://…"]  # a URL's token is never shown
    assert answers.copy_credentials == ["azure"]
    with pytest.raises(setup.SetupError, match="cannot copy gcp credentials") as caught:
        setup.with_flags(base, _settings(gcp={"enabled": False}), copy_credentials=["gcp"])
    assert caught.value.hint == "name other enabled clouds: azure"
    with pytest.raises(setup.SetupError, match="idle_hours"):
        setup.with_flags(base, settings, idle_hours=0)


def test_changes_name_only_what_differs() -> None:
    settings = _settings(
        notify={"channels": {"slack": {"url_env": "SLACK_URL"}}}, extend={"notify_email": "a@b.io"}
    )
    answers = setup.default_answers("gcp", settings, {})
    assert setup.changes(answers, settings) == {}
    same = setup.with_flags(answers, settings, channels=["slack=$SLACK_URL"])
    assert setup.changes(same, settings) == {}
    changed = setup.with_flags(answers, settings, enable=["make_public_buckets_private"], notify_email="x@y.io",
                               channels=["pager=$PAGER_URL"])  # fmt: skip
    assert setup.changes(changed, settings) == {
        "remediation": {"make_public_buckets_private": [False, True]},
        "channels": {"pager": "$PAGER_URL"},
        "notify_email": ["a@b.io", "x@y.io"],
    }
    merged = setup.merged_settings(settings, changed)
    assert merged.extensions["extend"]["notify_email"] == "x@y.io"
    assert merged.extensions["remediation"]["make_public_buckets_private"] is True


def _paths(tmp_path: Path, text: str) -> Paths:
    paths = resolve_paths({"ESCHER_CONFIG_DIR": str(tmp_path / "c"), "ESCHER_DATA_DIR": str(tmp_path / "d")})
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(text, encoding="utf-8")
    return paths


def test_a_section_is_written_with_the_rest_of_the_file_as_it_was(tmp_path: Path) -> None:
    text = (
        '# mine\n[aws]\nregions = ["eu-west-1"]  # where we run\n\n[notify.routes]\nCRITICAL = ["banner"]\n\n'
        '# the report\n[report]\ntemplate = "short"\n'
    )
    paths = _paths(tmp_path, text)
    setup.save_section(
        paths, "notify", {"routes": {"CRITICAL": ["banner"]}, "channels": {"hook": {"url_env": "H"}}}
    )
    written = paths.config_file.read_text()
    assert written.startswith('# mine\n[aws]\nregions = ["eu-west-1"]  # where we run\n')
    assert '# the report\n[report]\ntemplate = "short"\n' in written
    assert tomllib.loads(written)["notify"] == {
        "routes": {"CRITICAL": ["banner"]},
        "channels": {"hook": {"url_env": "H"}},
    }
    # an inline table cannot be replaced line by line: the data is kept, rewritten whole
    paths = _paths(tmp_path / "inline", 'extend = { name_prefix = "acme" }\n[aws]\nregions = ["eu-west-1"]\n')
    setup.save_section(paths, "extend", {"name_prefix": "acme", "notify_email": "ops@example.com"})
    data = tomllib.loads(paths.config_file.read_text())
    assert data == {
        "extend": {"name_prefix": "acme", "notify_email": "ops@example.com"},
        "aws": {"regions": ["eu-west-1"]},
    }


def test_the_wizard_asks_each_step_and_keeps_what_enter_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    from escher.cli.commands._extend_wizard import Wizard

    settings = _settings()
    typed = [
        "us-west-2",  # region
        "y", "", "", "y", "150", "95", "", "",  # switches: public buckets on; capacity on, 150 refused, then 95
        "y", "banner", "x", "y", "ops", "$OPS_URL", "",  # a built-in name refused, then a channel
        "not-mail", "-",  # a wrong address asked again, then none
        "y",  # copy the azure keys
    ]  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(typed) + "\n"))
    wizard = Wizard(settings, setup.default_answers("aws", settings, {}))
    assert wizard.ask_region().region == "us-west-2"
    switches = wizard.ask_switches().remediation
    assert switches["make_public_buckets_private"] is True and switches["stop_idle_instances"] is False
    assert switches["scale_up_near_capacity"] is True and switches["capacity_percent"] == 95
    answers = wizard.ask_channels()
    assert [(c.name, c.url_env) for c in answers.channels] == [
        ("ops", "OPS_URL")
    ] and answers.notify_email is None
    assert wizard.ask_credentials(found=["azure"]).copy_credentials == ["azure"]


def test_extend_credentials_reaches_its_module_or_says_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from escher.cli.commands import extend_cmd
    from escher.cli.main import app
    from escher.errors import EscherError

    result = CliRunner().invoke(app, ["extend", "credentials"])
    assert result.exit_code == 2 and "escher extend credentials azure|gcp" in result.output
    result = CliRunner().invoke(app, ["extend", "aws", "gcp"])
    assert result.exit_code == 2 and "only 'credentials' takes a second argument" in result.output
    monkeypatch.setattr(extend_cmd, "CREDENTIALS_MODULE", "escher.cli.commands.no_such_credentials_cmd")
    result = CliRunner().invoke(app, ["extend", "credentials", "azure"])
    assert isinstance(result.exception, EscherError)
    assert "not part of this Escher build yet" in result.exception.message
