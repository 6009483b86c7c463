"""EIP-712 hashing of the ledger's custody messages and ECDSA recovery, written from the type strings
in contracts/BatchLedger.sol (not from the node's signing module).

Recovery uses libsecp256k1 through coincurve when it is installed (it is eth-account's own
accelerated backend), else eth-keys' pure Python backend.
"""

from __future__ import annotations

from eth_utils import keccak

try:  # eth-utils' own hashing backend, without its argument-checking wrapper (hot path of the replay)
    from eth_hash.auto import keccak as fast_keccak
except ImportError:  # pragma: no cover
    fast_keccak = keccak

TRANSFER_TYPE = (
    "CustodyTransfer(uint256 batchId,address from,address to,uint256 quantity,uint256 certifiedQuantity,"
    "uint256 nonce,uint256 deadline)"
)
ACCEPT_TYPE = "AcceptTransfer(bytes32 transferId,uint256 batchId,uint256 quantity,uint256 deadline)"
REJECT_TYPE = "RejectTransfer(bytes32 transferId,uint256 deadline)"
CANCEL_TYPE = "CancelTransfer(bytes32 transferId,uint256 deadline)"
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
DOMAIN_NAME = "CocBatchLedger"
DOMAIN_VERSION = "1"

TRANSFER_TYPEHASH = keccak(text=TRANSFER_TYPE)
ACCEPT_TYPEHASH = keccak(text=ACCEPT_TYPE)
REJECT_TYPEHASH = keccak(text=REJECT_TYPE)
CANCEL_TYPEHASH = keccak(text=CANCEL_TYPE)

#: secp256k1 group order; OpenZeppelin's ECDSA refuses s in the upper half (malleable signatures).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _w(v: int) -> bytes:
    return v.to_bytes(32, "big")


def _a(addr: str) -> bytes:
    return bytes(12) + bytes.fromhex(addr[2:])


def domain_separator(chain_id: int, ledger: str) -> bytes:
    return fast_keccak(
        keccak(text=DOMAIN_TYPE) + keccak(text=DOMAIN_NAME) + keccak(text=DOMAIN_VERSION) + _w(chain_id) + _a(ledger)
    )


def transfer_struct_hash(batch_id: int, frm: str, to: str, quantity: int, certified: int, nonce: int, deadline: int) -> bytes:
    return fast_keccak(
        TRANSFER_TYPEHASH + _w(batch_id) + _a(frm) + _a(to) + _w(quantity) + _w(certified) + _w(nonce) + _w(deadline)
    )


def accept_struct_hash(transfer_id: bytes, batch_id: int, quantity: int, deadline: int) -> bytes:
    return fast_keccak(ACCEPT_TYPEHASH + transfer_id + _w(batch_id) + _w(quantity) + _w(deadline))


def reject_struct_hash(transfer_id: bytes, deadline: int) -> bytes:
    return fast_keccak(REJECT_TYPEHASH + transfer_id + _w(deadline))


def cancel_struct_hash(transfer_id: bytes, deadline: int) -> bytes:
    return fast_keccak(CANCEL_TYPEHASH + transfer_id + _w(deadline))


def digest(separator: bytes, struct_hash: bytes) -> bytes:
    return fast_keccak(b"\x19\x01" + separator + struct_hash)


try:  # pragma: no branch
    import coincurve  # eth-account's accelerated backend

    def _recover_pub(sig64v: bytes, msg_hash: bytes) -> bytes:
        return coincurve.PublicKey.from_signature_and_message(sig64v, msg_hash, hasher=None).format(compressed=False)[1:]

except ImportError:  # pragma: no cover
    from eth_keys import keys as _keys

    def _recover_pub(sig64v: bytes, msg_hash: bytes) -> bytes:
        return _keys.Signature(signature_bytes=sig64v).recover_public_key_from_msg_hash(msg_hash).to_bytes()


_ADDRESS_OF: dict[bytes, str] = {}


def recover(msg_hash: bytes, signature: bytes) -> tuple[str | None, str]:
    """(lower-case signer address or None, note). Only the 65-byte r,s,v form is an ECDSA signature the
    contract's SignatureChecker accepts offchain-verifiably; anything else can only be an ERC-1271 answer."""
    if len(signature) != 65:
        return None, f"signature of {len(signature)} bytes is not a 65-byte ECDSA signature"
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v in (27, 28):
        v -= 27
    if v not in (0, 1):
        return None, f"invalid v {signature[64]}"
    if s > SECP256K1_N // 2 or s == 0 or r == 0:
        return None, "malleable or zero signature value (OpenZeppelin ECDSA refuses it)"
    try:
        pub = _recover_pub(signature[:64] + bytes([v]), msg_hash)
    except Exception as exc:  # noqa: BLE001 - any recovery failure is an invalid signature
        return None, f"recovery failed: {exc}"
    address = _ADDRESS_OF.get(pub)
    if address is None:
        address = _ADDRESS_OF[pub] = "0x" + fast_keccak(pub)[-20:].hex()
    return address, ""
