"""``escher`` as a person runs it, with ``escher extend aws`` deploying through the offline stand-in.

No Pulumi CLI can run here, so the one thing this entry point changes is the stack (and where the worker bundle's
dependencies come from): :class:`MotoStack` runs the real Pulumi program for the spec the CLI built, under the
test mocks (:func:`tests.functional.infra.conftest.run_under_mocks`, as the deployed-shape tests do), then makes
what the laptop talks to real on moto: the state bucket, the audit bucket with Object Lock, the dead-letter
queue. Everything else -- the wizard, the preflight on moto, the settings written, the ledger, the credential
writes into SSM, the settings published into the state bucket -- is the CLI's own code.

Run as ``python -m tests.functional.extend_wizard.standin extend aws ...`` (tmux does, for the wizard test).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[3]


class MotoStack:
    """A Pulumi stack whose ``up`` runs the program under mocks and creates its storage on moto."""

    def __init__(self, spec: Any, cloud: str, env: dict[str, str]) -> None:
        self.spec = spec
        self.cloud = cloud

    def set_config(self, key: str, value: Any) -> None:
        pass

    def up(self, *, on_event: Callable[[Any], Any] | None = None) -> Any:
        import boto3

        from tests.functional.infra.conftest import run_under_mocks

        deployed = run_under_mocks(self.spec)
        outputs = dict(deployed.outputs)
        region = self.spec.region
        s3 = boto3.client("s3", region_name=region)
        s3.create_bucket(Bucket=str(outputs["state_url"]).removeprefix("s3://").split("/")[0])
        s3.create_bucket(Bucket=str(outputs["audit_bucket"]), ObjectLockEnabledForBucket=True)
        queue = str(outputs.get("dead_letter_url") or "").removeprefix("sqs://")
        if queue:
            boto3.client("sqs", region_name=region).create_queue(QueueName=queue)
        summary = SimpleNamespace(resource_changes={"create": len(deployed.resources)})
        return SimpleNamespace(outputs=outputs, summary=summary)

    def outputs(self) -> Mapping[str, Any]:
        return {}

    def destroy(self, *, on_event: Callable[[Any], Any] | None = None) -> None:
        pass


def install(set_attr: Callable[[Any, str, Any], None] = setattr) -> None:
    """The stand-in stack for ``driver.extend``, and the bundle built from the packages installed here
    (``set_attr``: a test's ``monkeypatch.setattr``, so that they are undone afterwards)."""
    from escher.infra import bundle, driver
    from tests.functional.deployed.harness import CACHE

    set_attr(driver, "extend", functools.partial(driver.extend, stack_factory=MotoStack))
    real_build = bundle.build_bundle

    def build(cloud: str, **kwargs: Any) -> Any:
        import hashlib

        reqs = bundle.worker_requirements(cloud, REPO)
        key = hashlib.sha256("\n".join([sys.version, *reqs]).encode()).hexdigest()[:16]
        deps = bundle.installed_deps(reqs, CACHE / f"deps-{cloud}-{key}")
        # the zip goes where the CLI keeps it (this laptop's data dir): a cache shared by concurrent test runs
        # would have two processes write the same file at once
        return real_build(
            cloud, source_root=REPO, cache_dir=kwargs["cache_dir"], deps_dir=deps, requirements=reqs
        )

    set_attr(bundle, "build_bundle", build)


if __name__ == "__main__":
    install()
    from escher.cli.main import run

    sys.argv[0] = "escher"
    run()
