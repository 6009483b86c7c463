"""What a participant is about to sign, in words (POST /typed-data/describe)."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field


class DescribeRequest(BaseModel):
    """The typed data as a prepare endpoint returned it (or the whole prepare answer: its ``typedData``
    is used). ``transfer``: for an acceptance of a transfer not proposed on chain yet (transfer with
    acceptance), the CustodyTransfer message it accepts."""

    model_config = ConfigDict(extra="allow")
    typedData: Optional[dict[str, Any]] = Field(None, description="EIP-712 typed data (domain, types, primaryType, message)")
    transfer: Optional[dict[str, Any]] = Field(None, description="the CustodyTransfer an AcceptTransfer names")


class DescribedField(BaseModel):
    path: str = Field(description="ERC-7730 path of the value: ABI parameter names, `.` into structs, `[]` arrays; "
                      "`transfer.` for values read from the chain, not part of the signed message")
    label: str
    value: str = Field(description="the value in words: names, quantities in the material's unit, dates")
    raw: Any = Field(description="the value as signed")
    signed: bool = Field(description="false: looked up (e.g. the transfer an acceptance names), not in the message")


class Organisation(BaseModel):
    role: str = Field(description="its part in this action: signer, sender, receiver, participant, certified...")
    participantId: Optional[int] = None
    name: Optional[str] = None
    wallet: Optional[str] = None
    site: Optional[str] = None


class Description(BaseModel):
    action: str = Field(description="the node's action name, e.g. participants.register, batches.accept")
    intent: str = Field(description="short title, e.g. Register participant")
    summary: str = Field(description="the action in words, e.g. Register participant Weaver Ltd as supplier")
    declaration: str = Field(description="what the signer declares or authorises by signing")
    primaryType: str
    chainId: int
    verifyingContract: str
    contract: Optional[str] = Field(None, description="forwarded calls: the contract called")
    function: Optional[str] = None
    signature: Optional[str] = Field(None, description="forwarded calls: the function's ABI signature")
    signer: Optional[str] = Field(None, description="the wallet that must sign")
    signerName: Optional[str] = None
    validUntil: Optional[str] = Field(None, description="the signature's deadline as a date")
    fields: list[DescribedField]
    envelope: list[DescribedField] = Field(description="forwarded calls: the ERC-2771 ForwardRequest's own fields")
    organisations: list[Organisation]
    warnings: list[str] = Field(description="what could not be named (unregistered wallets, unknown transfers)")


class MaterialName(BaseModel):
    name: str
    unit: str = Field(description="the unit quantities of this material are counted in")
    group: int
    waste: bool


class SiteName(BaseModel):
    name: str
    participantId: int


class CharacteristicName(BaseModel):
    name: str
    schemeId: int


class ProcessName(BaseModel):
    name: str
    inputMaterial: int
    outputMaterial: int


class RegistryNames(BaseModel):
    """Every name the registry knows, by id (names live in the registry's events, not in its storage)."""

    participants: dict[int, str]
    sites: dict[int, SiteName]
    materials: dict[int, MaterialName]
    schemes: dict[int, str]
    characteristics: dict[int, CharacteristicName]
    processes: dict[int, ProcessName]


class DescriptorEntry(BaseModel):
    name: str = Field(description="file name: calldata-<Contract>.json or eip712-<domain name>.json")
    url: str = Field(description="this node's copy, with its deployments filled in")
    formats: list[str] = Field(description="the functions (ABI signatures with names) or EIP-712 primary types described")


class DescriptorIndex(BaseModel):
    """ERC-7730 clear-signing descriptors of every message a participant signs."""

    standard: str = "ERC-7730 v1"
    descriptors: list[DescriptorEntry]


class Erc7730Descriptor(BaseModel):
    """An ERC-7730 v1 descriptor (context, metadata, display), as wallets read it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    schema_: str = Field(alias="$schema")
    context: dict[str, Any]
    metadata: dict[str, Any]
    display: dict[str, Any]
