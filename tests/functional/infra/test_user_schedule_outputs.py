"""What the Azure and GCP programs declare for user schedules and the kept audit storage, under Pulumi mocks:
the audit location `escher destroy` names, what `escher schedule add` reads on GCP (and no grant to the laptop
for it), and on Azure the every-minute timer of the worker's package rather than a resource per schedule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.infra.conftest import make_spec, run_under_mocks

pytest.importorskip("pulumi")

AZ = "azure-native:"


def test_gcp_outputs_its_audit_bucket_and_what_a_cloud_schedule_needs(bundle: str) -> None:
    from escher.infra.driver import _audit_location

    deployed = run_under_mocks(make_spec("gcp", bundle))
    out = deployed.outputs
    functions = deployed.of_type("gcp:cloudfunctionsv2/function:Function")
    [function] = [f for f in functions if f.name == "worker"]  # (the other: the organization scan's)
    env = function.inputs["serviceConfig"]["environmentVariables"]
    [audit] = [r for r in deployed.of_type("gcp:storage/bucket:Bucket") if r.name == "audit"]
    assert audit.inputs["retentionPolicy"]["retentionPeriod"] == str(400 * 24 * 3600)
    assert out["audit_url"] == env["ESCHER_AUDIT_URL"] == f"gs://{out['audit_bucket']}"
    assert _audit_location("gcp", out) == out["audit_url"]  # what `escher destroy` says is kept
    # the job a schedule makes is placed and authenticated as the stack's daily job is
    [daily] = deployed.of_type("gcp:cloudscheduler/job:Job")
    assert out["scheduler_location"] == daily.inputs["region"] == "europe-west1"
    assert "invoker_service_account" in out and "worker_url" in out
    assert out["user_schedule_permissions"] == [
        "cloudscheduler.jobs.create",
        "cloudscheduler.jobs.update",
        "cloudscheduler.jobs.delete",
        "cloudscheduler.jobs.list",
        "iam.serviceAccounts.actAs (on the invoker service account only)",
    ]
    # the stack makes no job per schedule and grants the laptop nothing for them
    assert [j.name for j in deployed.of_type("gcp:cloudscheduler/job:Job")] == ["daily-scan"]
    roles = [str(r.inputs.get("role", "")) for r in deployed.resources if "IAMMember" in r.type]
    assert not [r for r in roles if "cloudscheduler" in r or "serviceAccountUser" in r], roles


def test_azure_outputs_its_audit_container_and_the_user_schedules_timer(bundle: str) -> None:
    from escher.infra.azure import USER_SCHEDULES_NCRONTAB
    from escher.infra.driver import _audit_location
    from tests.harness.azure_functions import indexed_functions

    deployed = run_under_mocks(make_spec("azure", bundle))
    out = deployed.outputs
    [app] = [r for r in deployed.of_type(f"{AZ}web:WebApp") if r.name == "worker"]
    settings = {s["name"]: s["value"] for s in app.inputs["siteConfig"]["appSettings"]}
    assert out["audit_url"] == settings["ESCHER_AUDIT_URL"]
    assert out["audit_url"].startswith(f"azblob://{out['audit_container']}?account_url=https://")
    assert out["audit_account"] in out["audit_url"]
    assert _audit_location("azure", out) == out["audit_url"]
    # the timer is declared in the worker's package (the bundle), with the schedule infra names
    timer = indexed_functions()[out["user_schedules_function"]]
    binding: dict[str, Any] = timer.get_trigger().get_dict_repr()
    assert binding["type"] == "timerTrigger" and binding["schedule"] == USER_SCHEDULES_NCRONTAB
    assert out["user_schedules_timer"].startswith(f"{USER_SCHEDULES_NCRONTAB} (UTC")
    # no resource per schedule: no Logic App, no other timer resource
    assert not [r for r in deployed.resources if "logic" in r.type.lower()]
