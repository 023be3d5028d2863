"""What the three tag/label operations share (``aws_tagging``, ``azure_tagging``, ``gcp_tagging``): their
parameters. Tags are merged: existing tags are kept, the named ones added or overwritten; verify reads them back.
"""

from __future__ import annotations

from pydantic import Field

from escher.ops.model import Params


class TagParams(Params):
    tags: dict[str, str] = Field(min_length=1, description="key -> value, added or overwritten")
    resource_type: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]+\.[a-z0-9_]+\.[a-z0-9_]+$",
        description="the scan's type of the target (aws.ec2.instance, ...) when the target is not an ARN",
    )
