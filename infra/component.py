"""The one ``ComponentResource`` shape the three clouds share, made without importing pulumi at import time.

``escher.infra`` modules must stay importable without pulumi (the import-hygiene test imports every module),
so the class is defined by a factory the first time a program runs. Each cloud supplies a ``build`` function
that declares its children with ``parent=component`` and returns the outputs to register.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from escher.infra.spec import ExtensionSpec

if TYPE_CHECKING:
    import pulumi

__all__ = ["Extension", "create_extension"]

Outputs = dict[str, Any]  # values are pulumi inputs/outputs
Build = Callable[["pulumi.ComponentResource", ExtensionSpec], Outputs]


class Extension(Protocol):
    """What a program gets back: the component, with the outputs it registered."""

    outputs: Outputs

    @property
    def urn(self) -> pulumi.Output[str]: ...


@functools.cache
def _component_class() -> type[Any]:
    from escher.lazy import require

    require("pulumi", "infra")  # a clear install hint when the extra is missing
    import pulumi

    class EscherExtension(pulumi.ComponentResource):
        outputs: Outputs

        def __init__(
            self,
            type_token: str,
            name: str,
            spec: ExtensionSpec,
            build: Build,
            opts: pulumi.ResourceOptions | None = None,
        ) -> None:
            super().__init__(type_token, name, None, opts)
            self.outputs = build(self, spec)
            self.register_outputs(self.outputs)

    return EscherExtension


def create_extension(
    type_token: str,
    name: str,
    spec: ExtensionSpec,
    build: Build,
    opts: pulumi.ResourceOptions | None = None,
) -> Extension:
    component: Extension = _component_class()(type_token, name, spec, build, opts)
    return component


def child(parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
    """Options for a child resource: parented to the component (plus any extra option)."""
    import pulumi

    return pulumi.ResourceOptions(parent=parent, **extra)
