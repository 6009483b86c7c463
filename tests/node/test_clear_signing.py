"""ERC-7730 clear-signing descriptors: one for every function a participant signs (through the forwarder)
and every EIP-712 custody message, each matching the compiled ABI or the EIP-712 types: format keys
whose selectors and parameter names/types are the ABI's, field paths that exist with a type their format
can show, every input shown (nothing hidden from the signer). The checker reads the files on its own (it
does not reuse the generator) and is itself tried against broken descriptors."""

from __future__ import annotations

import copy
import re

import pytest
from eth_utils import keccak

from node_api import signing
from node_api.actions import FORWARD_ACTIONS
from node_api.clear_signing import erc7730
from node_api.core.artifacts import load_artifacts

PUBLISHED = erc7730.published()
ARTIFACTS = load_artifacts()
CUSTODY_MESSAGES = {"CustodyTransfer": signing.CUSTODY_TRANSFER, "AcceptTransfer": signing.ACCEPT_TRANSFER,
                    "RejectTransfer": signing.REJECT_TRANSFER, "CancelTransfer": signing.CANCEL_TRANSFER}


# ---------------------------------------------------------------------------- an independent checker
def _split(params: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in params:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    return out + [cur] if cur else out


def parse_param(text: str) -> dict:
    """``(uint32 a,string b)[] p`` -> an ABI-like parameter {name, type, components}."""
    text = text.strip()
    if text.startswith("("):
        depth = 0
        for i, ch in enumerate(text):
            depth += (ch == "(") - (ch == ")")
            if depth == 0:
                break
        inner, rest = text[1:i], text[i + 1:]
        suffix, _, name = rest.partition(" ")
        return {"name": name.strip(), "type": "tuple" + suffix, "components": [parse_param(p) for p in _split(inner)]}
    typ, _, name = text.partition(" ")
    return {"name": name.strip(), "type": typ}


def parse_key(key: str) -> tuple[str, list[dict]]:
    m = re.fullmatch(r"(\w+)\((.*)\)", key)
    assert m, f"format key {key!r} is not name(params)"
    return m.group(1), [parse_param(p) for p in _split(m.group(2))]


def canonical(p: dict) -> str:
    if p["type"].startswith("tuple"):
        return "(" + ",".join(canonical(c) for c in p["components"]) + ")" + p["type"][5:]
    return p["type"]


def strip(p: dict) -> dict:
    out = {"name": p["name"], "type": p["type"]}
    if "components" in p:
        out["components"] = [strip(c) for c in p["components"]]
    return out


def leaves(params: list[dict], prefix: str = "") -> dict[str, str]:
    """ERC-7730 path -> ABI type of every leaf value (arrays: ``.[]``, the element type)."""
    out = {}
    for p in params:
        path = prefix + p["name"]
        t = p["type"]
        arrays = ""
        while t.endswith("]"):
            t = t[: t.rindex("[")]
            arrays += ".[]"
        if t == "tuple":
            out.update(leaves(p["components"], path + arrays + "."))
        else:
            out[path + arrays] = t
    return out


FORMAT_TYPES = {  # format -> which leaf types it can show
    "date": lambda t: t.startswith("uint"), "duration": lambda t: t.startswith("uint"),
    "unit": lambda t: t.startswith(("uint", "int")), "enum": lambda t: t.startswith("uint"),
    "addressName": lambda t: t == "address", "calldata": lambda t: t == "bytes", "raw": lambda t: True,
}


def check_fields(where: str, fmt: dict, types: dict[str, str], metadata: dict) -> None:
    shown = set()
    for f in fmt["fields"]:
        path = f["path"]
        assert path in types, f"{where}: field path {path!r} is no input ({sorted(types)})"
        assert f.get("label"), f"{where}: {path} has no label"
        check = FORMAT_TYPES.get(f["format"])
        assert check is not None, f"{where}: unknown format {f['format']!r}"
        assert check(types[path]), f"{where}: {path} is {types[path]}, format {f['format']} cannot show it"
        if f["format"] == "enum":
            ref = f["params"]["$ref"]
            assert ref.startswith("$.metadata.enums.") and ref.split(".")[-1] in metadata.get("enums", {}), ref
        if f["format"] == "date":
            assert f["params"]["encoding"] == "timestamp"
        if f["format"] == "calldata":
            assert f["params"]["calleePath"] in types and types[f["params"]["calleePath"]] == "address"
        shown.add(path)
    hidden = set(types) - shown - set(fmt.get("excluded", []))
    assert not hidden, f"{where}: inputs not shown to the signer: {sorted(hidden)}"
    assert set(fmt.get("required", [])) <= set(types), f"{where}: required paths that are no input"


def check_contract(name: str, d: dict, abi: list[dict]) -> dict[bytes, str]:
    """The function selectors the descriptor covers (checked against ``abi``)."""
    by_selector = {}
    for item in abi:
        if item.get("type") == "function":
            sel = keccak(text=f"{item['name']}({','.join(canonical(p) for p in item['inputs'])})")[:4]
            by_selector[sel] = item
    assert d["$schema"].endswith("erc7730-v1.schema.json")
    assert d["context"]["$id"] == name and isinstance(d["context"]["contract"]["deployments"], list)
    covered = {}
    for key, fmt in d["display"]["formats"].items():
        fn, params = parse_key(key)
        sel = keccak(text=f"{fn}({','.join(canonical(p) for p in params)})")[:4]
        item = by_selector.get(sel)
        assert item is not None and item["name"] == fn, f"{name}: {key} is no function of the ABI"
        assert [strip(p) for p in params] == [strip(p) for p in item["inputs"]], f"{name}: {key} names differ from the ABI"
        assert fmt.get("intent"), f"{name}: {key} has no intent"
        check_fields(f"{name}.{key}", fmt, leaves(item["inputs"]), d["metadata"])
        covered[sel] = key
    return covered


def check_eip712(d: dict, domain_name: str, expected: dict[str, list]) -> None:
    ctx = d["context"]["eip712"]
    assert ctx["domain"]["name"] == domain_name and isinstance(ctx["deployments"], list)
    schemas = {s["primaryType"]: s["types"] for s in ctx["schemas"]}
    assert set(schemas) == set(expected), f"{domain_name}: {sorted(schemas)} != {sorted(expected)}"
    for primary, fields in expected.items():
        assert schemas[primary][primary] == fields, f"{primary}: types differ from the ledger's"
        assert schemas[primary]["EIP712Domain"] == signing.EIP712_DOMAIN
        types = {f["name"]: f["type"] for f in fields}
        check_fields(f"{domain_name}.{primary}", d["display"]["formats"][primary], types, d["metadata"])


# ---------------------------------------------------------------------------- the published files
def test_published_files_are_the_generated_ones():
    abis = {c: ARTIFACTS[c]["abi"] for c in erc7730.CONTRACTS}
    assert PUBLISHED == erc7730.all_descriptors(abis), "run python -m node_api.clear_signing.erc7730"


def test_every_participant_signed_function_has_a_descriptor_matching_the_abi():
    covered: dict[str, dict[bytes, str]] = {}
    for contract in erc7730.CONTRACTS:
        covered[contract] = check_contract(contract, PUBLISHED[erc7730.file_name(contract)], ARTIFACTS[contract]["abi"])
    missing = []
    for name, action in FORWARD_ACTIONS.items():
        item = next(i for i in ARTIFACTS[action.contract]["abi"] if i.get("type") == "function" and i["name"] == action.function)
        sel = keccak(text=f"{item['name']}({','.join(canonical(p) for p in item['inputs'])})")[:4]
        if sel not in covered[action.contract]:
            missing.append(name)
    assert not missing, f"participant-signed functions without a descriptor: {missing}"
    # and nothing else: no descriptor for a function no participant signs (link, useCapacity...)
    signed = {(a.contract, a.function) for a in FORWARD_ACTIONS.values()}
    for contract, keys in covered.items():
        for key in keys.values():
            assert (contract, parse_key(key)[0]) in signed, f"{contract}.{key} is not signed by participants"


def test_eip712_descriptors_match_the_ledgers_types():
    check_eip712(PUBLISHED["eip712-CocBatchLedger.json"], signing.LEDGER_DOMAIN_NAME, CUSTODY_MESSAGES)
    check_eip712(PUBLISHED["eip712-CocForwarder.json"], signing.FORWARDER_DOMAIN_NAME,
                 {"ForwardRequest": signing.FORWARD_REQUEST})
    fwd = PUBLISHED["eip712-CocForwarder.json"]["display"]["formats"]["ForwardRequest"]["fields"]
    assert {"path": "data", "label": "Action", "format": "calldata", "params": {"calleePath": "to"}} in fwd
    # the types the descriptors give hash to the type hashes the contracts use
    assert keccak(text="CustodyTransfer(" + ",".join(f"{f['type']} {f['name']}" for f in signing.CUSTODY_TRANSFER)
                  + ")") == signing.TRANSFER_TYPEHASH


@pytest.mark.parametrize("breakage", ["type", "name", "path", "format", "hidden", "enum", "unknown-fn", "eip712-type"])
def test_the_checker_catches_broken_descriptors(breakage):
    d = copy.deepcopy(PUBLISHED["calldata-BatchLedger.json"])
    formats = d["display"]["formats"]
    split_key = next(k for k in formats if k.startswith("split("))
    fmt = formats[split_key]
    if breakage == "type":
        formats["split(uint128 batchId,uint256[] quantities)"] = formats.pop(split_key)
    elif breakage == "name":
        formats["split(uint256 batch,uint256[] quantities)"] = formats.pop(split_key)
    elif breakage == "path":
        fmt["fields"][0]["path"] = "batch"
    elif breakage == "format":
        fmt["fields"][0]["format"] = "addressName"
    elif breakage == "hidden":
        fmt["fields"] = fmt["fields"][:1]
    elif breakage == "enum":
        consume = next(v for k, v in formats.items() if k.startswith("consume("))
        next(f for f in consume["fields"] if f["format"] == "enum")["params"]["$ref"] = "$.metadata.enums.nope"
    elif breakage == "unknown-fn":
        formats["link()"] = {"intent": "x", "fields": []}
        formats.pop(split_key)
        formats["frobnicate(uint256 batchId)"] = fmt
    if breakage == "eip712-type":
        e = copy.deepcopy(PUBLISHED["eip712-CocBatchLedger.json"])
        e["context"]["eip712"]["schemas"][0]["types"]["CustodyTransfer"][3]["type"] = "uint128"
        with pytest.raises(AssertionError):
            check_eip712(e, signing.LEDGER_DOMAIN_NAME, CUSTODY_MESSAGES)
        return
    with pytest.raises(AssertionError):
        check_contract("BatchLedger", d, ARTIFACTS["BatchLedger"]["abi"])


def test_the_node_serves_them_with_its_deployments(api, server):
    idx = api.get("/clear-signing")
    assert idx.status_code == 200, idx.text
    names = [d["name"] for d in idx.json()["descriptors"]]
    assert sorted(names) == sorted(PUBLISHED)
    node = server.node
    d = api.get("/clear-signing/calldata-BatchLedger.json").json()
    assert d["$schema"] == erc7730.SCHEMA
    assert d["context"]["contract"]["deployments"] == [{"chainId": node.chain_id, "address": node.ledger}]
    assert check_contract("BatchLedger", d, ARTIFACTS["BatchLedger"]["abi"])
    e = api.get("/clear-signing/eip712-CocForwarder.json").json()
    assert e["context"]["eip712"]["deployments"] == [{"chainId": node.chain_id, "address": node.forwarder}]
    r = api.get("/clear-signing/../../etc/passwd")
    assert r.status_code == 404
    r = api.get("/clear-signing/nope.json")
    assert r.status_code == 404 and r.json()["error"] == "UnknownDescriptor"
