"""The node's one ABI codec: function calls, view results, event logs and revert data.

Why not web3 contract objects: the node encodes every relayed call and decodes every receipt's
logs, and the index follower decodes every log of the chain; eth_abi with precomputed selectors and
topics costs a fraction of web3's validation path (web3's event processing decodes about 4-9k
logs/s here, domain.md section 6), and the JSON shapes (structs as objects with field names, bytes
as 0x-hex) are decided here, in one place.

Events: the data part of the events this ledger emits (static words, strings, bytes, arrays of words
or of static structs) is read straight from the hex string, several times faster than eth_abi;
anything else (a struct with dynamic members) goes through ``eth_abi.decode``. Indexed static values
are read from the topic words directly. Addresses come out checksummed for the node's answers
(:class:`ContractABI`) and lowercase for the index, which stores them so (:func:`build_decoders`).

Reverts: ``Error(string)``, ``Panic(uint256)`` and the custom errors of *all* known artifacts, so an
error bubbled up from a called contract is named correctly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping, TypedDict

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from .artifacts import Artifact, load_artifacts

# ---------------------------------------------------------------------------- types and signatures


def abi_type(param: Mapping[str, Any]) -> str:
    """Canonical ABI type string; expands tuples (structs) recursively."""
    t: str = param["type"]
    if t.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param.get("components", []))
        return f"({inner}){t[len('tuple'):]}"
    return t


def signature(item: Mapping[str, Any]) -> str:
    """``name(type,...)`` of a function, event or error ABI item."""
    return f"{item['name']}({','.join(abi_type(i) for i in item.get('inputs', []))})"


event_signature = signature


def topic0(item: Mapping[str, Any]) -> str:
    """The 0x-hex topic of an event ABI item."""
    return "0x" + keccak(text=signature(item)).hex()


# ---------------------------------------------------------------------------- values


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


# ---------------------------------------------------------------------------- functions


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


# ---------------------------------------------------------------------------- events


def _signed(x: int) -> int:
    return x - (1 << 256) if x >> 255 else x


def _address(checksum: bool) -> Callable[[str], str]:
    return to_checksum_address if checksum else str.lower


def _normalizer(param: Mapping[str, Any], checksum: bool) -> Callable[[Any], Any]:
    """A function turning eth_abi's value for ``param`` into plain JSON-able Python."""
    t: str = param["type"]
    if t.endswith("]"):
        inner = dict(param)
        inner["type"] = t[: t.rindex("[")]
        f = _normalizer(inner, checksum)
        return lambda v: [f(x) for x in v]
    if t == "tuple":
        comps = [(c["name"], _normalizer(c, checksum)) for c in param.get("components", [])]
        return lambda v: {n: f(x) for (n, f), x in zip(comps, v)}
    if t == "address":
        return _address(checksum)
    if t.startswith("bytes"):
        return lambda v: "0x" + bytes(v).hex()
    return lambda v: v


def _topic_decoder(param: Mapping[str, Any], checksum: bool) -> Callable[[str], Any]:
    """Decoder of one indexed value from its 0x-hex topic word."""
    t: str = param["type"]
    if t == "address":
        addr = _address(checksum)
        return lambda w: addr("0x" + w[-40:])
    if t.startswith("uint"):
        return lambda w: int(w, 16)
    if t.startswith("int"):
        return lambda w: _signed(int(w, 16))
    if t == "bool":
        return lambda w: int(w, 16) != 0
    if t.startswith("bytes") and t != "bytes":
        n = int(t[5:])  # left-aligned in the word
        return lambda w: "0x" + w[2: 2 + 2 * n].lower()
    # dynamic types and structs are hashed into the topic: keep the hash
    return lambda w: w.lower()


def _elementary(t: str, checksum: bool) -> Callable[[str], Any] | None:
    """Decoder of one 32-byte word (64 lowercase hex chars) for a static elementary type, or None."""
    if t == "address":
        if checksum:
            return lambda w: to_checksum_address("0x" + w[24:])
        return lambda w: "0x" + w[24:]
    if t == "bool":
        return lambda w: w[-1] != "0"
    if t.startswith("uint"):
        return lambda w: int(w, 16)
    if t.startswith("int"):
        return lambda w: _signed(int(w, 16))
    if t.startswith("bytes") and t != "bytes":
        n = int(t[5:])
        return lambda w: "0x" + w[: 2 * n]
    return None


def _fast_param(param: Mapping[str, Any], checksum: bool) -> Callable[[str, int], Any] | None:
    """reader(data_hex, head_word_index) for the ABI subset the contracts' events use, or None when
    eth_abi must do it (dynamic structs). Every supported type takes exactly one head word."""
    t: str = param["type"]
    el = _elementary(t, checksum)
    if el is not None:
        return lambda d, i: el(d[64 * i: 64 * i + 64])
    if t in ("string", "bytes"):
        as_text = t == "string"

        def read_dyn(d: str, i: int) -> Any:
            start = int(d[64 * i: 64 * i + 64], 16) * 2
            n = int(d[start: start + 64], 16)
            raw = d[start + 64: start + 64 + 2 * n]
            return bytes.fromhex(raw).decode("utf-8", "replace") if as_text else "0x" + raw

        return read_dyn
    if t.endswith("[]"):
        inner_t = t[:-2]
        if inner_t == "tuple":
            readers = [(c["name"], _elementary(c["type"], checksum)) for c in param.get("components", [])]
            if any(r is None for _, r in readers):
                return None
            k = len(readers)

            def read_tuples(d: str, i: int) -> Any:
                start = int(d[64 * i: 64 * i + 64], 16) // 32
                n = int(d[64 * start: 64 * start + 64], 16)
                base = start + 1
                return [{name: r(d[64 * (base + j * k + c): 64 * (base + j * k + c) + 64])  # type: ignore[misc]
                         for c, (name, r) in enumerate(readers)} for j in range(n)]

            return read_tuples
        el2 = _elementary(inner_t, checksum)
        if el2 is None:
            return None

        def read_array(d: str, i: int) -> Any:
            start = int(d[64 * i: 64 * i + 64], 16) // 32
            n = int(d[64 * start: 64 * start + 64], 16)
            return [el2(d[64 * (start + 1 + j): 64 * (start + 2 + j)]) for j in range(n)]

        return read_array
    return None


def _fast_decoder(params: list[Mapping[str, Any]], checksum: bool) -> Callable[[str], list[Any]] | None:
    readers = []
    for p in params:
        r = _fast_param(p, checksum)
        if r is None:
            return None
        readers.append(r)
    idx = list(range(len(readers)))

    def decode(data_hex: str) -> list[Any]:
        d = data_hex[2:]
        return [r(d, i) for r, i in zip(readers, idx)]

    return decode


def _hex(v: str | bytes) -> str:
    return v if isinstance(v, str) else "0x" + bytes(v).hex()


@dataclass
class EventDecoder:
    """One event of one contract: its topic and a decoder of its logs into ``{arg name: value}``."""

    contract: str  # the name the caller keyed the ABI by (artifact name, or the index's short name)
    name: str
    topic: bytes
    inputs: list[dict[str, Any]]
    topic_names: list[str]
    topic_decoders: list[Callable[[str], Any]]
    data_names: list[str]
    data_types: list[str]
    data_norms: list[Callable[[Any], Any]]
    fast: Callable[[str], list[Any]] | None = None

    @classmethod
    def build(cls, contract: str, item: Mapping[str, Any], *, checksum: bool) -> "EventDecoder":
        inputs = list(item.get("inputs", []))
        idx = [i for i in inputs if i.get("indexed")]
        dat = [i for i in inputs if not i.get("indexed")]
        return cls(
            contract=contract,
            name=item["name"],
            topic=keccak(text=signature(item)),
            inputs=inputs,
            topic_names=[i["name"] for i in idx],
            topic_decoders=[_topic_decoder(i, checksum) for i in idx],
            data_names=[i["name"] for i in dat],
            data_types=[abi_type(i) for i in dat],
            data_norms=[_normalizer(i, checksum) for i in dat],
            fast=_fast_decoder(dat, checksum),
        )

    def decode(self, topics: list[str] | list[bytes], data: str | bytes) -> dict[str, Any]:
        """Arguments of a log, from its topics and data as JSON-RPC gives them (0x-hex; bytes also taken)."""
        if topics and not isinstance(topics[0], str):  # bytes from a caller: once, off the index's hot path
            topics = [_hex(t) for t in topics]
        if not isinstance(data, str):
            data = _hex(data)
        args: dict[str, Any] = {}
        for n, f, w in zip(self.topic_names, self.topic_decoders, topics[1:]):
            args[n] = f(w)
        if self.data_types:
            if self.fast is not None:
                args.update(zip(self.data_names, self.fast(data.lower())))
            else:
                values = abi_decode(self.data_types, bytes.fromhex(data[2:]))
                for n, f, v in zip(self.data_names, self.data_norms, values):
                    args[n] = f(v)
        return args


#: The event type of :class:`ContractABI` (one decoder class for the node and the index).
Event = EventDecoder


def build_decoders(abis: Mapping[str, list[dict[str, Any]]], addresses: Mapping[str, str]) -> dict[tuple[str, str], EventDecoder]:
    """``{(lowercase address, topic0 hex): decoder}`` for every event of every contract, addresses
    in the values lowercase (the index's form). ``abis`` and ``addresses`` share their keys."""
    out: dict[tuple[str, str], EventDecoder] = {}
    for short, address in addresses.items():
        for item in abis[short]:
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            out[(address.lower(), topic0(item))] = EventDecoder.build(short, item, checksum=False)
    return out


class ContractABI:
    """One contract's functions (by name, overloads, selector) and events (by topic, by name)."""

    def __init__(self, name: str, abi: list[dict[str, Any]]):
        self.name = name
        self.abi = abi
        self.functions: dict[str, Function] = {}
        self.overloads: dict[str, list[Function]] = {}
        self.by_selector: dict[bytes, Function] = {}
        self.events: dict[bytes, EventDecoder] = {}
        self.events_by_name: dict[str, EventDecoder] = {}
        for item in abi:
            if item.get("type") == "function":
                types = [abi_type(i) for i in item["inputs"]]
                sel = keccak(text=signature(item))[:4]
                fn = Function(
                    item["name"], sel, item["inputs"], item.get("outputs", []), types,
                    [abi_type(o) for o in item.get("outputs", [])],
                )
                self.functions.setdefault(item["name"], fn)
                self.overloads.setdefault(item["name"], []).append(fn)
                self.by_selector[sel] = fn
            elif item.get("type") == "event" and not item.get("anonymous"):
                ev = EventDecoder.build(name, item, checksum=True)
                self.events[ev.topic] = ev
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


# ---------------------------------------------------------------------------- revert data


class ErrorInfo(TypedDict):
    contract: str
    name: str
    types: list[str]
    names: list[str]


def all_abis(artifacts: Mapping[str, Artifact] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Contract name -> ABI, over the given artifacts or the node's built artifacts."""
    arts = artifacts if artifacts is not None else load_artifacts()
    return {name: a["abi"] for name, a in arts.items()}


#: Errors of artifacts compiled or loaded in this process (e.g. a test compiling test-only
#: contracts), so decode_revert knows them too.
_REGISTERED: dict[str, ErrorInfo] = {}


def register_errors(artifacts: Mapping[str, Artifact]) -> None:
    """Add the custom errors of ``artifacts`` to the default decoding table."""
    for sel, info in _build_error_selectors(all_abis(artifacts)).items():
        _REGISTERED.setdefault(sel, info)


def error_selectors(artifacts: Mapping[str, Artifact] | None = None) -> dict[str, ErrorInfo]:
    """Map ``"0x" + 4-byte selector hex`` -> error info, over every artifact's custom errors.

    Without ``artifacts``: the node's built artifacts plus everything registered in this process.
    Identical error declarations in several contracts share a selector and collapse to one entry.
    """
    if artifacts is None:
        return {**_REGISTERED, **_built_error_selectors()}
    return _build_error_selectors(all_abis(artifacts))


@lru_cache(maxsize=1)
def _built_error_selectors() -> dict[str, ErrorInfo]:
    return _build_error_selectors(all_abis())


def _build_error_selectors(abis: Mapping[str, list[dict[str, Any]]]) -> dict[str, ErrorInfo]:
    out: dict[str, ErrorInfo] = {}
    for contract, abi in abis.items():
        for item in abi:
            if item.get("type") != "error":
                continue
            sel = "0x" + keccak(text=signature(item))[:4].hex()
            out.setdefault(
                sel,
                ErrorInfo(
                    contract=contract,
                    name=item["name"],
                    types=[abi_type(i) for i in item.get("inputs", [])],
                    names=[i.get("name") or f"arg{n}" for n, i in enumerate(item.get("inputs", []))],
                ),
            )
    return out


ERROR_STRING_SELECTOR = "0x08c379a0"  # Error(string)
PANIC_SELECTOR = "0x4e487b71"  # Panic(uint256)


def decode_revert(
    data: bytes | str | None, selectors: Mapping[str, ErrorInfo] | None = None
) -> tuple[str, dict[str, Any]]:
    """Decode revert data into ``(error_name, {arg_name: value})``.

    - empty data (``revert()``, failed ``require`` without message, out of gas): ``("", {})``
    - ``Error(string)``: ``("Error", {"message": str})``
    - ``Panic(uint256)``: ``("Panic", {"code": int})`` (0x11 overflow, 0x12 div by zero, ...)
    - custom error known to any artifact: ``(name, {...})``, unnamed params as ``arg<N>``
    - unknown selector: ``("<unknown 0x12345678>", {"data": "0x..."})``
    """
    if data is None:
        return "", {}
    if isinstance(data, str):
        data = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    data = bytes(data)
    if len(data) < 4:
        return "", {}
    sel, body = "0x" + data[:4].hex(), data[4:]
    if sel == ERROR_STRING_SELECTOR:
        return "Error", {"message": abi_decode(["string"], body)[0]}
    if sel == PANIC_SELECTOR:
        return "Panic", {"code": abi_decode(["uint256"], body)[0]}
    table = selectors if selectors is not None else error_selectors()
    info = table.get(sel)
    if info is None:
        return f"<unknown {sel}>", {"data": "0x" + data.hex()}
    values = abi_decode(info["types"], body)
    return info["name"], {n: _checksum(t, v) for n, t, v in zip(info["names"], info["types"], values)}


def _checksum(abi_type: str, value: Any) -> Any:
    """eth_abi returns lowercase addresses; checksum them so they compare equal to
    ``account.address`` / web3 contract addresses (also inside address arrays)."""
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type.startswith("address[") and isinstance(value, (list, tuple)):
        inner = abi_type[: abi_type.rindex("[")]
        return type(value)(_checksum(inner, v) for v in value)
    return value
