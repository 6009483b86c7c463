"""What every message a participant signs means, field by field: one table read by the node's
describer (``node_api.services.describe``: the action and its fields in words for the web app and
``coc``) and by the ERC-7730 clear-signing descriptors (``node_api.clear_signing.erc7730``: the same
for hardware wallets). tests/node/test_clear_signing.py checks the table and the descriptors against
the compiled ABIs and the EIP-712 types.

Paths are ERC-7730 paths: ABI parameter names, ``.`` into structs, ``[]`` for every element of an
array (``p.materials.[]``). Kinds say how a value reads:

    participant site material characteristic process scheme certification batch certificate account
                          registry ids, shown by name (registered names come from the registry's events)
    quantity              base units of a material, shown in the material's registered unit; ``unit_of``
                          names the path of the material id or of a batch id (``batch:<path>``)
    amount                a plain count (certificate units); ``unit_of`` may name the unit label's path
    date / duration       unix time as a date / seconds as days
    ppm                   parts per million as a percentage
    model models roles pstatus cstatus reason   enums and bit sets (node_api.domain)
    wallet                an address, shown with the organisation it is bound to
    text hash bool raw    as they are
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    path: str
    label: str
    kind: str
    unit_of: str | None = None


@dataclass(frozen=True)
class Spec:
    """One signed function or message: its action name, intent and the sentence of what it does
    (``{path}`` stands for the field's value in words), what the signer declares by signing, and
    the fields (all of them: a descriptor hides nothing)."""

    action: str
    intent: str
    summary: str
    declaration: str
    fields: tuple[Field, ...] = field(default_factory=tuple)
    #: paths whose value names an organisation taking part, with its part in the action
    parties: tuple[tuple[str, str], ...] = ()


R, L, MB, C = "ParticipantRegistry", "BatchLedger", "MassBalance", "CertificateRegistry"

#: (contract, function) -> meaning, for every function a participant signs through the forwarder
FUNCTIONS: dict[tuple[str, str], Spec] = {
    (R, "registerParticipant"): Spec(
        "participants.register", "Register participant", "Register participant {name} as {roles}",
        "{signer} admits {name} to the consortium with the roles {roles}",
        (Field("name", "Organisation", "text"), Field("roles", "Roles", "roles"))),
    (R, "setRoles"): Spec(
        "participants.set-roles", "Change roles", "Set the roles of {participantId} to {roles}",
        "{signer} replaces the roles of {participantId} with {roles}",
        (Field("participantId", "Participant", "participant"), Field("roles", "Roles", "roles")),
        (("participantId", "participant"),)),
    (R, "setParticipantStatus"): Spec(
        "participants.set-status", "Change participant status", "Set {participantId} to {status}",
        "{signer} sets {participantId} to {status}",
        (Field("participantId", "Participant", "participant"), Field("status", "Status", "pstatus")),
        (("participantId", "participant"),)),
    (R, "addSite"): Spec(
        "participants.add-site", "Add site", "Add site {name} to {participantId}",
        "{signer} records that {participantId} operates the site {name} at the location hashed here",
        (Field("participantId", "Participant", "participant"), Field("name", "Site", "text"),
         Field("locationRef", "Location (hash)", "hash")),
        (("participantId", "participant"),)),
    (R, "addWallet"): Spec(
        "participants.add-wallet", "Bind wallet", "Bind wallet {account} to {participantId} at {siteId}",
        "{signer} binds wallet {account} to {participantId}, acting from {siteId}",
        (Field("account", "Wallet", "wallet"), Field("participantId", "Participant", "participant"),
         Field("siteId", "Site", "site")),
        (("participantId", "participant"),)),
    (R, "removeWallet"): Spec(
        "participants.remove-wallet", "Unbind wallet", "Unbind wallet {account}",
        "{signer} removes wallet {account} from the consortium",
        (Field("account", "Wallet", "wallet"),)),
    (R, "recordCertification"): Spec(
        "participants.record-certification", "Record certification",
        "Record {p.scheme} certificate {p.certificateNumber} of {p.holder}",
        "{signer} certifies that {p.holder} holds {p.scheme} certificate {p.certificateNumber} for {p.materials} "
        "({p.characteristics}) under {p.models}, valid {p.validFrom} to {p.validTo}",
        (Field("p.holder", "Certified organisation", "participant"), Field("p.scheme", "Scheme", "text"),
         Field("p.certificateNumber", "Certificate number", "text"), Field("p.materials.[]", "Materials", "material"),
         Field("p.characteristics.[]", "Characteristics", "characteristic"), Field("p.models", "Models", "models"),
         Field("p.validFrom", "Valid from", "date"), Field("p.validTo", "Valid to", "date")),
        (("p.holder", "certified"),)),
    (R, "setCertificationStatus"): Spec(
        "participants.set-certification-status", "Change certification status",
        "Set certification {certificationId} to {status}",
        "{signer} sets certification {certificationId} to {status} for the reason hashed here",
        (Field("certificationId", "Certification", "certification"), Field("status", "Status", "cstatus"),
         Field("reasonHash", "Reason (hash)", "hash"))),
    (R, "setCapacity"): Spec(
        "participants.set-capacity", "Set certified capacity",
        "Set the certified capacity of {participantId} for {materialId} to {amount}",
        "{signer} certifies that {participantId} may produce up to {amount} of {materialId} from {validFrom} to "
        "{validTo}",
        (Field("participantId", "Participant", "participant"), Field("materialId", "Material", "material"),
         Field("validFrom", "Valid from", "date"), Field("validTo", "Valid to", "date"),
         Field("amount", "Capacity", "quantity", "materialId")),
        (("participantId", "certified"),)),
    (R, "registerMaterial"): Spec(
        "processes.register-material", "Register material", "Register material {name} measured in {unit}",
        "{signer} adds the material {name} (unit {unit}, group {group}, waste: {waste}) to the consortium's list",
        (Field("name", "Material", "text"), Field("unit", "Unit", "text"), Field("group", "Conversion group", "raw"),
         Field("waste", "Waste or residue", "bool"))),
    (R, "registerScheme"): Spec(
        "processes.register-scheme", "Register scheme", "Register scheme {name} with {periodLength} periods",
        "{signer} adds the scheme {name}: balancing periods of {periodLength} from {anchor}, credits lapse after "
        "{lapseAfterPeriods} periods (0: never)",
        (Field("name", "Scheme", "text"), Field("periodLength", "Balancing period", "duration"),
         Field("anchor", "First period starts", "date"), Field("lapseAfterPeriods", "Credits lapse after (periods)", "raw"))),
    (R, "registerCharacteristic"): Spec(
        "processes.register-characteristic", "Register characteristic",
        "Register characteristic {name} under {schemeId}",
        "{signer} adds the sustainability characteristic {name} of the scheme {schemeId}",
        (Field("name", "Characteristic", "text"), Field("schemeId", "Scheme", "scheme"))),
    (R, "registerProcess"): Spec(
        "processes.register", "Register process", "Register process {name}: {inputMaterial} to {outputMaterial}",
        "{signer} declares the conversion factor of {name}: {factor} of {outputMaterial} per {inputMaterial}, "
        "outputs down to {tolerance} below it allowed",
        (Field("name", "Process", "text"), Field("inputMaterial", "Input material", "material"),
         Field("outputMaterial", "Output material", "material"), Field("factor", "Conversion factor", "ppm"),
         Field("tolerance", "Tolerance", "ppm"))),
    (L, "createOrigin"): Spec(
        "batches.create", "Create origin batch", "Create an origin batch of {p.quantity} of {p.material}",
        "{signer} declares that it produced {p.quantity} of {p.material} ({p.characteristic}, {p.model}, certified "
        "share {p.share}) on {p.productionDate}, on the plot and with the evidence hashed here (due-diligence "
        "statement {p.ddsReference})",
        (Field("p.material", "Material", "material"), Field("p.characteristic", "Characteristic", "characteristic"),
         Field("p.model", "Model", "model"), Field("p.share", "Certified share", "ppm"),
         Field("p.quantity", "Quantity", "quantity", "p.material"), Field("p.geolocationHash", "Plot (GeoJSON hash)", "hash"),
         Field("p.ddsReference", "Due-diligence statement", "text"), Field("p.evidenceHash", "Evidence (hash)", "hash"),
         Field("p.productionDate", "Production date", "date"))),
    (L, "split"): Spec(
        "batches.split", "Split batch", "Split {batchId} into {quantities}",
        "{signer} splits {batchId} it holds into batches of {quantities}",
        (Field("batchId", "Batch", "batch"), Field("quantities.[]", "Child quantities", "quantity", "batch:batchId"))),
    (L, "merge"): Spec(
        "batches.merge", "Merge batches", "Merge {batchIds} into one batch under {model}",
        "{signer} merges {quantities} of {batchIds} it holds into one batch under {model}",
        (Field("batchIds.[]", "Batches", "batch"), Field("quantities.[]", "Quantities", "quantity", "batch:batchIds.[]"),
         Field("model", "Model of the merged batch", "model"))),
    (L, "transform"): Spec(
        "batches.transform", "Transform", "Turn {quantities} of {batchIds} into {outputQuantity} by {processId}",
        "{signer} declares that {processId} turned {quantities} of {batchIds} into {outputQuantity} under {model}, "
        "converting {creditsToConvert} of credits",
        (Field("processId", "Process", "process"), Field("batchIds.[]", "Input batches", "batch"),
         Field("quantities.[]", "Input quantities", "quantity", "batch:batchIds.[]"),
         Field("outputQuantity", "Output quantity", "quantity", "process:processId"),
         Field("model", "Model of the output", "model"),
         Field("creditsToConvert", "Credits converted", "quantity", "batch:batchIds.[]"))),
    (L, "consume"): Spec(
        "batches.consume", "Consume", "Take {quantity} of {batchId} out of the chain ({reason})",
        "{signer} declares {quantity} of {batchId} {reason}, reference hashed here",
        (Field("batchId", "Batch", "batch"), Field("quantity", "Quantity", "quantity", "batch:batchId"),
         Field("reason", "Reason", "reason"), Field("ref", "Reference (hash)", "hash"))),
    (MB, "moveCredits"): Spec(
        "mass-balance.move-credits", "Move credits", "Move {amount} of credits from {fromMaterial} to {toMaterial}",
        "{signer} moves {amount} of {characteristic} credits of its site from {fromMaterial} to {toMaterial}",
        (Field("fromMaterial", "From material", "material"), Field("toMaterial", "To material", "material"),
         Field("characteristic", "Characteristic", "characteristic"),
         Field("amount", "Amount", "quantity", "fromMaterial"))),
    (MB, "roll"): Spec(
        "mass-balance.roll", "Roll credit account", "Bring credit account {key} up to the current period",
        "{signer} closes the ended balancing periods of account {key}",
        (Field("key", "Credit account", "account"),)),
    (C, "pledgeCredits"): Spec(
        "certificates.pledge-credits", "Pledge credits", "Pledge {quantity} of {material} credits for certificates",
        "{signer} takes {quantity} of {characteristic} credits of {material} out of the physical chain for a book & "
        "claim issuance",
        (Field("material", "Material", "material"), Field("characteristic", "Characteristic", "characteristic"),
         Field("quantity", "Quantity", "quantity", "material"))),
    (C, "pledgeBatch"): Spec(
        "certificates.pledge-batch", "Pledge batch", "Pledge {quantity} of {batchId} for certificates",
        "{signer} releases the sustainability attributes of {quantity} of {batchId} for a book & claim issuance; the "
        "material continues uncertified",
        (Field("batchId", "Batch", "batch"), Field("quantity", "Quantity", "quantity", "batch:batchId"))),
    (C, "issue"): Spec(
        "certificates.issue", "Issue certificates", "Issue {p.amount} certificates to {p.to} for {p.producer}",
        "{signer} certifies that {p.producer} produced {p.amount} units of {p.unitSize} of {p.material} "
        "({p.characteristic}) from {p.periodStart} to {p.periodEnd}, with the evidence hashed here (pledge {p.pledgeId})",
        (Field("p.producer", "Producer", "participant"), Field("p.to", "Recipient", "wallet"),
         Field("p.amount", "Units", "amount", "p.unitLabel"), Field("p.unitSize", "Each unit", "quantity", "p.material"),
         Field("p.unitLabel", "Unit label", "text"), Field("p.material", "Material", "material"),
         Field("p.characteristic", "Characteristic", "characteristic"), Field("p.periodStart", "Production from", "date"),
         Field("p.periodEnd", "Production to", "date"), Field("p.evidenceHash", "Evidence (hash)", "hash"),
         Field("p.pledgeId", "Pledge", "raw")),
        (("p.producer", "producer"), ("p.to", "recipient"))),
    (C, "revoke"): Spec(
        "certificates.revoke", "Revoke certificates", "Revoke every unretired unit of {certificateId}",
        "{signer} revokes {certificateId} for the reason hashed here",
        (Field("certificateId", "Certificate", "certificate"), Field("reasonHash", "Reason (hash)", "hash"))),
    (C, "retire"): Spec(
        "certificates.retire", "Retire certificates", "Retire {amount} of {certificateId} for {beneficiary}",
        "{signer} retires {amount} of {certificateId} for {beneficiary}, claim period {periodStart} to {periodEnd}, "
        "purpose hashed here",
        (Field("certificateId", "Certificate", "certificate"), Field("amount", "Units", "amount"),
         Field("beneficiary", "Beneficiary", "text"), Field("periodStart", "Claim period from", "date"),
         Field("periodEnd", "Claim period to", "date"), Field("purposeHash", "Purpose (hash)", "hash"))),
    (C, "safeTransferFrom"): Spec(
        "certificates.transfer", "Transfer certificates", "Transfer {value} of {id} to {to}",
        "{signer} transfers {value} of {id} to {to}",
        (Field("from", "From", "wallet"), Field("to", "To", "wallet"), Field("id", "Certificate", "certificate"),
         Field("value", "Units", "amount"), Field("data", "Data", "raw")),
        (("to", "recipient"),)),
}

#: EIP-712 primary type of the batch ledger's own custody messages -> meaning
MESSAGES: dict[str, Spec] = {
    "CustodyTransfer": Spec(
        "batches.transfer", "Propose custody transfer", "Transfer {quantity} of {batchId} from {from} to {to}",
        "{from} declares {certifiedQuantity} of the {quantity} transferred as certified",
        (Field("batchId", "Batch", "batch"), Field("from", "From", "wallet"), Field("to", "To", "wallet"),
         Field("quantity", "Quantity", "quantity", "batch:batchId"),
         Field("certifiedQuantity", "Declared certified quantity", "quantity", "batch:batchId"),
         Field("nonce", "Nonce", "raw"), Field("deadline", "Offer valid until", "date")),
        (("from", "sender"), ("to", "receiver"))),
    "AcceptTransfer": Spec(
        "batches.accept", "Accept custody transfer", "Accept {quantity} of {batchId} from {transfer.from}",
        "{signer} accepts custody of {quantity} of {batchId} from {transfer.from}, of which {transfer.from} declared "
        "{transfer.certifiedQuantity} certified",
        (Field("transferId", "Transfer", "raw"), Field("batchId", "Batch", "batch"),
         Field("quantity", "Quantity", "quantity", "batch:batchId"), Field("deadline", "Signature valid until", "date"))),
    "RejectTransfer": Spec(
        "batches.reject", "Reject custody transfer", "Reject transfer {transferId}",
        "{signer} refuses the goods offered in transfer {transferId}",
        (Field("transferId", "Transfer", "raw"), Field("deadline", "Signature valid until", "date"))),
    "CancelTransfer": Spec(
        "batches.cancel", "Cancel custody transfer", "Cancel transfer {transferId}",
        "{signer} withdraws its offer {transferId}",
        (Field("transferId", "Transfer", "raw"), Field("deadline", "Signature valid until", "date"))),
}

#: the ERC-2771 envelope every forwarded call is signed in
FORWARD_REQUEST: tuple[Field, ...] = (
    Field("from", "Signer", "wallet"), Field("to", "Contract", "raw"), Field("value", "Value", "raw"),
    Field("gas", "Gas limit", "raw"), Field("nonce", "Nonce", "raw"), Field("deadline", "Valid until", "date"),
    Field("data", "Call", "raw"),
)
