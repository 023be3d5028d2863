"""The ``ComponentResource`` shapes the three clouds share, made without importing pulumi at import time.

``escher.infra`` modules must stay importable without pulumi (the import-hygiene test imports every module),
so the classes are defined by a factory the first time a program runs. Each cloud supplies a ``build``
function that composes its Extension of parts (:func:`declare_part`: the state store, the audit store, the
secrets, the worker, the schedules, the event wiring ...), each a child ``ComponentResource`` whose own
resources are its children and whose outputs are a typed dataclass, kept on the Extension as ``parts``.

The parts came after the first stacks were deployed with every resource directly under the Extension: a
resource's URN names its parent's type, so each resource in a part carries ``Alias(parent=<the Extension>)``
(:meth:`Scope.opts`) and an existing stack moves it into the part instead of replacing it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from escher.infra.spec import ExtensionSpec

if TYPE_CHECKING:
    import pulumi

__all__ = ["Extension", "Part", "Scope", "child", "create_extension", "declare_part"]

Outputs = dict[str, Any]  # values are pulumi inputs/outputs
Build = Callable[["pulumi.ComponentResource", ExtensionSpec], Outputs]
PartOutputs = TypeVar("PartOutputs")


class Part(Protocol):
    """One child component of an Extension: its type token, name and typed outputs (a dataclass)."""

    outputs: Any

    @property
    def urn(self) -> pulumi.Output[str]: ...


class Extension(Protocol):
    """What a program gets back: the component, with the outputs it registered and its parts by name."""

    outputs: Outputs
    parts: dict[str, Part]

    @property
    def urn(self) -> pulumi.Output[str]: ...


@dataclasses.dataclass(frozen=True)
class Scope:
    """Where a part declares its resources: under the part, aliased to where they were before parts."""

    extension: pulumi.ComponentResource
    component: pulumi.ComponentResource

    def opts(self, **extra: Any) -> pulumi.ResourceOptions:
        """Options for a resource of the part (plus any extra option: provider, retain_on_delete ...)."""
        import pulumi

        return pulumi.ResourceOptions(
            parent=self.component, aliases=[pulumi.Alias(parent=self.extension)], **extra
        )

    def invoke_opts(self) -> pulumi.InvokeOutputOptions:
        """Options for a data source read (``get_*_output``): under the Extension, as before the parts."""
        return invoke_options(self.extension)


def invoke_options(parent: pulumi.Resource) -> pulumi.InvokeOutputOptions:
    import pulumi

    return pulumi.InvokeOutputOptions(parent=parent)


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
            self.parts: dict[str, Part] = {}
            self.outputs = build(self, spec)
            self.register_outputs(self.outputs)

    return EscherExtension


@functools.cache
def _part_class() -> type[Any]:
    import pulumi

    class EscherPart(pulumi.ComponentResource):
        outputs: Any = None

    return EscherPart


def declare_part(
    extension: pulumi.ComponentResource,
    type_token: str,
    name: str,
    build: Callable[[Scope], PartOutputs],
) -> PartOutputs:
    """Declare the part ``name`` of ``extension``: ``build`` declares its resources with ``scope.opts()``
    and returns its outputs (a dataclass), registered on the part and returned."""
    import pulumi

    component = _part_class()(type_token, name, None, pulumi.ResourceOptions(parent=extension))
    outputs = build(Scope(extension, component))
    component.outputs = outputs
    fields = dataclasses.fields(outputs) if dataclasses.is_dataclass(outputs) else ()
    # a field marked metadata={"output": False} is for the program (resources to depend on), not an output
    registered = [f for f in fields if f.metadata.get("output", True)]
    component.register_outputs({f.name: getattr(outputs, f.name) for f in registered})
    parts: dict[str, Part] | None = getattr(extension, "parts", None)
    if parts is not None:
        parts[name] = component
    return outputs


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
