"""What the brain knows about operations, behind a small interface, and the adapter to ``escher.ops``.

The brain and the guard talk to :class:`OperationCatalog` only; :class:`OpsCatalog` wires in the real
catalogue (``escher.ops.OPERATIONS``). Tests can hand in any other implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from escher.errors import EscherError

__all__ = ["InvalidParamsError", "OperationCatalog", "OperationInfo", "OpsCatalog"]


class InvalidParamsError(EscherError):
    """Parameters that the operation's own model rejects."""


@dataclass(frozen=True)
class OperationInfo:
    id: str
    cloud: str
    description: str
    risk: str
    requires_approval: bool
    cli: str
    mode: str
    selects_by_tag: bool
    reversible: bool

    @property
    def verb(self) -> str:
        return self.id.rsplit(".", 1)[1]


class OperationCatalog(Protocol):
    def list(self) -> list[OperationInfo]: ...
    def get(self, operation_id: str) -> OperationInfo | None: ...
    def schema(self, operation_id: str) -> dict[str, Any]: ...
    def validate_params(self, operation_id: str, params: dict[str, Any]) -> dict[str, Any]: ...
    def cli_for(self, operation_id: str, target: str, region: str | None, params: dict[str, Any]) -> str: ...


class OpsCatalog:
    """The real catalogue. Loading it imports the operation modules, never a cloud SDK."""

    def __init__(self) -> None:
        from escher.ops.model import OPERATIONS

        self._ops = OPERATIONS
        self._infos = {op_id: self._info(op) for op_id, op in OPERATIONS.items()}

    @staticmethod
    def _info(op: Any) -> OperationInfo:
        return OperationInfo(
            id=op.id,
            cloud=op.cloud,
            description=op.description,
            risk=op.risk.value,
            requires_approval=op.approval_required,
            cli=op.cli,
            mode=op.mode,
            selects_by_tag=op.discover is not None,
            reversible=op.reversible,
        )

    def list(self) -> list[OperationInfo]:
        return list(self._infos.values())

    def get(self, operation_id: str) -> OperationInfo | None:
        return self._infos.get(operation_id)

    def schema(self, operation_id: str) -> dict[str, Any]:
        schema: dict[str, Any] = self._ops.get(operation_id).params.model_json_schema()
        return schema

    def validate_params(self, operation_id: str, params: dict[str, Any]) -> dict[str, Any]:
        from escher.ops.model import OpError

        op = self._ops.get(operation_id)
        try:
            parsed = op.parse_params(params)
        except OpError as exc:
            raise InvalidParamsError(exc.message, hint=exc.hint) from None
        dumped: dict[str, Any] = parsed.model_dump(mode="json", exclude_defaults=False)
        return dumped

    def cli_for(self, operation_id: str, target: str, region: str | None, params: dict[str, Any]) -> str:
        from escher.ops.model import Target

        op = self._ops.get(operation_id)
        parsed = op.parse_params(params)
        command: str = op.cli_for(Target(op.cloud, target, region), parsed)
        return command
