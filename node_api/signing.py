"""EIP-712 typed data for every message a participant signs, and local signing.

One place builds the typed data exactly as wallets take it for ``eth_signTypedData_v4``
(domain, types, primaryType, message). The node's ``prepare`` endpoints, the supplier's CLI,
the tests and the auditor's signature recovery all use these builders, so a message signed
anywhere hashes the same way the contracts hash it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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

_TRANSFER_TYPE = (
    "CustodyTransfer(uint256 batchId,address from,address to,uint256 quantity,"
    "uint256 certifiedQuantity,uint256 nonce,uint256 deadline)"
)
TRANSFER_TYPEHASH = keccak(text=_TRANSFER_TYPE)


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
        m = self.message()
        encoded = TRANSFER_TYPEHASH
        for field in CUSTODY_TRANSFER:
            value = m[field["name"]]
            if field["type"] == "address":
                encoded += bytes(12) + bytes.fromhex(value[2:])
            else:
                encoded += int(value).to_bytes(32, "big")
        return keccak(encoded)

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
