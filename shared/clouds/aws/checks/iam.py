"""AWS identity: root account, password policy, users, access keys, roles and policies."""

from __future__ import annotations

from typing import Any

from escher.scans.checks.base import NA, CheckContext, Fail, Outcome, check
from escher.scans.model import Record, Severity


@check(
    "aws.iam.root_mfa",
    resource="aws.iam.account",
    reads=("root_mfa",),
    title="Root account has no MFA",
    severity=Severity.CRITICAL,
    risk="The root password alone controls the whole account, billing included.",
    remediation="Sign in as root and enable a hardware or virtual MFA device.",
    cis=("2.5",),
    soc2=("CC6.1",),
    hipaa=("164.312(d)",),
)
def root_mfa(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("root_mfa") else Fail("root has no MFA device")


@check(
    "aws.iam.root_access_keys",
    resource="aws.iam.account",
    reads=("root_access_keys",),
    title="Root account has access keys",
    severity=Severity.CRITICAL,
    risk="A leaked root key cannot be limited by any policy.",
    remediation="Delete the root access keys; use IAM roles instead.",
    cis=("2.4",),
    soc2=("CC6.1",),
)
def root_keys(rec: Record, ctx: CheckContext) -> Outcome:
    return Fail("root has access keys") if rec.attrs.get("root_access_keys") else None


def _policy(rec: Record) -> dict[str, Any]:
    policy: dict[str, Any] = rec.attrs.get("password_policy") or {}
    return policy


@check(
    "aws.iam.password_policy_length",
    resource="aws.iam.account",
    reads=("password_policy",),
    title="Password policy allows short passwords",
    severity=Severity.MEDIUM,
    risk="Short passwords are brute-forced.",
    remediation="aws iam update-account-password-policy --minimum-password-length 14 ...",
    cis=("2.8",),
    soc2=("CC6.1",),
    hipaa=("164.308(a)(5)(ii)(D)",),
)
def password_length(rec: Record, ctx: CheckContext) -> Outcome:
    policy = _policy(rec)
    if not policy:
        return Fail("no password policy is set")
    length = int(policy.get("MinimumPasswordLength", 0))
    ok = length >= ctx.thresholds.min_password_length
    return None if ok else Fail(f"minimum length is {length}")


@check(
    "aws.iam.password_policy_reuse",
    resource="aws.iam.account",
    reads=("password_policy",),
    title="Password policy allows password reuse",
    severity=Severity.LOW,
    risk="Users cycle back to leaked passwords.",
    remediation="Set PasswordReusePrevention to 24.",
    cis=("2.9",),
    soc2=("CC6.1",),
)
def password_reuse(rec: Record, ctx: CheckContext) -> Outcome:
    reuse = int(_policy(rec).get("PasswordReusePrevention", 0))
    return None if reuse >= 24 else Fail(f"reuse prevention remembers {reuse} passwords")


@check(
    "aws.iam.user_console_mfa",
    resource="aws.iam.user",
    reads=("console_access", "mfa_devices"),
    title="IAM user with console access has no MFA",
    severity=Severity.HIGH,
    risk="A phished password gives console access.",
    remediation="Require MFA for every user with a console password (or move them to IAM Identity Center).",
    cis=("2.10",),
    soc2=("CC6.1",),
    hipaa=("164.312(d)",),
)
def user_mfa(rec: Record, ctx: CheckContext) -> Outcome:
    if not rec.attrs.get("console_access"):
        return NA
    return None if rec.attrs.get("mfa_devices") else Fail("console password without MFA")


def _active_keys(rec: Record) -> list[dict[str, Any]]:
    return [k for k in rec.attrs.get("access_keys", []) if k.get("status") == "Active"]


@check(
    "aws.iam.access_key_unused",
    resource="aws.iam.user",
    reads=("access_keys",),
    title="Active access key unused for 90 days",
    severity=Severity.MEDIUM,
    risk="Forgotten credentials are credentials nobody watches.",
    remediation="Deactivate, then delete the key.",
    cis=("2.11",),
    soc2=("CC6.2",),
    hipaa=("164.308(a)(4)(ii)(C)",),
)
def key_unused(rec: Record, ctx: CheckContext) -> Outcome:
    limit = ctx.thresholds.access_key_unused_days
    stale = []
    for key in _active_keys(rec):
        last = ctx.age_days(key.get("last_used") or key.get("created"))
        if last is not None and last > limit:
            stale.append(str(key.get("id")))
    return Fail(f"unused for over {limit} days: {', '.join(stale)}") if stale else None


@check(
    "aws.iam.access_key_rotation",
    resource="aws.iam.user",
    reads=("access_keys",),
    title="Access key older than 90 days",
    severity=Severity.LOW,
    risk="Long-lived keys have had more chances to leak.",
    remediation="Create a new key, switch the consumer, delete the old key.",
    cis=("2.12",),
    soc2=("CC6.1",),
)
def key_rotation(rec: Record, ctx: CheckContext) -> Outcome:
    limit = ctx.thresholds.access_key_max_age_days
    old = [str(k.get("id")) for k in _active_keys(rec) if (ctx.age_days(k.get("created")) or 0) > limit]
    return Fail(f"older than {limit} days: {', '.join(old)}") if old else None


@check(
    "aws.iam.user_admin_attached",
    resource="aws.iam.user",
    reads=("admin",),
    title="IAM user has administrator rights directly",
    severity=Severity.HIGH,
    risk="Full admin on a long-lived identity; permissions should come from groups or roles.",
    remediation="Detach AdministratorAccess from the user; grant least privilege through a group or role.",
    cis=("2.13", "2.14"),
    soc2=("CC6.3",),
    hipaa=("164.308(a)(4)(ii)(B)",),
)
def user_admin(rec: Record, ctx: CheckContext) -> Outcome:
    return Fail("AdministratorAccess or *:* attached") if rec.attrs.get("admin") else None


@check(
    "aws.iam.role_admin",
    resource="aws.iam.role",
    reads=("service_linked", "admin"),
    title="IAM role is over-privileged (full admin)",
    severity=Severity.MEDIUM,
    risk="Whoever assumes the role can do anything in the account.",
    remediation="Replace AdministratorAccess with a policy scoped to what the role does (IAM Access Analyzer).",
    cis=("2.14",),
    soc2=("CC6.3",),
)
def role_admin(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("service_linked"):
        return NA
    return Fail("AdministratorAccess or *:* attached") if rec.attrs.get("admin") else None


@check(
    "aws.iam.role_trust_public",
    resource="aws.iam.role",
    reads=("trust_public",),
    title="IAM role can be assumed by any AWS principal",
    severity=Severity.CRITICAL,
    risk='A trust policy with Principal "*" lets any AWS account assume the role.',
    remediation="Name the accounts or services that may assume the role; add an ExternalId condition.",
    soc2=("CC6.1",),
)
def role_trust(rec: Record, ctx: CheckContext) -> Outcome:
    return Fail('trust policy allows Principal "*"') if rec.attrs.get("trust_public") else None


@check(
    "aws.iam.policy_full_admin",
    resource="aws.iam.policy",
    reads=("full_admin", "attachments"),
    title='Customer policy grants "*" on "*"',
    severity=Severity.HIGH,
    risk="Anyone it is attached to is a full administrator.",
    remediation="Scope the actions and resources; keep AdministratorAccess for break-glass roles only.",
    cis=("2.14",),
    soc2=("CC6.3",),
)
def policy_admin(rec: Record, ctx: CheckContext) -> Outcome:
    if not rec.attrs.get("full_admin"):
        return None
    return Fail(f'allows "*:*" (attached {rec.attrs.get("attachments", 0)} times)')


@check(
    "aws.iam.user_inline_policy",
    resource="aws.iam.user",
    reads=("inline_policies", "attached_policies"),
    title="IAM user has inline or directly attached policies",
    severity=Severity.LOW,
    risk="Per-user permissions drift and are hard to review.",
    remediation="Move permissions to groups and remove them from the user.",
    cis=("2.13",),
    soc2=("CC6.3",),
)
def user_inline(rec: Record, ctx: CheckContext) -> Outcome:
    n = int(rec.attrs.get("inline_policies") or 0) + int(rec.attrs.get("attached_policies") or 0)
    return Fail(f"{n} policies on the user") if n else None
