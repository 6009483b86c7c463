"""Pre-Cancun builds of the same contracts: OpenZeppelin's ``mcopy`` replaced by the identity precompile.

Why: a Clique network (go-ethereum 1.13) refuses the Shanghai and Cancun forks, so its contracts are
compiled with ``evmVersion`` "paris". Our sources compile for paris as they are, but OpenZeppelin
5.7's ``utils/Arrays.sol``, ``utils/Bytes.sol`` and ``utils/cryptography/SignatureChecker.sol``
(imported through ERC1155 and the custody handshake) use the Cancun opcode ``mcopy`` in inline
assembly, which solc refuses for paris, even in functions the contracts never call.

What the paris build does (and only it; the cancun build is untouched): for each OpenZeppelin file
in the import closure whose assembly calls ``mcopy``, the build passes solc a rewritten copy under
the *same source unit name* (standard-JSON ``sources``), in which every assembly block that calls
``mcopy`` declares a Yul function ``mcopy_pre_cancun(dst, src, len)`` and calls it instead. That
function is a byte-exact, overlap-safe memmove in plain Yul (``mload``/``mstore``: whole words, then
the tail under a mask that keeps the bytes after it; front to back when ``dst <= src``, else back
to front), which is what ``mcopy`` does. Not the identity precompile: a ``staticcall`` would make
OpenZeppelin's ``pure`` functions read the environment, which solc refuses.
Nothing else changes: our ``contracts/`` sources, OpenZeppelin's version and every other file are
the same. The rewrite is a pure function of OpenZeppelin's text, so the paris artifacts are
reproducible (``tests/test_artifacts.py`` rebuilds them) and follow an OpenZeppelin upgrade; the
rewritten files are listed in the manifest (``targets.paris.rewritten``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

#: EVM versions before Cancun (no MCOPY, TLOAD/TSTORE): targets that get the rewrite.
PRE_CANCUN = ("homestead", "tangerineWhistle", "spuriousDragon", "byzantium", "constantinople",
              "petersburg", "istanbul", "berlin", "london", "paris", "shanghai")

#: Bump when the rewrite changes (part of the build cache key).
REWRITE_VERSION = "1"

_FN = "mcopy_pre_cancun"
#: A byte-exact, overlap-safe memmove in plain Yul (mload/mstore only, so ``pure`` functions stay
#: pure): whole words then the tail under a mask that keeps the bytes after it, front to back when
#: ``dst <= src`` and back to front otherwise, as ``mcopy`` behaves.
_FN_DEF = (
    f"function {_FN}(mc_dst, mc_src, mc_len) {{ "
    "let mc_n := and(mc_len, not(31)) let mc_r := sub(mc_len, mc_n) "
    "let mc_m := shr(shl(3, mc_r), not(0)) "
    "switch gt(mc_dst, mc_src) "
    "case 0 { "
    "for { let mc_i := 0 } lt(mc_i, mc_n) { mc_i := add(mc_i, 32) } { "
    "mstore(add(mc_dst, mc_i), mload(add(mc_src, mc_i))) } "
    "if mc_r { let mc_d := add(mc_dst, mc_n) "
    "mstore(mc_d, or(and(mload(add(mc_src, mc_n)), not(mc_m)), and(mload(mc_d), mc_m))) } } "
    "default { "
    "if mc_r { let mc_d := add(mc_dst, mc_n) "
    "mstore(mc_d, or(and(mload(add(mc_src, mc_n)), not(mc_m)), and(mload(mc_d), mc_m))) } "
    "for { let mc_i := mc_n } gt(mc_i, 0) { mc_i := sub(mc_i, 32) } { "
    "mstore(add(mc_dst, sub(mc_i, 32)), mload(add(mc_src, sub(mc_i, 32)))) } } }"
)
_ASSEMBLY = re.compile(r'assembly\s*(\(\s*"[^"]*"\s*\))?\s*\{')
_IMPORT = re.compile(r'^\s*import\s+(?:[^"\';]*?\s+from\s+)?["\']([^"\']+)["\']', re.M)
_TRANSIENT = re.compile(r"\b(tload|tstore)\s*\(")


def needs_rewrite(evm_version: str) -> bool:
    return evm_version in PRE_CANCUN


def rewrite_mcopy(text: str) -> str:
    """``text`` with each assembly block that calls ``mcopy`` given its pre-Cancun copy function."""
    out, pos = [], 0
    for m in _ASSEMBLY.finditer(text):
        if m.start() < pos:
            continue  # nested inside a block already handled
        end = _block_end(text, m.end())
        body = text[m.end():end]
        if re.search(r"\bmcopy\s*\(", body):
            body = f" {_FN_DEF}\n" + re.sub(r"\bmcopy\s*\(", f"{_FN}(", body)
        out.append(text[pos:m.end()] + body)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _block_end(text: str, start: int) -> int:
    """Index of the ``}`` closing the block whose ``{`` ends just before ``start``."""
    depth = 1
    for i in range(start, len(text)):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced braces in assembly block")


def _code(text: str) -> str:
    """``text`` without comments (so a ``mcopy`` in a comment does not count)."""
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)


def _resolve(importer: str, path: str, remappings: list[tuple[str, str]]) -> str:
    if path.startswith("."):
        parts = importer.split("/")[:-1]
        for seg in path.split("/"):
            if seg == "..":
                parts.pop()
            elif seg != ".":
                parts.append(seg)
        return "/".join(parts)
    for prefix, target in sorted(remappings, key=lambda r: -len(r[0])):
        if path.startswith(prefix):
            return target + path[len(prefix):]
    return path


def rewritten_sources(own: dict[str, Path], root: Path, remappings: Iterable[str]) -> dict[str, str]:
    """Source unit name -> rewritten text for the imported files (not ``own``) that call ``mcopy``.

    Walks the import closure of ``own`` (source unit names relative to ``root``, solc's base path).
    Raises ValueError for a file that uses transient storage, which no rewrite can emulate."""
    remaps = [tuple(r.split("=", 1)) for r in remappings]
    seen: set[str] = set()
    todo = list(own)
    out: dict[str, str] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = own.get(name) or root / name
        if not path.exists():
            continue  # solc reports the missing import itself
        text = path.read_text()
        code = _code(text)
        if name not in own and re.search(r"\bmcopy\s*\(", code):
            out[name] = rewrite_mcopy(text)
        if name not in own and _TRANSIENT.search(code):
            raise ValueError(f"{name} uses transient storage (tload/tstore): no pre-Cancun build exists")
        todo.extend(_resolve(name, p, remaps) for p in _IMPORT.findall(code))  # type: ignore[arg-type]
    return dict(sorted(out.items()))
