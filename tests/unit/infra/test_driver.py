"""The driver's paths without the Pulumi CLI or a cloud: missing CLI, config mapping, outputs, destroy export."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from escher.config import Paths, Settings
from escher.infra import driver
from escher.infra.credentials import collect_credentials
from escher.infra.permissions import operation_permissions
from escher.infra.program import InfraError
from escher.infra.spec import ExtensionSpec, spec_from_settings

pulumi_auto = pytest.importorskip("pulumi.automation")


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(config_dir=tmp_path / "cfg", data_dir=tmp_path / "data")


@pytest.fixture
def with_cli(tmp_path: Path) -> dict[str, str]:
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    return {"PATH": str(fake.parent), "PULUMI_HOME": str(tmp_path / "nohome")}


class FakeStack:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.config: dict[str, str] = {}
        self.calls: list[str] = []
        self.fail = fail

    def set_config(self, key: str, value: Any) -> None:
        self.config[key] = value.value

    def up(self, *, on_event: Any = None) -> Any:
        self.calls.append("up")
        if self.fail:
            raise self.fail
        outputs = {
            "state_bucket": pulumi_auto.OutputValue("escher-state-1", False),
            "worker_policy": pulumi_auto.OutputValue("{}", True),
        }
        return type(
            "R", (), {"outputs": outputs, "summary": type("S", (), {"resource_changes": {"create": 31}})}
        )

    def outputs(self) -> dict[str, Any]:
        return {"state_bucket": pulumi_auto.OutputValue("escher-state-from-stack", False)}

    def destroy(self, *, on_event: Any = None) -> Any:
        self.calls.append("destroy")
        if self.fail:
            raise self.fail
        return None


class MemoryWriter:
    """A writer factory and its writer: records the outputs it was built from and what was written."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.secrets: dict[str, str] = {}
        self.built_from: list[dict[str, Any]] = []
        self.fail_on = fail_on

    def __call__(self, outputs: Mapping[str, Any]) -> MemoryWriter:
        self.built_from.append(dict(outputs))
        return self

    def write(self, name: str, value: str) -> None:
        if name == self.fail_on:
            from escher.infra.credentials import CredentialWriteError

            raise CredentialWriteError(f"refused {name}", hint="grant the role")
        self.secrets[name] = value


class RecordingExporter:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def export(self, cloud: str, outputs: Mapping[str, Any], dest: Path) -> int:
        self.log.append(f"export {cloud} {outputs['state_bucket']}")
        dest.mkdir(parents=True)
        (dest / "inventory.json").write_text("{}")
        return 1


def _spec() -> ExtensionSpec:
    return ExtensionSpec(
        cloud="aws", region="eu-west-1", bundle_path="b.zip",
        permissions=operation_permissions("aws", ["aws.scan.daily_inventory"], catalogue=None),
        credential_names=("azure", "gcp"),
    )  # fmt: skip


def test_missing_pulumi_cli_says_so_how_to_install_and_points_to_plan(tmp_path: Path, paths: Paths) -> None:
    env = {"PATH": str(tmp_path / "empty"), "PULUMI_HOME": str(tmp_path / "nohome")}
    with pytest.raises(driver.PulumiMissingError) as err:
        driver.extend(_spec(), paths, credentials={}, writer=None, env=env, stack_factory=_never)
    assert "Pulumi CLI is not installed" in err.value.message
    assert "get.pulumi.com" in (err.value.hint or "") and "--plan" in (err.value.hint or "")
    with pytest.raises(driver.PulumiMissingError):
        driver.destroy("aws", paths, exporter=RecordingExporter([]), env=env, stack_factory=_never)


def _never(*_: Any) -> Any:
    raise AssertionError("no stack may be created without the Pulumi CLI")


def test_extend_keeps_outputs_stores_credentials_and_switches_to_thin_client(
    paths: Paths, with_cli: dict[str, str]
) -> None:
    stack = FakeStack()
    writer = MemoryWriter()
    seen: dict[str, str] = {}

    def factory(spec: Any, cloud: str, env: dict[str, str]) -> FakeStack:
        seen.update(env, cloud=cloud)
        return stack

    result = driver.extend(
        _spec(), paths, credentials={"azure": '{"id": 1}'}, writer=writer, env=with_cli, stack_factory=factory
    )
    assert stack.calls == ["up"] and stack.config == {"aws:region": "eu-west-1"}
    assert seen["PULUMI_BACKEND_URL"] == f"file://{paths.data_dir / 'pulumi'}"
    assert Path(seen["PULUMI_CONFIG_PASSPHRASE_FILE"]).stat().st_mode & 0o777 == 0o600
    saved = json.loads(result.outputs_file.read_text())
    assert saved == {"state_bucket": "escher-state-1", "worker_policy": "[secret]"}  # secrets never on disk
    assert writer.secrets == {"azure": '{"id": 1}'} and result.credentials_missing == ["gcp"]
    assert writer.built_from == [saved]  # the writer finds the secret store in the outputs of this very up
    status = driver.status(paths, env=with_cli)
    assert status["clouds"]["aws"]["mode"] == "thin-client"
    assert status["clouds"]["aws"]["outputs"]["state_bucket"] == "escher-state-1"
    assert status["last_runs"][-1]["result"] == "succeeded" and status["clouds"]["gcp"] == {"mode": "local"}


def test_any_pulumi_backend_is_honoured(paths: Paths) -> None:
    assert driver.backend_url(paths, {"PULUMI_BACKEND_URL": "s3://my-state"}) == "s3://my-state"


def test_destroy_exports_first_then_destroys_and_explains_the_kept_audit_store(
    paths: Paths, with_cli: dict[str, str]
) -> None:
    driver.save_outputs(paths, "aws", {"state_bucket": "escher-state-1"})
    log: list[str] = []
    stack = FakeStack()
    stack.calls = log  # one timeline for export and destroy
    result = driver.destroy(
        "aws", paths, exporter=RecordingExporter(log), env=with_cli, stack_factory=lambda *_: stack
    )
    assert log == ["export aws escher-state-1", "destroy"]
    assert result.exported_objects == 1 and (result.export_dir / "inventory.json").exists()
    assert "Object Lock" in result.retained
    assert driver.LocalState.load(paths).mode("aws") == "local"


def _command_error(cls: type[Exception], stderr: str) -> Exception:
    from pulumi.automation._cmd import CommandResult

    return cls(CommandResult(stdout="", stderr=stderr, code=255))


@pytest.mark.parametrize(
    ("name", "stderr", "expected"),
    [
        (
            "ConcurrentUpdateError",
            "[409] Conflict: Another update is currently in progress.",
            "pulumi cancel",
        ),
        ("StackNotFoundError", "no stack named 'aws' found", "escher extend aws"),
        ("CommandError", "error: no credentials found", "escher doctor"),
        ("CommandError", "error: something else broke", "fix the cause"),
    ],
)
def test_pulumi_errors_become_escher_errors_with_advice(
    paths: Paths, with_cli: dict[str, str], name: str, stderr: str, expected: str
) -> None:
    error = _command_error(getattr(pulumi_auto.errors, name), stderr)
    with pytest.raises(InfraError) as err:
        driver.extend(
            _spec(),
            paths,
            credentials={},
            writer=None,
            env=with_cli,
            stack_factory=lambda *_: FakeStack(error),
        )
    assert expected in (err.value.hint or "")
    assert driver.LocalState.load(paths).runs[-1]["result"] == "failed"


def test_other_errors_are_not_hidden(paths: Paths, with_cli: dict[str, str]) -> None:
    with pytest.raises(KeyError):
        driver.extend(
            _spec(), paths, credentials={}, writer=None, env=with_cli,
            stack_factory=lambda *_: FakeStack(KeyError("boom")),
        )  # fmt: skip


def test_config_maps_onto_the_spec() -> None:
    settings = Settings.model_validate(
        {
            "general": {"timezone": "Europe/Paris", "daily_scan_at": "03:15"},
            "azure": {"enabled": False},
            "retention": {"audit_days": 90},
            "extensions": {"extend": {"events": ["alarms"], "notify_email": "ops@example.com",
                                      "audit_lock_mode": "compliance", "operations": ["aws.scan.daily_inventory"]}},
        }
    )  # fmt: skip
    spec = spec_from_settings("aws", bundle_path="b.zip", settings=settings)
    assert (spec.region, spec.timezone, spec.daily_scan_at) == ("us-east-1", "Europe/Paris", "03:15")
    assert spec.events == ("alarms",) and spec.notify_email == "ops@example.com"
    assert spec.audit_lock_mode == "compliance" and spec.audit_retention_days == 90
    assert spec.credential_names == ("gcp",)  # azure disabled; aws is reached through the role
    assert "ec2:DescribeInstances" in spec.permissions
    with pytest.raises(InfraError, match="project"):
        spec_from_settings("gcp", bundle_path="b.zip", settings=settings)


def test_bad_extend_section_is_a_config_error() -> None:
    from escher.config import ConfigError

    settings = Settings.model_validate({"extensions": {"extend": {"events": ["everything"]}}})
    with pytest.raises(ConfigError, match=r"extend\.events"):
        spec_from_settings("aws", bundle_path="b.zip", settings=settings)


def test_only_keys_a_worker_reads_are_copied(tmp_path: Path) -> None:
    """Only the AWS worker scans another cloud, and only Azure with a copied secret (GCP is reached by workload
    identity federation, `escher extend credentials gcp`): no GCP key file and no AWS key is copied anywhere."""
    key = tmp_path / "sa.json"
    key.write_text('{"type": "service_account"}')
    env = {"AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s", "AZURE_TENANT_ID": "t",
           "GOOGLE_APPLICATION_CREDENTIALS": str(key), "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S"}  # fmt: skip
    assert set(collect_credentials("aws", env)) == {"azure"}
    assert collect_credentials("gcp", env) == {} and collect_credentials("azure", env) == {}


def test_a_failed_credential_write_keeps_the_deployment_recorded_and_says_what_to_do(
    paths: Paths, with_cli: dict[str, str]
) -> None:
    writer = MemoryWriter(fail_on="gcp")
    with pytest.raises(InfraError) as err:
        driver.extend(
            _spec(), paths, credentials={"azure": "a", "gcp": "g"}, writer=writer, env=with_cli,
            stack_factory=lambda *_: FakeStack(),
        )  # fmt: skip
    assert "deployed on aws" in err.value.message and "gcp" in err.value.message
    assert err.value.hint == "grant the role"
    local = driver.LocalState.load(paths)
    assert local.mode("aws") == "thin-client" and driver.load_outputs(paths, "aws")["state_bucket"]
    assert local.runs[-1] == {
        **local.runs[-1],
        "action": "credentials",
        "result": "failed",
        "stored": ["azure"],
    }


def test_destroy_without_local_outputs_reads_them_from_the_stack(
    paths: Paths, with_cli: dict[str, str]
) -> None:
    log: list[str] = []
    stack = FakeStack()
    stack.calls = log
    driver.destroy(
        "aws", paths, exporter=RecordingExporter(log), env=with_cli, stack_factory=lambda *_: stack
    )
    assert log == ["export aws escher-state-from-stack", "destroy"]


def test_a_failed_export_stops_the_destroy(paths: Paths, with_cli: dict[str, str]) -> None:
    from escher.infra.export import StateExportError

    class FailingExporter:
        def export(self, cloud: str, outputs: Mapping[str, Any], dest: Path) -> int:
            raise StateExportError("the bucket is gone", hint="check it")

    driver.save_outputs(paths, "aws", {"state_bucket": "escher-state-1"})
    stack = FakeStack()
    with pytest.raises(StateExportError, match="the bucket is gone"):
        driver.destroy("aws", paths, exporter=FailingExporter(), env=with_cli, stack_factory=lambda *_: stack)
    assert stack.calls == []  # never destroyed
    local = driver.LocalState.load(paths)
    assert local.runs[-1]["result"] == "export failed" and "destroyed_at" not in local.clouds.get("aws", {})


# -- Azure: the post_deploy steps after up, in order ----------------------------------------------------------
def _azure_spec() -> ExtensionSpec:
    return ExtensionSpec(
        cloud="azure", region="westeurope", bundle_path="worker.zip", permissions=(),
        events=("api_calls",), audit_lock_mode="compliance", credential_names=("aws",),
    )  # fmt: skip


class FakeAzureStack:
    """What the Azure program outputs: the post-deploy steps (the rerun only until the triggers are synced)."""

    def __init__(self, spec: ExtensionSpec, log: list[str], fail: BaseException | None = None) -> None:
        self.spec, self.log, self.fail = spec, log, fail
        self.config: dict[str, str] = {}

    def set_config(self, key: str, value: Any) -> None:
        self.config[key] = value.value

    def up(self, *, on_event: Any = None) -> Any:
        synced = self.spec.azure_triggers_synced
        self.log.append(f"up synced={synced} {self.config}")
        if synced and self.fail:
            raise self.fail
        steps = [
            "az functionapp deployment source config-zip --resource-group g --name app --src worker.zip",
            'etag=$(az rest ...) && az rest --method post --url ".../immutabilityPolicies/default/lock?api-'
            'version=2023-05-01" --headers "If-Match=$etag"',
        ] + ([] if synced else ["escher extend azure (again: the triggers are synced, ...)"])
        outputs = {
            "subscription_id": "sub-1", "resource_group": "g", "worker": "app", "key_vault": "vault",
            "event_grid_subscription": "created" if synced else "pending", "post_deploy": steps,
        }  # fmt: skip
        values = {k: pulumi_auto.OutputValue(v, False) for k, v in outputs.items()}
        return type("R", (), {"outputs": values, "summary": type("S", (), {"resource_changes": {"same": 1}})})

    def outputs(self) -> dict[str, Any]:
        return {}

    def destroy(self, *, on_event: Any = None) -> Any:
        raise AssertionError("not on the up path")


class FakeSteps:
    def __init__(self, log: list[str], fail_on: str | None = None) -> None:
        self.log, self.fail_on = log, fail_on

    def _run(self, name: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
        self.log.append(f"{name} {outputs['worker']}")
        if name == self.fail_on:
            from escher.infra.azure_post_deploy import PostDeployError

            raise PostDeployError(f"{name} refused", hint="grant the role")
        return {"step": name}

    def one_deploy(self, outputs: Mapping[str, Any], bundle: Path) -> dict[str, Any]:
        assert bundle == Path("worker.zip")
        return self._run("one_deploy", outputs)

    def lock_audit(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        return self._run("lock_audit", outputs)

    def wait_for_function(self, outputs: Mapping[str, Any], function: str) -> None:
        self._run(f"wait {function}", outputs)


class TimelineWriter(MemoryWriter):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def write(self, name: str, value: str) -> None:
        self.log.append(f"credential {name}")
        super().write(name, value)


def _azure_factory(log: list[str], specs: list[ExtensionSpec], fail: BaseException | None = None) -> Any:
    def factory(spec: Any, cloud: str, env: dict[str, str]) -> FakeAzureStack:
        specs.append(spec)
        return FakeAzureStack(spec, log, fail)

    return factory


def test_azure_post_deploy_steps_run_in_order_then_the_program_again_with_the_triggers_synced(
    paths: Paths, with_cli: dict[str, str]
) -> None:
    # GIVEN the Azure program, whose outputs name OneDeploy, the audit lock and a rerun once the triggers sync
    log: list[str] = []
    specs: list[ExtensionSpec] = []
    # WHEN escher extend azure runs
    result = driver.extend(
        _azure_spec(), paths, credentials={"aws": "k"}, writer=TimelineWriter(log), env=with_cli,
        stack_factory=_azure_factory(log, specs), post_deployer=lambda: FakeSteps(log),
    )  # fmt: skip
    # THEN each step runs in order, the program runs again with the triggers synced, then credentials are stored
    config = "{'azure:location': 'westeurope'}"
    assert log == [f"up synced=False {config}", "one_deploy app", "lock_audit app", "wait on_event_grid app",
                   f"up synced=True {config}", "credential aws"]  # fmt: skip
    assert [s.azure_triggers_synced for s in specs] == [False, True]
    assert [d["step"] for d in result.post_deploy] == [
        "one_deploy",
        "lock_audit",
        "rerun_with_triggers_synced",
    ]
    # the outputs kept are the second run's (the Event Grid subscription exists)
    assert result.outputs["event_grid_subscription"] == "created"
    assert driver.load_outputs(paths, "azure")["event_grid_subscription"] == "created"
    local = driver.LocalState.load(paths)
    assert local.runs[-1]["action"] == "post_deploy" and local.runs[-1]["result"] == "succeeded"
    # AND a redeploy keeps the subscription: the first run already has the triggers synced, no rerun
    log.clear()
    driver.extend(
        _azure_spec(), paths, credentials={}, writer=None, env=with_cli,
        stack_factory=_azure_factory(log, specs), post_deployer=lambda: FakeSteps(log),
    )  # fmt: skip
    assert log == [f"up synced=True {config}", "one_deploy app", "lock_audit app"]


def test_a_failed_post_deploy_step_stops_there_is_recorded_and_says_what_to_do(
    paths: Paths, with_cli: dict[str, str]
) -> None:
    log: list[str] = []
    with pytest.raises(InfraError) as err:
        driver.extend(
            _azure_spec(), paths, credentials={"aws": "k"}, writer=TimelineWriter(log), env=with_cli,
            stack_factory=_azure_factory(log, []), post_deployer=lambda: FakeSteps(log, fail_on="lock_audit"),
        )  # fmt: skip
    assert err.value.message == "lock_audit refused" and err.value.hint == "grant the role"
    assert log[1:] == ["one_deploy app", "lock_audit app"]  # no rerun, no credentials
    local = driver.LocalState.load(paths)
    assert local.mode("azure") == "thin-client"  # the resources exist: destroy can find them
    assert local.runs[-1] == {**local.runs[-1], "action": "post_deploy", "result": "failed",
                              "step": "lock_audit", "done": ["one_deploy"]}  # fmt: skip


def test_a_failed_second_run_is_a_pulumi_error_with_advice(paths: Paths, with_cli: dict[str, str]) -> None:
    log: list[str] = []
    busy = _command_error(pulumi_auto.errors.ConcurrentUpdateError, "[409] Conflict: Another update")
    with pytest.raises(InfraError) as err:
        driver.extend(
            _azure_spec(), paths, credentials={}, writer=None, env=with_cli,
            stack_factory=_azure_factory(log, [], fail=busy), post_deployer=lambda: FakeSteps(log),
        )  # fmt: skip
    assert "pulumi cancel" in (err.value.hint or "")
    assert driver.LocalState.load(paths).runs[-1]["step"] == "rerun_with_triggers_synced"


def test_a_step_the_driver_does_not_know_runs_nothing(paths: Paths, with_cli: dict[str, str]) -> None:
    log: list[str] = []

    class Stack(FakeAzureStack):
        def up(self, *, on_event: Any = None) -> Any:
            result = super().up(on_event=on_event)
            result.outputs["post_deploy"] = pulumi_auto.OutputValue(
                [*result.outputs["post_deploy"].value, "az webapp restart ..."], False
            )
            return result

    with pytest.raises(InfraError, match="does not know"):
        driver.extend(
            _azure_spec(), paths, credentials={}, writer=None, env=with_cli,
            stack_factory=lambda spec, *_: Stack(spec, log), post_deployer=lambda: FakeSteps(log),
        )  # fmt: skip
    assert len(log) == 1 and log[0].startswith("up ")  # only the deploy itself
