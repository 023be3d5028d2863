"""Enrichment from tags and from the estate (the in-memory fake of the store's lookup)."""

from __future__ import annotations

import pytest

from escher.events import (
    CloudProvider,
    DataClassification,
    Environment,
    EstateLookup,
    EstateRecord,
    InMemoryEstate,
    enrich,
    normalize,
)
from escher.events.enrich import environment_from
from tests.unit.events._samples import sample


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Prod", Environment.production),
        ("PRD", Environment.production),
        ("live", Environment.production),
        ("Staging", Environment.staging),
        ("uat", Environment.staging),
        ("Development", Environment.dev),
        ("QA", Environment.dev),
        (" dev ", Environment.dev),
        ("banana", None),
        ("", None),
    ],
)
def test_environment_values_are_normalised(value: str, expected: Environment | None) -> None:
    assert environment_from(value) is expected


@pytest.mark.parametrize("key", ["env", "Environment", "STAGE"])
def test_environment_tag_key_is_case_insensitive(key: str) -> None:
    payload = sample("aws", "rds_instance_shutdown")
    payload["detail"]["Tags"] = {key: "Prod"}
    enriched = enrich(normalize(payload))
    assert enriched.event.context.environment is Environment.production
    assert enriched.enrichment.sources["environment"] == f"event tag {key}=Prod"


def test_tags_on_the_event_give_environment_classification_and_owner() -> None:
    # the CreateVolume sample carries Environment=Prod and owner=data-team tags
    enriched = enrich(normalize(sample("aws", "ec2_create_volume_unencrypted")))
    assert enriched.event.context.environment is Environment.production
    assert enriched.enrichment.owner == "data-team"
    assert enriched.event.context.data_classification is None


def test_estate_record_wins_over_tags_and_fills_what_tags_lack() -> None:
    event = normalize(sample("aws", "s3_put_bucket_acl_public"))
    estate = InMemoryEstate()
    estate.add(
        CloudProvider.aws,
        "arn:aws:s3:::my-data",
        EstateRecord(
            tags={"env": "dev"},
            environment="production",
            data_classification="PII",
            owner="alice@example.com",
            monthly_cost=42.0,
            affected_users=1_200_000,
        ),
    )
    enriched = enrich(event, estate)
    ctx = enriched.event.context
    assert (ctx.environment, ctx.data_classification) == (Environment.production, DataClassification.PII)
    assert (ctx.cost_impact, ctx.affected_users) == (42.0, 1_200_000)
    assert enriched.enrichment.owner == "alice@example.com" and enriched.enrichment.estate_record_found
    assert enriched.enrichment.sources["environment"] == "estate record"


def test_estate_tags_are_used_when_the_event_has_none() -> None:
    estate = InMemoryEstate(
        {(CloudProvider.aws, "arn:aws:s3:::my-data"): EstateRecord(tags={"Stage": "stg", "pii": "true"})}
    )
    enriched = enrich(normalize(sample("aws", "s3_put_bucket_acl_public")), estate)
    assert enriched.event.context.environment is Environment.staging
    assert enriched.event.context.data_classification is DataClassification.PII


def test_a_value_the_normalizer_set_is_kept() -> None:
    # the budget's overrun is its cost impact; the estate's monthly cost must not replace it
    event = normalize(sample("gcp", "billing_budget_exceeded"))
    estate = InMemoryEstate({(CloudProvider.gcp, event.resource.id): EstateRecord(monthly_cost=1.0)})
    enriched = enrich(event, estate)
    assert (
        enriched.event.context.cost_impact == 1450.75
        and enriched.enrichment.sources["cost_impact"] == "event"
    )


def test_unknown_resource_changes_nothing() -> None:
    event = normalize(sample("aws", "ec2_instance_state_change"))
    enriched = enrich(event, InMemoryEstate())
    assert enriched.event == event and not enriched.enrichment.estate_record_found


def test_in_memory_estate_satisfies_the_protocol() -> None:
    lookup: EstateLookup = InMemoryEstate()
    assert lookup.find_resource(CloudProvider.aws, "1", "x") is None
