"""Estimated idle monthly cost per resource type: a small static table, good to a few cents.

"Idle" means deployed, with the daily scan and a trickle of events: a few MB of state, some thousand requests
a month. List prices (USD, us-east-1 / eastus / us-central1, 2025); free tiers noted where they make the cost
zero. The design goal is <= $1/month per cloud; the tests check the total stays under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["IDLE_BUDGET_USD", "PRICES", "CostLine", "estimate"]

IDLE_BUDGET_USD = 1.00

# resource type token -> (USD per month for one resource when idle, why)
PRICES: dict[str, tuple[float, str]] = {
    # AWS
    "aws:s3/bucket:Bucket": (0.02, "S3 Standard, ~100 MB + ~10k requests"),
    "aws:ssm/parameter:Parameter": (0.0, "SSM standard parameter: free (SecureString with the AWS key)"),
    "aws:lambda/function:Function": (0.0, "Lambda: pay per invocation; the daily scan fits the free tier"),
    "aws:sqs/queue:Queue": (0.0, "SQS: first 1M requests free"),
    "aws:cloudwatch/logGroup:LogGroup": (0.05, "CloudWatch Logs: ~100 MB ingested, retention set"),
    "aws:cloudwatch/eventRule:EventRule": (0.0, "EventBridge: AWS service events are free"),
    "aws:scheduler/schedule:Schedule": (0.0, "EventBridge Scheduler: 14M invocations free"),
    "aws:sns/topic:Topic": (0.0, "SNS: first 1k e-mails free"),
    # Azure
    "azure-native:storage:StorageAccount": (0.10, "Blob LRS: ~100 MB + ~10k transactions"),
    "azure-native:keyvault:Vault": (0.03, "Key Vault standard: $0.03 per 10k operations, no per-secret fee"),
    "azure-native:web:AppServicePlan": (
        0.0,
        "Functions Flex Consumption (FC1): on demand, 100k GB-s and 250k executions free a month",
    ),
    "azure-native:operationalinsights:Workspace": (
        0.0,
        "Log Analytics: a few MB a month, first 5 GB free; capped at 0.1 GB a day",
    ),
    "azure-native:applicationinsights:Component": (
        0.0,
        "Application Insights: billed as the workspace's data",
    ),
    "azure-native:monitor:ActionGroup": (0.0, "action group: Azure Function receivers are free"),
    "azure-native:monitor:ActivityLogAlert": (0.0, "activity log alert rules: free"),
    "azure-native:web:WebApp": (0.20, "Functions host: storage transactions of its runtime (leases, logs)"),
    "azure-native:eventgrid:SystemTopic": (0.0, "Event Grid: first 100k operations free"),
    # GCP
    "gcp:storage/bucket:Bucket": (0.01, "GCS Standard ~100 MB (5 GB free in us-* regions)"),
    "gcp:secretmanager/secret:Secret": (0.06, "Secret Manager: $0.06 per active version (6 free)"),
    "gcp:cloudfunctionsv2/function:Function": (
        0.05,
        "Cloud Run functions: 0 instances when idle; build image in Artifact Registry ~0.5 GB",
    ),
    "gcp:cloudscheduler/job:Job": (0.0, "Cloud Scheduler: 3 jobs free per billing account"),
    "gcp:pubsub/topic:Topic": (0.0, "Pub/Sub: first 10 GB free"),
    "gcp:logging/projectSink:ProjectSink": (0.0, "log routing to Pub/Sub: no charge"),
    "gcp:monitoring/notificationChannel:NotificationChannel": (0.0, "notification channels: free"),
    "gcp:securitycenter/v2ProjectNotificationConfig:V2ProjectNotificationConfig": (
        0.0,
        "SCC notifications: free (the Pub/Sub messages fit the free tier)",
    ),
    "aws:sns/topicSubscription:TopicSubscription": (0.0, "SNS to Lambda deliveries: free"),
}


@dataclass(frozen=True)
class CostLine:
    type: str
    count: int
    monthly_usd: float
    note: str


def estimate(resource_types: Iterable[str]) -> tuple[list[CostLine], float]:
    """Lines for the priced types among ``resource_types`` (others are free: IAM, policies, bindings...)."""
    counts: dict[str, int] = {}
    for t in resource_types:
        if t in PRICES:
            counts[t] = counts.get(t, 0) + 1
    lines = [CostLine(t, n, round(PRICES[t][0] * n, 2), PRICES[t][1]) for t, n in sorted(counts.items())]
    return lines, round(sum(line.monthly_usd for line in lines), 2)
