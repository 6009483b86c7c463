"""Signs legacy EIP-155 transactions with libsecp256k1 directly (the relayer's hot path).

eth-account's ``sign_transaction`` spends about 1 ms per transaction validating and converting the
dict; RLP-encoding the nine fields ourselves and signing with coincurve takes about 0.1 ms. The
result is byte-identical to eth-account's for the same fields (tests/node/test_units.py).
"""

from __future__ import annotations

import rlp
from coincurve import PrivateKey
from eth_utils import keccak, to_checksum_address


class TxSigner:
    def __init__(self, private_key: bytes | str, chain_id: int):
        key = bytes.fromhex(private_key[2:] if private_key.startswith("0x") else private_key) if isinstance(private_key, str) else bytes(private_key)
        self._key = PrivateKey(key)
        self.chain_id = int(chain_id)
        self.address = to_checksum_address(keccak(self._key.public_key.format(compressed=False)[1:])[-20:])

    def sign(self, *, nonce: int, gas_price: int, gas: int, to: str, data: bytes, value: int = 0) -> tuple[bytes, str]:
        """(raw transaction, 0x tx hash)."""
        to_b = bytes.fromhex(to[2:])
        fields = [nonce, gas_price, gas, to_b, value, data]
        sighash = keccak(rlp.encode(fields + [self.chain_id, 0, 0]))
        sig = self._key.sign_recoverable(sighash, hasher=None)
        r = int.from_bytes(sig[0:32], "big")
        s = int.from_bytes(sig[32:64], "big")
        v = sig[64] + 35 + 2 * self.chain_id
        raw = rlp.encode(fields + [v, r, s])
        return raw, "0x" + keccak(raw).hex()
