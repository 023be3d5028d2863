"""The CIS checks' edges that the emulators cannot show: the passing sides moto cannot produce, CloudTrail's
advanced event selectors and network ACL rule order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from escher.clouds.aws.collect_services import s3_object_logging
from escher.scans.checks import CHECKS, CheckContext, Fail
from escher.scans.checks.base import NA
from escher.scans.model import Record

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def rec(type_: str, **attrs: object) -> Record:
    return Record(type_.split(".")[0], type_, "r-1", "us-east-1", "123", attrs=dict(attrs))


def verdict(key: str, record: Record) -> str:
    out = CHECKS.get(key).fn(record, CheckContext(now=NOW))
    return f"fail: {out.message}" if isinstance(out, Fail) else "pass" if out is None else "na"


def test_support_role_passes_with_a_role_and_fails_without() -> None:
    assert verdict("aws.iam.support_role", rec("aws.iam.account", support_roles=["aws-support"])) == "pass"
    assert verdict("aws.iam.support_role", rec("aws.iam.account", support_roles=[])).startswith("fail")


def test_server_certificate_expired_only_after_its_expiration() -> None:
    key, t = "aws.iam.server_certificate_expired", "aws.iam.server_certificate"
    assert verdict(key, rec(t, expiration="2027-06-01T00:00:00+00:00")) == "pass"
    assert verdict(key, rec(t, expiration="2026-11-07T12:00:00+00:00")) == "fail: expired 30 days ago"
    assert verdict(key, rec(t, expiration=None)) == "na"


def _adv(*fields: tuple[str, list[str]]) -> dict[str, object]:
    return {"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": f, "Equals": v} for f, v in fields]}]}


_S3 = (("eventCategory", ["Data"]), ("resources.type", ["AWS::S3::Object"]))
_ALL = [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]
_LAMBDA = [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}]


@pytest.mark.parametrize(
    ("selectors", "logged"),
    [
        ({}, set()),
        (_adv(*_S3), {"read", "write"}),
        (_adv(*_S3, ("readOnly", ["false"])), {"write"}),
        (_adv(*_S3, ("readOnly", ["true"])), {"read"}),
        (_adv(*_S3, ("resources.ARN", ["arn:aws:s3:::one/"])), set()),  # one bucket is not every bucket
        (_adv(("eventCategory", ["Management"])), set()),
        ({"EventSelectors": [{"ReadWriteType": "ReadOnly", "DataResources": _ALL}]}, {"read"}),
        ({"EventSelectors": [{"ReadWriteType": "All", "DataResources": _LAMBDA}]}, set()),
    ],
)
def test_s3_object_logging_reads_basic_and_advanced_selectors(
    selectors: dict[str, object], logged: set[str]
) -> None:
    assert s3_object_logging(selectors) == logged


def _entry(
    rule: int, action: str, protocol: str = "6", lo: int = 0, hi: int = 65535, cidr: str = "0.0.0.0/0"
) -> dict[str, object]:
    return {
        "rule": rule,
        "action": action,
        "protocol": protocol,
        "cidr": cidr,
        "from_port": lo,
        "to_port": hi,
    }


@pytest.mark.parametrize(
    ("ingress", "expected"),
    [
        ([_entry(100, "allow", "-1")], "fail: port 22, 3389 allowed from the internet"),
        ([_entry(100, "allow", cidr="::/0", lo=3389, hi=3389)], "fail: port 3389 allowed from the internet"),
        ([_entry(50, "deny", "-1"), _entry(100, "allow", "-1")], "pass"),
        ([_entry(100, "allow", "17")], "pass"),  # UDP only
        ([_entry(100, "allow", cidr="10.0.0.0/8")], "pass"),
        ([_entry(100, "allow", lo=443, hi=443)], "pass"),
        ([], "pass"),
    ],
)
def test_nacl_rules_are_read_in_order(ingress: list[dict[str, object]], expected: str) -> None:
    assert verdict("aws.ec2.nacl_open_admin_ports", rec("aws.ec2.network_acl", ingress=ingress)) == expected


def test_sql_flag_checks_judge_their_engine_only_and_know_its_defaults() -> None:
    pg = rec("gcp.sql.instance", database_version="POSTGRES_15", database_flags={})
    mysql = rec("gcp.sql.instance", database_version="MYSQL_8_0", database_flags={})
    assert verdict("gcp.sql.pg_log_connections", pg) == "fail: log_connections is at its default"  # off
    assert verdict("gcp.sql.pg_log_min_messages", pg) == "pass"  # warning by default
    assert verdict("gcp.sql.pg_log_connections", mysql) == "na"
    assert verdict("gcp.sql.mysql_local_infile", mysql) == "pass"
    assert verdict("gcp.sql.mssql_remote_access", mysql) == "na"


def test_gke_nodes_are_out_of_the_instance_checks_scope() -> None:
    node = Record("gcp", "gcp.compute.instance", "n-1", "us-central1", "p", name="gke-pool-1-abc",
                  attrs={"default_sa": True, "block_project_ssh_keys": False, "ip_forward": True})  # fmt: skip
    for key in ("uses_default_sa", "project_ssh_keys", "ip_forwarding"):
        assert verdict(f"gcp.compute.instance_{key}", node) == "na"


def test_each_defender_plan_check_passes_on_standard_and_gives_no_verdict_unread() -> None:
    from escher.clouds.azure.checks.cis import DEFENDER_PLANS

    plans = [plan for plan, _, _ in DEFENDER_PLANS.values()]
    every = rec("azure.monitor.subscription", defender_plans=plans)
    unread = rec("azure.monitor.subscription", diagnostic_settings=[])
    for plan in plans:
        key = f"azure.security.defender_{plan.lower()}"
        assert verdict(key, every) == "pass"
        assert verdict(key, rec("azure.monitor.subscription", defender_plans=[])) == (
            f"fail: {plan} plan is not on Standard"
        )
        assert verdict(key, unread) == "na"


def test_separation_of_duties_from_the_project_policy() -> None:
    from escher.clouds.gcp.collect import separation_of_duties

    policy = {"bindings": [
        {"role": "roles/iam.serviceAccountAdmin", "members": ["user:ann@x.test", "user:cy@x.test"]},
        {"role": "roles/iam.serviceAccountUser", "members": ["user:ann@x.test", "serviceAccount:ci@p.iam.gserviceaccount.com"]},
        {"role": "roles/iam.serviceAccountTokenCreator", "members": ["group:ops@x.test"]},
        {"role": "roles/cloudkms.admin", "members": ["user:dee@x.test", "user:eve@x.test"]},
        {"role": "roles/cloudkms.cryptoKeyDecrypter", "members": ["user:dee@x.test"]},
    ]}  # fmt: skip
    found = separation_of_duties(policy)
    assert found == {
        "sa_impersonators": ["group:ops@x.test", "user:ann@x.test"],  # the service account is not a person
        "sa_duty_conflicts": ["user:ann@x.test"],
        "kms_duty_conflicts": ["user:dee@x.test"],
    }
    project = rec("gcp.project.settings", **found)
    assert verdict("gcp.kms.separation_of_duties", project) == (
        "fail: user:dee@x.test hold both Cloud KMS Admin and a CryptoKey Encrypter/Decrypter role"
    )
    clean = rec("gcp.project.settings", **separation_of_duties({"bindings": policy["bindings"][3:4]}))
    for key in (
        "gcp.iam.project_sa_impersonation",
        "gcp.iam.sa_separation_of_duties",
        "gcp.kms.separation_of_duties",
    ):
        assert verdict(key, clean) == "pass"
        assert verdict(key, rec("gcp.project.settings")) == "na"  # the IAM policy was not read


def test_sa_key_rotation_fails_past_90_days_only() -> None:
    sa = "gcp.iam.service_account"
    assert verdict("gcp.iam.sa_key_rotation", rec(sa, oldest_user_key="2026-10-01T00:00:00Z")) == "pass"
    assert verdict("gcp.iam.sa_key_rotation", rec(sa, oldest_user_key="2026-08-01T12:00:00Z")) == (
        "fail: a user-managed key is 128 days old"
    )
    assert verdict("gcp.iam.sa_key_rotation", rec(sa, oldest_user_key=None)) == "pass"  # no user-managed key


def test_activity_log_categories_only_count_an_exporting_setting() -> None:
    from escher.clouds.azure.collect import normalize_subscription

    def setting(name: str, dest: dict[str, str], enabled: tuple[str, ...]) -> dict[str, object]:
        logs = [
            {"category": c, "enabled": c in enabled}
            for c in ("Administrative", "Alert", "Policy", "Security")
        ]
        return {"name": name, "properties": {**dest, "logs": logs}}

    all_four = ("Administrative", "Alert", "Policy", "Security")
    key = "azure.monitor.activity_log_categories"
    exported = normalize_subscription("s", [setting("a", {"workspaceId": "w"}, all_four)], None)
    assert verdict(key, exported) == "pass"
    partial = normalize_subscription("s", [setting("a", {"workspaceId": "w"}, ("Administrative",))], None)
    assert verdict(key, partial) == "fail: not exported: Alert, Policy, Security"
    nowhere = normalize_subscription("s", [setting("a", {}, all_four)], None)  # no destination: not exported
    assert verdict(key, nowhere) == "fail: not exported: Administrative, Alert, Policy, Security"
    assert verdict(key, normalize_subscription("s", None, None)) == "na"


def test_flow_log_retention_takes_the_shortest_finite_one_of_each_kind() -> None:
    from escher.clouds.azure.collect import flow_log_retention

    nsg = Record(
        "azure", "azure.network.nsg", "/s/nsg/a", "eastus", "s", attrs={"subnets": ["/s/vnet/v/subnets/db"]}
    )
    assert flow_log_retention(nsg, {}) == (None, None)
    assert flow_log_retention(nsg, {"/s/nsg/a": 30, "/s/vnet/v": 0, "/s/vnet/v/subnets/db": 45}) == (30, 45)
    key = "azure.network.nsg_flow_log_retention"
    for days, expected in ((30, "fail: NSG flow log keeps 30 days"), (90, "pass"), (0, "pass"), (None, "na")):
        assert verdict(key, rec("azure.network.nsg", nsg_flow_log_retention=days)) == expected


# the CIS filter of each event, as the benchmark's remediation writes it (gcp_cis holds its own copy)
_CIS_LOG_FILTERS = {
    "project_ownership": '(protoPayload.serviceName="cloudresourcemanager.googleapis.com") AND (ProjectOwnership '
    'OR projectOwnerInvitee) OR (protoPayload.serviceData.policyDelta.bindingDeltas.action="REMOVE" AND '
    'protoPayload.serviceData.policyDelta.bindingDeltas.role="roles/owner") OR '
    '(protoPayload.serviceData.policyDelta.bindingDeltas.action="ADD" AND '
    'protoPayload.serviceData.policyDelta.bindingDeltas.role="roles/owner")',
    "audit_config": 'protoPayload.methodName="SetIamPolicy" AND protoPayload.serviceData.policyDelta.auditConfigDeltas:*',
    "custom_roles": 'resource.type="iam_role" AND (protoPayload.methodName = "google.iam.admin.v1.CreateRole" OR '
    'protoPayload.methodName="google.iam.admin.v1.DeleteRole" OR protoPayload.methodName="google.iam.admin.v1.UpdateRole")',
    "firewall_changes": 'resource.type="gce_firewall_rule" AND (protoPayload.methodName:"compute.firewalls.patch" '
    'OR protoPayload.methodName:"compute.firewalls.insert" OR protoPayload.methodName:"compute.firewalls.delete")',
    "route_changes": 'resource.type="gce_route" AND (protoPayload.methodName:"compute.routes.delete" OR '
    'protoPayload.methodName:"compute.routes.insert")',
    "network_changes": 'resource.type="gce_network" AND (protoPayload.methodName:"compute.networks.insert" OR '
    'protoPayload.methodName:"compute.networks.patch" OR protoPayload.methodName:"compute.networks.delete" OR '
    'protoPayload.methodName:"compute.networks.removePeering" OR protoPayload.methodName:"compute.networks.addPeering")',
    "storage_iam": 'resource.type="gcs_bucket" AND protoPayload.methodName="storage.setIamPermissions"',
    "sql_config": 'protoPayload.methodName="cloudsql.instances.update"',
}  # fmt: skip


@pytest.mark.parametrize("event", sorted(_CIS_LOG_FILTERS))
def test_each_log_alert_check_passes_on_its_cis_filter_alone(event: str) -> None:
    key, project = f"gcp.logging.alert_{event}", "gcp.project.settings"
    assert verdict(key, rec(project, alerted_log_filters=[_CIS_LOG_FILTERS[event]])) == "pass"
    others = [f for e, f in _CIS_LOG_FILTERS.items() if e != event]
    assert verdict(key, rec(project, alerted_log_filters=others)).startswith("fail: no log-based metric")
    assert verdict(key, rec(project)) == "na"  # the metrics or the alert policies were not read


def test_a_log_filter_missing_one_event_does_not_count() -> None:
    routes_insert_only = 'resource.type="gce_route" AND protoPayload.methodName:"compute.routes.insert"'
    project = rec("gcp.project.settings", alerted_log_filters=[routes_insert_only])
    assert verdict("gcp.logging.alert_route_changes", project).startswith("fail")


def test_only_metrics_an_enabled_alert_policy_watches_count() -> None:
    from escher.clouds.gcp.collect import alerted_log_filters

    metrics = [
        {"name": "sql", "filter": "a"},
        {"name": "sql-old", "filter": "b"},  # a prefix of another name is not that name
        {"name": "fw", "filter": "c"},
        {"name": "off", "filter": "d", "disabled": True},
    ]

    def policy(metric: str, **extra: object) -> dict[str, object]:
        flt = f"metric.type = 'logging.googleapis.com/user/{metric}' AND resource.type = \"global\""
        return {"conditions": [{"displayName": "x", "conditionThreshold": {"filter": flt}}], **extra}

    policies = [policy("sql-old-x"), policy("sql"), policy("fw", enabled=False), policy("off")]
    assert alerted_log_filters(metrics, policies) == ["a"]
    assert alerted_log_filters(metrics, []) == []


def test_confidential_computing_from_the_instance_config() -> None:
    from escher.clouds.gcp.collect import normalize_instance

    base = {"name": "vm", "id": "1", "zone": "zones/us-central1-a"}
    sev = normalize_instance({**base, "confidentialInstanceConfig": {"enableConfidentialCompute": True}}, "p")
    tdx = normalize_instance({**base, "confidentialInstanceConfig": {"confidentialInstanceType": "TDX"}}, "p")
    plain = normalize_instance(base, "p")
    key = "gcp.compute.instance_confidential_computing"
    assert (verdict(key, sev), verdict(key, tdx)) == ("pass", "pass")
    assert verdict(key, plain) == "fail: Confidential Computing is off"


def test_sink_bucket_retention_must_be_set_and_locked() -> None:
    from escher.clouds.gcp.collect import normalize_bucket, normalize_project

    sinks = [
        {"name": "all", "destination": "storage.googleapis.com/archive"},
        {"name": "old", "destination": "storage.googleapis.com/retired", "disabled": True},
        {"name": "bq", "destination": "bigquery.googleapis.com/projects/p/datasets/logs"},
    ]
    project = normalize_project("p", None, sinks, None)
    assert project.attrs["sink_buckets"] == ["archive"]
    ctx = CheckContext(now=NOW, index={"gcp.project.settings": [project]})
    key = "gcp.logging.sink_bucket_retention_locked"

    def bucket(name: str, retention: dict[str, object] | None) -> str:
        raw = {"name": name, **({"retentionPolicy": retention} if retention else {})}
        out = CHECKS.get(key).fn(normalize_bucket(raw, "p", None), ctx)
        return f"fail: {out.message}" if isinstance(out, Fail) else "pass" if out is None else "na"

    assert bucket("archive", {"retentionPeriod": "34560000", "isLocked": True}) == "pass"
    assert bucket("archive", {"retentionPeriod": "34560000"}) == "fail: the retention policy is not locked"
    assert bucket("archive", None) == "fail: a log sink exports here and the bucket has no retention policy"
    assert bucket("retired", None) == "na"  # a disabled sink exports nothing
    unread = CheckContext(now=NOW, index={"gcp.project.settings": [normalize_project("p", None, None, None)]})
    assert CHECKS.get(key).fn(normalize_bucket({"name": "archive"}, "p", None), unread) is NA  # sinks unread


def test_csek_needs_every_attached_disk_under_a_supplied_key() -> None:
    from escher.clouds.gcp.collect import normalize_instance

    csek, kms = {"diskEncryptionKey": {"sha256": "abc="}}, {"diskEncryptionKey": {"kmsKeyName": "k"}}
    base = {"name": "vm", "id": "1", "zone": "zones/us-central1-a"}
    key = "gcp.compute.instance_csek_disks"
    assert verdict(key, normalize_instance({**base, "disks": [csek, csek]}, "p")) == "pass"
    assert verdict(key, normalize_instance({**base, "disks": [csek, kms]}, "p")).startswith("fail")
    assert verdict(key, normalize_instance(base, "p")).startswith("fail")  # no disk read: not shown encrypted


def test_each_activity_log_alert_check_passes_on_its_operation_alone() -> None:
    from escher.clouds.azure.checks.cis import ACTIVITY_ALERTS

    sub = "azure.monitor.subscription"
    for suffix, operation, _what in ACTIVITY_ALERTS.values():
        key = f"azure.monitor.alert_{suffix}"
        others = [op.lower() for s, op, _ in ACTIVITY_ALERTS.values() if s != suffix]
        assert verdict(key, rec(sub, alerted_operations=[operation.lower()])) == "pass", key
        assert verdict(key, rec(sub, alerted_operations=others)) == (
            f"fail: no enabled Activity Log alert on {operation} for the subscription"
        )
        assert verdict(key, rec(sub)) == "na"  # the alerts were not read


def test_alerted_operations_count_enabled_subscription_wide_alerts_only() -> None:
    from escher.clouds.azure.collect import alerted_operations

    def alert(
        *conds: dict[str, object], enabled: bool = True, scope: str = "/subscriptions/S"
    ) -> dict[str, object]:
        return {"properties": {"scopes": [scope], "enabled": enabled, "condition": {"allOf": list(conds)}}}

    admin = {"field": "category", "equals": "Administrative"}
    write = {"field": "operationName", "equals": "Microsoft.Sql/servers/firewallRules/write"}
    delete = {"field": "operationName", "equals": "Microsoft.Sql/servers/firewallRules/delete"}
    alerts = [
        alert(admin, {"anyOf": [write, {"field": "operationName", "equals": "X/y/delete"}]}),
        alert(admin, delete, enabled=False),
        alert(admin, delete, scope="/subscriptions/S/resourceGroups/rg"),  # one group is not the subscription
        alert({"field": "category", "equals": "ServiceHealth"}),
    ]
    assert alerted_operations("s", alerts) == [
        "category:servicehealth",
        "microsoft.sql/servers/firewallrules/write",
        "x/y/delete",
    ]


def test_storage_key_age_takes_the_older_key_and_redundancy_the_sku() -> None:
    from escher.clouds.azure.collect import normalize_storage_account

    def account(sku: str, keys: dict[str, str] | None) -> Record:
        props = {"keyCreationTime": keys} if keys is not None else {}
        raw = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
               "name": "a", "location": "eastus", "sku": {"name": sku}, "properties": props}  # fmt: skip
        return normalize_storage_account(raw, "s")

    recent, old = "2026-11-30T08:00:00.1234567Z", "2026-08-01T12:00:00.0000000Z"
    assert (
        verdict("azure.storage.key_regenerated", account("Standard_LRS", {"key1": recent, "key2": recent}))
        == "pass"
    )
    assert verdict(
        "azure.storage.key_regenerated", account("Standard_LRS", {"key1": recent, "key2": old})
    ) == ("fail: an access key was last generated 128 days ago")
    assert verdict("azure.storage.key_regenerated", account("Standard_LRS", None)) == "na"
    assert verdict("azure.storage.geo_redundant", account("Standard_GZRS", None)) == "pass"
    assert (
        verdict("azure.storage.geo_redundant", account("Premium_ZRS", None))
        == "fail: redundancy is Premium_ZRS"
    )


def test_security_contact_checks_read_the_enabled_contact() -> None:
    from escher.clouds.azure.collect import normalize_subscription

    def contact(enabled: bool = True, **props: object) -> dict[str, object]:
        return {"name": "default", "properties": {"isEnabled": enabled, **props}}

    settings: dict[str, object] = {
        "emails": "a@x.test; b@x.test",
        "notificationsByRole": {"state": "On", "roles": ["Owner"]},
        "notificationsSources": [
            {"sourceType": "Alert", "minimalSeverity": "Medium"},
            {"sourceType": "AttackPath", "minimalRiskLevel": "Critical"},
        ],
    }
    full, switched_off = contact(**settings), contact(False, **settings)
    off_roles = contact(emails="", notificationsByRole={"state": "Off", "roles": ["Owner"]})
    keys = ("owners", "email", "alerts", "attack_paths")
    for key in keys:
        check_id = f"azure.security.contact_{key}"
        assert verdict(check_id, normalize_subscription("s", None, None, None, [full])) == "pass"
        assert verdict(check_id, normalize_subscription("s", None, None, None, [off_roles])).startswith(
            "fail"
        )
        assert verdict(check_id, normalize_subscription("s", None, None, None, [])).startswith(
            "fail"
        )  # none set
        disabled = normalize_subscription("s", None, None, None, [switched_off])
        assert verdict(check_id, disabled).startswith("fail")
        assert verdict(check_id, normalize_subscription("s", None, None)) == "na"


def test_role_facts_count_owners_on_the_subscription_and_access_admins_at_root() -> None:
    from escher.clouds.azure.collect import OWNER_ROLE, USER_ACCESS_ADMIN_ROLE, normalize_subscription

    def assign(scope: str, role: str, who: str) -> dict[str, object]:
        rid = f"/providers/Microsoft.Authorization/roleDefinitions/{role}"
        return {"properties": {"scope": scope, "roleDefinitionId": rid, "principalId": who}}

    def custom(name: str, actions: list[str], scope: str = "/subscriptions/s") -> dict[str, object]:
        perms = [{"actions": actions}]
        return {"properties": {"roleName": name, "type": "CustomRole", "permissions": perms, "assignableScopes": [scope]}}  # fmt: skip

    sub = "/subscriptions/s"
    owners = [assign(sub, OWNER_ROLE, "p1"), assign(sub, OWNER_ROLE, "p2"), assign(sub, OWNER_ROLE, "p2")]
    good = normalize_subscription("s", None, None, roles=(owners, [custom("ops", ["Microsoft.Compute/*"])]))
    for key in ("subscription_owners", "root_user_access_admin", "custom_admin_roles"):
        assert verdict(f"azure.iam.{key}", good) == "pass"
        assert verdict(f"azure.iam.{key}", normalize_subscription("s", None, None)) == "na"
    four = [*owners, *(assign(sub, OWNER_ROLE, p) for p in ("p3", "p4")), assign(f"{sub}/resourceGroups/r", OWNER_ROLE, "p5")]  # fmt: skip
    bad = normalize_subscription(
        "s", None, None, roles=(
            [*four, assign("/", USER_ACCESS_ADMIN_ROLE, "ga"), assign(sub, USER_ACCESS_ADMIN_ROLE, "x")],
            [custom("god", ["*"], scope="/"), custom("elsewhere", ["*"], scope="/subscriptions/other")],
        ),
    )  # fmt: skip
    assert verdict("azure.iam.subscription_owners", bad) == "fail: 4 principals hold Owner"
    assert verdict("azure.iam.root_user_access_admin", bad) == "fail: principal ga holds it at /"
    assert verdict("azure.iam.custom_admin_roles", bad) == 'fail: god allows actions "*"'
    one = normalize_subscription("s", None, None, roles=(owners[:1], []))
    assert verdict("azure.iam.subscription_owners", one) == "fail: 1 principal holds Owner"


def test_vnet_subnets_need_an_nsg_except_where_azure_forbids_one_and_bastion_exists() -> None:
    from escher.clouds.azure.collect import normalize_subscription, normalize_vnet

    def subnet(name: str, nsg: bool) -> dict[str, object]:
        return {"name": name, "properties": {"networkSecurityGroup": {"id": "/nsg"}} if nsg else {}}

    def vnet(*subnets: dict[str, object], ddos: bool = False) -> Record:
        raw = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
               "name": "v", "location": "eastus", "properties": {"subnets": list(subnets), "enableDdosProtection": ddos}}  # fmt: skip
        return normalize_vnet(raw, "s")

    covered = vnet(
        subnet("app", True), subnet("GatewaySubnet", False), subnet("AzureFirewallSubnet", False), ddos=True
    )
    assert verdict("azure.network.subnet_without_nsg", covered) == "pass"
    assert verdict("azure.network.vnet_ddos_protection", covered) == "pass"
    bare = vnet(subnet("app", True), subnet("web", False), subnet("AzureBastionSubnet", False))
    assert verdict("azure.network.subnet_without_nsg", bare) == "fail: no NSG on AzureBastionSubnet, web"
    assert verdict("azure.network.vnet_ddos_protection", bare) == "fail: enableDdosProtection is off"
    key = "azure.network.bastion_host"
    assert verdict(key, normalize_subscription("s", None, None, bastions=[{"name": "bastion-hub"}])) == "pass"
    assert (
        verdict(key, normalize_subscription("s", None, None, bastions=[]))
        == "fail: no Bastion host in the subscription"
    )
    assert verdict(key, normalize_subscription("s", None, None)) == "na"


def test_databricks_subnet_nsg_looks_up_the_injected_vnet() -> None:
    from escher.clouds.azure.collect import normalize_databricks_workspace

    vnet_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"
    vnet = Record(
        "azure", "azure.network.vnet", vnet_id, "eastus", "s", attrs={"subnets_without_nsg": ["web"]}
    )
    ctx = CheckContext(now=NOW, index={"azure.network.vnet": [vnet]})

    def workspace(public: str, private: str, vnet: str | None = vnet_id.upper()) -> Record:
        params = {"customPublicSubnetName": {"value": public}, "customPrivateSubnetName": {"value": private}}
        if vnet:
            params["customVirtualNetworkId"] = {"value": vnet}
        raw = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w",
               "name": "w", "location": "eastus", "properties": {"parameters": params}}  # fmt: skip
        return normalize_databricks_workspace(raw, "s")

    def run(rec: Record) -> object:
        return CHECKS.get("azure.databricks.subnet_nsg").fn(rec, ctx)

    assert run(workspace("pub", "priv")) is None
    failed = run(workspace("pub", "web"))
    assert isinstance(failed, Fail) and failed.message == "no NSG on web"
    assert run(workspace("pub", "web", vnet=None)) is NA  # the managed VNet: 2.1.1 decides
    managed = workspace("", "", vnet=None)
    assert (managed.attrs["no_public_ip"], managed.attrs["public_network_access"]) == (False, "Enabled")


def test_smb_settings_left_at_the_default_allow_everything() -> None:
    from escher.clouds.azure.collect import normalize_storage_account

    raw = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a", "name": "a",
           "location": "eastus", "properties": {}}  # fmt: skip

    def files(**smb: str) -> Record:
        props = {"shareDeleteRetentionPolicy": {"enabled": True}, "protocolSettings": {"smb": smb}}
        return normalize_storage_account(raw, "s", None, {"properties": props})

    strict = files(versions="SMB3.1.1;", channelEncryption="AES-256-GCM;")
    assert verdict("azure.storage.smb_version", strict) == "pass"
    assert verdict("azure.storage.smb_channel_encryption", strict) == "pass"
    assert verdict("azure.storage.file_soft_delete", strict) == "pass"
    loose = files(versions="SMB3.0;SMB3.1.1", channelEncryption="AES-128-GCM;AES-256-GCM")
    default = files()
    for rec_ in (loose, default):
        assert verdict("azure.storage.smb_version", rec_).startswith("fail")
        assert verdict("azure.storage.smb_channel_encryption", rec_).startswith("fail")
    unread = normalize_storage_account(raw, "s")  # a BlobStorage account has no file service
    assert verdict("azure.storage.smb_version", unread) == "na"


def test_vault_audit_logging_needs_an_enabled_audit_log_with_a_destination() -> None:
    from escher.clouds.azure.collect import vault_audit_logged

    def setting(dest: dict[str, str], *logs: dict[str, object]) -> dict[str, object]:
        return {"properties": {**dest, "logs": list(logs)}}

    ws = {"workspaceId": "/w"}
    assert vault_audit_logged([setting(ws, {"category": "AuditEvent", "enabled": True})])
    assert vault_audit_logged([setting(ws, {"categoryGroup": "allLogs", "enabled": True})])
    assert not vault_audit_logged([setting(ws, {"categoryGroup": "audit", "enabled": False})])
    assert not vault_audit_logged([setting({}, {"category": "AuditEvent", "enabled": True})])  # sent nowhere
    assert not vault_audit_logged(
        [setting(ws, {"category": "AzurePolicyEvaluationDetails", "enabled": True})]
    )
    assert not vault_audit_logged([])
    assert verdict(
        "azure.keyvault.audit_logging", rec("azure.keyvault.vault", audit_logged=False)
    ).startswith("fail")
    assert verdict("azure.keyvault.audit_logging", rec("azure.keyvault.vault")) == "na"


def test_gcp_essential_contacts_need_each_category_or_all_from_a_valid_contact() -> None:
    from escher.clouds.gcp.collect import normalize_project

    def project(*contacts: dict[str, object]) -> Record:
        return normalize_project("p", None, None, None, contacts=list(contacts))

    def contact(*categories: str, state: str = "VALID") -> dict[str, object]:
        return {
            "email": "a@b.test",
            "notificationCategorySubscriptions": list(categories),
            "validationState": state,
        }

    key = "gcp.project.essential_contacts"
    assert verdict(key, project(contact("ALL"))) == "pass"
    assert verdict(key, project(contact("LEGAL", "SECURITY"), contact("SUSPENSION", "TECHNICAL"))) == "pass"
    assert verdict(key, project(contact("SECURITY"), contact("ALL", state="INVALID"))) == (
        "fail: no essential contact for LEGAL, SUSPENSION, TECHNICAL"
    )
    assert verdict(key, project()).startswith("fail")
    assert verdict(key, normalize_project("p", None, None, None)) == "na"  # not read


def test_gcp_asset_inventory_enabled_only_when_service_usage_says_enabled() -> None:
    from escher.clouds.gcp.collect import normalize_project

    def project(state: str) -> Record:
        return normalize_project("p", None, None, None, asset_service={"name": "x", "state": state})

    assert verdict("gcp.project.asset_inventory", project("ENABLED")) == "pass"
    assert verdict("gcp.project.asset_inventory", project("DISABLED")) == (
        "fail: cloudasset.googleapis.com is not enabled"
    )
    assert verdict("gcp.project.asset_inventory", normalize_project("p", None, None, None)) == "na"


def test_gcp_kms_rotation_at_most_90_days_for_symmetric_keys_only() -> None:
    from escher.clouds.gcp.collect import normalize_kms_key

    def key(rotation: str | None, purpose: str = "ENCRYPT_DECRYPT") -> Record:
        raw = {"name": "projects/p/locations/us/keyRings/r/cryptoKeys/k", "purpose": purpose}
        return normalize_kms_key({**raw, "rotationPeriod": rotation} if rotation else raw, "p")

    assert key("7776000s").region == "us"
    assert verdict("gcp.kms.key_rotation", key("7776000s")) == "pass"  # exactly 90 days
    assert verdict("gcp.kms.key_rotation", key("7862400s")) == "fail: rotated every 91 days"
    assert verdict("gcp.kms.key_rotation", key(None)) == "fail: no automatic rotation period"
    assert verdict("gcp.kms.key_rotation", key(None, "ASYMMETRIC_SIGN")) == "na"


def test_gcp_dnssec_and_its_algorithms_on_public_zones() -> None:
    from escher.clouds.gcp.collect import normalize_dns_zone

    def zone(
        state: str | None, ksk: str = "rsasha256", zsk: str = "rsasha256", visibility: str = "public"
    ) -> Record:
        raw: dict[str, object] = {"name": "z", "visibility": visibility}
        if state:
            raw["dnssecConfig"] = {"state": state, "defaultKeySpecs": [
                {"keyType": "keySigning", "algorithm": ksk}, {"keyType": "zoneSigning", "algorithm": zsk},
            ]}  # fmt: skip
        return normalize_dns_zone(raw, "p")

    assert [verdict(k, zone("on")) for k in ("gcp.dns.dnssec", "gcp.dns.ksk_rsasha1", "gcp.dns.zsk_rsasha1")] == [
        "pass", "pass", "pass",
    ]  # fmt: skip
    assert verdict("gcp.dns.dnssec", zone(None)) == "fail: DNSSEC is off"
    assert verdict("gcp.dns.dnssec", zone("transfer")) == "fail: DNSSEC is transfer"
    assert verdict("gcp.dns.ksk_rsasha1", zone(None)) == "na"  # unsigned: 3.3 reports it
    assert (
        verdict("gcp.dns.ksk_rsasha1", zone("on", ksk="rsasha1")) == "fail: the key-signing key uses RSASHA1"
    )
    assert verdict("gcp.dns.zsk_rsasha1", zone("on", ksk="rsasha1")) == "pass"
    assert (
        verdict("gcp.dns.zsk_rsasha1", zone("on", zsk="rsasha1")) == "fail: the zone-signing key uses RSASHA1"
    )
    assert verdict("gcp.dns.dnssec", zone(None, visibility="private")) == "na"


def test_gcp_api_keys_restrictions_and_age() -> None:
    from escher.clouds.gcp.collect import normalize_api_key

    def key(created: str, *services: str) -> Record:
        raw: dict[str, object] = {
            "name": "projects/1/locations/global/keys/k",
            "displayName": "k",
            "createTime": created,
        }
        if services:
            raw["restrictions"] = {
                "apiTargets": [{"service": s} for s in services],
                "browserKeyRestrictions": {},
            }
        return normalize_api_key(raw, "p")

    fresh = key("2026-11-30T12:00:00.000000Z", "maps-backend.googleapis.com")
    assert verdict("gcp.apikeys.key_exists", fresh).startswith("fail: an API key exists")
    assert verdict("gcp.apikeys.key_unrestricted_apis", fresh) == "pass"
    assert verdict("gcp.apikeys.key_rotation", fresh) == "pass"
    old = key("2026-09-07T12:00:00Z")  # 91 days before NOW
    assert verdict("gcp.apikeys.key_rotation", old) == "fail: created 91 days ago"
    assert verdict("gcp.apikeys.key_unrestricted_apis", old).startswith("fail: no API restriction")
    wide = key("2026-11-30T12:00:00Z", "cloudapis.googleapis.com")
    assert verdict("gcp.apikeys.key_unrestricted_apis", wide).startswith("fail: restricted to cloudapis")


def test_bigquery_dataset_public_by_special_group_or_iam_member() -> None:
    from escher.clouds.gcp.collect import normalize_dataset

    def dataset(*access: dict[str, str], kms: str | None = None) -> Record:
        raw: dict[str, object] = {
            "datasetReference": {"projectId": "p", "datasetId": "d"},
            "access": list(access),
        }
        if kms:
            raw["defaultEncryptionConfiguration"] = {"kmsKeyName": kms}
        return normalize_dataset(raw, "p")

    private = dataset({"role": "OWNER", "specialGroup": "projectOwners"}, kms="projects/p/locations/us/keyRings/r/cryptoKeys/k")  # fmt: skip
    assert verdict("gcp.bigquery.dataset_public", private) == "pass"
    assert verdict("gcp.bigquery.dataset_default_cmek", private) == "pass"
    public = dataset({"role": "READER", "iamMember": "allUsers"}, {"role": "READER", "specialGroup": "allAuthenticatedUsers"})  # fmt: skip
    assert verdict("gcp.bigquery.dataset_public", public) == (
        "fail: access granted to allAuthenticatedUsers, allUsers"
    )
    assert (
        verdict("gcp.bigquery.dataset_default_cmek", public)
        == "fail: no defaultEncryptionConfiguration.kmsKeyName"
    )


def test_bigquery_table_cmek_for_stored_tables_only() -> None:
    from escher.clouds.gcp.collect import normalize_table

    def table(kind: str | None, kms: str | None = None) -> Record:
        raw: dict[str, object] = {"tableReference": {"projectId": "p", "datasetId": "d", "tableId": "t"}}
        if kind:
            raw["type"] = kind
        if kms:
            raw["encryptionConfiguration"] = {"kmsKeyName": kms}
        return normalize_table(raw, "p")

    assert table("TABLE").id == "projects/p/datasets/d/tables/t"
    assert (
        verdict("gcp.bigquery.table_cmek", table("TABLE", "projects/p/locations/us/keyRings/r/cryptoKeys/k"))
        == "pass"
    )
    assert verdict("gcp.bigquery.table_cmek", table(None)) == "fail: no encryptionConfiguration.kmsKeyName"
    assert verdict("gcp.bigquery.table_cmek", table("VIEW")) == "na"
    assert verdict("gcp.bigquery.table_cmek", table("EXTERNAL")) == "na"


def test_dataproc_cluster_cmek_from_either_encryption_key() -> None:
    from escher.clouds.gcp.collect import normalize_dataproc_cluster

    def cluster(**encryption: str) -> Record:
        raw = {
            "clusterName": "c",
            "projectId": "p",
            "config": {"encryptionConfig": encryption} if encryption else {},
        }
        return normalize_dataproc_cluster(raw, "p", "us-central1")

    key = "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"
    assert cluster().id == "projects/p/regions/us-central1/clusters/c"
    assert verdict("gcp.dataproc.cluster_cmek", cluster(gcePdKmsKeyName=key)) == "pass"
    assert verdict("gcp.dataproc.cluster_cmek", cluster(kmsKey=key)) == "pass"
    assert verdict("gcp.dataproc.cluster_cmek", cluster()) == "fail: no encryptionConfig.gcePdKmsKeyName"


def test_kms_key_public_reads_the_keys_own_policy_and_gives_no_verdict_unread() -> None:
    from escher.clouds.gcp.collect import normalize_kms_key

    raw = {"name": "projects/p/locations/us/keyRings/r/cryptoKeys/k", "purpose": "ENCRYPT_DECRYPT"}
    open_ = {"bindings": [{"role": "roles/cloudkms.cryptoKeyDecrypter", "members": ["allUsers", "user:a@x.test"]},
                          {"role": "roles/cloudkms.viewer", "members": ["allAuthenticatedUsers"]}]}  # fmt: skip
    private = {"bindings": [{"role": "roles/cloudkms.cryptoKeyDecrypter", "members": ["user:a@x.test"]}]}
    key = "gcp.kms.key_public"
    assert verdict(key, normalize_kms_key(raw, "p", open_)) == (
        "fail: the IAM policy grants allAuthenticatedUsers, allUsers"
    )
    assert verdict(key, normalize_kms_key(raw, "p", private)) == "pass"
    assert verdict(key, normalize_kms_key(raw, "p", {"etag": "x"})) == "pass"  # no binding at all
    assert verdict(key, normalize_kms_key(raw, "p", None)) == "na"  # the policy was not read


def test_networks_default_legacy_and_dns_logging() -> None:
    from escher.clouds.gcp.collect import dns_logged_networks, normalize_network

    url = "https://www.googleapis.com/compute/v1/projects/p/global/networks/"
    logged = dns_logged_networks([
        {"name": "on", "enableLogging": True, "networks": [{"networkUrl": url + "default"}]},
        {"name": "off", "networks": [{"networkUrl": url + "old"}]},  # enableLogging unset: no logging
    ])  # fmt: skip
    assert logged == {"projects/p/global/networks/default"}
    default = normalize_network({"name": "default", "autoCreateSubnetworks": True}, "p", logged)
    old = normalize_network(
        {"name": "old", "IPv4Range": "10.240.0.0/16", "gatewayIPv4": "10.240.0.1"}, "p", logged
    )
    vpc = normalize_network({"name": "vpc", "autoCreateSubnetworks": False}, "p", None)
    assert [n.attrs["mode"] for n in (default, old, vpc)] == ["auto", "legacy", "custom"]
    assert [verdict("gcp.compute.default_network", n) for n in (default, old)] == [
        "fail: a network named default exists", "pass",
    ]  # fmt: skip
    assert [verdict("gcp.compute.legacy_network", n) for n in (default, old, vpc)] == [
        "pass", "fail: legacy network (single IPv4Range, no subnetworks)", "pass",
    ]  # fmt: skip
    assert verdict("gcp.dns.network_logging", default) == "pass"
    assert verdict("gcp.dns.network_logging", old) == "fail: no DNS policy with logging is bound to it"
    assert verdict("gcp.dns.network_logging", vpc) == "na"  # the DNS policies were not read


def test_backend_service_logging_judges_http_load_balancers_only() -> None:
    from escher.clouds.gcp.collect import normalize_backend_service

    def backend(**raw: object) -> Record:
        return normalize_backend_service({"name": "b", **raw}, "p")

    key = "gcp.compute.backend_service_logging"
    assert verdict(key, backend(protocol="HTTPS", logConfig={"enable": True})) == "pass"
    assert (
        verdict(key, backend(protocol="HTTP2", logConfig={"enable": False}))
        == "fail: logConfig.enable is not true"
    )
    assert verdict(key, backend()) == "fail: logConfig.enable is not true"  # protocol defaults to HTTP
    assert verdict(key, backend(protocol="TCP", loadBalancingScheme="INTERNAL")) == "na"
    regional = backend(region="https://www.googleapis.com/compute/v1/projects/p/regions/us-east1")
    assert (regional.id, regional.region) == ("projects/p/regions/us-east1/backendServices/b", "us-east1")
    assert backend().id == "projects/p/global/backendServices/b"
