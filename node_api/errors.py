"""Every refusal as an HTTP answer a person understands.

One table, ``CONTRACT_ERRORS``, maps each custom error of every contract (and the OpenZeppelin
errors they inherit) to an HTTP status and a message naming the rule and the values:
403 permission (role, certification, suspension, signature), 409 rule or state conflict, 404 unknown
id. tests/node/test_errors.py checks that every error in every compiled ABI has an entry.
The node's own refusals (before anything reaches the chain) use the same shape.
"""

from __future__ import annotations

from typing import Any

from .domain import CertificationStatus, Model, Role, TransferStatus


def role_names(bits: int) -> str:
    names = Role.names(bits)
    return " or ".join(names) if names else f"roles {bits}"


def _enum(names: list[str], v: Any) -> str:
    """The display name of value ``v`` (names indexed by value); the value itself if it has none."""
    try:
        return names[int(v)]
    except (ValueError, IndexError, TypeError):
        return str(v)


class ApiError(Exception):
    """An error answer: ``status`` HTTP code, ``error`` a stable name, ``message`` for people,
    ``details`` the values (e.g. the decoded contract error arguments)."""

    def __init__(self, status: int, error: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "details": jsonable(self.details)}


def jsonable(v: Any) -> Any:
    """Decoded contract values as JSON can carry them (bytes as 0x-hex)."""
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


# name -> (status, message template over the error's arguments; {model}, {role_name}... are derived)
CONTRACT_ERRORS: dict[str, tuple[int, str]] = {
    # ------------------------------------------------------------ participant registry
    "RegistryUnknownWallet": (403, "wallet {wallet} is not registered with any participant of the consortium"),
    "RegistryWalletAlreadyRegistered": (409, "wallet {wallet} is already bound to participant {participantId}"),
    "RegistryUnknownParticipant": (404, "participant {participantId} does not exist"),
    "RegistryParticipantSuspended": (403, "participant {participantId} is suspended and can do nothing until reactivated"),
    "RegistryMissingRole": (403, "wallet {wallet} (participant {participantId}) lacks the {role_name} role this action needs"),
    "RegistryInvalidRoles": (409, "roles {roles} are not a valid non-empty set of roles"),
    "RegistryUnknownSite": (404, "site {siteId} does not exist"),
    "RegistrySiteNotOwned": (409, "site {siteId} does not belong to participant {participantId}"),
    "RegistryWalletHasNoSite": (409, "wallet {wallet} has no site: stock and credit accounts are kept per site"),
    "RegistryNotCertified": (
        403,
        "participant {participantId} holds no valid certification for material {material}, characteristic "
        "{characteristic} under the {model_name} model at this time",
    ),
    "RegistryUnknownCertification": (404, "certification {certificationId} does not exist"),
    "RegistryNotCertificationOwner": (
        403, "certification {certificationId} was recorded by another certifier than participant {participantId}"
    ),
    "RegistryInvalidCertification": (409, "invalid certification: {field}"),
    "RegistryCertificationStatusChange": (
        409, "certification {certificationId} cannot change from {from_name} to {to_name} (withdrawal is final)"
    ),
    "RegistryCapacityExceeded": (
        409,
        "certified capacity exceeded for participant {participantId}, material {material}: "
        "{available} available, {requested} requested",
    ),
    "RegistryInvalidCapacity": (409, "invalid capacity: {field}"),
    "RegistryUnknownMaterial": (404, "material {material} is not registered"),
    "RegistryUnknownCharacteristic": (404, "characteristic {characteristic} is not registered"),
    "RegistryUnknownScheme": (404, "scheme {scheme} is not registered"),
    "RegistryInvalidScheme": (409, "invalid scheme: {field}"),
    "RegistryUnknownProcess": (404, "process {processId} is not registered"),
    "RegistryInvalidProcess": (409, "invalid process: {field}"),
    "RegistryNotLinkedContract": (403, "{caller} is not one of the ledger's linked contracts"),
    "RegistryAlreadyLinked": (409, "the ledger's contracts are already linked"),
    "RegistryCoverageFull": (
        409, "too many overlapping certifications for this holder, material and characteristic ({coverageKey})"
    ),
    "RegistryCoverageBodyLimit": (
        409, "certifier {certifier} already holds two live certifications for this holder, material and "
        "characteristic ({coverageKey})"
    ),
    "RegistryNotCertifyingBody": (
        403, "participant {body} is neither the admin nor the certifying body of participant {participantId} for "
        "material {material} (no live certification it recorded)"
    ),
    "RegistryWalletConsentRequired": (
        403, "participant {participantId} already has a wallet: only a wallet of its own may bind another "
        "({caller} may not)"
    ),
    "RegistryWalletNeedsSite": (
        422, "siteId: wallet {wallet} of participant {participantId} (a supplier or brand, which acts from a site) "
        "must be bound to one of its sites, not site 0: add the site first (participants/add-site) and pass its siteId"
    ),
    "RegistrySitelessWallets": (
        422, "roles: participant {participantId} still has {wallets} wallet(s) bound to no site; the supplier and "
        "brand roles act from a site: remove those wallets (participants/remove-wallet) and bind them at a site first"
    ),
    # ------------------------------------------------------------ batch ledger
    "BatchNotLinkedContract": (403, "{caller} is not the linked certificate registry"),
    # RelayBatch (issue 11): the relayer's carrier of many signed actions
    "BatchItemNotAllowed": (403, "item {index} of the batch is not a call of a signed entry point of the ledger or the forwarder"),
    "ReentrancyGuardReentrantCall": (409, "a call re-entered the relay batch while it was running its items (refused)"),
    "BatchAlreadyLinked": (409, "the batch ledger is already linked"),
    "BatchUnknown": (404, "batch {batchId} does not exist"),
    "BatchZeroQuantity": (409, "a quantity of zero is not allowed"),
    "BatchLengthMismatch": (409, "{ids} batch ids but {quantities} quantities (must be equal and non-zero)"),
    "BatchInvalidOrigin": (409, "invalid origin batch: {field}"),
    "BatchTransferRequiresSignatures": (
        409, "custody moves only through the signed handshake, never by a plain token transfer"
    ),
    "BatchInvalidTransfer": (409, "invalid custody transfer: {field}"),
    "BatchSignatureExpired": (409, "the signature expired at {deadline} (chain time {timestamp})"),
    "BatchInvalidSignature": (403, "the signature is not from {expectedSigner}, who must sign this message"),
    "BatchTransferNotPending": (409, "transfer {transferId} is not pending (it is {status_name})"),
    "BatchDeclarationNotAllowed": (
        409, "batch {batchId} is {model_name}: only a mass-balance delivery carries a declared certified quantity"
    ),
    "BatchDeclarationExceedsQuantity": (
        409, "declared certified quantity {certifiedQuantity} exceeds the delivered quantity {quantity}"
    ),
    "BatchMaterialMismatch": (409, "batch {batchId} is material {actual}, expected material {expected}"),
    "BatchCharacteristicMismatch": (
        409, "batch {batchId} has characteristic {actual}; inputs must all have characteristic {expected}"
    ),
    "BatchIdentityPreservedMixed": (
        409, "identity preserved allows one origin only: batch {batchId} comes from origin {origin}, not {expectedOrigin}"
    ),
    "BatchModelUpgrade": (
        409, "batch {batchId} is {inputModel_name}: its output cannot claim the stronger {requested_name} model"
    ),
    "BatchNoCertifiedInput": (409, "the requested model needs at least one certified input"),
    "BatchNotCertified": (409, "batch {batchId} carries no certified claim"),
    "BatchTransformExceedsFactor": (
        409, "output {output} exceeds the process conversion factor: at most {maximum} from these inputs"
    ),
    "BatchTransformBelowTolerance": (
        409, "output {output} is below the process tolerance: at least {minimum} from these inputs"
    ),
    "BatchConversionExceedsInput": (409, "cannot convert {credits} credits with only {input} of input"),
    "BatchEvidenceAlreadyUsed": (
        409, "evidence {evidenceHash} already backs batch {batchId} / certificate {certificateId}: "
        "one production record backs one claim only"
    ),
    # ------------------------------------------------------------ mass balance
    "MassBalanceNotLinkedContract": (403, "{caller} is not a linked ledger contract"),
    "MassBalanceAlreadyLinked": (409, "the mass-balance contract is already linked"),
    "MassBalanceInsufficientCredits": (
        409, "not enough mass-balance credits in account {account}: balance {balance}, requested {requested}"
    ),
    "MassBalanceZeroAmount": (409, "a credit amount of zero is not allowed"),
    "MassBalanceMaterialGroupMismatch": (
        409, "credits move only between different materials of one conversion-factor group: {fromMaterial} -> {toMaterial}"
    ),
    "MassBalanceWasteToRegular": (
        409, "credits never move from waste or residue (material {fromMaterial}) to regular material {toMaterial}"
    ),
    "MassBalanceConversionExceedsInput": (409, "cannot convert {credits} credits with only {inputQuantity} of input"),
    # ------------------------------------------------------------ certificates (book & claim)
    "CertificateUnknown": (404, "certificate {certificateId} does not exist"),
    "CertificateInvalid": (409, "invalid certificate issuance: {field}"),
    "CertificateEvidenceBacksBatch": (
        409, "evidence {evidenceHash} already backs batch {batchId}: it cannot also back certificates"
    ),
    "CertificateEvidenceAlreadyUsed": (
        409, "evidence {evidenceHash} already backs certificate {certificateId}: evidence can back one issuance only"
    ),
    "CertificateRevoked": (409, "certificate {certificateId} is revoked: it can neither move nor be retired"),
    "CertificateNotIssuer": (403, "participant {participantId} did not issue certificate {certificateId}"),
    "CertificateNothingToRevoke": (409, "certificate {certificateId} has no unretired units left to revoke"),
    "CertificatePledgeUnusable": (409, "pledge {pledgeId} does not exist or was already used"),
    "CertificatePledgeMismatch": (409, "pledge {pledgeId} does not match the issuance: {field}"),
    "CertificateUnknownRetirement": (404, "retirement {retirementId} does not exist"),
    # ------------------------------------------------------------ product identifiers (GS1 Digital Link, issue 14)
    "IdentifierInvalidGtin": (409, "gtin {gtin}: not a GTIN (up to 14 digits with a valid GS1 check digit)"),
    "IdentifierInvalidValue": (409, "lot or serial {value!r}: 1 to 20 characters of GS1 character set 82"),
    "IdentifierNotHolder": (403, "wallet {wallet} holds none of batch {batchId}: only a holder binds identifiers"),
    "IdentifierAlreadyBound": (409, "the identifier is already bound to batch {batchId} (key {key})"),
    # ------------------------------------------------------------ EUDR due-diligence statements (issue 14)
    "DdsNotTraceable": (409, "batch {batchId} is not EUDR-traceable (status {status}): no due-diligence statement "
                        "can be recorded for it"),
    "DdsNotHolder": (403, "wallet {wallet} holds none of batch {batchId}: only a holder records its statement"),
    "DdsInvalid": (409, "invalid statement record: {field} must be 1 to 64 characters (a hash: not zero)"),
    "DdsDuplicateReference": (409, "statement {referenceNumber} is already recorded for batch {batchId}"),
    "DdsUnknown": (404, "batch {batchId} has no statement {index}"),
    "DdsNotOperator": (403, "statement {index} of batch {batchId} was recorded by another participant than {participantId}"),
    "DdsAlreadyRetracted": (409, "statement {index} of batch {batchId} was retracted"),
    # ------------------------------------------------------------ OpenZeppelin
    "ERC1155InsufficientBalance": (
        409, "{sender} holds {balance} of token {tokenId}, {needed} needed"
    ),
    "ERC1155InvalidApprover": (409, "invalid approver {approver}"),
    "ERC1155InvalidArrayLength": (409, "{idsLength} ids but {valuesLength} values"),
    "ERC1155InvalidOperator": (409, "invalid operator {operator}"),
    "ERC1155InvalidReceiver": (409, "invalid receiver {receiver}"),
    "ERC1155InvalidSender": (409, "invalid sender {sender}"),
    "ERC1155MissingApprovalForAll": (403, "{operator} is not approved to move tokens of {owner}"),
    "InvalidAccountNonce": (409, "nonce already used or out of order for {account}: the next nonce is {currentNonce}"),
    "InvalidShortString": (409, "invalid short string"),
    "SafeCastOverflowedUintDowncast": (409, "value {value} does not fit in {bits} bits"),
    "StringTooLong": (409, "string too long: {str}"),
    "ERC2771ForwarderExpiredRequest": (409, "the signed request expired at {deadline}"),
    "ERC2771ForwarderInvalidSigner": (
        403, "the request is signed by {signer}, not by {from} (or its nonce is not the signer's next one)"
    ),
    "ERC2771ForwarderMismatchedValue": (409, "request value {requestedValue} differs from the value sent {msgValue}"),
    "ERC2771ForwarderNoRefundReceiver": (409, "no refund receiver"),
    "ERC2771UntrustfulTarget": (403, "contract {target} does not trust forwarder {forwarder}"),
    "FailedCall": (409, "the forwarded call failed"),
    "InsufficientBalance": (409, "balance {balance} is below {needed}"),
    # ------------------------------------------------------------ generic reverts
    "Error": (409, "reverted: {message}"),
    "Panic": (409, "the contract panicked (code {code})"),
    "": (409, "the transaction reverted without a reason (out of gas?)"),
}


def _derived(name: str, args: dict[str, Any]) -> dict[str, Any]:
    out = dict(args)
    if "role" in args:
        out["role_name"] = role_names(args["role"])
    if "model" in args:
        out["model_name"] = _enum(Model.labels(), args["model"])
    for k in ("inputModel", "requested"):
        if k in args:
            out[f"{k}_name"] = _enum(Model.labels(), args[k])
    if name == "BatchTransferNotPending":
        out["status_name"] = _enum(TransferStatus.labels(), args.get("status"))
    if name == "RegistryCertificationStatusChange":
        out["from_name"] = _enum(CertificationStatus.labels(), args.get("from"))
        out["to_name"] = _enum(CertificationStatus.labels(), args.get("to"))
    for k, v in list(out.items()):
        if isinstance(v, (bytes, bytearray)):
            out[k] = "0x" + bytes(v).hex()
    return out


#: contract errors that refuse one input of the call, by the input's name in the node's API
INPUT_FIELDS: dict[str, str] = {"RegistryWalletNeedsSite": "siteId", "RegistrySitelessWallets": "roles"}


def contract_error(name: str, args: dict[str, Any], *, tx_hash: str | None = None) -> ApiError:
    """The ApiError for a decoded revert ``name(args)``."""
    status, template = CONTRACT_ERRORS.get(name, (409, "reverted with " + (name or "no reason")))
    try:
        message = template.format(**_derived(name, args))
    except (KeyError, IndexError):
        message = template
    details: dict[str, Any] = {"contractError": name or None, "args": jsonable(args)}
    if name in INPUT_FIELDS:  # a rule about one input: name it like the node's own 422s
        details["field"] = INPUT_FIELDS[name]
    if tx_hash:
        details["txHash"] = tx_hash
    return ApiError(status, name or "Reverted", message, details)


def chain_unavailable(detail: str) -> ApiError:
    return ApiError(503, "ChainUnavailable", f"the chain is unreachable; nothing was done ({detail})")
