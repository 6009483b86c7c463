"""The records the provenance answers are made of (node_api.api.schemas.provenance composes them):
batches, custody transfers, book & claim, certifications and credit accounts, each field in the
order the index builds it (see that module for why)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """Every answer model: extra keys are allowed and kept (an answer is never reshaped to fit)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# ---------------------------------------------------------------------- small pieces
class Fact(Answer):
    """The transaction, block and block time a fact was read from."""

    tx_hash: str
    block_number: int
    time: int


class Who(Answer):
    """A wallet, and the participant (and site) it was bound to at the time."""

    address: str
    participant_id: int | None
    participant: str | None
    site_id: int | None
    site: str | None


class HolderBalance(Who):
    quantity: int


class HolderUnits(Who):
    units: int


class Edge(Answer):
    child_id: int
    parent_id: int
    quantity: int


class BatchQuantity(Answer):
    batch_id: int
    quantity: int


# ---------------------------------------------------------------------- batches
class BatchNode(Answer):
    """A batch as every answer shows it; the last seven fields only for origin batches."""

    batch_id: int
    kind: str = Field(description="origin, split, merge, transform or attributes_released")
    material_id: int
    material: str
    unit: str
    characteristic_id: int
    characteristic: str | None
    model_id: int
    model: str = Field(description="chain-of-custody model: uncertified ... identity preserved")
    share_ppm: int
    origin_batch_id: int | None
    creator_id: int
    creator: str | None
    created_by: str
    quantity: int
    tx_hash: str
    block_number: int
    log_index: int
    time: int
    site_id: int | None = None
    site: str | None = None
    certification_id: int | None = None
    geolocation_hash: str | None = None
    dds_reference: str | None = None
    evidence_hash: str | None = None
    production_date: int | None = None


class Transform(Answer):
    process_id: int
    process: str | None
    factor_ppm: int | None
    input_quantity: int
    output_quantity: int
    loss: int
    credits_converted: int
    credits_produced: int
    tx_hash: str
    block_number: int
    time: int


class Consumption(Answer):
    holder: Who
    quantity: int
    reason: str = Field(description="sold or destroyed")
    ref: str
    tx_hash: str
    block_number: int
    time: int


class Batch(BatchNode):
    """The batch, its parents and children, transform, holders, in-transit quantity, consumption."""

    parents: list[BatchQuantity]
    children: list[BatchQuantity]
    transform: Transform | None = None
    holders: list[HolderBalance]
    in_transit: int
    consumed: list[Consumption]


class Descendants(Answer):
    batch_id: int
    descendant_count: int
    nodes: list[BatchNode]
    edges: list[Edge]


# ---------------------------------------------------------------------- custody
class Proposed(Fact):
    log_index: int


class Settled(Proposed):
    signature: str
    signed_by: Who


class Transfer(Answer):
    """A custody transfer: who signed the batch away, who received it, when, the transactions."""

    transfer_id: str
    batch_id: int
    status: str = Field(description="pending, accepted, rejected or cancelled")
    signer: Who
    receiver: Who
    quantity: int
    certified_quantity: int
    declaration: bool
    nonce: str
    deadline: str
    sender_signature: str
    proposed: Proposed
    settled: Settled | None


# ---------------------------------------------------------------------- book & claim
class Retirement(Answer):
    retirement_id: str
    certificate_id: int
    holder: Who
    retired_by_id: int
    retired_by: str | None
    amount: int
    beneficiary: str
    period_start: int
    period_end: int
    purpose_hash: str
    tx_hash: str
    block_number: int
    time: int


class Revocation(Answer):
    outstanding: int
    reason_hash: str
    tx_hash: str
    block_number: int
    time: int


class Pledge(Answer):
    pledge_id: int
    producer_id: int
    producer: str | None
    holder: Who
    source: str = Field(description="verified, credits or batch")
    material: str
    characteristic: str | None
    quantity: int
    batch_id: int | None
    released_batch_id: int | None
    tx_hash: str
    block_number: int
    time: int


class Issuance(Answer):
    certificate_id: int
    issuer_id: int
    issuer: str | None
    producer_id: int
    producer: str | None
    issued_to: Who
    amount: int
    unit_size: int
    unit_label: str
    material_id: int
    material: str
    characteristic_id: int
    characteristic: str | None
    period_start: int
    period_end: int
    evidence_hash: str
    pledge_id: int | None
    tx_hash: str
    block_number: int
    time: int


class PledgedCertificate(Issuance):
    retirements: list[Retirement]
    revoked: Revocation | None


class BookAndClaim(Pledge):
    """A pledge tied to the token, with the certificates issued from it."""

    certificates: list[PledgedCertificate]


class CertificateMove(Answer):
    kind: str = Field(description="issued, transferred or retired")
    from_: Who | None = Field(alias="from")
    to: Who | None
    units: int
    holders_after: dict[str, int]
    tx_hash: str
    block_number: int
    time: int


class Certificate(Issuance):
    """A book & claim issuance: the pledge behind it, holders over time, retirements, revocation."""

    pledge: Pledge | None = None
    holders_over_time: list[CertificateMove]
    holders: list[HolderUnits]
    retirements: list[Retirement]
    retired: int
    revoked: Revocation | None


# ---------------------------------------------------------------------- certifications, credits
class StatusChange(Answer):
    status: str
    reason_hash: str
    tx_hash: str
    block_number: int
    time: int


class Recorded(Answer):
    tx_hash: str
    block_number: int


class Certification(Answer):
    certification_id: int
    scheme: str
    certificate_number: str
    holder_id: int
    holder: str | None
    certifier_id: int
    certifier: str | None
    valid_from: int
    valid_to: int
    models: list[str]
    status_now: str
    recorded: Recorded
    status_changes: list[StatusChange]


class CertificationAt(Certification):
    status_at_time: str
    valid_at_time: bool


class PeriodFlows(Answer):
    """A credit account's period: opening, flows in field order, closing."""

    period: int
    opening: int
    inflow: int
    converted_in: int
    outflow: int
    converted_out: int
    lapsed: int
    closing: int


class Statement(PeriodFlows):
    bookings: int


class ClosedPeriod(PeriodFlows):
    tx_hash: str
    block_number: int


class Booking(Answer):
    period: int
    entry: str
    reason: str
    amount: int
    balance: int
    ref: str
    tx_hash: str
    block_number: int
    time: int


class CreditAccount(Answer):
    account: str
    site_id: int
    site: str | None
    material: str
    material_id: int
    unit: str
    characteristic: str | None
    characteristic_id: int
    scheme: str | None
    period_length: int
    anchor: int
    lapse_after_periods: int
    balance: int
    opened: Fact
    statements: list[Statement]
    closed_periods: list[ClosedPeriod]
    bookings: list[Booking]
