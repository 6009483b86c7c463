"""The auditor verifies an ISCC PLUS declaration file against the chain on its own (JSON-RPC only, no node):
`coc-audit declaration FILE --rpc URL --registry ADDR`. A genuine file matches; in a tampered file every
changed field is caught and reported with field, expected (the chain) and found (the file); fields added or
removed are caught; a file naming a delivery that carries no claim is refused."""

from __future__ import annotations

import copy
import json
from typing import Any, Iterator

import pytest

from auditor.audit import discover, replay
from auditor.cli import main
from auditor.declaration import compare, verify
from auditor.rpc import Rpc

from iscc_dl_node import reg_node  # noqa: F401  (fixture)
from iscc_world import iscc_case  # noqa: F401  (fixture)

pytestmark = pytest.mark.chain

DELIVERIES = ("mb_delivery", "site_delivery", "onward_delivery", "seg_delivery", "cb_delivery")


@pytest.fixture(scope="module")
def files(reg_node, iscc_case, tmp_path_factory) -> dict[str, Any]:
    out = {}
    d = tmp_path_factory.mktemp("declarations")
    for name in DELIVERIES:
        doc = reg_node.api.get(f"/iscc/declarations/{getattr(iscc_case, name)}").json()
        path = d / f"{name}.json"
        path.write_text(json.dumps(doc, indent=1))
        out[name] = (path, doc)
    return out


@pytest.fixture(scope="module")
def replayed(reg_node, iscc_case):
    rpc = Rpc(reg_node.anvil.url)
    d = discover(rpc, reg_node.registry)
    return replay(rpc, d), d


def _tamper(v: Any) -> Any:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + 1
    if isinstance(v, str):
        if v.startswith("0x") and len(v) > 2:
            return v[:-1] + ("1" if v[-1] != "1" else "2")
        return v + "x"
    if v is None:
        return 0
    if v == []:
        return [1]
    if v == {}:
        return {"x": 1}
    raise AssertionError(f"no tampering for {v!r}")


def _leaves(v: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(v, dict) and v:
        for k, x in v.items():
            yield from _leaves(x, path + (k,))
    elif isinstance(v, list) and v:
        for i, x in enumerate(v):
            yield from _leaves(x, path + (i,))
    else:
        yield path, v


def _name(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _set(doc: dict, path: tuple, value: Any) -> dict:
    doc = copy.deepcopy(doc)
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return doc


@pytest.mark.parametrize("name", DELIVERIES)
def test_genuine_declarations_match_the_chain(name, files, reg_node, capsys):
    path, _ = files[name]
    rc = main(["declaration", str(path), "--rpc", reg_node.anvil.url, "--registry", reg_node.registry, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0, out["mismatches"]
    assert out["ok"] and out["mismatches"] == [] and out["ledgerRuleFailures"] == 0


@pytest.mark.parametrize("name", DELIVERIES)
def test_every_tampered_field_is_caught(name, files, replayed):
    r, d = replayed
    _, doc = files[name]
    assert verify(r, d.chain_id, d.ledger, doc)["ok"]
    checked = 0
    for path, value in _leaves(doc):
        if path[0] == "document":  # when and by whom the file was made: not a fact of the chain
            continue
        res = verify(r, d.chain_id, d.ledger, _set(doc, path, _tamper(value)))
        assert not res["ok"], f"{_name(path)} tampered and not caught"
        fields = [m["field"] for m in res["mismatches"]]
        if path[:2] != ("delivery", "transfer_id"):  # another id is another delivery: many fields differ
            assert any(f == _name(path) or f.startswith(_name(path) + ".") or f.startswith(_name(path) + "[")
                       for f in fields), (_name(path), fields)
            m = next(m for m in res["mismatches"] if m["field"].startswith(_name(path)))
            assert m["found"] != m["expected"]
        checked += 1
    assert checked >= 60, checked


def test_mismatch_names_field_expected_and_found(files, reg_node, tmp_path, capsys):
    _, doc = files["mb_delivery"]
    bad = _set(_set(doc, ("quantity", "value"), 9_000_000), ("supplier", "certificate", "certificate_number"), "FAKE-1")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    rc = main(["declaration", str(path), "--rpc", reg_node.anvil.url, "--registry", reg_node.registry])
    out = capsys.readouterr().out
    assert rc == 1
    assert "MISMATCH quantity.value: expected 5000000, found 9000000" in out
    real = doc["supplier"]["certificate"]["certificate_number"]
    assert f"MISMATCH supplier.certificate.certificate_number: expected '{real}', found 'FAKE-1'" in out
    assert "RESULT: 2 mismatch(es)" in out


def test_added_and_removed_fields_are_caught(files, replayed):
    r, d = replayed
    _, doc = files["mb_delivery"]
    added = {**doc, "claim": "contains 100 % organic cotton"}
    assert verify(r, d.chain_id, d.ledger, added)["mismatches"] == [
        {"field": "claim", "expected": "<absent>", "found": "contains 100 % organic cotton"}]
    removed = {k: v for k, v in doc.items() if k != "credits_applied"}
    fields = [m["field"] for m in verify(r, d.chain_id, d.ledger, removed)["mismatches"]]
    assert fields and all(f.startswith("credits_applied") for f in fields)
    assert compare(doc, doc) == []


def test_declaration_for_a_delivery_without_claim_is_refused(files, replayed, iscc_case):
    r, d = replayed
    _, doc = files["mb_delivery"]
    for other in (iscc_case.pending, iscc_case.no_credits, iscc_case.uncertified, "0x" + "12" * 32):
        res = verify(r, d.chain_id, d.ledger, _set(doc, ("delivery", "transfer_id"), other))
        assert not res["ok"] and res["mismatches"][0]["field"] == "delivery.transfer_id"


def test_cli_usage_errors_exit_2(reg_node, tmp_path, capsys):
    missing = tmp_path / "nope.json"
    assert main(["declaration", str(missing), "--rpc", reg_node.anvil.url, "--registry", reg_node.registry]) == 2
    assert "coc-audit declaration" in capsys.readouterr().err
