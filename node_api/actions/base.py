"""Shared types of the action modules: validated field types and the ForwardAction record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable

from eth_utils import is_address, keccak, to_checksum_address
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from ..domain import Model, Role

UINT32_MAX = 2**32 - 1
UINT40_MAX = 2**40 - 1
UINT64_MAX = 2**64 - 1
UINT88_MAX = 2**88 - 1
UINT96_MAX = 2**96 - 1
UINT256_MAX = 2**256 - 1


def _address(v: str) -> str:
    if not isinstance(v, str) or not is_address(v):
        raise ValueError("not an Ethereum address (0x followed by 40 hex digits)")
    return to_checksum_address(v)


def _model(v: Any) -> int:
    names = Model.labels()
    if isinstance(v, str) and not v.isdigit():
        key = v.strip().lower().replace("_", " ").replace("-", " ")
        if key not in names:
            raise ValueError(f"unknown chain-of-custody model {v!r}; one of {names}")
        return names.index(key)
    iv = int(v)
    if not 0 <= iv < len(names):
        raise ValueError(f"model must be 0..{len(names) - 1}")
    return iv


def _bytes32(v: Any) -> str:
    """A 32-byte hex value; any other text is hashed (keccak-256) into one, so clients may pass
    a document reference and get its hash recorded."""
    if isinstance(v, str) and v.startswith("0x") and len(v) == 66:
        try:
            bytes.fromhex(v[2:])
            return v.lower()
        except ValueError:
            pass
    if not isinstance(v, str) or not v:
        raise ValueError("expected 0x + 64 hex digits, or a non-empty text to hash")
    return "0x" + keccak(text=v).hex()


Address = Annotated[str, AfterValidator(_address)]
Bytes32 = Annotated[str, BeforeValidator(_bytes32)]
ModelField = Annotated[int, BeforeValidator(_model), Field(
    description="ISO 22095 model: " + ", ".join(f"{m.value} {m.label}" for m in Model) + " (or its name)")]
U32 = Annotated[int, Field(ge=0, le=UINT32_MAX)]
U40 = Annotated[int, Field(ge=0, le=UINT40_MAX)]
U64 = Annotated[int, Field(ge=0, le=UINT64_MAX)]
U88 = Annotated[int, Field(ge=0, le=UINT88_MAX)]
U96 = Annotated[int, Field(ge=0, le=UINT96_MAX)]
U256 = Annotated[int, Field(ge=0, le=UINT256_MAX)]
Roles = Annotated[int, Field(ge=0, le=255, description="bits: " + ", ".join(f"{r.value} {r.name.lower()}" for r in Role))]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ForwardAction:
    """An action relayed as an ERC-2771 ForwardRequest to ``contract.function(*args(params))``."""

    resource: str  # URL segment, e.g. "batches"
    path: str  # URL segment, e.g. "create"
    contract: str  # artifact name
    function: str
    params: type[Params]
    args: Callable[[Any], tuple]
    summary: str
    who: str  # who signs (documentation)

    @property
    def name(self) -> str:
        return f"{self.resource}.{self.path}"
