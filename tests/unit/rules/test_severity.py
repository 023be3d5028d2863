"""Severity: the vision's defaults, user rules from the TOML config, and rejection of invalid rules."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from escher.config import load_settings, resolve_paths
from escher.events import (
    CloudProvider,
    EstateRecord,
    InMemoryEstate,
    Severity,
    UnifiedEvent,
    enrich,
    normalize,
)
from escher.rules import RuleError, RuleSet, load_rules, rules_from_settings
from tests.unit.events._samples import RECEIVED_AT, sample


def event(cloud: str, name: str, estate: InMemoryEstate | None = None, **patch: Any) -> UnifiedEvent:
    payload = copy.deepcopy(sample(cloud, name))
    for dotted, value in patch.items():
        target = payload
        *parents, last = dotted.split("__")
        for p in parents:
            target = target[p]
        target[last] = value
    return enrich(normalize(payload, received_at=RECEIVED_AT), estate).event


def pii_estate(resource_id: str, cloud: CloudProvider = CloudProvider.aws, **fields: Any) -> InMemoryEstate:
    return InMemoryEstate({(cloud, resource_id): EstateRecord(data_classification="PII", **fields)})


# -- defaults ---------------------------------------------------------------------------------------------
def test_public_bucket_holding_pii_is_critical_and_without_pii_high() -> None:
    rules = RuleSet()
    with_pii = rules.decide(event("aws", "s3_put_bucket_acl_public", pii_estate("arn:aws:s3:::my-data")))
    without = rules.decide(event("aws", "s3_put_bucket_acl_public"))
    assert (with_pii.severity, with_pii.rule) == (Severity.CRITICAL, "public bucket holding PII")
    assert "data_classification is PII" in with_pii.reasons
    assert (without.severity, without.rule) == (Severity.HIGH, "compliance violation")


def test_database_down_is_critical() -> None:
    decision = RuleSet().decide(event("aws", "rds_instance_shutdown"))
    assert (decision.severity, decision.origin) == (Severity.CRITICAL, "default")


def test_budget_over_200_percent_is_critical_below_it_high() -> None:
    assert RuleSet().decide(event("gcp", "billing_budget_exceeded")).severity is Severity.CRITICAL  # 245 %
    azure_150 = event("azure", "budget_alert_200_percent", data__SpendingAmount="75")
    decision = RuleSet().decide(azure_150)
    assert (decision.severity, decision.rule) == (Severity.HIGH, "cost spike")


def test_capacity_warning_is_medium_and_other_firing_alarms_high() -> None:
    assert RuleSet().decide(event("aws", "cloudwatch_alarm_rds_storage")).severity is Severity.MEDIUM
    cpu = copy.deepcopy(sample("aws", "cloudwatch_alarm_rds_storage"))
    cpu["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] = "CPUUtilization"
    decision = RuleSet().decide(normalize(cpu))
    assert (decision.severity, decision.rule) == (Severity.HIGH, "performance degradation")


def test_without_a_matching_rule_the_provider_severity_stands() -> None:
    decision = RuleSet().decide(event("aws", "guardduty_finding"))
    assert (decision.severity, decision.origin) == (Severity.HIGH, "provider")
    assert "8.0" in decision.reasons[0]
    assert RuleSet().decide(event("aws", "ec2_run_instances")).severity is Severity.INFO


# -- user rules (the vision's "Severity Customization") --------------------------------------------------
USER_TOML = """\
[severity]
use_defaults = true

[[severity.rules]]
name = "any public bucket"
event_type = "storage_bucket_public"
severity = "critical"

[[severity.rules]]
name = "budget overrun over $1000"
event_type = "budget_exceeded"
where = ["context.cost_impact > 1000"]
severity = "CRITICAL"

[[severity.rules]]
name = "unencrypted volume in production"
event_type = "volume_unencrypted"
environment = "production"
severity = "CRITICAL"

[[severity.rules]]
name = "production database over 85% capacity"
event_type = "metric_alarm"
environment = "production"
where = ['metadata.resource_kind == "database"', 'metadata.signal == "capacity"', "metadata.metric_value > 85"]
severity = "CRITICAL"
"""


@pytest.fixture
def user_rules(escher_home: Path) -> RuleSet:
    paths = resolve_paths()
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(USER_TOML, encoding="utf-8")
    settings = load_settings(paths)
    assert "severity" in settings.extensions  # the loader keeps unknown sections for their owners
    return rules_from_settings(settings.extensions, paths.config_file)


def test_any_public_bucket_is_critical_by_user_rule(user_rules: RuleSet) -> None:
    decision = user_rules.decide(event("gcp", "scc_public_bucket_finding"))
    assert (decision.severity, decision.rule, decision.origin) == (
        Severity.CRITICAL,
        "any public bucket",
        "user",
    )


def test_budget_overrun_threshold_in_money(user_rules: RuleSet) -> None:
    over = user_rules.decide(event("gcp", "billing_budget_exceeded"))  # overrun 1450.75
    assert over.rule == "budget overrun over $1000" and "context.cost_impact = 1450.75" in over.reasons[-1]
    small = user_rules.decide(event("azure", "budget_alert_200_percent"))  # overrun 50: falls to the defaults
    assert small.origin == "default"


def test_unencrypted_volume_is_critical_only_in_production(user_rules: RuleSet) -> None:
    prod = user_rules.decide(event("aws", "ec2_create_volume_unencrypted"))  # tag Environment=Prod
    assert (prod.severity, prod.origin) == (Severity.CRITICAL, "user")
    payload = copy.deepcopy(sample("aws", "ec2_create_volume_unencrypted"))
    payload["detail"]["requestParameters"]["tagSpecificationSet"]["items"][0]["tags"][0]["value"] = "dev"
    dev = user_rules.decide(enrich(normalize(payload)).event)
    assert (dev.severity, dev.rule) == (Severity.HIGH, "compliance violation")


def test_production_database_over_85_percent(user_rules: RuleSet) -> None:
    estate = InMemoryEstate({(CloudProvider.aws, "orders-db"): EstateRecord(environment="prod")})
    hot = user_rules.decide(event("aws", "cloudwatch_alarm_rds_storage", estate))  # 91.5 %
    assert (hot.severity, hot.rule) == (Severity.CRITICAL, "production database over 85% capacity")
    assert (
        user_rules.decide(event("aws", "cloudwatch_alarm_rds_storage")).severity is Severity.MEDIUM
    )  # no env


def test_decisions_are_deterministic_and_apply_sets_the_event_severity(user_rules: RuleSet) -> None:
    e = event("aws", "rds_instance_shutdown")
    assert len({user_rules.decide(e) for _ in range(5)}) == 1
    final, decision = user_rules.apply(e)
    assert final.severity is decision.severity is Severity.CRITICAL and e.severity is Severity.INFO


def test_first_matching_user_rule_wins_and_can_lower_a_default() -> None:
    rules = load_rules(
        {
            "rules": [
                {"name": "db down in dev is routine", "event_type": "db_down", "severity": "INFO"},
                {"name": "never reached", "event_type": "db_down", "severity": "HIGH"},
            ]
        }
    )
    assert rules.decide(event("aws", "rds_instance_shutdown")).rule == "db down in dev is routine"


def test_defaults_can_be_switched_off() -> None:
    rules = load_rules({"use_defaults": False, "rules": []})
    assert rules.decide(event("aws", "rds_instance_shutdown")).origin == "provider"


def test_tag_and_cloud_matchers() -> None:
    rules = load_rules(
        {
            "rules": [
                {
                    "name": "payments",
                    "cloud": ["aws"],
                    "tags": {"ENV": ["production", "prod"]},
                    "severity": "HIGH",
                }
            ]
        }
    )
    assert rules.decide(event("aws", "rds_instance_shutdown")).rule == "payments"
    assert rules.decide(event("gcp", "instances_stop")).rule != "payments"


def test_explanation_names_every_condition_of_the_rule_that_decided() -> None:
    # GIVEN a rule using each kind of condition; the reasons are written only when read
    rules = load_rules(
        {
            "rules": [
                {
                    "name": "prod db down",
                    "event_type": "db_down",
                    "cloud": "aws",
                    "environment": "production",
                    "resource_type": "AWS::RDS::DBInstance",
                    "tags": {"env": []},
                    "where": ['metadata.resource_kind == "database"'],
                    "severity": "CRITICAL",
                }
            ]
        }
    )
    e = event("aws", "rds_instance_shutdown")
    decision = rules.decide(e)
    # THEN they read as the rule's conditions, in order, with what was observed, and Rule.match agrees
    assert decision.reasons == (
        "event_type is db_down",
        "cloud is aws",
        "environment is production",
        "resource.type is AWS::RDS::DBInstance",
        "tag env=production",
        "metadata.resource_kind == \"database\" (metadata.resource_kind = 'database')",
    )
    assert list(decision.reasons) == rules.user_rules[0].match(e)
    assert decision.explanation.startswith("CRITICAL by user rule 'prod db down': event_type is db_down; ")
    assert decision.to_dict()["reasons"] == list(decision.reasons)
    assert rules.user_rules[0].match(event("aws", "ec2_run_instances")) is None


# -- invalid rules are rejected at load ------------------------------------------------------------------
BAD_TOML = """\
[[severity.rules]]
name = "fine"
event_type = "db_down"
severity = "HIGH"

[[severity.rules]]
name = "broken"
event_type = "db_down"
where = ["__import__('os').system('x')"]
severity = "HIGH"
"""


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"name": "x", "event_type": "db_down", "severity": "URGENT"}, "severity"),
        ({"name": "x", "event_type": "s3_bucket_public", "severity": "HIGH"}, "event_type"),
        ({"name": "x", "evnt_type": "db_down", "severity": "HIGH"}, "evnt_type"),
        ({"name": "x", "severity": "HIGH"}, "would match every event"),
        ({"name": "x", "where": ['metadata.state > "alarm"'], "severity": "HIGH"}, "needs a number"),
        ({"name": "x", "where": ['context.owner == "x"'], "severity": "HIGH"}, "context fields"),
        ({"name": "x", "where": ["1 == 1"], "severity": "HIGH"}, "cannot read where clause"),
    ],
)
def test_invalid_rule_is_rejected_with_the_reason(rule: dict[str, Any], reason: str) -> None:
    with pytest.raises(RuleError) as info:
        load_rules({"rules": [rule]})
    assert reason in info.value.message and info.value.index == 0 and info.value.hint


def test_invalid_rule_names_its_index_and_toml_line(escher_home: Path) -> None:
    paths = resolve_paths()
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(BAD_TOML, encoding="utf-8")
    with pytest.raises(RuleError) as info:
        rules_from_settings(load_settings(paths).extensions, paths.config_file)
    assert info.value.index == 1 and info.value.line == 9  # the where = line of the second rule
    assert "severity rule #2 'broken'" in info.value.message and "line 9" in info.value.message


def test_duplicate_names_and_bad_section_shapes_are_rejected() -> None:
    rule = {"name": "same", "event_type": "db_down", "severity": "HIGH"}
    with pytest.raises(RuleError, match="used twice"):
        load_rules({"rules": [rule, rule]})
    with pytest.raises(RuleError, match="unknown key"):
        load_rules({"rule": [rule]})
    with pytest.raises(RuleError, match="array of tables"):
        load_rules({"rules": rule})
