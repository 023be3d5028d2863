"""CIS Azure 6.0.0 5.1.1 (security defaults) and 5.1.3 (MFA for all users), read from Microsoft Graph: which
Conditional Access policies count as MFA for all users, and the verdicts the replayed estate does not show
(the passing sides, Conditional Access in place of security defaults, and each read refused)."""

from __future__ import annotations

from typing import Any

import pytest

from escher.clouds.azure.collect import normalize_entra_tenant, requires_mfa_for_all
from tests.functional.scans.azure_estate import ca_policy, registration, security_defaults_policy
from tests.unit.scans.test_cis_checks import verdict

ALL_MFA = ca_policy("MFA for all", "enabled", users=["All"], apps=["All"], controls=["mfa"])
USERS = [registration("admin@acme.test", True, admin=True), registration("intern@acme.test", False)]


def verdicts(defaults: dict[str, Any] | None, policies: list[dict[str, Any]] | None,
             users: list[dict[str, Any]] | None) -> tuple[str, str]:  # fmt: skip
    tenant = normalize_entra_tenant("s", defaults, policies, users)
    return verdict("azure.entra.security_defaults", tenant), verdict("azure.entra.mfa_all_users", tenant)


@pytest.mark.parametrize(
    ("policy", "counts"),
    [
        (ALL_MFA, True),
        # break-glass accounts excluded, as CIS expects: still for all users
        (
            ca_policy("p", "enabled", users=["All"], apps=["All"], controls=["mfa"], exclude_users=["bg"]),
            True,
        ),
        (
            ca_policy(
                "p",
                "enabled",
                users=["All"],
                apps=["All"],
                controls=["mfa", "compliantDevice"],
                operator="AND",
            ),
            True,
        ),
        # MFA OR a compliant device: a compliant device alone lets a password in
        (ca_policy("p", "enabled", users=["All"], apps=["All"], controls=["mfa", "compliantDevice"]), False),
        (
            ca_policy(
                "p", "enabledForReportingButNotEnforced", users=["All"], apps=["All"], controls=["mfa"]
            ),
            False,
        ),
        (ca_policy("p", "disabled", users=["All"], apps=["All"], controls=["mfa"]), False),
        (ca_policy("p", "enabled", users=["None"], apps=["All"], controls=["mfa"]), False),  # roles only
        (
            ca_policy(
                "p", "enabled", users=["All"], apps=["00000002-0000-0ff1-ce00-000000000000"], controls=["mfa"]
            ),
            False,
        ),
        (ca_policy("p", "enabled", users=["All"], apps=["All"], controls=["block"]), False),
    ],
)
def test_which_conditional_access_policies_require_mfa_for_all_users(
    policy: dict[str, Any], counts: bool
) -> None:
    assert requires_mfa_for_all(policy) is counts


def test_an_authentication_strength_counts_as_mfa() -> None:
    strong = ca_policy("phishing-resistant", "enabled", users=["All"], apps=["All"], controls=[])
    strong["grantControls"]["authenticationStrength"] = {"id": "00000000-0000-0000-0000-000000000004"}
    assert requires_mfa_for_all(strong)


def test_security_defaults_on_pass_both() -> None:
    assert verdicts(security_defaults_policy(True), [], USERS) == ("pass", "pass")


def test_conditional_access_requiring_mfa_for_all_users_passes_both() -> None:
    assert verdicts(security_defaults_policy(False), [ALL_MFA], USERS) == ("pass", "pass")


def test_nothing_enforcing_mfa_fails_both_and_names_the_unregistered_users() -> None:
    assert verdicts(security_defaults_policy(False), [], USERS) == (
        "fail: security defaults are off and no enabled Conditional Access policy requires MFA for all users",
        "fail: 1 users have no MFA method registered and MFA is not enforced: intern@acme.test",
    )
    # not enforced, but every user has registered a method: 5.1.3 holds
    everyone = [registration("admin@acme.test", True), registration("dev@acme.test", True)]
    assert verdicts(security_defaults_policy(False), [], everyone)[1] == "pass"
    many = [registration(f"u{i}@acme.test", False) for i in range(7)]
    assert verdicts(security_defaults_policy(False), [], many)[1].endswith(
        "u3@acme.test, u4@acme.test and 2 more"
    )


def test_a_refused_read_gives_no_verdict_where_it_decides() -> None:
    off = security_defaults_policy(False)
    assert verdicts(None, None, None) == ("na", "na")
    # Policy.Read.All refused: neither security defaults nor Conditional Access known
    assert verdicts(None, None, USERS) == ("na", "fail: 1 users have no MFA method registered and MFA is not "
                                                 "enforced: intern@acme.test")  # fmt: skip
    # Conditional Access refused while security defaults are off: whether CA is used is unknown
    assert verdicts(off, None, None) == ("na", "na")
    # the registration report refused (AuditLog.Read.All, or no Entra ID P1/P2): enforcement still decides
    assert verdicts(security_defaults_policy(True), None, None) == ("pass", "pass")
    assert verdicts(off, [ALL_MFA], None) == ("pass", "pass")
    assert verdicts(off, [], None) == (
        "fail: security defaults are off and no enabled Conditional Access policy requires MFA for all users",
        "na",
    )


def test_the_tenant_record_carries_only_what_was_read() -> None:
    tenant = normalize_entra_tenant("s", security_defaults_policy(False), [ALL_MFA], USERS)
    assert tenant.attrs == {
        "security_defaults": False,
        "ca_policies": 1,
        "ca_mfa_all_users": ["MFA for all"],
        "users_without_mfa": ["intern@acme.test"],
    }
    assert tenant.id == "/subscriptions/s/entra-tenant" and tenant.type == "azure.entra.tenant"
    assert normalize_entra_tenant("s", None, None, None).attrs == {}
