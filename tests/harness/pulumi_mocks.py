"""Pulumi mocks: programs run without the Pulumi CLI or any cloud, and every resource is recorded.

Use with ``@pulumi.runtime.test`` and assert inside ``Output.apply`` (or ``Output.all(...).apply``); a program
must be a function called after ``set_mocks``, or its assertions never run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedResource:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None = None


@dataclass
class Recorder:
    resources: list[RecordedResource] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]


# data-source results by invoke token (the program's get_* calls)
CALL_RESULTS: dict[str, dict[str, Any]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": {
        "accountId": "123456789012",
        "arn": "arn:aws:iam::123456789012:user/mock",
        "userId": "m",
    },
    "aws:index/getRegion:getRegion": {"name": "us-east-1", "region": "us-east-1", "id": "us-east-1"},
    "azure-native:authorization:getClientConfig": {
        "clientId": "mock-client",
        "objectId": "mock-object",
        "subscriptionId": "00000000-0000-0000-0000-000000000000",
        "tenantId": "11111111-1111-1111-1111-111111111111",
    },
    "gcp:organizations/getProject:getProject": {"number": "123456789", "projectId": "mock-project"},
}


def install_mocks(project: str = "escher", stack: str = "test", *, preview: bool = False) -> Recorder:
    import pulumi

    recorder = Recorder()

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            recorder.resources.append(RecordedResource(args.typ, args.name, dict(args.inputs), args.provider))
            outputs = dict(args.inputs)
            outputs.setdefault("arn", f"arn:aws:mock:::{args.name}")
            outputs.setdefault("id", f"{args.name}-id")
            # providers always return a physical name (autonaming); programs concatenate it into URLs
            outputs.setdefault("name", f"{args.name}-mock")
            if args.typ == "aws:s3/bucket:Bucket":  # S3 names the bucket from its prefix
                outputs.setdefault("bucket", f"{args.inputs.get('bucketPrefix', args.name)}mock")
            return f"{args.name}-id", outputs

        def call(
            self, args: pulumi.runtime.MockCallArgs
        ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            recorder.calls.append((args.token, dict(args.args)))
            # failures must be a list (the mock monitor iterates it); None breaks every invoke
            return dict(CALL_RESULTS.get(args.token, {})), []

    import asyncio

    # set_mocks builds a Stack, whose outputs are asyncio futures on the thread's current loop; an earlier
    # asyncio.run() in the same process (the MCP client, a Starlette test) leaves none set behind it
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(Mocks(), project=project, stack=stack, preview=preview)
    return recorder
