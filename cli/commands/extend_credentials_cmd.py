"""``escher extend credentials azure|gcp``: let the deployed AWS extension reach another cloud.

What is written (:mod:`escher.extend.cloud_credentials`): for GCP a workload identity federation config from the
worker's own role (no secret; the gcloud commands that create the pool, provider and binding are printed), or a
service-account key with ``--key-file`` and a warning; for Azure a service principal from azure-identity's
``AZURE_*`` variables. It goes straight into the extension's secret store (SSM SecureString under the stack's
credentials path) and the act lands in the ledger. ``--dry-run`` says what would be written: names, never values.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit
from escher.extend.cloud_credentials import EXTRA_CLOUDS, HOSTS, CloudCredentialError

if TYPE_CHECKING:
    from escher.config import Paths
    from escher.extend.cloud_credentials import StoredCredential

__all__ = ["credentials"]


def credentials(
    ctx: typer.Context,
    cloud: str,
    *,
    yes: bool,
    dry_run: bool,
    key_file: Path | None = None,
    service_account: str | None = None,
    project_number: str | None = None,
    pool: str = "escher",
    provider: str = "escher-aws",
) -> None:
    """Store what the deployed extension's worker needs to scan and act in ``cloud`` (azure or gcp)."""
    from escher.config import load_settings, resolve_paths

    cloud = cloud.lower()
    if cloud not in EXTRA_CLOUDS:
        raise CloudCredentialError(
            f"no credentials to store for {cloud!r}",
            hint="use 'escher extend credentials azure' or 'escher extend credentials gcp' (the AWS extension "
            "reaches AWS through its own role)",
        )
    paths = resolve_paths()
    host, outputs = _host(paths)
    settings = load_settings(paths)
    interactive = not yes and sys.stdin.isatty()
    if cloud == "azure":
        stored = _azure(settings, interactive)
    elif key_file is not None:
        from escher.extend.cloud_credentials import gcp_key

        stored = gcp_key(key_file)
    else:
        stored = _gcp_federation(
            settings, outputs, service_account, project_number, pool, provider, interactive
        )
    name = f"{str(outputs['credentials_path']).rstrip('/')}/{cloud}"
    where = {"extension": host, "store": "ssm", "parameter": name, "region": outputs.get("region")}
    notes = _notes(cloud, outputs)
    data: dict[str, Any] = {"dry_run": dry_run, "written": False, **where, "credential": stored.describe(),
                            "warnings": [*stored.warnings, *notes], "commands": list(stored.commands)}  # fmt: skip
    if dry_run:
        emit(ctx, data, lambda: _render(data, stored))
        return
    if not yes and not typer.confirm(
        f"Write the {cloud} credentials ({stored.kind}: {', '.join(stored.fields)}) to {name} in {host}?"
    ):
        raise typer.Abort()
    from escher.cli.commands.extend_cmd import _recorded_act
    from escher.infra.credentials import writer_for

    act = {"cloud": cloud, "parameter": name, "kind": stored.kind, "fields": list(stored.fields),
           "secret": stored.secret}  # fmt: skip
    with _recorded_act(paths, host, "escher.extend.credentials", name, act) as outcome:
        writer_for(host)(outputs).write(cloud, stored.value)
        outcome.update(bytes=len(stored.value.encode()))
    data["written"] = True
    emit(ctx, data, lambda: _render(data, stored))


def _host(paths: Paths) -> tuple[str, dict[str, Any]]:
    """The deployed extension whose worker reads other clouds' credentials, and its stack outputs."""
    from escher.infra.driver import load_outputs
    from escher.infra.sync import extended_clouds

    extended = extended_clouds(paths)
    for host in HOSTS:
        if host in extended:
            outputs = load_outputs(paths, host)
            if not outputs.get("credentials_path"):
                raise CloudCredentialError(
                    f"the {host} stack's outputs name no credentials path",
                    hint=f"run 'escher extend {host}' again: it records the outputs",
                )
            return host, outputs
    if extended:
        raise CloudCredentialError(
            f"the {' and '.join(extended)} extension's worker scans its own cloud only: credentials for "
            "another cloud stored there would be read by nothing",
            hint="extend AWS ('escher extend aws'): its worker scans Azure and GCP with what this command stores",
        )
    raise CloudCredentialError(
        "nothing is extended: the credentials go into the deployed extension's secret store",
        hint="run 'escher extend aws' first, then this command",
    )


def _notes(cloud: str, outputs: dict[str, Any]) -> list[str]:
    clouds = outputs.get("extra_clouds")
    if isinstance(clouds, list) and cloud not in clouds:
        return [f"the deployed worker does not scan {cloud} yet (it was not enabled at deploy time): enable "
                f"[{cloud}] and run 'escher extend aws' again"]  # fmt: skip
    return []


def _azure(settings: Any, interactive: bool) -> StoredCredential:
    from escher.extend.cloud_credentials import azure_from_env

    env = dict(os.environ)
    if interactive:  # ask for what is not in the environment; the secret is never echoed
        for key, label, hidden in (("AZURE_TENANT_ID", "Tenant id", False), ("AZURE_CLIENT_ID", "Client id", False),
                                   ("AZURE_CLIENT_SECRET", "Client secret", True)):  # fmt: skip
            if not env.get(key) and not (
                key == "AZURE_CLIENT_SECRET" and env.get("AZURE_CLIENT_CERTIFICATE_PATH")
            ):
                env[key] = str(typer.prompt(f"Service principal {label}", hide_input=hidden))
    return azure_from_env(env, subscription_id=settings.azure.subscription_id)


def _gcp_federation(
    settings: Any,
    outputs: dict[str, Any],
    service_account: str | None,
    project_number: str | None,
    pool: str,
    provider: str,
    interactive: bool,
) -> StoredCredential:
    from escher.extend.cloud_credentials import GcpFederation, gcp_federation

    project = settings.gcp.project
    if not project:
        raise CloudCredentialError(
            "no GCP project is configured", hint="set [gcp] project in config.toml (or ESCHER_GCP__PROJECT)"
        )
    role_arn = str(outputs.get("worker_role") or "")
    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[5].startswith("role/"):
        raise CloudCredentialError(
            "the AWS stack's outputs name no worker role (worker_role): federation trusts that role",
            hint="run 'escher extend aws' again: it records the outputs",
        )
    number = project_number or os.environ.get("ESCHER_GCP_PROJECT_NUMBER")
    if not number:  # this laptop's GCP login may read it (resourcemanager.projects.get)
        from escher.extend.cloud_credentials import project_number as look_up

        number = look_up(project)
    if not number and interactive:
        number = str(typer.prompt(f"Project number of {project}"))
    if not number or not number.isdigit():
        raise CloudCredentialError(
            f"the project number of {project} is needed for the federation audience",
            hint=f"find it with: gcloud projects describe {project} --format='value(projectNumber)'; then set "
            "ESCHER_GCP_PROJECT_NUMBER (or pass it)",
        )
    federation = GcpFederation(
        project=project,
        project_number=number,
        service_account=service_account or f"escher-worker@{project}.iam.gserviceaccount.com",
        aws_account=parts[4],
        role_name=parts[5].rsplit("/", 1)[-1],
        pool=pool,
        provider=provider,
    )
    return gcp_federation(federation)


def _render(data: dict[str, Any], stored: StoredCredential) -> None:
    out = console()
    verb = "Wrote" if data["written"] else "Would write"
    what = "no secret: a federation config" if not stored.secret else "a secret"
    out.print(f"{'[green]✓[/] ' if data['written'] else ''}{verb} the {stored.cloud} credentials "
              f"({stored.kind}, {what}) to SSM {data['parameter']} ({data['region'] or 'default region'})")  # fmt: skip
    out.print(f"  fields: {', '.join(stored.fields)}")
    for warning in data["warnings"]:
        out.print(f"[yellow]![/] {warning}")
    if stored.commands:
        out.print("Create the pool, the provider and the bindings once in GCP (as a project admin):")
        for command in stored.commands:
            out.print(f"  {command}", soft_wrap=True, highlight=False, markup=False)
    if data["written"]:
        out.print(
            f"The worker scans {stored.cloud} from its next daily run; 'escher sync' brings the results here."
        )
