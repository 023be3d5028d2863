"""The Pulumi program: picks the cloud from stack config and declares that cloud's Extension."""

from __future__ import annotations

from escher.errors import EscherError

CLOUDS = ("aws", "azure", "gcp")


class InfraError(EscherError):
    """Provisioning cannot go on; the message says why and what to do."""


def main() -> None:
    """Run as a Pulumi program (inline or by the Pulumi CLI)."""
    from escher.lazy import require

    pulumi = require("pulumi", "infra")
    config = pulumi.Config("escher")
    cloud = config.get("cloud")
    if cloud not in CLOUDS:
        raise InfraError(
            f"stack config 'escher:cloud' is {cloud!r}; it must be one of {', '.join(CLOUDS)}",
            hint="run 'pulumi config set escher:cloud aws' (or azure, gcp)",
        )
    # The per-cloud ExtensionS are added by the infra issue; until then the program exports what it would do.
    pulumi.export("cloud", cloud)
