"""The EIP-712 checks the node makes before relaying: the message's domain, the signature's form, and
who signed it (recomputed digest, recovered signer).

The only module of the services that computes digests (the coincurve fast path of
``node_api.signing``, checked against the typed-data builders in tests/node/test_units.py), so the
digest implementation can be swapped in one place.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping

from eth_utils import to_checksum_address

from .. import signing
from ..errors import ApiError

Settle = Literal["accept", "reject", "cancel"]


class Digests:
    """Digests of the messages of one deployment (its forwarder's and its ledger's domains)."""

    def __init__(self, chain_id: int, forwarder: str, ledger: str):
        self.chain_id = chain_id
        self._fwd = signing.forwarder_separator(chain_id, forwarder)
        self._ledger = signing.ledger_separator(chain_id, ledger)

    def forward(self, message: Mapping[str, Any]) -> bytes:
        return signing.typed_digest(self._fwd, signing.forward_hash(message))

    # The custody digests take the transfer id (the CustodyTransfer's struct hash) computed once by
    # the caller: it is the costly part of a custody check.
    def transfer(self, transfer_id: bytes) -> bytes:
        return signing.typed_digest(self._ledger, transfer_id)

    def acceptance(self, transfer_id: bytes, t: signing.CustodyTransfer, deadline: int) -> bytes:
        return signing.typed_digest(self._ledger, signing.accept_hash(transfer_id, t.batchId, t.quantity, deadline))

    def settlement(self, kind: Settle, transfer_id: bytes, t: signing.CustodyTransfer, deadline: int) -> bytes:
        if kind == "accept":
            return self.acceptance(transfer_id, t, deadline)
        if kind == "reject":
            return signing.typed_digest(self._ledger, signing.reject_hash(transfer_id, deadline))
        return signing.typed_digest(self._ledger, signing.cancel_hash(transfer_id, deadline))


def check_domain(typed: Mapping[str, Any], primary: str, name: str, contract: str, chain_id: int) -> None:
    """The typed data is a ``primary`` message of the domain ``name`` at ``contract`` on this chain."""
    dom = typed.get("domain") or {}
    if typed.get("primaryType") != primary:
        raise ApiError(422, "WrongMessageType", f"expected a {primary} message, got {typed.get('primaryType')!r}",
                       {"field": "typedData.primaryType"})
    try:
        ok = (
            dom.get("name") == name
            and int(dom.get("chainId", -1)) == chain_id
            and to_checksum_address(dom.get("verifyingContract", "")) == contract
        )
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise ApiError(
            403, "WrongDomain",
            f"the message is signed for another domain: expected {name} at {contract} on chain {chain_id}",
            {"domain": dom},
        )


def signature_bytes(signature: str, field: str = "signature") -> bytes:
    try:
        b = bytes.fromhex(signature[2:] if signature.startswith("0x") else signature)
    except (ValueError, AttributeError):
        raise ApiError(422, "InvalidRequest", f"{field} is not hex", {"field": field}) from None
    if len(b) != 65:
        raise ApiError(422, "InvalidRequest", f"{field} must be 65 bytes, got {len(b)}", {"field": field})
    return b


def require_signer(digest: bytes, sig: bytes, expected: str, what: str) -> str:
    """The signer recovered from ``sig`` over ``digest``, which must be ``expected``."""
    try:
        who = signing.recover(digest, sig)
    except signing.BadSignature as exc:
        raise ApiError(403, "InvalidSignature", f"invalid signature: {exc}") from None
    if who != expected:
        raise ApiError(
            403, "SignatureMismatch",
            f"the {what} is signed by {who}, but must be signed by {expected}",
            {"recovered": who, "expected": expected},
        )
    return who
