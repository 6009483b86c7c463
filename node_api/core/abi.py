"""ABI encoding and decoding with eth_abi directly (calls, view results, event logs).

Why not web3 contract objects: the node encodes every relayed call and decodes every receipt's
logs; eth_abi with precomputed selectors and topics costs a fraction of web3's validation path, and
the JSON shapes returned to clients (structs as objects with field names, bytes as 0x-hex) are
decided here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from .compile import Artifact, _abi_type


def _hexbytes(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, str):
        s = v[2:] if v.startswith("0x") else v
        return bytes.fromhex(s)
    raise ValueError(f"expected hex bytes, got {v!r}")


def normalize(value: Any, param: Mapping[str, Any]) -> Any:
    """A JSON-ish value (dicts for structs, hex strings for bytes) into what eth_abi encodes."""
    t: str = param["type"]
    if t.endswith("]"):
        inner = dict(param)
        inner["type"] = t[: t.rindex("[")]
        return [normalize(v, inner) for v in value]
    if t == "tuple":
        comps = param.get("components", [])
        if isinstance(value, Mapping):
            return tuple(normalize(value[c["name"]], c) for c in comps)
        return tuple(normalize(v, c) for v, c in zip(value, comps))
    if t == "address":
        return to_checksum_address(value)
    if t.startswith("bytes"):
        b = _hexbytes(value)
        if t != "bytes":
            size = int(t[5:])
            if len(b) != size:
                raise ValueError(f"{param.get('name') or t}: expected {size} bytes, got {len(b)}")
        return b
    if t.startswith(("uint", "int")):
        return int(value)
    if t == "bool":
        return bool(value)
    return value


def jsonable(value: Any, param: Mapping[str, Any]) -> Any:
    """A decoded ABI value as JSON: structs -> objects, bytes -> 0x-hex, addresses checksummed."""
    t: str = param["type"]
    if t.endswith("]"):
        inner = dict(param)
        inner["type"] = t[: t.rindex("[")]
        return [jsonable(v, inner) for v in value]
    if t == "tuple":
        return {c["name"]: jsonable(v, c) for v, c in zip(value, param.get("components", []))}
    if t == "address":
        return to_checksum_address(value)
    if t.startswith("bytes"):
        return "0x" + bytes(value).hex()
    return value


@dataclass
class Function:
    name: str
    selector: bytes
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    input_types: list[str] = field(default_factory=list)
    output_types: list[str] = field(default_factory=list)

    def encode(self, *args: Any) -> bytes:
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.name} takes {len(self.inputs)} arguments, got {len(args)}")
        values = [normalize(a, p) for a, p in zip(args, self.inputs)]
        return self.selector + abi_encode(self.input_types, values)

    def decode_input(self, data: bytes) -> dict[str, Any]:
        values = abi_decode(self.input_types, data[4:])
        return {p["name"] or f"arg{i}": jsonable(v, p) for i, (v, p) in enumerate(zip(values, self.inputs))}

    def decode_output(self, data: bytes | str) -> Any:
        raw = _hexbytes(data)
        values = abi_decode(self.output_types, raw)
        if len(self.outputs) == 1:
            return jsonable(values[0], self.outputs[0])
        return {p["name"] or f"out{i}": jsonable(v, p) for i, (v, p) in enumerate(zip(values, self.outputs))}


@dataclass
class Event:
    contract: str
    name: str
    topic: bytes
    inputs: list[dict[str, Any]]

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        indexed = [p for p in self.inputs if p.get("indexed")]
        plain = [p for p in self.inputs if not p.get("indexed")]
        values_plain = abi_decode([_abi_type(p) for p in plain], data) if plain else []
        out: dict[str, Any] = {}
        it_plain = iter(values_plain)
        it_topics = iter(topics[1:])
        for p in self.inputs:
            if p.get("indexed"):
                raw = next(it_topics)
                t = _abi_type(p)
                if t in ("string", "bytes") or t.startswith("(") or t.endswith("]"):
                    out[p["name"]] = "0x" + raw.hex()  # hashed
                else:
                    out[p["name"]] = jsonable(abi_decode([t], raw)[0], p)
            else:
                out[p["name"]] = jsonable(next(it_plain), p)
        _ = indexed
        return out


class ContractABI:
    def __init__(self, name: str, abi: list[dict[str, Any]]):
        self.name = name
        self.abi = abi
        self.functions: dict[str, Function] = {}
        self.overloads: dict[str, list[Function]] = {}
        self.by_selector: dict[bytes, Function] = {}
        self.events: dict[bytes, Event] = {}
        self.events_by_name: dict[str, Event] = {}
        for item in abi:
            if item.get("type") == "function":
                types = [_abi_type(i) for i in item["inputs"]]
                sel = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                fn = Function(
                    item["name"], sel, item["inputs"], item.get("outputs", []), types,
                    [_abi_type(o) for o in item.get("outputs", [])],
                )
                self.functions.setdefault(item["name"], fn)
                self.overloads.setdefault(item["name"], []).append(fn)
                self.by_selector[sel] = fn
            elif item.get("type") == "event" and not item.get("anonymous"):
                types = [_abi_type(i) for i in item["inputs"]]
                topic = keccak(text=f"{item['name']}({','.join(types)})")
                ev = Event(name, item["name"], topic, item["inputs"])
                self.events[topic] = ev
                self.events_by_name[item["name"]] = ev

    def fn(self, name: str, argc: int | None = None) -> Function:
        fns = self.overloads.get(name)
        if not fns:
            raise KeyError(f"{self.name} has no function {name!r}")
        if argc is not None:
            for f in fns:
                if len(f.inputs) == argc:
                    return f
        return fns[0]


def load_abis(artifacts: Mapping[str, Artifact]) -> dict[str, ContractABI]:
    return {name: ContractABI(name, a["abi"]) for name, a in artifacts.items()}
