"""Response models of the provenance routes (node_api.api.routes.provenance).

They describe the answers of node_api.index.read as they are, field for field and in the order
the index builds them, so that validating an answer never reshapes it: keys present only on some
answers (an origin's site, a transform, a certificate's pledge) default to None and the routes
serialise with ``exclude_unset``; every model allows extra keys. The routes that send JSON encoded
once for speed (the whole provenance answer, the lineage, the passport, EPCIS) document these
models in the OpenAPI ``responses`` instead of re-validating ten thousand nodes per request;
tests/index/test_api.py validates those answers against the models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .provenance_records import (
    Answer,
    Batch,
    BatchNode,
    BookAndClaim,
    Certificate,
    Certification,
    CertificationAt,
    CreditAccount,
    Descendants,
    Edge,
    Fact,
    Retirement,
    Transfer,
)

__all__ = ["Batch", "Certificate", "Claim", "Descendants", "EpcisDocument", "IndexStatus", "Lineage", "LineageRows",
           "Participant", "Passport", "Provenance", "Transaction", "Transfer"]


# ---------------------------------------------------------------------- claims
class ClaimOrigin(Answer):
    batch_id: int
    producer: str | None
    site: str | None
    contribution_percent: str
    quantity_taken: float
    unit: str
    geolocation_hash: str | None
    tx_hash: str
    block_number: int


class Declaration(Answer):
    transfer_id: str
    from_: str | None = Field(alias="from")
    to: str | None
    quantity: int
    certified_quantity: int
    tx_hash: str
    block_number: int


class ClaimCertificate(Answer):
    pledge_id: int
    pledged_batch_id: int | None
    released_batch_id: int | None
    certificate_id: int
    units_issued: int
    units_retired: int
    units_supporting: int = Field(description="retired units that support a claim: 0 if the issuance was revoked (C12)")
    unit_label: str
    characteristic: str | None
    retirement_ids: list[str]
    beneficiaries: list[str]
    revoked: bool


class Claim(Answer):
    """The claim a token supports, worded as ISO 22095 allows for its model, with its evidence."""

    batch_id: int
    model: str
    characteristic: str | None
    characteristic_id: int | None = Field(description="the batch's own characteristic (C1): a name may be shared")
    scheme: str | None
    material: str
    unit: str = Field(description="the material's registered unit; every quantity of the claim is in it")
    kind: str = Field(description="none, content, content_share or supply_chain: what the batch itself supports. "
                                  "Book & claim certificates tied to it are listed apart and never label the "
                                  "batch (C10)")
    percent: str | None
    origins: list[ClaimOrigin]
    certified_quantity: int | None = Field(description="mass balance: certified quantity declared on accepted "
                                                       "deliveries of the batch (C8a)")
    claimable_quantity: int | None = Field(description="physical models: quantity x share minus what was released "
                                                       "into certificates from it or batches made from it (C9)")
    released_quantity: int | None = Field(description="physical models: quantity of the batch released into "
                                                      "certificates, directly or through batches made from it (C9)")
    delivered_quantity: int | None = Field(description="mass balance: quantity delivered with those declarations; "
                                                       "the claim is attributed to this part only (C8a)")
    declarations: list[Declaration]
    book_and_claim: list[ClaimCertificate]
    statements: list[str]
    evidence: list[str]
    text: str


class Site(Answer):
    site_id: int
    name: str
    location_ref: str


class BatchHeld(Answer):
    batch_id: int
    wallet: str
    quantity: int
    material: str
    unit: str
    model: str
    characteristic: str | None
    share_ppm: int


class InTransit(Answer):
    outgoing: list[Transfer]
    incoming: list[Transfer]


class CertificateHeld(Answer):
    certificate_id: int
    wallet: str
    units: int


class AsOf(Answer):
    block_number: int
    time: int


class Participant(Answer):
    """A participant: sites and wallets, batches held and in transit, credit accounts, certificates."""

    participant_id: int
    name: str
    roles: list[str]
    status: str
    registered: Fact
    sites: list[Site]
    wallets: list[str]
    batches_held: list[BatchHeld]
    in_transit: InTransit
    credit_accounts: list[CreditAccount]
    certificates_held: list[CertificateHeld]
    retirements: list[Retirement]
    certifications: list[CertificationAt]
    as_of: AsOf


# ---------------------------------------------------------------------- transactions, status
class Event(Answer):
    log_index: int
    contract: str
    event: str
    args: dict[str, Any]


class Transaction(Answer):
    tx_hash: str
    block_number: int
    time: int
    events: list[Event]


class IndexStatus(Answer):
    """How far behind the chain the index is; only ``following`` when no follower runs."""

    following: bool
    chain_id: int | None = None
    last_indexed_block: int | None = None
    chain_head: int | None = None
    safe_head: int | None = None
    confirmations: int | None = None
    blocks_behind: int | None = None
    blocks_behind_head: int | None = None
    seconds_behind: int | None = None
    events_indexed: int | None = None
    rebuilds: int | None = None
    last_error: str | None = None
    ahead_of_chain: bool | None = Field(default=None, description=(
        "the index's last block is above the chain head or no longer on the chain (a rollback): "
        "it is being rebuilt, and in_sync is false"))
    in_sync: bool | None = None


# ---------------------------------------------------------------------- documented, not re-validated
class CertificationAtCreation(Answer):
    certification_id: int
    scheme: str | None
    certificate_number: str | None
    status_at_time: str
    valid_at_time: bool


class LineageOrigin(BatchNode):
    producer: str | None
    quantity_taken: float = Field(description="quantity of the origin (its unit) that went into the batch")
    contribution: float = Field(description="part of the batch (its unit) the origin accounts for")
    contribution_percent: str
    certification_at_creation: CertificationAtCreation | None
    path: list[int]
    path_models: list[str]
    weakest_model_on_paths: str


class Lineage(Answer):
    """The ancestry as objects (``shape=objects``, and inside the whole provenance answer)."""

    batch_id: int
    batch: BatchNode
    ancestor_count: int
    nodes: list[BatchNode]
    edges: list[Edge]
    origins: list[LineageOrigin]
    certifications: dict[int, Certification]


class LineageRows(Answer):
    """The compact ancestry (``shape=rows``, the default): one array per batch, columns named once."""

    batch_id: int
    shape: Literal["rows"]
    ancestor_count: int
    origin_count: int
    batch: BatchNode
    columns: list[str]
    edge_columns: list[str]
    model_names: list[str]
    certifications: dict[int, Certification]
    nodes: list[list[Any]] = Field(description="every ancestor and the batch itself (last), by id, in ``columns``")
    edges: list[list[int]] = Field(description="[child_id, parent_id, quantity]")


class FactTransaction(Answer):
    tx_hash: str
    block_number: int | None
    facts: list[str]


class Provenance(Answer):
    """Everything about a token: the batch, its lineage, descendants, custody, book & claim, the
    claim it supports, and every transaction the answer rests on."""

    chain_id: int | None
    batch: Batch
    lineage: Lineage
    descendants: Descendants
    custody: list[Transfer]
    book_and_claim: list[BookAndClaim]
    claim: Claim
    facts: list[FactTransaction]


class Passport(Answer):
    """A Digital Product Passport style answer (identity, origins, claims, certifications, custody,
    evidence, transactions)."""

    type: Literal["DigitalProductPassport"]
    id: str
    generated_at_block: int | None
    chain_id: int | None
    ledger: str
    product: dict[str, Any]
    origins: list[dict[str, Any]]
    claims: list[dict[str, Any]]
    certifications: list[dict[str, Any]]
    custody: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    transactions: list[FactTransaction]


class EpcisBody(Answer):
    eventList: list[dict[str, Any]]  # noqa: N815 - the EPCIS field name


class EpcisDocument(Answer):
    """An EPCIS 2.0 document (JSON-LD, ``application/ld+json``)."""

    context: list[Any] = Field(alias="@context")
    type: Literal["EPCISDocument"]
    schemaVersion: str  # noqa: N815
    creationDate: str  # noqa: N815
    epcisBody: EpcisBody  # noqa: N815
