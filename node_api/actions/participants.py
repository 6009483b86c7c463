"""Participants, roles, sites, wallets (admin) and certifications, capacities (certification bodies)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from ..domain import CertificationStatus, ParticipantStatus
from .base import U32, U40, U64, U88, Address, Bytes32, ForwardAction, Params, Roles

R = "ParticipantRegistry"


def _status(*settable: ParticipantStatus | CertificationStatus):
    """A status given by value or by display name."""
    names = {m.label: m.value for m in settable}

    def parse(v):
        if isinstance(v, str) and not v.isdigit():
            if v.lower() not in names:
                raise ValueError(f"one of {sorted(names)}")
            return names[v.lower()]
        return int(v)
    return parse


class RegisterParticipant(Params):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    roles: Roles


class SetRoles(Params):
    participantId: U32
    roles: Roles


class SetParticipantStatus(Params):
    participantId: U32
    status: Annotated[int, BeforeValidator(_status(ParticipantStatus.ACTIVE, ParticipantStatus.SUSPENDED)),
                      Field(ge=1, le=2, description="active or suspended")]


class AddSite(Params):
    participantId: U32
    name: Annotated[str, Field(min_length=1, max_length=200)]
    locationRef: Bytes32 = Field(description="hash of the location (GS1 GLN, GeoJSON...) or a text to hash")


class AddWallet(Params):
    wallet: Address
    participantId: U32
    siteId: U32 = 0


class RemoveWallet(Params):
    wallet: Address


class RecordCertification(Params):
    holder: U32
    scheme: Annotated[str, Field(min_length=1, max_length=100)]
    certificateNumber: Annotated[str, Field(min_length=1, max_length=100)]
    materials: list[U32]
    characteristics: list[U32]
    models: Annotated[int, Field(ge=0, le=255, description="bit (1 << model) per covered model; 30 = all certified models")]
    validFrom: U40
    validTo: U40


class SetCertificationStatus(Params):
    certificationId: U64
    status: Annotated[int, BeforeValidator(_status(CertificationStatus.ACTIVE, CertificationStatus.SUSPENDED,
                                                   CertificationStatus.WITHDRAWN)),
                      Field(ge=1, le=3, description="active, suspended or withdrawn")]
    reasonHash: Bytes32 = "0x" + "00" * 32


class SetCapacity(Params):
    participantId: U32
    material: U32
    validFrom: U40
    validTo: U40
    amount: U88


def _cert(p: RecordCertification) -> tuple:
    return ((p.holder, p.scheme, p.certificateNumber, p.materials, p.characteristics, p.models, p.validFrom, p.validTo),)


ACTIONS = [
    ForwardAction("participants", "register", R, "registerParticipant", RegisterParticipant,
                  lambda p: (p.name, p.roles), "Register an organisation with its roles", "admin"),
    ForwardAction("participants", "set-roles", R, "setRoles", SetRoles,
                  lambda p: (p.participantId, p.roles), "Replace a participant's roles", "admin"),
    ForwardAction("participants", "set-status", R, "setParticipantStatus", SetParticipantStatus,
                  lambda p: (p.participantId, p.status), "Suspend or reactivate a participant", "admin"),
    ForwardAction("participants", "add-site", R, "addSite", AddSite,
                  lambda p: (p.participantId, p.name, p.locationRef), "Add a site to a participant", "admin"),
    ForwardAction("participants", "add-wallet", R, "addWallet", AddWallet,
                  lambda p: (p.wallet, p.participantId, p.siteId),
                  "Bind a wallet to a participant and site: the participant's first wallet by the admin (onboarding), "
                  "every further one by a wallet of the participant itself (its consent)",
                  "admin for the first wallet; the participant's own wallet after"),
    ForwardAction("participants", "remove-wallet", R, "removeWallet", RemoveWallet,
                  lambda p: (p.wallet,), "Unbind a wallet", "admin"),
    ForwardAction("participants", "record-certification", R, "recordCertification", RecordCertification,
                  _cert, "Record a certification of a participant", "certifier"),
    ForwardAction("participants", "set-certification-status", R, "setCertificationStatus", SetCertificationStatus,
                  lambda p: (p.certificationId, p.status, p.reasonHash),
                  "Suspend, reinstate or withdraw a certification (its certifier only)", "certifier"),
    ForwardAction("participants", "set-capacity", R, "setCapacity", SetCapacity,
                  lambda p: (p.participantId, p.material, p.validFrom, p.validTo, p.amount),
                  "Set a participant's certified capacity for a material", "certifier"),
]
