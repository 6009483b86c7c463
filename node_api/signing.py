"""EIP-712 for every message a participant signs: typed data, digests, signing and recovery.

Two paths over the same definitions, in one module:

- the typed data exactly as wallets take it for ``eth_signTypedData_v4`` (domain, types,
  primaryType, message), with eth-account's ``digest``/``sign_typed``/``recover_typed``. The node's
  ``prepare`` endpoints, the supplier's CLI and the tests build what they sign with these builders;
- the node's hot path (every submit): the same digests recomputed with plain keccak over the ABI
  encoding (``typed_digest`` of a domain separator and a struct hash) and signer recovery with
  libsecp256k1 (coincurve), about 50x faster than ``encode_typed_data`` +
  ``Account.recover_message``. tests/node/test_units.py checks both paths agree. ``recover``
  follows OpenZeppelin's ECDSA (65 bytes, v in {27, 28}, low s only), so a signature the node
  accepts is one the contracts accept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from coincurve import PublicKey
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

LEDGER_DOMAIN_NAME = "CocBatchLedger"
LEDGER_DOMAIN_VERSION = "1"
FORWARDER_DOMAIN_NAME = "CocForwarder"
FORWARDER_DOMAIN_VERSION = "1"

EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

CUSTODY_TRANSFER = [
    {"name": "batchId", "type": "uint256"},
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "quantity", "type": "uint256"},
    {"name": "certifiedQuantity", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
ACCEPT_TRANSFER = [
    {"name": "transferId", "type": "bytes32"},
    {"name": "batchId", "type": "uint256"},
    {"name": "quantity", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
REJECT_TRANSFER = [
    {"name": "transferId", "type": "bytes32"},
    {"name": "deadline", "type": "uint256"},
]
CANCEL_TRANSFER = REJECT_TRANSFER
FORWARD_REQUEST = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "gas", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint48"},
    {"name": "data", "type": "bytes"},
]

def _encode_type(primary: str, fields: list[dict[str, str]]) -> str:
    """EIP-712 ``encodeType`` of a struct without nested structs: ``Name(type name,...)``."""
    return f"{primary}({','.join(f['type'] + ' ' + f['name'] for f in fields)})"


# Type hashes derived from the field lists above, so the fast path cannot drift from the typed data.
DOMAIN_TYPEHASH = keccak(text=_encode_type("EIP712Domain", EIP712_DOMAIN))
TRANSFER_TYPEHASH = keccak(text=_encode_type("CustodyTransfer", CUSTODY_TRANSFER))
ACCEPT_TYPEHASH = keccak(text=_encode_type("AcceptTransfer", ACCEPT_TRANSFER))
REJECT_TYPEHASH = keccak(text=_encode_type("RejectTransfer", REJECT_TRANSFER))
CANCEL_TYPEHASH = keccak(text=_encode_type("CancelTransfer", CANCEL_TRANSFER))
FORWARD_TYPEHASH = keccak(text=_encode_type("ForwardRequest", FORWARD_REQUEST))

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2


class BadSignature(ValueError):
    """A signature OpenZeppelin's ECDSA would refuse (length, v, high s) or that does not recover."""


def _u(v: int) -> bytes:
    return int(v).to_bytes(32, "big")


def _a(addr: str) -> bytes:
    return bytes(12) + bytes.fromhex(addr[2:] if addr.startswith("0x") else addr)


@dataclass(frozen=True)
class CustodyTransfer:
    """The holder's signed offer; its EIP-712 struct hash is the transfer id on chain."""

    batchId: int
    from_: str
    to: str
    quantity: int
    certifiedQuantity: int
    nonce: int
    deadline: int

    def message(self) -> dict[str, Any]:
        d = asdict(self)
        d["from"] = to_checksum_address(d.pop("from_"))
        d["to"] = to_checksum_address(d["to"])
        return d

    def as_tuple(self) -> tuple:
        """The struct as the contract ABI takes it."""
        m = self.message()
        return tuple(m[f["name"]] for f in CUSTODY_TRANSFER)

    def transfer_id(self) -> bytes:
        """The EIP-712 struct hash (what ``BatchLedger`` stores as the transfer id)."""
        return keccak(
            TRANSFER_TYPEHASH + _u(self.batchId) + _a(self.from_) + _a(self.to) + _u(self.quantity)
            + _u(self.certifiedQuantity) + _u(self.nonce) + _u(self.deadline)
        )

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> "CustodyTransfer":
        return cls(
            batchId=int(m["batchId"]),
            from_=to_checksum_address(m["from"]),
            to=to_checksum_address(m["to"]),
            quantity=int(m["quantity"]),
            certifiedQuantity=int(m["certifiedQuantity"]),
            nonce=int(m["nonce"]),
            deadline=int(m["deadline"]),
        )


def domain(name: str, version: str, chain_id: int, contract: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(contract),
    }


def ledger_domain(chain_id: int, ledger: str) -> dict[str, Any]:
    return domain(LEDGER_DOMAIN_NAME, LEDGER_DOMAIN_VERSION, chain_id, ledger)


def _typed(dom: dict[str, Any], primary: str, fields: list[dict], message: dict[str, Any]) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN, primary: fields},
        "primaryType": primary,
        "domain": dom,
        "message": message,
    }


def transfer_typed_data(chain_id: int, ledger: str, t: CustodyTransfer) -> dict[str, Any]:
    return _typed(ledger_domain(chain_id, ledger), "CustodyTransfer", CUSTODY_TRANSFER, t.message())


def accept_typed_data(chain_id: int, ledger: str, t: CustodyTransfer, deadline: int) -> dict[str, Any]:
    message = {
        "transferId": "0x" + t.transfer_id().hex(),
        "batchId": t.batchId,
        "quantity": t.quantity,
        "deadline": deadline,
    }
    return _typed(ledger_domain(chain_id, ledger), "AcceptTransfer", ACCEPT_TRANSFER, message)


def reject_typed_data(chain_id: int, ledger: str, t: CustodyTransfer, deadline: int) -> dict[str, Any]:
    message = {"transferId": "0x" + t.transfer_id().hex(), "deadline": deadline}
    return _typed(ledger_domain(chain_id, ledger), "RejectTransfer", REJECT_TRANSFER, message)


def cancel_typed_data(chain_id: int, ledger: str, t: CustodyTransfer, deadline: int) -> dict[str, Any]:
    message = {"transferId": "0x" + t.transfer_id().hex(), "deadline": deadline}
    return _typed(ledger_domain(chain_id, ledger), "CancelTransfer", CANCEL_TRANSFER, message)


def forward_request_typed_data(
    chain_id: int,
    forwarder: str,
    *,
    sender: str,
    to: str,
    data: bytes,
    nonce: int,
    deadline: int,
    gas: int,
    value: int = 0,
) -> dict[str, Any]:
    message = {
        "from": to_checksum_address(sender),
        "to": to_checksum_address(to),
        "value": value,
        "gas": gas,
        "nonce": nonce,
        "deadline": deadline,
        "data": "0x" + bytes(data).hex(),
    }
    dom = domain(FORWARDER_DOMAIN_NAME, FORWARDER_DOMAIN_VERSION, chain_id, forwarder)
    return _typed(dom, "ForwardRequest", FORWARD_REQUEST, message)


def digest(typed: dict[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest that a wallet signs for `typed`."""
    signable = encode_typed_data(full_message=typed)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_typed(private_key: bytes | str, typed: dict[str, Any]) -> bytes:
    """Signs typed data locally: the key never leaves this process."""
    return bytes(Account.sign_message(encode_typed_data(full_message=typed), private_key).signature)


def recover_typed(typed: dict[str, Any], signature: bytes) -> str:
    return Account.recover_message(encode_typed_data(full_message=typed), signature=signature)


# ---------------------------------------------------------------------------- the fast path


def domain_separator(name: str, version: str, chain_id: int, contract: str) -> bytes:
    return keccak(DOMAIN_TYPEHASH + keccak(text=name) + keccak(text=version) + _u(chain_id) + _a(contract))


def ledger_separator(chain_id: int, ledger: str) -> bytes:
    return domain_separator(LEDGER_DOMAIN_NAME, LEDGER_DOMAIN_VERSION, chain_id, ledger)


def forwarder_separator(chain_id: int, forwarder: str) -> bytes:
    return domain_separator(FORWARDER_DOMAIN_NAME, FORWARDER_DOMAIN_VERSION, chain_id, forwarder)


def typed_digest(separator: bytes, struct_hash: bytes) -> bytes:
    """``keccak(0x1901 || domainSeparator || structHash)``: equals ``digest(typed)`` for the same message."""
    return keccak(b"\x19\x01" + separator + struct_hash)


def accept_hash(transfer_id: bytes, batch_id: int, quantity: int, deadline: int) -> bytes:
    return keccak(ACCEPT_TYPEHASH + transfer_id + _u(batch_id) + _u(quantity) + _u(deadline))


def reject_hash(transfer_id: bytes, deadline: int) -> bytes:
    return keccak(REJECT_TYPEHASH + transfer_id + _u(deadline))


def cancel_hash(transfer_id: bytes, deadline: int) -> bytes:
    return keccak(CANCEL_TYPEHASH + transfer_id + _u(deadline))


def forward_hash(m: dict[str, Any]) -> bytes:
    """Struct hash of a ForwardRequest message (``data`` as 0x-hex or bytes)."""
    data = m["data"]
    data_b = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
    return keccak(
        FORWARD_TYPEHASH
        + _a(m["from"])
        + _a(m["to"])
        + _u(int(m["value"]))
        + _u(int(m["gas"]))
        + _u(int(m["nonce"]))
        + _u(int(m["deadline"]))
        + keccak(data_b)
    )


def recover(digest: bytes, signature: bytes) -> str:
    """The signer of ``digest`` (checksummed); BadSignature if OpenZeppelin's ECDSA would refuse it."""
    if len(signature) != 65:
        raise BadSignature(f"signature must be 65 bytes, got {len(signature)}")
    v = signature[64]
    if v not in (27, 28):
        raise BadSignature(f"signature v must be 27 or 28, got {v}")
    s = int.from_bytes(signature[32:64], "big")
    if s > _HALF_N:
        raise BadSignature("signature s is in the upper half order (malleable form)")
    try:
        pub = PublicKey.from_signature_and_message(signature[:64] + bytes([v - 27]), digest, hasher=None)
    except Exception as exc:  # noqa: BLE001 - coincurve raises plain Exception subclasses
        raise BadSignature(f"signature does not recover: {exc}") from None
    return to_checksum_address(keccak(pub.format(compressed=False)[1:])[-20:])
