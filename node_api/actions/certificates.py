"""Book & claim certificates: pledges from the physical chain, issue, transfer, revoke, retire."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import U32, U40, U64, U96, U256, Address, Bytes32, ForwardAction, Params

C = "CertificateRegistry"


class PledgeCredits(Params):
    material: U32
    characteristic: U32
    quantity: U96


class PledgeBatch(Params):
    batchId: U256
    quantity: U256


class Issue(Params):
    producer: U32
    to: Address
    amount: U64
    unitSize: U96 = Field(description="base units of the material per certificate unit")
    unitLabel: Annotated[str, Field(max_length=50)] = "1 t"
    material: U32
    characteristic: U32
    periodStart: U40
    periodEnd: U40
    evidenceHash: Bytes32
    pledgeId: U64 = 0


class Revoke(Params):
    certificateId: U256
    reasonHash: Bytes32


class Retire(Params):
    certificateId: U256
    amount: U64
    beneficiary: Annotated[str, Field(min_length=1, max_length=200)]
    periodStart: U40
    periodEnd: U40
    purposeHash: Bytes32


class TransferCertificates(Params):
    to: Address
    certificateId: U256
    amount: U256


def _issue(p: Issue) -> tuple:
    return ((p.producer, p.to, p.amount, p.unitSize, p.unitLabel, p.material, p.characteristic,
             p.periodStart, p.periodEnd, p.evidenceHash, p.pledgeId),)


ACTIONS = [
    ForwardAction("certificates", "pledge-credits", C, "pledgeCredits", PledgeCredits,
                  lambda p: (p.material, p.characteristic, p.quantity),
                  "Take mass-balance credits out of the physical chain for an issuance", "supplier"),
    ForwardAction("certificates", "pledge-batch", C, "pledgeBatch", PledgeBatch,
                  lambda p: (p.batchId, p.quantity),
                  "Take a certified batch's attributes out of the physical chain for an issuance", "supplier"),
    ForwardAction("certificates", "issue", C, "issue", Issue, _issue, "Issue certificates for verified production", "issuer"),
    ForwardAction("certificates", "revoke", C, "revoke", Revoke, lambda p: (p.certificateId, p.reasonHash),
                  "Revoke every unretired unit of an issuance", "issuer"),
    ForwardAction("certificates", "retire", C, "retire", Retire,
                  lambda p: (p.certificateId, p.amount, p.beneficiary, p.periodStart, p.periodEnd, p.purposeHash),
                  "Retire (burn) units for a beneficiary, claim period and purpose", "holder"),
    # safeTransferFrom's `from` is the signer: filled in by the service (SIGNER placeholder).
    ForwardAction("certificates", "transfer", C, "safeTransferFrom", TransferCertificates,
                  lambda p: ("$signer", p.to, p.certificateId, p.amount, b""),
                  "Transfer certificates to another registered participant", "holder"),
]
