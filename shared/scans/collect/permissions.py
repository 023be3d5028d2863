"""What each collector task and cost source needs to read, declared beside the collectors that make the calls.

The worker's AWS policy, Azure role and GCP custom role for the daily scan are generated from these tables
(``escher.infra.permissions``), as the catalogue operations' roles are from ``escher.ops``. Keys are
``<cloud>.<task>`` with the task's service name as the collector names it (``AwsCollector.tasks``,
``AzureCollector.tasks``, ``GcpCollector.tasks``); a test keeps the keys in step with the tasks, and another
records every call the scan makes on the emulators and fails when one is not covered here, or when a
permission here is called by nothing.

Pitfalls the names carry:

- AWS IAM actions are not always the API operation's name: ``ListBuckets`` is ``s3:ListAllMyBuckets``,
  ``GetPublicAccessBlock`` is ``s3:GetBucketPublicAccessBlock``, ``GetBucketEncryption`` is
  ``s3:GetEncryptionConfiguration``; CloudWatch's endpoint is ``monitoring`` but its prefix ``cloudwatch``.
- IAM Access Analyzer's prefix is ``access-analyzer`` (``access-analyzer:ListAnalyzers``); botocore calls the
  service ``accessanalyzer``.
- ``sts:GetCallerIdentity`` needs no permission (it cannot be denied), so it is not listed.
- ``iam:GenerateCredentialReport`` is a write in IAM's table but creates nothing the user owns; it is what
  ``GetCredentialReport`` needs first.
- Azure data-plane ``List Containers`` is authorized by the control-plane action
  ``Microsoft.Storage/storageAccounts/blobServices/containers/read``.
- The GCP cost source runs a BigQuery job in the billing export's project: ``bigquery.jobs.create`` there and
  ``bigquery.tables.getData`` on the export dataset.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "COLLECTOR_DATA_ACTIONS",
    "COLLECTOR_GRAPH_PERMISSIONS",
    "COLLECTOR_PERMISSIONS",
    "COST_PERMISSIONS",
    "scan_permissions",
]

COLLECTOR_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # -- AWS (escher.clouds.aws.collect / aws_services) --------------------------------------------------------
    "aws.ec2": (
        "ec2:DescribeInstances",
        "ec2:DescribeVolumes",
        "ec2:DescribeSnapshots",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeFlowLogs",
        "ec2:DescribeVpcs",
        "ec2:DescribeAddresses",
        "ec2:DescribeImages",
        "cloudwatch:GetMetricData",  # the running instances' CPU
    ),
    "aws.rds": ("rds:DescribeDBInstances", "rds:DescribeDBSnapshots"),
    "aws.dynamodb": ("dynamodb:ListTables", "dynamodb:DescribeContinuousBackups"),
    "aws.lambda": ("lambda:ListFunctions",),
    "aws.kms": ("kms:ListKeys", "kms:DescribeKey", "kms:GetKeyRotationStatus"),
    "aws.logs": ("logs:DescribeLogGroups",),
    "aws.sqs": ("sqs:ListQueues", "sqs:GetQueueAttributes"),
    "aws.sns": ("sns:ListTopics", "sns:GetTopicAttributes"),
    "aws.efs": ("elasticfilesystem:DescribeFileSystems",),
    "aws.region_settings": (
        "ec2:GetEbsEncryptionByDefault",
        "config:DescribeConfigurationRecorderStatus",
        "guardduty:ListDetectors",
        "securityhub:DescribeHub",
    ),
    "aws.accessanalyzer": ("access-analyzer:ListAnalyzers",),  # CIS AWS 2.18, per region
    "aws.s3": (
        "s3:ListAllMyBuckets",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetBucketAcl",
        "s3:GetBucketPolicy",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketVersioning",
        "s3:GetBucketLogging",
        "tag:GetResources",  # the buckets' tags, a page of 100 at a time (GetBucketTagging only when denied)
    ),
    "aws.iam": (
        "iam:GenerateCredentialReport",
        "iam:GetCredentialReport",
        "iam:GetAccountSummary",
        "iam:GetAccountPasswordPolicy",
        "iam:GetAccountAuthorizationDetails",
        "iam:ListServerCertificates",
    ),
    "aws.cloudtrail": (
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:GetEventSelectors",
    ),
    # -- Azure (escher.clouds.azure.collect) ----------------------------------------------------------------
    "azure.storage": (
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Storage/storageAccounts/blobServices/read",
        "Microsoft.Storage/storageAccounts/fileServices/read",  # share soft delete, SMB settings (CIS 9.1.x)
    ),
    "azure.blob": (
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
    ),
    "azure.compute": (
        "Microsoft.Compute/virtualMachines/read",
        "Microsoft.Insights/metrics/read",  # the running VMs' CPU (Azure Monitor)
        "Microsoft.RecoveryServices/vaults/read",  # which VMs Azure Backup protects
        "Microsoft.RecoveryServices/vaults/backupProtectedItems/read",
    ),
    "azure.disks": ("Microsoft.Compute/disks/read",),
    "azure.snapshots": ("Microsoft.Compute/snapshots/read",),
    "azure.network": (
        "Microsoft.Network/networkSecurityGroups/read",
        "Microsoft.Network/virtualNetworks/read",  # subnets without an NSG, DDoS protection (CIS 7.11, 8.5)
        "Microsoft.Network/networkWatchers/read",  # flow logs (NSG and VNet) live under the watchers
        "Microsoft.Network/networkWatchers/flowLogs/read",
        "Microsoft.Network/virtualNetworkGateways/read",  # point-to-site authentication (CIS Azure 7.9)
    ),
    "azure.sql": (
        "Microsoft.Sql/servers/read",
        "Microsoft.Sql/servers/auditingSettings/read",
        "Microsoft.Sql/servers/databases/read",
        "Microsoft.Sql/servers/databases/transparentDataEncryption/read",
        "Microsoft.Sql/servers/databases/backupShortTermRetentionPolicies/read",
    ),
    "azure.keyvault": (
        "Microsoft.KeyVault/vaults/read",
        "Microsoft.Insights/diagnosticSettings/read",  # each vault's AuditEvent logging (CIS Azure 6.1.1.4)
    ),
    "azure.functions": ("Microsoft.Web/sites/read",),  # function apps are sites of kind functionapp
    "azure.databricks": (
        "Microsoft.Databricks/workspaces/read",  # CIS Azure 2.1.x
        "Microsoft.Insights/diagnosticSettings/read",  # each workspace's log delivery (CIS Azure 2.1.7)
    ),
    "azure.appgateway": (  # CIS Azure 7.10, 7.12-7.15
        "Microsoft.Network/applicationGateways/read",
        "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies/read",
    ),
    "azure.graph": (),  # Microsoft Graph only: no Azure role action (see COLLECTOR_GRAPH_PERMISSIONS)
    "azure.monitor": (
        "Microsoft.Insights/diagnosticSettings/read",
        "Microsoft.Security/pricings/read",
        "Microsoft.Insights/activityLogAlerts/read",  # CIS Azure 6.1.2.x
        "Microsoft.Security/securityContacts/read",  # CIS Azure 8.1.12-8.1.15
        "Microsoft.Authorization/roleAssignments/read",  # owners, root access admins, custom admin roles (5.x)
        "Microsoft.Authorization/roleDefinitions/read",
        "Microsoft.Network/bastionHosts/read",  # CIS Azure 8.4.1
        "Microsoft.Insights/components/read",  # Application Insights (CIS Azure 6.1.3.1)
        "Microsoft.Security/settings/read",  # endpoint protection, the WDATP setting (CIS Azure 8.1.3.3)
    ),
    # -- GCP (escher.clouds.gcp.collect) --------------------------------------------------------------------
    "gcp.storage": ("storage.buckets.list", "storage.buckets.getIamPolicy"),
    "gcp.instances": ("compute.instances.list", "monitoring.timeSeries.list"),  # CPU from Cloud Monitoring
    "gcp.disks": ("compute.disks.list",),
    "gcp.snapshots": ("compute.snapshots.list",),
    "gcp.subnetworks": ("compute.subnetworks.list",),
    # default and legacy networks (CIS GCP 3.1, 3.2), the DNS policies logging each one's queries (2.13)
    "gcp.networks": ("compute.networks.list", "dns.policies.list"),
    "gcp.backend_services": ("compute.backendServices.list",),  # load balancer logging (CIS GCP 2.17)
    "gcp.firewalls": ("compute.firewalls.list",),
    "gcp.sql": ("cloudsql.instances.list",),
    "gcp.iam": (
        "iam.serviceAccounts.list",
        "iam.serviceAccountKeys.list",
        "resourcemanager.projects.getIamPolicy",  # the accounts' owner / editor / *Admin roles
    ),
    "gcp.project": (
        "resourcemanager.projects.getIamPolicy",
        "logging.sinks.list",
        "compute.projects.get",
        "logging.logMetrics.list",  # log-based metrics and the alerts on them (CIS GCP 2.5-2.12)
        "monitoring.alertPolicies.list",
        "essentialcontacts.contacts.list",  # the contacts that apply to the project (CIS GCP 1.17)
        "serviceusage.services.get",  # whether cloudasset.googleapis.com is enabled (2.14)
    ),
    "gcp.run": ("run.locations.list", "run.services.list"),  # the regions, then each region's services
    "gcp.kms": (  # rotation (CIS GCP 1.11), each key's IAM policy (1.10)
        "cloudkms.locations.list",
        "cloudkms.keyRings.list",
        "cloudkms.cryptoKeys.list",
        "cloudkms.cryptoKeys.getIamPolicy",
    ),
    "gcp.dns": ("dns.managedZones.list",),  # DNSSEC and its algorithms (CIS GCP 3.3-3.5)
    "gcp.apikeys": ("apikeys.keys.list",),  # CIS GCP 1.13, 1.15, 1.16
    # lists the datasets and reads each, then each one's tables (CIS GCP 7.1-7.3)
    "gcp.bigquery": ("bigquery.datasets.get", "bigquery.tables.list", "bigquery.tables.get"),
    "gcp.dataproc": ("dataproc.clusters.list",),  # every region's clusters (CIS GCP 8.1)
}

# the daily cost snapshot (escher.scans.cost, cost_azure, cost_gcp)
COST_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "aws.cost": ("ce:GetCostAndUsage",),
    "azure.cost": ("Microsoft.CostManagement/query/action",),
    "gcp.cost": ("bigquery.jobs.create", "bigquery.tables.getData"),
}

# Azure data-plane reads: RBAC *data* actions, which a role definition carries in ``dataActions``, not
# ``actions`` (so they are kept out of COLLECTOR_PERMISSIONS and the read role built from it). A vault on
# access policies instead needs an access policy for the scanner: keys list/get, secrets list, certificates
# list/get. Without either, the vault's contents are reported "not read" and its 8.3.x checks give no verdict.
COLLECTOR_DATA_ACTIONS: dict[str, tuple[str, ...]] = {
    "azure.keyvault": (  # keys, secrets, certificates metadata (CIS Azure 8.3.1-8.3.4, 8.3.9, 8.3.11)
        "Microsoft.KeyVault/vaults/keys/read",
        "Microsoft.KeyVault/vaults/keyrotationpolicies/read",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        "Microsoft.KeyVault/vaults/certificates/read",
    ),
}

# Microsoft Graph reads (the Entra ID tenant): Graph *application permissions* on the scanning app registration,
# granted with admin consent, not Azure role actions (so neither the read role nor its dataActions can carry
# them). Without them the tenant's CIS Azure 5.1.1 / 5.1.3 checks give no verdict and the scan says what to grant.
COLLECTOR_GRAPH_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "azure.graph": (
        "Policy.Read.All",  # security defaults, Conditional Access policies (CIS Azure 5.1.1, 5.1.3)
        "AuditLog.Read.All",  # users' MFA registration report, Entra ID P1/P2 (CIS Azure 5.1.3)
    ),
}


def scan_permissions(cloud: str, tasks: Iterable[str] | None = None, *, cost: bool = True) -> tuple[str, ...]:
    """The sorted permissions of ``cloud``'s collector tasks (all of them by default) and its cost source."""
    wanted = set(tasks) if tasks is not None else None
    unknown = sorted(
        (wanted or set()) - {k.split(".", 1)[1] for k in COLLECTOR_PERMISSIONS if k.startswith(f"{cloud}.")}
    )
    if unknown:
        raise KeyError(f"no {cloud} collector task named {', '.join(unknown)}")
    perms = {
        p
        for key, declared in COLLECTOR_PERMISSIONS.items()
        if key.startswith(f"{cloud}.") and (wanted is None or key.split(".", 1)[1] in wanted)
        for p in declared
    }
    if cost:
        perms.update(COST_PERMISSIONS.get(f"{cloud}.cost", ()))
    return tuple(sorted(perms))
