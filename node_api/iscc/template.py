"""The ISCC PLUS sustainability declaration template v4.0, mapped onto this ledger's facts: the one place that
says which template field comes from which event.

The exact template (its layout, wording and numbering) sits behind ISCC's login and is not reproduced here.
This mapping is built from ISCC's public description of the v4.0 system update of 23 March 2026 (mandatory
information from 1 January 2027): a declaration accompanies each delivery and names supplier and recipient
with their certificate numbers, the dispatch and receipt addresses, the date, the material, the quantity, the
chain-of-custody method and the certified share or the credits applied; v4.0 adds the characteristics of the
inputs, the extent of input compensation and credit transfer between sites of one company (applied upstream
or by the user). When the real template is at hand, adjust the labels here; the JSON keys are this ledger's.

Every figure of a declaration carries the event it comes from (``evidence``: event name, transaction hash,
block number and log index), so it can be checked against the chain (``coc-audit declaration FILE``).
"""

from __future__ import annotations

from node_api.domain import Model

TEMPLATE_NAME = "ISCC PLUS Sustainability Declaration"
TEMPLATE_VERSION = "4.0"
DOCUMENT_TYPE = "IsccPlusSustainabilityDeclaration"

#: ISO 22095 model of the ledger -> the chain-of-custody method as ISCC PLUS names it
COC_METHOD: dict[int, str] = {
    Model.MASS_BALANCE: "Mass balance",
    Model.CONTROLLED_BLENDING: "Controlled blending",
    Model.SEGREGATED: "Physical segregation",
    Model.IDENTITY_PRESERVED: "Identity preservation",
}

#: (template field, JSON path in the declaration, the ledger fact it is taken from). In template order.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("Unique number of the sustainability declaration", "id",
     "urn:coc:<chain>:<ledger>:iscc-plus-sd:<transfer id> (the custody transfer's EIP-712 id)"),
    ("Date of dispatch / delivery", "delivery.date",
     "UTC date of the block of CustodyAccepted (the recipient's signed acceptance)"),
    ("Supplier: name", "supplier.name", "ParticipantRegistered of the sender wallet's participant"),
    ("Supplier: certificate number", "supplier.certificate.certificate_number",
     "CertificationRecorded: the newest certification of the supplier valid at the acceptance for the material, "
     "characteristic and method"),
    ("Address of dispatch", "dispatch_address", "SiteAdded of the sender wallet's site at the proposal"),
    ("Recipient: name", "recipient.name", "ParticipantRegistered of the receiving wallet's participant"),
    ("Recipient: certificate number", "recipient.certificate.certificate_number",
     "CertificationRecorded, as for the supplier"),
    ("Address of receipt", "receipt_address", "SiteAdded of the receiving wallet's site at the acceptance"),
    ("Type of product / material", "material", "MaterialRegistered, through BatchCreated of the delivered batch"),
    ("Quantity (with unit)", "quantity", "CustodyProposed.quantity, in the material's base unit"),
    ("Chain-of-custody method", "chain_of_custody_method", "BatchCreated.model of the delivered batch"),
    ("Sustainability characteristic", "sustainability_characteristic",
     "BatchCreated.characteristic, CharacteristicRegistered, SchemeRegistered"),
    ("Certified share (physical methods)", "certified_share", "BatchCreated.share (ppm of the batch)"),
    ("Credits applied (mass balance)", "credits_applied",
     "CreditsBooked (entry out, reason delivery, ref = transfer id) on the supplier's site account"),
    ("Certified quantity", "certified_quantity",
     "mass balance: CustodyProposed.certifiedQuantity; physical: quantity x share, rounded down"),
    ("Characteristics of the inputs", "input_characteristics",
     "the characteristic and its scheme, waste/residue status of the material (MaterialRegistered.waste), and "
     "for physical methods the origin batches of the lineage that carry it (BatchCreated, kind origin)"),
    ("Extent of input compensation", "extent_of_input_compensation",
     "certified quantity / delivered quantity in ppm (mass balance: credits applied; physical: the share)"),
    ("Credit transfer between sites of one company", "multi_site_credit_transfer",
     "accepted mass-balance deliveries between two sites of the supplier's company: this one (applied by the "
     "user) and those that brought credits of the same material and characteristic to the dispatch site before "
     "this delivery was proposed (applied upstream)"),
)
