"""Answers of the read routes: contract state as the views return it (names from the ABI)."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field


# ---------------------------------------------------------------- batches
class Parent(BaseModel):
    batchId: int
    quantity: int


class Origin(BaseModel):
    siteId: int
    productionDate: int
    certificationId: int
    geolocationHash: str
    evidenceHash: str


class Batch(BaseModel):
    batchId: int
    material: int
    characteristic: int
    model: int
    share: int = Field(description="certified share, ppm")
    creator: int = Field(description="participant id")
    origin: Optional[Origin] = Field(description="origin batches: where and when it was produced")
    kind: int
    createdAt: int
    modelName: str
    supply: int
    parents: list[Parent]


class BatchBalance(BaseModel):
    batchId: int
    address: str
    quantity: int


class TransferState(BaseModel):
    transferId: str
    status: str = Field(description="none, pending, accepted, rejected or cancelled")


# ---------------------------------------------------------------- participants
class Site(BaseModel):
    siteId: int
    name: str
    locationRef: str = Field(description="hash of the location (GS1 GLN, GeoJSON...)")


class Participant(BaseModel):
    participantId: int
    roles: int = Field(description="bit set: 1 admin, 2 certifier, 4 supplier, 8 issuer, 16 auditor, 32 brand")
    status: int
    name: Optional[str] = Field(None, description="the organisation's registered name")
    roleNames: list[str] = Field(default_factory=list, description="the roles by name")
    statusName: Optional[str] = Field(None, description="active or suspended")
    sites: list[Site] = Field(default_factory=list, description="the participant's sites")


class WalletBinding(BaseModel):
    wallet: str
    participantId: int
    siteId: int
    roles: int
    status: int
    name: Optional[str] = Field(None, description="the organisation's registered name")
    roleNames: list[str] = Field(default_factory=list)
    statusName: Optional[str] = None
    siteName: Optional[str] = Field(None, description="the site the wallet acts from (none: site 0)")


class Certification(BaseModel):
    certificationId: int
    holder: int
    certifier: int
    models: int
    status: int
    validFrom: int
    validTo: int


class HeldBatch(BaseModel):
    batchId: int
    quantity: int
    material: int
    characteristic: int
    model: int
    share: int
    creator: int
    origin: int
    kind: int
    createdAt: int
    modelName: str


class HeldBatches(BaseModel):
    address: str
    batches: list[HeldBatch]


class PendingTransfer(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    transferId: str
    batchId: int
    from_: str = Field(alias="from")
    to: str
    quantity: int
    certifiedQuantity: int
    nonce: int
    deadline: int
    status: str


class PendingTransfers(BaseModel):
    address: str
    incoming: list[PendingTransfer]
    outgoing: list[PendingTransfer]


class CreditAccount(BaseModel):
    account: str
    siteId: int
    material: int
    characteristic: int
    scheme: int
    balance: int


class CreditAccounts(BaseModel):
    address: str
    accounts: list[CreditAccount]


class IssuanceTerms(BaseModel):
    """The terms every view of a book & claim issuance shares."""

    certificateId: int
    issuer: int
    producer: int
    material: int
    characteristic: int
    periodStart: int
    periodEnd: int
    revoked: bool
    source: int
    unitSize: int


class HeldCertificate(IssuanceTerms):
    retired: int
    retirementCount: int
    issued: int
    amount: int = Field(description="units held")


class HeldCertificates(BaseModel):
    address: str
    certificates: list[HeldCertificate]


# ---------------------------------------------------------------- processes and reference data
class Material(BaseModel):
    material: int
    group: int
    waste: bool
    exists: bool


class Scheme(BaseModel):
    periodLength: int
    anchor: int
    lapseAfterPeriods: int
    exists: bool


class Characteristic(BaseModel):
    characteristic: int
    schemeId: int
    out1: Scheme = Field(description="the scheme")


class Process(BaseModel):
    processId: int
    inputMaterial: int
    outputMaterial: int
    factor: int = Field(description="ppm of output per input")
    tolerance: int
    exists: bool


# ---------------------------------------------------------------- mass balance
class AccountKey(BaseModel):
    account: str


class CreditAccountState(BaseModel):
    account: str
    balance: int
    period: int
    openedPeriod: int
    periodLength: int
    anchor: int
    lapseAfterPeriods: int
    open: bool
    balanceNow: int
    currentPeriod: int


class PeriodFigures(BaseModel):
    opening: int
    inflow: int
    materialized: bool
    outflow: int
    convertedIn: int
    convertedOut: int
    lapsed: int


class Statement(BaseModel):
    account: str
    period: int
    s: PeriodFigures = Field(description="the period's bookings")
    closing: int


# ---------------------------------------------------------------- certificates
class Retirement(BaseModel):
    retirementId: int
    certificateId: int
    amount: int
    retiredBy: int
    periodStart: int
    periodEnd: int


class Pledge(BaseModel):
    pledgeId: int
    producer: int
    material: int
    characteristic: int
    source: int
    used: bool
    quantity: int


class Issuance(IssuanceTerms):
    amount: int
    retired: int
    retirementCount: int
