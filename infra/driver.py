"""The Automation API driver behind ``escher extend``, ``escher destroy`` and ``escher status``.

One stack per cloud (``escher-extend/<cloud>``), the program inline (:func:`escher.infra.program.declare`),
the backend local by default (``file://<data dir>/pulumi``) or any Pulumi backend via ``PULUMI_BACKEND_URL``.
After ``up``: the outputs are kept in ``<data dir>/extend/<cloud>-outputs.json`` and ``<data dir>/extend/
state.json`` records that the CLI is now a thin client for that cloud; only then are the user's credentials
for the other clouds written to the new secret store (never through Pulumi), by a writer built from those
outputs. ``destroy`` exports the state store into the data dir first (:mod:`escher.infra.export`, through
``escher.state``), imports it into the local store (:func:`escher.extend.pull.importer`: reports, alerts,
approvals, audit into the ledger) and destroys only if both succeeded; the WORM audit store is retained, and
named. With nothing deployed, the CLI says so before it looks for the Pulumi CLI.

Pulumi's own errors become :class:`InfraError` with advice; the Pulumi CLI missing is said exactly, with how
to install it and that ``--plan`` works without it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from escher.clouds import CLOUDS
from escher.config import Paths
from escher.errors import EscherError
from escher.infra.deploy import PostDeployContext, deploy_of
from escher.infra.program import InfraError

if TYPE_CHECKING:
    from escher.infra.azure_post_deploy import PostDeployer
    from escher.infra.spec import ExtensionSpec

__all__ = [
    "CredentialWriter",
    "LocalState",
    "PulumiMissingError",
    "StateExporter",
    "backend_url",
    "destroy",
    "extend",
    "require_pulumi",
    "translate_error",
]

PROJECT = "escher-extend"


class PulumiMissingError(InfraError):
    exit_code = 4


def pulumi_binary(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    found = shutil.which("pulumi", path=env.get("PATH"))
    if found:
        return found
    home = Path(env.get("PULUMI_HOME") or Path.home() / ".pulumi") / "bin" / "pulumi"
    return str(home) if home.exists() else None


def require_pulumi(env: Mapping[str, str] | None = None) -> str:
    from escher.doctor import PULUMI_INSTALL_HINT

    binary = pulumi_binary(env)
    if binary is None:
        raise PulumiMissingError(
            "the Pulumi CLI is not installed (not on PATH, not in ~/.pulumi/bin): 'escher extend' "
            "and 'escher destroy' drive it to deploy and remove",
            hint=PULUMI_INSTALL_HINT,
        )
    return binary


def backend_url(paths: Paths, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("PULUMI_BACKEND_URL") or f"file://{paths.data_dir / 'pulumi'}"


def stack_env(paths: Paths, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Backend and secrets passphrase for the stack; a random passphrase is kept (0600) in the data dir."""
    env = os.environ if env is None else env
    out = {"PULUMI_BACKEND_URL": backend_url(paths, env), "PULUMI_SKIP_UPDATE_CHECK": "true"}
    if "PULUMI_CONFIG_PASSPHRASE" in env or "PULUMI_CONFIG_PASSPHRASE_FILE" in env:
        return out
    key = paths.data_dir / "pulumi" / "passphrase"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    out["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(key)
    return out


# -- local record of what is deployed where --------------------------------------------------------------
@dataclass
class LocalState:
    """``<data dir>/extend/state.json``: mode per cloud and the last runs."""

    path: Path
    clouds: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, paths: Paths) -> LocalState:
        path = paths.data_dir / "extend" / "state.json"
        if not path.exists():
            return cls(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InfraError(
                f"{path} is not valid JSON: {exc}", hint="move it away; 'escher status' rebuilds it"
            ) from exc
        return cls(path, dict(raw.get("clouds", {})), list(raw.get("runs", [])))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"clouds": self.clouds, "runs": self.runs[-50:]}, indent=2), encoding="utf-8"
        )
        tmp.replace(self.path)

    def mode(self, cloud: str) -> str:
        return str(self.clouds.get(cloud, {}).get("mode", "local"))

    def record_run(self, cloud: str, action: str, result: str, **details: Any) -> None:
        self.runs.append({"cloud": cloud, "action": action, "result": result, "at": _now(), **details})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def outputs_path(paths: Paths, cloud: str) -> Path:
    return paths.data_dir / "extend" / f"{cloud}-outputs.json"


def save_outputs(paths: Paths, cloud: str, outputs: Mapping[str, Any]) -> Path:
    path = outputs_path(paths, cloud)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(outputs), indent=2, sort_keys=True, default=str), encoding="utf-8")
    return path


def load_outputs(paths: Paths, cloud: str) -> dict[str, Any]:
    path = outputs_path(paths, cloud)
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}


# -- the seams: a stack, a credential store, a state exporter ------------------------------------------------
class StackLike(Protocol):
    def up(self, *, on_event: Callable[[Any], Any] | None = ...) -> Any: ...

    def outputs(self) -> Mapping[str, Any]: ...

    def destroy(self, *, on_event: Callable[[Any], Any] | None = ...) -> Any: ...

    def set_config(self, key: str, value: Any) -> None: ...


StackFactory = Callable[["ExtensionSpec | None", str, dict[str, str]], StackLike]


class CredentialWriter(Protocol):
    def write(self, name: str, value: str) -> None: ...


WriterFactory = Callable[[Mapping[str, Any]], CredentialWriter]


class StateExporter(Protocol):
    def export(self, cloud: str, outputs: Mapping[str, Any], dest: Path) -> int:
        """Copy every object of the cloud's state store into ``dest``; return how many."""
        ...


def automation_stack(spec: ExtensionSpec | None, cloud: str, env: dict[str, str]) -> StackLike:
    """A real Automation API stack (needs the Pulumi CLI)."""
    from escher.lazy import require

    require("pulumi", "infra")
    import pulumi.automation as auto

    from escher.infra.program import declare

    def program() -> None:
        if spec is None:
            raise InfraError(
                "no spec: this stack can only be destroyed", hint="run 'escher extend CLOUD' first"
            )
        declare(spec)

    opts = auto.LocalWorkspaceOptions(
        env_vars=env,
        project_settings=auto.ProjectSettings(
            name=PROJECT, runtime="python", backend=auto.ProjectBackend(url=env["PULUMI_BACKEND_URL"])
        ),
    )
    try:
        stack = auto.create_or_select_stack(
            stack_name=cloud, project_name=PROJECT, program=program, opts=opts
        )
    except auto.errors.CommandError as exc:
        raise translate_error(exc, cloud) from exc
    result: StackLike = stack
    return result


def translate_error(exc: BaseException, cloud: str) -> InfraError:
    """Pulumi's Automation API errors as Escher errors that say what to do."""
    name = type(exc).__name__
    text = str(exc).strip().splitlines()
    detail = next((ln for ln in reversed(text) if ln.strip()), name)[:400]
    if name == "ConcurrentUpdateError":
        return InfraError(
            f"another update of the {cloud} stack is running",
            hint=f"wait for it to finish; if none is, run 'pulumi cancel --stack {cloud}' with the same backend",
        )
    if name == "StackNotFoundError":
        return InfraError(
            f"nothing is deployed on {cloud} in this backend", hint=f"run 'escher extend {cloud}'"
        )
    if name == "StackAlreadyExistsError":
        return InfraError(f"the {cloud} stack already exists", hint="run 'escher status' to see it")
    if name == "InlineSourceRuntimeError":
        return InfraError(f"the Escher program failed: {detail}", hint="run with '--plan' to see it offline")
    if name == "CommandError":
        lowered = str(exc).lower()
        if (
            "no credentials" in lowered
            or "could not find default credentials" in lowered
            or "az login" in lowered
        ):
            return InfraError(
                f"Pulumi could not authenticate to {cloud}: {detail}",
                hint="run 'escher doctor' and fix the credentials row for this cloud",
            )
        return InfraError(f"pulumi failed: {detail}", hint="fix the cause above and run the command again")
    return InfraError(f"pulumi failed ({name}): {detail}", hint="run the command again; see 'escher status'")


def _pulumi_errors() -> tuple[type[BaseException], ...]:
    """The Automation API's error types (every command failure is a CommandError)."""
    import pulumi.automation.errors as errors

    return (errors.CommandError, errors.InvalidVersionError)


def _plain_outputs(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        secret = getattr(value, "secret", False)
        out[key] = "[secret]" if secret else getattr(value, "value", value)
    return out


@dataclass
class ExtendResult:
    cloud: str
    outputs: dict[str, Any]
    outputs_file: Path
    summary: dict[str, Any]
    credentials_stored: list[str]
    credentials_missing: list[str]
    post_deploy: list[dict[str, Any]] = field(default_factory=list)  # the steps run after up, in order


PostDeployerFactory = Callable[[], "PostDeployer"]


def extend(
    spec: ExtensionSpec,
    paths: Paths,
    *,
    credentials: Mapping[str, str],
    writer: WriterFactory | None,
    on_event: Callable[[Any], Any] | None = None,
    stack_factory: StackFactory = automation_stack,
    env: Mapping[str, str] | None = None,
    post_deployer: PostDeployerFactory | None = None,
) -> ExtendResult:
    """Deploy ``spec``; keep outputs; run the steps the program names in its ``post_deploy`` output (the cloud's
    deploy description says what each is); store credentials; switch the CLI to thin-client mode for the cloud."""
    require_pulumi(env)
    cloud = spec.cloud
    deploy = deploy_of(cloud)
    local = LocalState.load(paths)
    spec = deploy.prepare(spec, local.clouds.get(cloud, {}))  # what the last deploy left changes this one
    stack = stack_factory(spec, cloud, stack_env(paths, env))
    try:
        result = _up(stack, spec, on_event)
    except _pulumi_errors() as exc:
        local.record_run(cloud, "extend", "failed", error=str(exc).strip()[-300:])
        local.save()
        raise translate_error(exc, cloud) from exc
    outputs = _plain_outputs(getattr(result, "outputs", {}) or {})
    summary = getattr(getattr(result, "summary", None), "resource_changes", None) or {}
    # outputs and mode first: the deployment happened, whatever the credential writes do next
    path = save_outputs(paths, cloud, outputs)
    local.clouds[cloud] = {
        "mode": "thin-client",
        "stack": f"{PROJECT}/{cloud}",
        "backend": backend_url(paths, env),
        "region": spec.region,
        "deployed_at": _now(),
        "outputs_file": str(path),
    }
    local.record_run(cloud, "extend", "succeeded", changes=dict(summary))
    local.save()
    done: list[dict[str, Any]] = []
    if outputs.get("post_deploy"):
        outputs, done = _post_deploy(
            spec, paths, outputs, local=local, deployer=post_deployer, stack_factory=stack_factory,
            env=env, on_event=on_event,
        )  # fmt: skip
    stored: list[str] = []
    wanted = [n for n in spec.credential_names if n in credentials]
    missing = [n for n in spec.credential_names if n not in credentials or writer is None]
    if wanted and writer is not None:
        name = wanted[0]
        try:
            store = writer(outputs)
            for name in wanted:
                store.write(name, credentials[name])
                stored.append(name)
        except EscherError as exc:  # InfraError, or MissingExtraError when the cloud's SDK is absent
            local.record_run(cloud, "credentials", "failed", stored=list(stored), failed=name)
            local.save()
            raise InfraError(
                f"Escher is deployed on {cloud}, but storing the {name} credentials failed: {exc.message}",
                hint=exc.hint,
            ) from exc
    return ExtendResult(cloud, outputs, path, dict(summary), stored, missing, done)


def _up(stack: StackLike, spec: ExtensionSpec, on_event: Callable[[Any], Any] | None) -> Any:
    for key, value in deploy_of(spec.cloud).stack_config(spec).items():
        stack.set_config(key, _config_value(value))
    return stack.up(on_event=on_event)


def _post_deploy(
    spec: ExtensionSpec,
    paths: Paths,
    outputs: dict[str, Any],
    *,
    local: LocalState,
    deployer: PostDeployerFactory | None,
    stack_factory: StackFactory,
    env: Mapping[str, str] | None,
    on_event: Callable[[Any], Any] | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the stack's ``post_deploy`` steps in order, as the cloud's deploy description names them (Azure:
    :mod:`escher.infra.azure_post_deploy`: OneDeploy of the package, the audit policy's lock, then the program
    again with the triggers synced, whose outputs replace the first ones). The deployment stays recorded; a
    failed step is recorded and raised with what to do, and ``escher extend`` again resumes."""
    cloud = spec.cloud
    hook = deploy_of(cloud).post_deploy
    if hook is None:
        raise InfraError(
            f"the {cloud} program asks for steps after the deploy, and {cloud} deploys have none",
            hint=f"run 'escher extend {cloud} --plan' to see the program's outputs; this is a bug in Escher",
        )

    def rerun(again: ExtensionSpec) -> tuple[dict[str, Any], dict[str, Any]]:
        result = _up(stack_factory(again, cloud, stack_env(paths, env)), again, on_event)
        changes = getattr(getattr(result, "summary", None), "resource_changes", None) or {}
        return _plain_outputs(getattr(result, "outputs", {}) or {}), dict(changes)

    ctx = PostDeployContext(spec, outputs, local.clouds[cloud], deployer, rerun)
    steps = hook(ctx)  # an unknown step raises here: none is run
    done: list[dict[str, Any]] = []
    kind = steps[0][0] if steps else ""
    try:
        for step, run in steps:
            kind = step  # what a failure is recorded against
            done.append(run())
    except _pulumi_errors() as exc:
        _post_deploy_failed(local, cloud, kind, done, str(exc).strip()[-300:])
        raise translate_error(exc, cloud) from exc
    except InfraError as exc:
        _post_deploy_failed(local, cloud, kind, done, exc.message[-300:])
        raise
    save_outputs(paths, cloud, ctx.outputs)
    local.record_run(cloud, "post_deploy", "succeeded", steps=[d["step"] for d in done])
    local.save()
    return ctx.outputs, done


def _post_deploy_failed(
    local: LocalState, cloud: str, kind: str, done: list[dict[str, Any]], error: str
) -> None:
    local.record_run(cloud, "post_deploy", "failed", step=kind, done=[d["step"] for d in done], error=error)
    local.save()


def _config_value(value: str) -> Any:
    import pulumi.automation as auto

    return auto.ConfigValue(value=value)


@dataclass
class DestroyResult:
    cloud: str
    exported_objects: int
    export_dir: Path
    retained: str
    imported: dict[str, Any] = field(default_factory=dict)  # what came home into the local store
    audit_location: str = ""  # the locked audit storage left in the cloud
    # the user schedules (`escher schedule add`) in the cloud: what became of them, said for a person;
    # GCP: the Cloud Scheduler jobs removed, and what is left (with the gcloud command that finishes it)
    user_schedules: str = ""
    user_jobs_removed: list[str] = field(default_factory=list)
    user_jobs_left: str = ""


Importer = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


def destroy(
    cloud: str,
    paths: Paths,
    *,
    exporter: StateExporter,
    importer: Importer | None = None,
    on_event: Callable[[Any], Any] | None = None,
    stack_factory: StackFactory = automation_stack,
    env: Mapping[str, str] | None = None,
    scheduler: Any = None,
) -> DestroyResult:
    """Export the cloud's state into the data dir (nothing lost), import it into the local store
    (``importer``: reports, alerts, approvals, audit into the ledger), remove the user schedules the stack
    does not own (GCP), then destroy; back to Local Only.

    The outputs come from the local record, else from the stack itself; a stack without outputs has nothing
    to export. A failed export or import raises before anything is removed. A user schedule that could not be
    removed does not stop the destroy: the result says so, with the command that finishes it.
    ``scheduler``: GCP's Cloud Scheduler client (tests replay there); default: built from ADC.
    """
    require_pulumi(env)
    local = LocalState.load(paths)
    stack = stack_factory(None, cloud, stack_env(paths, env))
    outputs = load_outputs(paths, cloud)
    if not outputs:
        try:
            outputs = _plain_outputs(stack.outputs() or {})
        except _pulumi_errors() as exc:
            raise translate_error(exc, cloud) from exc
    dest = paths.data_dir / "exports" / f"{cloud}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
    try:
        count = exporter.export(cloud, outputs, dest) if outputs else 0
    except InfraError as exc:
        local.record_run(cloud, "destroy", "export failed", error=exc.message[-300:])
        local.save()
        raise
    try:
        imported = dict(importer(cloud, outputs)) if importer is not None and outputs else {}
    except EscherError as exc:
        local.record_run(cloud, "destroy", "import failed", error=exc.message[-300:])
        local.save()
        raise InfraError(
            f"importing the {cloud} extension's state into the local store failed: {exc.message}; nothing was "
            f"destroyed (the files are exported in {dest})",
            hint=exc.hint or "fix the cause and run 'escher destroy' again",
        ) from exc
    deploy = deploy_of(cloud)
    said, removed, left = deploy.user_schedules(outputs, scheduler)
    jobs = {"user_jobs_removed": len(removed)} | ({"user_jobs_left": left} if left else {})
    try:
        stack.destroy(on_event=on_event)
    except _pulumi_errors() as exc:
        local.record_run(cloud, "destroy", "failed", exported=count, error=str(exc).strip()[-300:], **jobs)
        local.save()
        raise translate_error(exc, cloud) from exc
    audit = deploy.audit_location(outputs)
    local.clouds[cloud] = {"mode": "local", "destroyed_at": _now(), "export_dir": str(dest),
                           "audit_kept": audit}  # fmt: skip
    local.record_run(cloud, "destroy", "succeeded", exported=count, imported=imported, **jobs)
    local.save()
    return DestroyResult(cloud, count, dest, deploy.retained, imported, audit, said, removed, left)


def _audit_location(cloud: str, outputs: Mapping[str, Any]) -> str:
    """Where the locked audit objects stay, as the outputs name it."""
    return deploy_of(cloud).audit_location(outputs)


def status(paths: Paths, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What is deployed where (from the local record) and the last runs; no network, no Pulumi needed."""
    local = LocalState.load(paths)
    clouds = {}
    for cloud in CLOUDS:
        entry = dict(local.clouds.get(cloud, {"mode": "local"}))
        if entry.get("mode") == "thin-client":
            entry["outputs"] = load_outputs(paths, cloud)
        clouds[cloud] = entry
    return {
        "backend": backend_url(paths, env),
        "pulumi_cli": pulumi_binary(env),
        "clouds": clouds,
        "last_runs": local.runs[-10:],
    }
