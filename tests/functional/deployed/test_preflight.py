"""``escher extend CLOUD --check``: the account read before anything is created, each gap named with the
command that fixes it. AWS on the moto server (CloudTrail, SSM, logs, S3, STS); GCP's Service Usage and Azure's
Event Grid list replayed at the SDK transport with real response shapes."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import requests

from escher.infra.preflight import GCP_REQUIRED_APIS, PreflightError, check_aws, check_azure, check_gcp
from escher.infra.spec import ExtensionSpec
from tests.functional.infra.replay import Answer, AzureToken, AzureTransport, Replay, RequestsAdapter


def spec(cloud: str, **changes: Any) -> ExtensionSpec:
    base = ExtensionSpec(
        cloud=cloud,  # type: ignore[arg-type]
        region={"aws": "us-east-1", "azure": "westeurope", "gcp": "europe-west1"}[cloud],
        bundle_path="worker.zip",
        permissions=(),
        events=("api_calls",),
        credential_names=("gcp",),
        gcp_project="fresh-project",
        azure_subscription_id="00000000-0000-0000-0000-0000000000aa",
    )
    return replace(base, **changes)


def aws(service: str) -> Any:
    from escher.clouds import aws as cloud

    return cloud.client(service, "us-east-1", retries={"max_attempts": 1})


def by_check(report: Any, check: str) -> Any:
    [found] = [f for f in report.findings if f.check == check]
    return found


def test_aws_without_a_logging_trail_says_so_with_the_commands(aws_env: Any) -> None:
    report = check_aws(spec("aws"))
    trail = by_check(report, "cloudtrail")
    assert trail.problem and "create-trail" in trail.fix and "--is-multi-region-trail" in trail.fix
    assert "start-logging" in trail.fix
    assert not report.ok
    with pytest.raises(PreflightError, match="no multi-region CloudTrail trail is logging"):
        report.raise_if_blocked()


def test_aws_a_trail_that_is_not_logging_or_single_region_does_not_count(aws_env: Any) -> None:
    aws("s3").create_bucket(Bucket="trail-logs")
    aws("cloudtrail").create_trail(Name="one-region", S3BucketName="trail-logs")
    aws("cloudtrail").start_logging(Name="one-region")
    aws("cloudtrail").create_trail(Name="all-regions", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    assert by_check(check_aws(spec("aws")), "cloudtrail").problem  # multi-region, but not logging
    aws("cloudtrail").start_logging(Name="all-regions")
    report = check_aws(spec("aws"))
    trail = by_check(report, "cloudtrail")
    assert trail.ok and "all-regions" in trail.message and "one-region" not in trail.message


def test_aws_without_api_call_events_no_trail_is_needed(aws_env: Any) -> None:
    assert by_check(check_aws(spec("aws", events=("alarms",))), "cloudtrail").ok


def test_aws_names_the_extension_would_create_that_exist(aws_env: Any) -> None:
    aws("ssm").put_parameter(Name="/escher/credentials/gcp", Value="x", Type="SecureString")
    aws("logs").create_log_group(logGroupName="/escher/worker")
    aws("s3").create_bucket(Bucket="escher-audit-20250101")
    report = check_aws(spec("aws", events=("alarms",)))
    clashes = [f for f in report.findings if f.check == "names"]
    blocking = sorted(f.message for f in clashes if f.problem)
    assert blocking == [
        "SSM parameter /escher/credentials/gcp already exists",
        "log group /escher/worker already exists",
    ]
    assert any("aws ssm delete-parameter --name /escher/credentials/gcp" in f.fix for f in clashes)
    kept = [f for f in clashes if "earlier install" in f.message]
    assert kept and not kept[0].blocking  # a retained audit bucket is worth knowing, not a clash
    # another prefix: nothing clashes
    assert by_check(check_aws(spec("aws", events=("alarms",), name_prefix="acme")), "names").ok


def test_aws_rights_that_cannot_be_read_are_said_not_passed(aws_env: Any) -> None:
    # moto does not implement iam:SimulatePrincipalPolicy: the check says it could not read, never "ok"
    report = check_aws(spec("aws", events=("alarms",)))
    rights = by_check(report, "rights")
    assert not rights.ok and not rights.blocking
    assert "cannot read the deployer's rights" in rights.message and "SimulatePrincipalPolicy" in rights.fix
    assert report.ok  # not knowing is said, and does not stop the deploy


def test_aws_without_credentials_nothing_is_read_and_that_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never a real endpoint
    report = check_aws(spec("aws"))
    assert [f.check for f in report.findings] == ["credentials"] and not report.ok


# -- GCP: a fresh project (Service Usage list replayed, two pages) -----------------------------------------
FRESH_PROJECT_APIS = [  # what a new project has enabled (Google's default list)
    "bigquery.googleapis.com", "bigquerystorage.googleapis.com", "cloudapis.googleapis.com",
    "cloudtrace.googleapis.com", "datastore.googleapis.com", "logging.googleapis.com",
    "monitoring.googleapis.com", "servicemanagement.googleapis.com", "serviceusage.googleapis.com",
    "sql-component.googleapis.com", "storage-api.googleapis.com", "storage-component.googleapis.com",
    "storage.googleapis.com",
]  # fmt: skip


def services_page(names: list[str], token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "services": [
            {"name": f"projects/123456789/services/{n}", "config": {"name": n, "title": n.split(".")[0]},
             "state": "ENABLED", "parent": "projects/123456789"}
            for n in names
        ]
    }  # fmt: skip
    if token:
        page["nextPageToken"] = token
    return page


def gcp_session(*pages: dict[str, Any]) -> tuple[requests.Session, Replay]:
    path = "/v1/projects/fresh-project/services"
    replay = Replay(*(Answer("GET", path, body=p) for p in pages))
    session = requests.Session()
    session.mount("https://", RequestsAdapter(replay))
    return session, replay


def fresh_project() -> tuple[requests.Session, Replay]:
    return gcp_session(
        services_page(FRESH_PROJECT_APIS[:7], token="page-2"), services_page(FRESH_PROJECT_APIS[7:])
    )


def test_gcp_fresh_project_lists_every_api_to_enable(escher_home: Any) -> None:
    session, replay = fresh_project()
    report = check_gcp(spec("gcp"), session)
    replay.done()
    apis = by_check(report, "apis")
    assert apis.problem
    assert apis.fix == f"gcloud services enable {' '.join(GCP_REQUIRED_APIS)} --project fresh-project"
    assert replay.requests[0].query["filter"] == ["state:ENABLED"]
    assert replay.requests[1].query["pageToken"] == ["page-2"]


def test_gcp_with_every_api_enabled_is_ready() -> None:
    session, replay = gcp_session(services_page([*FRESH_PROJECT_APIS, *GCP_REQUIRED_APIS]))
    assert check_gcp(spec("gcp"), session).ok
    replay.done()


def test_gcp_a_refused_list_is_said_not_passed() -> None:
    replay = Replay(Answer("GET", "/v1/projects/fresh-project/services", status=403, body={"error": {}}))
    session = requests.Session()
    session.mount("https://", RequestsAdapter(replay))
    apis = by_check(check_gcp(spec("gcp"), session), "apis")
    assert not apis.ok and not apis.blocking and "serviceusage" in apis.fix


def test_cli_check_on_a_replayed_fresh_project_lists_the_apis_to_enable(
    escher_home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from escher.cli.main import app
    from escher.infra import preflight

    session, replay = fresh_project()
    # the CLI builds its own session from ADC: hand it the replayed one at Escher's seam (no SDK patched)
    monkeypatch.setattr(preflight, "gcp_session", lambda: session)
    monkeypatch.setenv("ESCHER_GCP__PROJECT", "fresh-project")
    result = CliRunner().invoke(app, ["--output", "json", "extend", "gcp", "--check"])
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    [apis] = [f for f in data["findings"] if f["check"] == "apis"]
    for api in GCP_REQUIRED_APIS:
        assert api in apis["message"]
    assert apis["fix"].startswith("gcloud services enable artifactregistry.googleapis.com")
    replay.done()


# -- Azure: Event Grid system topics (ARM list replayed) -------------------------------------------------
SUB = "00000000-0000-0000-0000-0000000000aa"
TOPICS = f"/subscriptions/{SUB}/providers/Microsoft.EventGrid/systemTopics"


def topic(name: str, group: str, topic_type: str, source: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.EventGrid/systemTopics/{name}",
        "name": name,
        "type": "Microsoft.EventGrid/systemTopics",
        "location": "global",
        "properties": {"provisioningState": "Succeeded", "source": source, "topicType": topic_type,
                       "metricResourceId": "5a9d7b4e-0000-0000-0000-000000000000"},
    }  # fmt: skip


def test_azure_an_existing_system_topic_for_the_subscription_is_named_to_reuse() -> None:
    storage = topic("blobs", "rg-data", "Microsoft.Storage.StorageAccounts",
                    f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/d")  # fmt: skip
    defender = topic(
        "defender-sub", "rg-security", "Microsoft.Resources.Subscriptions", f"/subscriptions/{SUB}"
    )
    replay = Replay(
        Answer("GET", TOPICS, body={"value": [storage], "nextLink": f"https://management.azure.com{TOPICS}?api-version=2022-06-15&$skiptoken=2"}),
        Answer("GET", TOPICS, body={"value": [defender]}),
    )  # fmt: skip
    report = check_azure(spec("azure"), transport=AzureTransport(replay), credential=AzureToken())
    replay.done()
    grid = by_check(report, "event_grid")
    assert grid.problem and "defender-sub" in grid.message and "rg-security" in grid.message
    assert defender["id"] in grid.fix
    assert replay.requests[0].headers["authorization"] == "Bearer kv-token"


def test_azure_without_one_is_ready() -> None:
    replay = Replay(Answer("GET", TOPICS, body={"value": []}))
    assert check_azure(spec("azure"), transport=AzureTransport(replay), credential=AzureToken()).ok
    replay.done()
