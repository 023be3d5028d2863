"""The packaged knowledge: enough playbooks in every category and cloud, every operation id real."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from escher.brain.knowledge import load_knowledge, referenced_operations
from escher.ops.model import OPERATIONS


def test_library_size_and_spread() -> None:
    k = load_knowledge()
    assert len(k.playbooks) >= 40
    categories = Counter(p.category for p in k.playbooks)
    assert set(categories) == {
        "disaster_recovery",
        "security_hardening",
        "cost_cleanup",
        "incident_first_aid",
    }
    for cloud in ("aws", "azure", "gcp"):
        assert sum(cloud in p.clouds for p in k.playbooks) >= 12, cloud
    assert len(k.cli) >= 15 and len(k.practices) >= 10


def test_every_referenced_operation_exists_in_the_catalogue() -> None:
    # The real catalogue (escher.ops) exists, so this checks against it, not a list of expected ids.
    missing = sorted(referenced_operations(load_knowledge()) - set(OPERATIONS.keys()))
    assert missing == []


def test_every_playbook_step_parameter_is_valid_for_its_operation() -> None:
    for p in load_knowledge().playbooks:
        for step in p.steps:
            if step.operation_id:
                op = OPERATIONS.get(step.operation_id)
                op.parse_params(step.params)  # raises OpError when invalid
                assert op.cloud in p.clouds, (p.id, step.operation_id)


def test_cli_reference_operation_is_the_clouds_own() -> None:
    for e in load_knowledge().cli:
        for cloud in ("aws", "azure", "gcp"):
            cmd = e.for_cloud(cloud)  # type: ignore[arg-type]
            assert not cmd.operation or cmd.operation.startswith(cloud + ".")


def test_knowledge_is_read_only() -> None:
    k = load_knowledge()
    assert isinstance(k.playbooks, tuple)
    with pytest.raises(ValidationError, match="frozen"):
        k.playbooks[0].steps[0].title = "changed"  # type: ignore[misc]
    assert load_knowledge() is k
