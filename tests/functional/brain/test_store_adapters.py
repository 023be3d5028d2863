"""``StoreSource`` and ``StoreChatLog`` on the real store: Postgres + pgvector, hybrid search, typed records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escher.assist.client import Assistant
from escher.assist.history import StoreChatLog
from escher.assist.sources import StoreSource
from escher.brain.models import ExecutionResponse
from escher.config import Paths
from escher.store.models import AlertRecord, ChatMessage, InventoryItem, ReportRecord
from escher.store.store import Store
from tests.functional.brain.test_events_reports import exposure_alert

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(pg_database: str, tmp_path: Path) -> Iterator[Store]:
    paths = Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    paths.data_dir.mkdir(parents=True)
    with Store.open(paths=paths, url=pg_database) as s:
        yield s


def _vm(iid: str, env: str, region: str = "us-east-1", state: str = "running") -> InventoryItem:
    return InventoryItem(resource_id=iid, resource_type="aws.ec2.instance", name=f"{env}-{iid[-4:]}", state=state,
                         tags={"env": env}, properties={"instance_type": "t3.micro"}, cloud="aws",
                         account="123456789012", region=region, at=T0)  # fmt: skip


DEV = ["i-0d00000000000001", "i-0d00000000000002"]
PROD = ["i-0e00000000000001"]
WEST = ["i-0f00000000000001"]


@pytest.fixture
def estate(store: Store) -> Store:
    store.put_many([*(_vm(i, "dev") for i in DEV), *(_vm(i, "prod") for i in PROD), _vm(WEST[0], "dev", "us-west-2"),
                    _vm("i-0d00000000000003", "dev", state="stopped")])  # fmt: skip
    alert = exposure_alert()
    store.put(AlertRecord(alert_kind="alert", name=alert.alert_id, severity="critical", cloud="aws",
                          region="us-east-1", resource_type="aws.s3.bucket", at=T0,
                          summary="S3 bucket customer-exports was made public (public-read ACL) and closed again",
                          data=alert.model_dump(mode="json")))  # fmt: skip
    store.put(ReportRecord(report_kind="cost_snapshot", name="AWS daily cost", cloud="aws", at=T0,
                           summary="spend rose 17% because EC2 compute grew"))  # fmt: skip
    return store


def test_store_source_selects_the_resources_a_plan_needs(estate: Store) -> None:
    items = StoreSource(estate).search("stop the dev instances in us-east-1", 200)
    resources = [i for i in items if i.kind == "resource"]
    assert {i.id for i in resources} == {*DEV, "i-0d00000000000003"}  # every match, not a top ten
    assert all(i.tags == {"env": "dev"} and i.region == "us-east-1" for i in resources)
    assert {i.state for i in resources} == {"running", "stopped"}  # the planner narrows by state later


def test_store_source_finds_alerts_and_reports_by_meaning(estate: Store) -> None:
    items = StoreSource(estate).search("timeline of the exposed storage bucket", 50)
    alerts = [i for i in items if i.kind == "alert"]
    assert [a.id for a in alerts] == ["A-5e0c1d2a3b"]  # the stored alert, read back as the pipeline wrote it
    assert alerts[0].state == "critical" and alerts[0].attrs["t.verified"]
    costs = StoreSource(estate).search("why did spending go up?", 50)
    assert any(i.kind == "report" and "17%" in i.text for i in costs)


def test_an_exchange_over_the_store_plans_and_is_kept(estate: Store) -> None:
    history = StoreChatLog(estate)
    assistant = Assistant([StoreSource(estate)], None, history=history)
    first = assistant.ask("stop the dev instances in us-east-1")
    assert isinstance(first.response, ExecutionResponse)
    assert sorted(first.response.steps[0].targets) == DEV  # running dev in the region: not west, not stopped
    turns = history.recent(first.conversation_id, 5)
    assert [(t.role, t.content) for t in turns] == [
        ("user", "stop the dev instances in us-east-1"),
        ("assistant", f"[execution] {first.response.summary}"),
    ]
    req, _, _ = assistant.prepare("and the prod ones?", first.conversation_id)
    assert [t.content for t in req.history] == [t.content for t in turns]  # the follow-up carries the turns
    assert history.recent("another-conversation", 5) == []


def test_chat_history_reads_back_in_order_and_keeps_only_user_and_assistant(store: Store) -> None:
    log = StoreChatLog(store)
    for n in range(8):
        log.append("c1", "user" if n % 2 == 0 else "assistant", f"turn {n}")
    store.put(
        ChatMessage(conversation_id="c1", role="system", content="not a turn", at=T0 + timedelta(days=900))
    )
    log.append("c2", "user", "elsewhere")
    assert [t.content for t in log.recent("c1", 3)] == ["turn 5", "turn 6", "turn 7"]
    assert [t.content for t in log.recent("c1", 0)] == []
    assert [t.content for t in StoreChatLog(store).recent("c2", 5)] == [
        "elsewhere"
    ]  # a fresh adapter reads it
