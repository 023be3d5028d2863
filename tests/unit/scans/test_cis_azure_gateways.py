"""CIS Azure 6.0.0 2.1.7, 6.1.3.1, 7.6, 7.9, 7.10, 7.12-7.15 and 8.1.3.3: the normalizers over the REST shapes
and the edges the replayed estate does not show (the other side of the subscription-wide checks, legacy WAF
configurations, a gateway with no TLS policy, a WAF policy in another subscription)."""

from __future__ import annotations

from typing import Any

from escher.clouds.azure.collect import (
    diagnostic_logs_sent,
    normalize_app_gateway,
    normalize_subscription,
    normalize_vpn_gateway,
    vnet_gateway_ids,
)
from escher.scans.model import Record
from tests.unit.scans.test_cis_checks import rec, verdict

POLICY = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies/p"


def gateway(tier: str, **props: Any) -> dict[str, Any]:
    return {
        "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/applicationGateways/agw",
        "name": "agw",
        "location": "eastus",
        "properties": {"sku": {"name": tier, "tier": tier, "capacity": 2}, **props},
    }


def policy(*, state: str = "Enabled", body: bool | None = True, bots: bool = True) -> dict[str, Any]:
    settings: dict[str, Any] = {"state": state, "mode": "Prevention"}
    if body is not None:
        settings["requestBodyCheck"] = body
    sets = [{"ruleSetType": "OWASP", "ruleSetVersion": "3.2"}]
    if bots:
        sets.append({"ruleSetType": "Microsoft_BotManagerRuleSet", "ruleSetVersion": "1.0"})
    return {
        "id": POLICY,
        "properties": {"policySettings": settings, "managedRules": {"managedRuleSets": sets}},
    }


def waf_verdicts(record: Record) -> dict[str, str]:
    keys = ("waf", "request_body_check", "bot_protection")
    return {k: verdict(f"azure.network.appgw_{k}", record) for k in keys}


def test_a_waf_gateway_is_judged_by_its_linked_policy() -> None:
    linked = gateway("WAF_v2", firewallPolicy={"id": POLICY.upper()})  # ARM ids compare case-insensitively
    good = normalize_app_gateway(linked, "s", {POLICY.lower(): policy()})
    assert waf_verdicts(good) == {"waf": "pass", "request_body_check": "pass", "bot_protection": "pass"}
    weak = normalize_app_gateway(linked, "s", {POLICY.lower(): policy(body=False, bots=False)})
    assert waf_verdicts(weak) == {
        "waf": "pass",
        "request_body_check": "fail: request body inspection is off",
        "bot_protection": "fail: the Microsoft_BotManagerRuleSet is not on",
    }
    # requestBodyCheck left out is the API's default, on
    assert normalize_app_gateway(linked, "s", {POLICY.lower(): policy(body=None)}).attrs["request_body_check"]
    disabled = normalize_app_gateway(linked, "s", {POLICY.lower(): policy(state="Disabled")})
    assert waf_verdicts(disabled) == {
        "waf": "fail: no enabled WAF (WAF tier with an enabled WAF policy)",
        "request_body_check": "na",
        "bot_protection": "na",
    }
    # a policy in another subscription is not listed: the WAF is on, what it inspects is unknown
    elsewhere = normalize_app_gateway(linked, "s", {})
    assert waf_verdicts(elsewhere) == {"waf": "pass", "request_body_check": "na", "bot_protection": "na"}


def test_legacy_waf_configuration_and_no_waf() -> None:
    legacy = gateway("WAF_v2", webApplicationFirewallConfiguration={"enabled": True, "firewallMode": "Prevention",
                     "ruleSetType": "OWASP", "ruleSetVersion": "3.0", "requestBodyCheck": True})  # fmt: skip
    assert waf_verdicts(normalize_app_gateway(legacy, "s", {})) == {
        "waf": "pass",
        "request_body_check": "pass",
        "bot_protection": "fail: the Microsoft_BotManagerRuleSet is not on",  # no bot rules outside a policy
    }
    standard = normalize_app_gateway(gateway("Standard_v2"), "s", {})
    assert waf_verdicts(standard)["waf"].startswith("fail")
    assert waf_verdicts(standard)["request_body_check"] == "na"
    # the policies not read: no WAF verdict at all, the rest still judged
    unread = normalize_app_gateway(gateway("Standard_v2", enableHttp2=True), "s", None)
    assert waf_verdicts(unread) == {"waf": "na", "request_body_check": "na", "bot_protection": "na"}
    assert verdict("azure.network.appgw_http2", unread) == "pass"


def test_minimum_tls_from_custom_and_predefined_policies() -> None:
    def tls(ssl_policy: dict[str, Any] | None) -> str:
        props = {"sslPolicy": ssl_policy} if ssl_policy is not None else {}
        return verdict("azure.network.appgw_min_tls", normalize_app_gateway(gateway("WAF_v2", **props), "s"))

    assert tls({"policyType": "Custom", "minProtocolVersion": "TLSv1_2"}) == "pass"
    assert tls({"policyType": "CustomV2", "minProtocolVersion": "TLSv1_3"}) == "pass"
    assert tls({"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101S"}) == "pass"
    assert tls({"policyType": "Predefined", "policyName": "AppGwSslPolicy20170401"}) == (
        "fail: minimum protocol version is TLSv1_1"
    )
    assert tls(None).startswith("fail: no TLS policy set")
    assert verdict("azure.network.appgw_http2", normalize_app_gateway(gateway("WAF_v2"), "s")) == (
        "fail: enableHttp2 is off"
    )


def test_vpn_gateways_are_found_on_gateway_subnets_and_judged_by_their_p2s_auth() -> None:
    gw = "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworkGateways/vpn"
    vnet = {"properties": {"subnets": [
        {"name": "GatewaySubnet", "properties": {"ipConfigurations": [{"id": f"{gw}/ipConfigurations/default"}]}},
        {"name": "app", "properties": {"ipConfigurations": [
            {"id": "/subscriptions/s/resourceGroups/a/providers/Microsoft.Network/networkInterfaces/n/ipConfigurations/i"}]}},
    ]}}  # fmt: skip
    assert vnet_gateway_ids([vnet, {"properties": {}}]) == [gw]

    def vpn(p2s: dict[str, Any] | None, gateway_type: str = "Vpn") -> Record:
        props: dict[str, Any] = {"gatewayType": gateway_type}
        if p2s is not None:
            props["vpnClientConfiguration"] = {
                "vpnClientAddressPool": {"addressPrefixes": ["172.16.0.0/24"]},
                **p2s,
            }
        return normalize_vpn_gateway(
            {"id": gw, "name": "vpn", "location": "eastus", "properties": props}, "s"
        )

    key = "azure.network.vpn_p2s_entra_only"
    assert verdict(key, vpn({"vpnAuthenticationTypes": ["AAD"]})) == "pass"
    assert verdict(key, vpn({"vpnAuthenticationTypes": ["Radius", "AAD"]})) == (
        "fail: point-to-site authentication: AAD, Radius"
    )
    # older gateways leave vpnAuthenticationTypes out: what is configured says which
    assert vpn({"vpnClientRootCertificates": [{"name": "root"}]}).attrs["p2s_auth_types"] == ["Certificate"]
    assert verdict(key, vpn(None)) == "na"  # no point-to-site at all
    assert verdict(key, vpn(None, "ExpressRoute")) == "na"


def test_network_watcher_per_vnet_region() -> None:
    vnet = Record("azure", "azure.network.vnet", "/s/vnet", "westus", "s", attrs={"network_watcher": False})
    assert verdict("azure.network.network_watcher", vnet) == "fail: no Network Watcher in westus"
    vnet.attrs["network_watcher"] = True
    assert verdict("azure.network.network_watcher", vnet) == "pass"
    assert verdict("azure.network.network_watcher", rec("azure.network.vnet")) == "na"


def test_subscription_app_insights_and_endpoint_protection() -> None:
    def setting(name: str, enabled: bool) -> dict[str, Any]:
        return {"name": name, "kind": "DataExportSettings", "properties": {"enabled": enabled}}

    on = normalize_subscription(
        "s", None, None, components=[{"name": "web-ai"}], security_settings=[setting("WDATP", True)]
    )
    assert on.attrs["app_insights"] == ["web-ai"]
    assert verdict("azure.monitor.app_insights", on) == "pass"
    assert verdict("azure.security.endpoint_protection", on) == "pass"
    off = normalize_subscription(
        "s", None, None, components=[], security_settings=[setting("MCAS", True), setting("WDATP", False)]
    )
    assert (
        verdict("azure.monitor.app_insights", off)
        == "fail: no Application Insights component in the subscription"
    )
    assert verdict("azure.security.endpoint_protection", off).startswith("fail: the WDATP setting")
    unread = normalize_subscription("s", None, None)
    assert "app_insights" not in unread.attrs and "endpoint_protection" not in unread.attrs
    assert verdict("azure.monitor.app_insights", unread) == "na"
    assert verdict("azure.security.endpoint_protection", unread) == "na"


def test_databricks_log_delivery_needs_an_enabled_log_sent_somewhere() -> None:
    ws = "/subscriptions/s/resourceGroups/g/providers/Microsoft.OperationalInsights/workspaces/w"

    def setting(dest: dict[str, str], enabled: bool) -> dict[str, Any]:
        return {"properties": {**dest, "logs": [{"categoryGroup": "allLogs", "enabled": enabled}]}}

    assert diagnostic_logs_sent([setting({"workspaceId": ws}, True)])
    assert not diagnostic_logs_sent([setting({"workspaceId": ws}, False)])
    assert not diagnostic_logs_sent([setting({}, True)])  # nowhere to go
    assert not diagnostic_logs_sent([])
    key = "azure.databricks.diagnostic_logs"
    assert verdict(key, rec("azure.databricks.workspace", diagnostic_logs=True)) == "pass"
    assert verdict(key, rec("azure.databricks.workspace", diagnostic_logs=False)).startswith("fail")
    assert verdict(key, rec("azure.databricks.workspace")) == "na"


# -- Key Vault data plane (8.3.1-8.3.4, 8.3.9, 8.3.11) --------------------------------------------------------------
V = "https://kv.vault.azure.net"


def test_vault_contents_from_the_data_plane_shapes() -> None:
    from escher.clouds.azure.collect import vault_contents

    keys = [
        {"kid": f"{V}/keys/a", "attributes": {"enabled": True, "exp": 1798761600}},
        {"kid": f"{V}/keys/b", "attributes": {"enabled": True}},
        {"kid": f"{V}/keys/off", "attributes": {"enabled": False}},  # disabled: not judged
    ]
    rotate = {"lifetimeActions": [{"trigger": {"timeAfterCreate": "P11M"}, "action": {"type": "rotate"}}]}
    notify = {"lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}]}
    secrets = [
        {"id": f"{V}/secrets/s1", "attributes": {"enabled": True}},
        {"id": f"{V}/secrets/cert", "attributes": {"enabled": True}, "managed": True},  # a certificate's
        {"id": f"{V}/secrets/s2", "attributes": {"enabled": True, "exp": 1798761600}},
    ]
    certs = {"web": {"x509_props": {"validity_months": 12}}, "sso": {"x509_props": {"validity_months": 36}}}
    assert vault_contents(keys, {"a": rotate, "b": notify}, secrets, certs) == {
        "keys_without_expiry": ["b"],
        "secrets_without_expiry": ["s1"],
        "keys_without_rotation": ["b"],
        "long_lived_certificates": ["sso (36 months)"],
    }
    assert vault_contents([], {}, [], {}) == {
        "keys_without_expiry": [],
        "secrets_without_expiry": [],
        "keys_without_rotation": [],
        "long_lived_certificates": [],
    }


def test_expiry_checks_split_by_the_vault_permission_model() -> None:
    def vault(rbac: bool, keys: list[str], secrets: list[str]) -> Record:
        return rec("azure.keyvault.vault", rbac_authorization=rbac, keys_without_expiry=keys,
                   secrets_without_expiry=secrets)  # fmt: skip

    rbac_bad, policy_bad = vault(True, ["k"], ["s"]), vault(False, ["k"], ["s"])
    assert verdict("azure.keyvault.key_expiry_rbac", rbac_bad) == "fail: keys with no expiry: k"
    assert verdict("azure.keyvault.secret_expiry_rbac", rbac_bad) == "fail: secrets with no expiry: s"
    assert verdict("azure.keyvault.key_expiry_access_policy", rbac_bad) == "na"
    assert verdict("azure.keyvault.secret_expiry_access_policy", rbac_bad) == "na"
    assert verdict("azure.keyvault.key_expiry_access_policy", policy_bad) == "fail: keys with no expiry: k"
    assert (
        verdict("azure.keyvault.secret_expiry_access_policy", policy_bad) == "fail: secrets with no expiry: s"
    )
    assert verdict("azure.keyvault.key_expiry_rbac", policy_bad) == "na"
    for good in (vault(True, [], []), vault(False, [], [])):
        model = "rbac" if good.attrs["rbac_authorization"] else "access_policy"
        assert verdict(f"azure.keyvault.key_expiry_{model}", good) == "pass"
        assert verdict(f"azure.keyvault.secret_expiry_{model}", good) == "pass"
    unread = rec("azure.keyvault.vault", rbac_authorization=True)  # the data plane refused
    for key in ("key_expiry_rbac", "secret_expiry_rbac", "key_auto_rotation", "certificate_validity"):
        assert verdict(f"azure.keyvault.{key}", unread) == "na"


def test_rotation_and_certificate_validity_checks() -> None:
    t = "azure.keyvault.vault"
    assert verdict("azure.keyvault.key_auto_rotation", rec(t, keys_without_rotation=[])) == "pass"
    assert verdict("azure.keyvault.key_auto_rotation", rec(t, keys_without_rotation=["b", "c"])) == (
        "fail: no Rotate action in the rotation policy of: b, c"
    )
    assert verdict("azure.keyvault.certificate_validity", rec(t, long_lived_certificates=[])) == "pass"
    assert verdict(
        "azure.keyvault.certificate_validity", rec(t, long_lived_certificates=["sso (36 months)"])
    ) == ("fail: validity over 12 months: sso (36 months)")


def test_os_update_assessment_from_the_vm_patch_settings() -> None:
    from escher.clouds.azure.collect import normalize_vm

    def vm(os_profile: dict[str, Any]) -> Record:
        raw = {"id": "/s/vm", "name": "vm", "location": "eastus", "properties": {"osProfile": os_profile}}
        return normalize_vm(raw, "s")

    key = "azure.compute.vm_update_assessment"
    windows = {"windowsConfiguration": {"patchSettings": {"patchMode": "AutomaticByOS", "assessmentMode": "AutomaticByPlatform"}}}  # fmt: skip
    assert verdict(key, vm(windows)) == "pass"
    linux = {"linuxConfiguration": {"patchSettings": {"assessmentMode": "ImageDefault"}}}
    assert verdict(key, vm(linux)) == "fail: patch assessment mode is ImageDefault, not AutomaticByPlatform"
    assert vm({}).attrs["patch_assessment"] == "ImageDefault"  # no patch settings: assessed on demand only
