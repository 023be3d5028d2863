"""Preflight: read the user's account before anything is created, and say what is missing with the command that
fixes it (``escher extend CLOUD --check``; ``escher extend CLOUD`` runs it first and stops on a blocking finding).

- AWS: a multi-region CloudTrail trail that is logging (the ``api_calls`` rule sees nothing without one); names
  the extension gives that already exist (SSM parameters, the log group; an audit bucket an earlier install
  kept); the deployer's rights where IAM lets them be read (``SimulatePrincipalPolicy``).
- GCP: the APIs the extension uses that are not enabled (Service Usage ``services.list``).
- Azure: an Event Grid system topic the subscription already has (only one per source is allowed).

Reads only: nothing here creates, changes or enables anything. Each check that cannot read what it needs says
so as a non-blocking finding (the deploy may still work), never as a pass. Clients are handed in (a boto3
client factory, a requests session, an azure-core transport) so the tests run the real SDK code on moto and on
replayed transports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from escher.infra.program import InfraError

if TYPE_CHECKING:
    from escher.infra.spec import ExtensionSpec

__all__ = [
    "DEPLOYER_ACTIONS",
    "GCP_REQUIRED_APIS",
    "Finding",
    "PreflightError",
    "PreflightReport",
    "check_aws",
    "check_azure",
    "check_gcp",
    "preflight",
]


class PreflightError(InfraError):
    """A blocking finding: the deploy would fail or the extension would not work."""

    exit_code = 3


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str
    fix: str = ""  # the command (or setting) that fixes it
    blocking: bool = True  # False: worth knowing, the deploy still works

    @property
    def problem(self) -> bool:
        return not self.ok and self.blocking


@dataclass
class PreflightReport:
    cloud: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.problem for f in self.findings)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def to_dict(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "ok": self.ok, "findings": [asdict(f) for f in self.findings]}

    def raise_if_blocked(self) -> None:
        problems = [f for f in self.findings if f.problem]
        if problems:
            lines = "; ".join(f"{f.message} (fix: {f.fix})" if f.fix else f.message for f in problems)
            raise PreflightError(
                f"{self.cloud} is not ready for Escher: {lines}",
                hint=f"run the commands named, then 'escher extend {self.cloud} --check' again",
            )


# -- AWS --------------------------------------------------------------------------------------------------
# what the deploying identity must be allowed (a sample of each service the program touches)
DEPLOYER_ACTIONS = (
    "s3:CreateBucket",
    "s3:PutBucketObjectLockConfiguration",
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:PassRole",
    "lambda:CreateFunction",
    "sqs:CreateQueue",
    "logs:CreateLogGroup",
    "events:PutRule",
    "scheduler:CreateSchedule",
    "ssm:PutParameter",
)
AwsClients = Callable[[str], Any]


def _aws_code(exc: BaseException) -> str:
    from escher.clouds import aws

    return aws.error_code(exc)


def check_aws(spec: ExtensionSpec, clients: AwsClients | None = None) -> PreflightReport:
    from escher.clouds import aws

    client = clients or (lambda service: aws.client(service, spec.region, retries={"max_attempts": 2}))
    errors = aws.errors()
    report = PreflightReport("aws")
    try:
        identity = client("sts").get_caller_identity()
    except errors as exc:
        report.add(Finding("credentials", False, f"AWS cannot be reached with your credentials: "
                           f"{_aws_code(exc) or exc}", "configure them ('aws configure' or AWS_PROFILE); "
                           "'escher doctor' checks them"))  # fmt: skip
        return report
    report.add(
        Finding("credentials", True, f"deploying as {identity['Arn']} in account {identity['Account']}")
    )
    _aws_trail(spec, client, errors, report)
    _aws_names(spec, client, errors, report)
    _aws_rights(str(identity["Arn"]), client, errors, report)
    return report


def _aws_trail(spec: ExtensionSpec, client: AwsClients, errors: Any, report: PreflightReport) -> None:
    needed = "api_calls" in spec.events
    fix = (
        "aws s3 mb s3://<trail-bucket> && aws s3api put-bucket-policy --bucket <trail-bucket> --policy "
        "<CloudTrail's bucket policy> && aws cloudtrail create-trail --name escher-trail --s3-bucket-name "
        "<trail-bucket> --is-multi-region-trail && aws cloudtrail start-logging --name escher-trail"
    )
    try:
        trails = client("cloudtrail").describe_trails(includeShadowTrails=True).get("trailList", [])
        logging = []
        for trail in trails:
            if not trail.get("IsMultiRegionTrail"):
                continue
            status = client("cloudtrail").get_trail_status(Name=trail.get("TrailARN") or trail["Name"])
            if status.get("IsLogging"):
                logging.append(str(trail["Name"]))
    except errors as exc:
        report.add(Finding("cloudtrail", False, f"cannot read CloudTrail trails: {_aws_code(exc)}",
                           "allow cloudtrail:DescribeTrails and GetTrailStatus to check", blocking=False))  # fmt: skip
        return
    if logging:
        report.add(Finding("cloudtrail", True, f"multi-region trail logging: {', '.join(sorted(logging))}"))
    elif needed:
        report.add(Finding("cloudtrail", False, "no multi-region CloudTrail trail is logging: the api_calls "
                           "events (public buckets, opened security groups) would never arrive", fix))  # fmt: skip
    else:
        report.add(Finding("cloudtrail", True, "no logging trail, and api_calls events are not enabled"))


def _aws_names(spec: ExtensionSpec, client: AwsClients, errors: Any, report: PreflightReport) -> None:
    prefix = spec.name_prefix
    clash = f"or set another [extend] name_prefix than {prefix!r}"
    try:
        params = [f"/{prefix}/credentials/{c}" for c in spec.credential_names]
        found = client("ssm").get_parameters(Names=params).get("Parameters", []) if params else []
        for param in found:
            report.add(Finding("names", False, f"SSM parameter {param['Name']} already exists",
                               f"aws ssm delete-parameter --name {param['Name']} ({clash})"))  # fmt: skip
        group = f"/{prefix}/worker"
        groups = client("logs").describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
        for found_group in groups:
            if found_group["logGroupName"] == group:
                report.add(Finding("names", False, f"log group {group} already exists",
                                   f"aws logs delete-log-group --log-group-name {group} ({clash})"))  # fmt: skip
        buckets = [b["Name"] for b in client("s3").list_buckets().get("Buckets", [])]
    except errors as exc:
        report.add(Finding("names", False, f"cannot check for name clashes: {_aws_code(exc)}",
                           "allow ssm:GetParameters, logs:DescribeLogGroups, s3:ListAllMyBuckets", blocking=False))  # fmt: skip
        return
    kept = sorted(b for b in buckets if b.startswith(f"{prefix}-audit-"))
    if kept:
        report.add(Finding("names", False, f"audit bucket(s) kept by an earlier install: {', '.join(kept)} "
                           "(a new one is created beside them)", "nothing to do; delete them once their "
                           "retention ends", blocking=False))  # fmt: skip
    if not any(f.check == "names" and f.problem for f in report.findings):
        report.add(Finding("names", True, "no resource the extension names exists yet"))


def _aws_rights(arn: str, client: AwsClients, errors: Any, report: PreflightReport) -> None:
    from escher.lazy import require

    principal = _principal_arn(arn)
    # an endpoint without the API (moto answers it with an HTML 500) is "cannot read", like a denial
    unreadable = (*errors, require("botocore.parsers", "aws").ResponseParserError)
    try:
        results = client("iam").simulate_principal_policy(
            PolicySourceArn=principal, ActionNames=list(DEPLOYER_ACTIONS)
        )["EvaluationResults"]
    except unreadable as exc:
        report.add(Finding("rights", False, f"cannot read the deployer's rights ({_aws_code(exc)}): "
                           "the deploy will tell", "allow iam:SimulatePrincipalPolicy to check first",
                           blocking=False))  # fmt: skip
        return
    denied = sorted(r["EvalActionName"] for r in results if r.get("EvalDecision") != "allowed")
    if denied:
        report.add(Finding("rights", False, f"{principal} may not {', '.join(denied)}",
                           f"grant them to {principal} (e.g. attach a policy allowing them)"))  # fmt: skip
    else:
        report.add(Finding("rights", True, f"{principal} may deploy ({len(results)} actions checked)"))


def _principal_arn(arn: str) -> str:
    """An assumed-role session's ARN as the role IAM can simulate (sts:...:assumed-role/R/s -> iam:...:role/R)."""
    if ":assumed-role/" in arn:
        head, _, rest = arn.partition(":assumed-role/")
        return head.replace(":sts:", ":iam:") + ":role/" + rest.split("/")[0]
    return arn


# -- GCP --------------------------------------------------------------------------------------------------
GCP_REQUIRED_APIS = (
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
)
SERVICE_USAGE = "https://serviceusage.googleapis.com/v1"


def gcp_session() -> Any:
    """A requests session carrying the application-default credentials."""
    from escher.clouds import gcp
    from escher.lazy import require

    return require("google.auth.transport.requests", "gcp").AuthorizedSession(gcp.credentials())


def check_gcp(spec: ExtensionSpec, session: Any = None) -> PreflightReport:
    """``session``: a requests session with credentials (``AuthorizedSession``); built from ADC when None."""
    report = PreflightReport("gcp")
    project = spec.gcp_project
    if not project:
        report.add(
            Finding("project", False, "no GCP project is configured", "set [gcp] project in config.toml")
        )
        return report
    session = session if session is not None else gcp_session()
    enabled: set[str] = set()
    url = f"{SERVICE_USAGE}/projects/{project}/services"
    params: dict[str, str] = {"filter": "state:ENABLED", "pageSize": "200"}
    while True:
        response = session.get(url, params=params, timeout=30)
        if response.status_code >= 400:
            report.add(Finding("apis", False, f"cannot list the project's APIs ({response.status_code})",
                               f"gcloud services enable serviceusage.googleapis.com --project {project}; "
                               "and allow serviceusage.services.list", blocking=False))  # fmt: skip
            return report
        body = response.json()
        enabled.update(str(s.get("config", {}).get("name", "")) for s in body.get("services", []))
        token = body.get("nextPageToken")
        if not token:
            break
        params = {**params, "pageToken": str(token)}
    missing = [api for api in GCP_REQUIRED_APIS if api not in enabled]
    if missing:
        report.add(Finding("apis", False, f"APIs not enabled in {project}: {', '.join(missing)}",
                           f"gcloud services enable {' '.join(missing)} --project {project}"))  # fmt: skip
    else:
        report.add(Finding("apis", True, f"every API the extension uses is enabled in {project}"))
    return report


# -- Azure ------------------------------------------------------------------------------------------------
ARM = "https://management.azure.com"
EVENT_GRID_API = "2022-06-15"
SUBSCRIPTION_TOPIC = "microsoft.resources.subscriptions"


def check_azure(spec: ExtensionSpec, *, transport: Any = None, credential: Any = None) -> PreflightReport:
    from escher.lazy import require

    report = PreflightReport("azure")
    sub = spec.azure_subscription_id
    if not sub:
        report.add(Finding("subscription", False, "no Azure subscription is configured",
                           "set [azure] subscription_id in config.toml"))  # fmt: skip
        return report
    core = require("azure.core", "azure")
    policies = require("azure.core.pipeline.policies", "azure")
    rest = require("azure.core.rest", "azure")
    if credential is None:
        from escher.clouds.azure import credential as default_credential

        credential = default_credential()
    kwargs: dict[str, Any] = {"policies": [policies.HeadersPolicy(), policies.RetryPolicy(retry_total=2),
                              policies.BearerTokenCredentialPolicy(credential, f"{ARM}/.default")]}  # fmt: skip
    if transport is not None:
        kwargs["transport"] = transport
    client = core.PipelineClient(ARM, **kwargs)
    url = f"{ARM}/subscriptions/{sub}/providers/Microsoft.EventGrid/systemTopics?api-version={EVENT_GRID_API}"
    topics: list[Mapping[str, Any]] = []
    while url:
        response = client.send_request(rest.HttpRequest("GET", url))
        if response.status_code >= 400:
            report.add(Finding("event_grid", False, f"cannot list Event Grid system topics ({response.status_code})",
                               "allow Microsoft.EventGrid/systemTopics/read on the subscription",
                               blocking=False))  # fmt: skip
            return report
        body = response.json()
        topics.extend(body.get("value", []))
        url = body.get("nextLink") or ""
    source = f"/subscriptions/{sub}".lower()
    mine = [
        t for t in topics
        if str(t.get("properties", {}).get("topicType", "")).lower() == SUBSCRIPTION_TOPIC
        and str(t.get("properties", {}).get("source", "")).lower() == source
    ]  # fmt: skip
    if mine:
        topic = mine[0]
        group = str(topic.get("id", "")).split("/resourceGroups/")[-1].split("/")[0]
        report.add(Finding("event_grid", False, f"the subscription already has an Event Grid system topic, "
                           f"{topic.get('name')} (resource group {group}); Azure allows one per source, so "
                           "creating another fails", f"reuse it: subscribe Escher to {topic.get('id')} (or, if "
                           f"nothing uses it: az eventgrid system-topic delete --name {topic.get('name')} "
                           f"--resource-group {group})"))  # fmt: skip
    else:
        report.add(Finding("event_grid", True, "no Event Grid system topic for the subscription yet"))
    return report


def preflight(spec: ExtensionSpec, **clients: Any) -> PreflightReport:
    """The checks of ``spec.cloud``, as its deploy description names them; ``clients`` go to that cloud's
    check (tests: ``clients=`` a boto3 client factory, ``session=`` a requests session, ``transport=`` and
    ``credential=`` for azure-core)."""
    from escher.infra.deploy import deploy_of

    return deploy_of(spec.cloud).preflight(spec, clients)
