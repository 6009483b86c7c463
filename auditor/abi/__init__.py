"""The contracts' ABIs (a copy refreshed by ``python -m auditor.abi.refresh``) and a fast log decoder."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

HERE = Path(__file__).resolve().parent
CONTRACTS = ("ParticipantRegistry", "BatchLedger", "MassBalance", "CertificateRegistry", "ProductIdentifiers")
SHORT = {"ParticipantRegistry": "registry", "BatchLedger": "ledger", "MassBalance": "mass", "CertificateRegistry": "certs",
         "ProductIdentifiers": "identifiers"}  # GS1 bindings (issue 14): not linked in the registry, given by address


@lru_cache(maxsize=None)
def load(name: str) -> list[dict]:
    return json.loads((HERE / f"{name}.json").read_text())


def canonical(param: dict) -> str:
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(canonical(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


_SIMPLE = ("uint", "int", "address", "bool", "bytes32")


def _is_simple(t: str) -> bool:
    return t == "bytes32" or t == "address" or t == "bool" or (t.startswith(("uint", "int")) and "[" not in t)


def _conv_word(t: str) -> Callable[[str], Any]:
    if t == "address":
        return lambda w: "0x" + w[-40:]
    if t == "bool":
        return lambda w: w[-1] == "1"
    if t == "bytes32":
        return lambda w: "0x" + w
    if t.startswith("int"):
        bits = int(t[3:] or 256)

        def conv_int(w: str, bits: int = bits) -> int:
            v = int(w, 16)
            return v - (1 << 256) if v >> 255 else v

        return conv_int
    return lambda w: int(w, 16)


def _normalize(value: Any, param: dict) -> Any:
    """eth_abi output -> plain Python: tuples to dicts by component name, bytes32 to hex, addresses lower."""
    t = param["type"]
    if t.endswith("]"):
        inner = dict(param, type=t[: t.rindex("[")])
        return [_normalize(v, inner) for v in value]
    if t == "tuple":
        return {c["name"]: _normalize(v, c) for v, c in zip(value, param["components"])}
    if t == "address":
        return value.lower()
    if t.startswith("bytes") and t != "bytes":
        return "0x" + value.hex()
    return value


def _fast_decoder(params: list[dict]) -> Callable[[str, dict], None] | None:
    plan = []
    for p in params:
        t = p["type"]
        if _is_simple(t):
            plan.append((p["name"], "word", _conv_word(t)))
        elif t in ("bytes", "string"):
            plan.append((p["name"], t, None))
        elif t == "tuple[]" and all(_is_simple(c["type"]) for c in p["components"]):
            plan.append((p["name"], "tuples", [(c["name"], _conv_word(c["type"])) for c in p["components"]]))
        else:
            return None

    def decode(d: str, args: dict) -> None:
        for k, (name, kind, conv) in enumerate(plan):
            w = d[k * 64:(k + 1) * 64]
            if kind == "word":
                args[name] = conv(w)
                continue
            off = int(w, 16) * 2
            n = int(d[off:off + 64], 16)
            if kind == "bytes":
                args[name] = bytes.fromhex(d[off + 64:off + 64 + 2 * n])
            elif kind == "string":
                args[name] = bytes.fromhex(d[off + 64:off + 64 + 2 * n]).decode("utf-8", "replace")
            else:
                width = len(conv)
                items = []
                pos = off + 64
                for _ in range(n):
                    items.append({cn: cc(d[pos + j * 64:pos + (j + 1) * 64]) for j, (cn, cc) in enumerate(conv)})
                    pos += 64 * width
                args[name] = items

    return decode


class EventSpec:
    def __init__(self, contract: str, item: dict):
        self.contract = contract
        self.name = item["name"]
        self.inputs = item["inputs"]
        self.signature = f"{self.name}({','.join(canonical(i) for i in self.inputs)})"
        self.topic0 = "0x" + keccak(text=self.signature).hex()
        self.indexed = [(i["name"], _conv_word(i["type"]) if _is_simple(i["type"]) else (lambda w: "0x" + w))
                        for i in self.inputs if i.get("indexed")]
        self.data = [i for i in self.inputs if not i.get("indexed")]
        self.data_types = [canonical(i) for i in self.data]
        self.simple = all(_is_simple(t) for t in self.data_types)
        self.word_convs = [(i["name"], _conv_word(i["type"])) for i in self.data] if self.simple else []
        # a hand decoder for heads of simple words plus bytes, string and arrays of static simple tuples
        self.fast = None if self.simple else _fast_decoder(self.data)

    def decode(self, topics: list[str], data: str) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for (name, conv), topic in zip(self.indexed, topics[1:]):
            args[name] = conv(topic[2:])
        if self.simple:
            d = data[2:]
            for k, (name, conv) in enumerate(self.word_convs):
                args[name] = conv(d[k * 64:(k + 1) * 64])
        elif self.fast is not None:
            self.fast(data[2:], args)
        elif self.data:
            values = abi_decode(self.data_types, bytes.fromhex(data[2:]))
            for p, v in zip(self.data, values):
                args[p["name"]] = _normalize(v, p)
        return args


class Decoder:
    """topic0 -> event spec, per contract address."""

    def __init__(self) -> None:
        self.by_contract: dict[str, dict[str, EventSpec]] = {}
        for name in CONTRACTS:
            specs = {}
            for item in load(name):
                if item["type"] == "event":
                    s = EventSpec(SHORT[name], item)
                    specs[s.topic0] = s
            self.by_contract[SHORT[name]] = specs


class Function:
    def __init__(self, item: dict):
        self.name = item["name"]
        self.inputs = item["inputs"]
        self.outputs = item["outputs"]
        sig = f"{self.name}({','.join(canonical(i) for i in self.inputs)})"
        self.selector = keccak(text=sig)[:4]
        self.in_types = [canonical(i) for i in self.inputs]
        self.out_types = [canonical(o) for o in self.outputs]

    def encode(self, *args: Any) -> str:
        return "0x" + (self.selector + abi_encode(self.in_types, list(args))).hex()

    def decode(self, result: str) -> Any:
        values = abi_decode(self.out_types, bytes.fromhex(result[2:]))
        out = [_normalize(v, o) for v, o in zip(values, self.outputs)]
        return out[0] if len(out) == 1 else out


@lru_cache(maxsize=None)
def function(contract: str, name: str, nargs: int | None = None) -> Function:
    for item in load(contract):
        if item["type"] == "function" and item["name"] == name and (nargs is None or len(item["inputs"]) == nargs):
            return Function(item)
    raise KeyError(f"{contract}.{name}")
