"""The paris build (for Clique) rewrites OpenZeppelin's ``mcopy`` (node_api/core/evm_compat.py): the
rewritten copy must behave exactly like ``mcopy``. Both builds of one probe run on the same Anvil and
must return the same bytes for every input, including overlapping moves in both directions, lengths
that are not whole words, and zero lengths; and the cancun build is left untouched."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from node_api.core import compile as build
from node_api.core import evm_compat

pytestmark = pytest.mark.chain

LIB = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
library Move {
    /// Moves len bytes inside buf from offset src to offset dst (mcopy: overlap-safe).
    function move(bytes memory buf, uint256 dst, uint256 src, uint256 len) internal pure returns (bytes memory) {
        assembly ("memory-safe") {
            mcopy(add(add(buf, 0x20), dst), add(add(buf, 0x20), src), len)
        }
        return buf;
    }
}
"""

PROBE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
import {Arrays} from "@openzeppelin/contracts/utils/Arrays.sol";
import {Bytes} from "@openzeppelin/contracts/utils/Bytes.sol";
import {Move} from "./Move.sol";
contract McopyProbe {
    function move(bytes memory b, uint256 d, uint256 s, uint256 n) external pure returns (bytes memory) {
        return Move.move(b, d, s, n);
    }
    function bslice(bytes memory b, uint256 s, uint256 e) external pure returns (bytes memory) {
        return Bytes.slice(b, s, e);
    }
    function bsplice(bytes memory b, uint256 s, uint256 e) external pure returns (bytes memory) {
        return Bytes.splice(b, s, e);
    }
    function breplace(bytes memory b, uint256 p, bytes memory r) external pure returns (bytes memory) {
        return Bytes.replace(b, p, r);
    }
    function bconcat(bytes[] memory bs) external pure returns (bytes memory) {
        return Bytes.concat(bs);
    }
    function asplice(uint256[] memory a, uint256 s, uint256 e) external pure returns (uint256[] memory) {
        return Arrays.splice(a, s, e);
    }
    function aslice(uint256[] memory a, uint256 s, uint256 e) external pure returns (uint256[] memory) {
        return Arrays.slice(a, s, e);
    }
}
"""


def test_rewrite_touches_only_assembly_blocks_that_call_mcopy() -> None:
    src = ('contract C { function f() internal pure { assembly { let x := 1 } }\n'
           'function g(uint a) internal pure { assembly ("memory-safe") { mcopy(a, 0, 32) if 1 { mcopy(0, a, 1) } } } }')
    out = evm_compat.rewrite_mcopy(src)
    assert out.count("function mcopy_pre_cancun(") == 1
    assert "mcopy(" not in out.replace("mcopy_pre_cancun(", "")
    assert "assembly { let x := 1 }" in out
    assert evm_compat.rewrite_mcopy("contract D {}") == "contract D {}"


def test_transient_storage_is_refused_not_rewritten(tmp_path: Path) -> None:
    (tmp_path / "T.sol").write_text("pragma solidity ^0.8.24;\nimport './U.sol';\n")
    (tmp_path / "U.sol").write_text("library U { function f() internal { assembly { tstore(0, 1) } } }\n")
    with pytest.raises(ValueError, match="transient storage"):
        evm_compat.rewritten_sources({(tmp_path / "T.sol").as_posix(): tmp_path / "T.sol"}, Path("/"), [])


def _call(w3, address: str, sig: str, types: list[str], args: list, out: str):
    data = function_signature_to_4byte_selector(sig) + encode(types, args)
    return decode([out], w3.eth.call({"to": address, "data": "0x" + data.hex()}))[0]


def test_paris_copy_equals_mcopy(w3, accounts, tmp_path: Path) -> None:
    (tmp_path / "Move.sol").write_text(LIB)
    probe = tmp_path / "McopyProbe.sol"
    probe.write_text(PROBE)
    built = {evm: build.compile_contracts(sources=[probe], evm_version=evm, build_dir=tmp_path / f"b-{evm}")
             for evm in ("cancun", "paris")}
    assert built["cancun"]["McopyProbe"]["bytecode"] != built["paris"]["McopyProbe"]["bytecode"]
    addresses = {}
    for evm, arts in built.items():
        c = w3.eth.contract(abi=arts["McopyProbe"]["abi"], bytecode=arts["McopyProbe"]["bytecode"])
        h = c.constructor().transact({"from": accounts[0].address})
        addresses[evm] = w3.eth.wait_for_transaction_receipt(h)["contractAddress"]
    rng = random.Random(12)
    cases = 0
    for _ in range(60):
        n = rng.choice([0, 1, 31, 32, 33, 64, 65, 100, 130])
        b = bytes(rng.randrange(256) for _ in range(n))
        ln = rng.randrange(0, n + 1)
        d, s = rng.randrange(0, n - ln + 1), rng.randrange(0, n - ln + 1)
        calls = [
            ("move(bytes,uint256,uint256,uint256)", ["bytes", "uint256", "uint256", "uint256"], [b, d, s, ln], "bytes"),
            ("bslice(bytes,uint256,uint256)", ["bytes", "uint256", "uint256"], [b, s, s + ln], "bytes"),
            ("bsplice(bytes,uint256,uint256)", ["bytes", "uint256", "uint256"], [b, s, s + ln], "bytes"),
            ("breplace(bytes,uint256,bytes)", ["bytes", "uint256", "bytes"], [b, d, b[s:s + ln]], "bytes"),
            ("bconcat(bytes[])", ["bytes[]"], [[b[:s], b, b[d:]]], "bytes"),
            ("asplice(uint256[],uint256,uint256)", ["uint256[]", "uint256", "uint256"],
             [list(b), s % 7, s % 7 + ln % 9], "uint256[]"),
            ("aslice(uint256[],uint256,uint256)", ["uint256[]", "uint256", "uint256"],
             [list(b), d % 5, d % 5 + ln], "uint256[]"),
        ]
        for sig, types, args, out in calls:
            want = _call(w3, addresses["cancun"], sig, types, args, out)
            got = _call(w3, addresses["paris"], sig, types, args, out)
            assert got == want, (sig, args)
            cases += 1
        moved = bytearray(b)
        moved[d:d + ln] = b[s:s + ln]
        assert _call(w3, addresses["paris"], *calls[0][:4]) == bytes(moved)  # and it is a memmove
    assert cases == 60 * 7


def test_cancun_build_is_not_rewritten() -> None:
    assert not evm_compat.needs_rewrite("cancun")
    assert evm_compat.needs_rewrite("paris")
    manifest = build.build_manifest({"cancun": {}, "paris": {}}, "cancun")
    assert "rewritten" not in manifest["targets"]["cancun"]
    assert "node_modules/@openzeppelin/contracts/utils/Arrays.sol" in manifest["targets"]["paris"]["rewritten"]
