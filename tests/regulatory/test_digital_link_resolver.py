"""GS1 Digital Link end to end on a real node: a holder binds a GTIN with a lot or serial to its token (signed
with its wallet, relayed through the forwarder, checked by contract ProductIdentifiers), the resolver redirects
browsers to the product page and answers machines an RFC 9264 linkset, QR codes carry the URI; every refusal
(check digit, character set, not the holder, already bound, unknown identifier) is a clear 4xx."""

from __future__ import annotations

import pytest
from eth_account import Account

from node_api import signing
from testkit.sandbox import SEGREGATED

from iscc_dl_node import reg_node  # noqa: F401  (fixture)

pytestmark = pytest.mark.chain

GTIN13 = "4006381333931"
GTIN14 = "04006381333931"


def _sign(account, typed) -> str:
    return "0x" + signing.sign_typed(account.key, typed).hex()


def bind(reg, actor, batch_id: int, kind: str, value: str, gtin: str = GTIN13):
    prep = reg.api.post("/digital-link/bind/prepare", json={"signer": actor.address, "batchId": batch_id,
                                                            "gtin": gtin, "kind": kind, "value": value})
    if prep.status_code != 200:
        return prep
    typed = prep.json()["typedData"]
    return reg.api.post("/digital-link/bind/submit", json={"typedData": typed, "signature": _sign(actor.account, typed)})


@pytest.fixture(scope="module")
def bound(reg_node):
    w, sb = reg_node.world, reg_node.sb
    product = sb.create_origin(w.farm, w.raw_cotton, 2_000_000, characteristic=w.organic, model=SEGREGATED)
    sb.transfer(w.farm, w.brand, product, 2_000_000)
    serial_token = sb.create_origin(w.farm, w.raw_cotton, 1_000, characteristic=w.organic, model=SEGREGATED)
    plain = sb.create_origin(w.farm, w.raw_cotton, 1_000, characteristic=w.organic, model=SEGREGATED)
    r = bind(reg_node, w.brand, product, "lot", "LOT-2026/12")
    assert r.status_code == 200, r.text
    r = bind(reg_node, w.farm, serial_token, "serial", "SN000123", gtin="96385074")
    assert r.status_code == 200, r.text
    reg_node.sync()
    return product, serial_token, plain


def test_browser_is_redirected_to_the_product_page(reg_node, bound):
    product, serial_token, _ = bound
    r = reg_node.api.get(f"/01/{GTIN14}/10/LOT-2026%2F12", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 307, r.text
    assert r.headers["location"] == f"{reg_node.url}/app/products/{product}"
    assert 'rel="linkset"' in r.headers["link"]
    # GTIN-13 in the URI is normalised to GTIN-14; GTIN-8 with a serial too
    r = reg_node.api.get(f"/01/{GTIN13}/10/LOT-2026%2F12", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].endswith(f"/app/products/{product}")
    r = reg_node.api.get("/01/96385074/21/SN000123", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].endswith(f"/app/products/{serial_token}")


def test_machines_get_the_linkset(reg_node, bound):
    product = bound[0]
    for kw in ({"headers": {"Accept": "application/linkset+json"}}, {"params": {"linkType": "all"}},
               {"headers": {"Accept": "application/json"}}):
        r = reg_node.api.get(f"/01/{GTIN14}/10/LOT-2026%2F12", follow_redirects=False, **kw)
        assert r.status_code == 200, (kw, r.text)
        assert r.headers["content-type"].startswith("application/linkset+json")
        (ctx,) = r.json()["linkset"]
        assert ctx["anchor"] == f"{reg_node.url}/01/{GTIN14}/10/LOT-2026%2F12"
        assert ctx["https://gs1.org/voc/defaultLink"][0]["href"] == f"{reg_node.url}/app/products/{product}"
        assert ctx["urn:coc:rel:eudr-dds"][0]["href"] == f"{reg_node.url}/products/{product}/dds"
        assert ctx["urn:coc:rel:iscc-plus-declarations"][0]["href"] == f"{reg_node.url}/products/{product}/declarations"
    # the linked passport, EPCIS and claim answer
    ctx = reg_node.api.get(f"/01/{GTIN14}/10/LOT-2026%2F12?linkType=all").json()["linkset"][0]
    for rel in ("urn:coc:rel:passport", "urn:coc:rel:epcis", "urn:coc:rel:claim"):
        assert reg_node.api.get(ctx[rel][0]["href"]).status_code == 200, rel
    # one link type: a redirect to it
    r = reg_node.api.get(f"/01/{GTIN14}/10/LOT-2026%2F12", params={"linkType": "coc:passport"}, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].endswith(f"/provenance/batches/{product}/passport")


def test_identifiers_and_qr_code_of_a_product(reg_node, bound):
    product, _, plain = bound
    ids = reg_node.api.get(f"/products/{product}/identifiers").json()
    (i,) = ids["identifiers"]
    assert (i["gtin"], i["kind"], i["ai"], i["value"]) == (GTIN14, "lot", "10", "LOT-2026/12")
    assert i["bound_by"] == reg_node.world.brand.address and i["tx_hash"] and i["log_index"] is not None
    assert ids["digital_link"] == f"{reg_node.url}/01/{GTIN14}/10/LOT-2026%2F12"
    qr = reg_node.api.get(f"/products/{product}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
    assert qr.headers["x-qr-data"] == ids["digital_link"] and "<svg" in qr.text
    # no GTIN: the QR code carries the product page URL
    qr = reg_node.api.get(f"/products/{plain}/qr.svg")
    assert qr.status_code == 200 and qr.headers["x-qr-data"] == f"{reg_node.url}/app/products/{plain}"
    assert reg_node.api.get(f"/products/{plain}/identifiers").json()["identifiers"] == []
    assert reg_node.api.get("/products/999999/qr.svg").status_code == 404


def test_the_binding_is_on_chain_for_anyone_to_verify(reg_node, bound):
    product = bound[0]
    pi = reg_node.contracts["ProductIdentifiers"]
    assert pi.functions.batchOf(int(GTIN14), 0, "LOT-2026/12").call() == product
    logs = pi.events.ProductIdentifierBound().get_logs(from_block=0)
    ev = next(lg["args"] for lg in logs if lg["args"]["batchId"] == product)
    assert ev["by"] == reg_node.world.brand.address and ev["participantId"] == reg_node.world.brand.participant_id


@pytest.mark.parametrize("path,field", [
    (f"/01/{GTIN14[:-1]}2/10/L1", "gtin"), ("/01/123/10/L1", "gtin"), ("/01/0400638133393X/10/L1", "gtin"),
    (f"/01/{GTIN14}/17/261231", "ai"), (f"/01/{GTIN14}/10/LOT%201", "lot"), (f"/01/{GTIN14}/21/{'x' * 21}", "serial"),
])
def test_resolver_refuses_malformed_identifiers_with_422(reg_node, path, field):
    r = reg_node.api.get(path, follow_redirects=False)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "InvalidGs1Identifier" and body["details"]["field"] == field


def test_unknown_identifier_and_link_type(reg_node, bound):
    r = reg_node.api.get(f"/01/{GTIN14}/10/NO-SUCH-LOT", follow_redirects=False)
    assert r.status_code == 404 and "no product token is bound" in r.json()["message"]
    r = reg_node.api.get(f"/01/{GTIN14}/10/LOT-2026%2F12", params={"linkType": "gs1:nothing"}, follow_redirects=False)
    assert r.status_code == 422 and r.json()["details"]["field"] == "linkType"


def test_binding_refusals(reg_node, bound):
    w = reg_node.world
    product, _, plain = bound
    r = bind(reg_node, w.brand, product, "lot", "L2", gtin="4006381333932")  # check digit
    assert r.status_code == 422 and "check digit" in r.text and "gtin" in r.text
    r = bind(reg_node, w.brand, product, "lot", "L 2")  # character set
    assert r.status_code == 422 and "character set 82" in r.text
    r = bind(reg_node, w.ginner, plain, "lot", "L3")  # not the holder
    assert r.status_code == 403 and r.json()["error"] == "IdentifierNotHolder", r.text
    r = bind(reg_node, w.farm, plain, "lot", "LOT-2026/12")  # the identifier is taken
    assert r.status_code == 409 and r.json()["error"] == "IdentifierAlreadyBound", r.text
    stranger = Account.create()
    r = reg_node.api.post("/digital-link/bind/prepare", json={"signer": stranger.address, "batchId": plain,
                                                              "gtin": GTIN13, "kind": "lot", "value": "L4"})
    assert r.status_code == 403 and r.json()["error"] == "RegistryUnknownWallet", r.text


def test_passport_carries_the_identifiers_and_the_qr_code(reg_node, bound):
    product, _, plain = bound
    p = reg_node.api.get(f"/provenance/batches/{product}/passport").json()
    dl = p["digital_link"]
    assert dl["qr_code"] == f"/products/{product}/qr.svg" and dl["product_page"] == f"/app/products/{product}"
    (i,) = dl["identifiers"]
    assert (i["gtin"], i["kind"], i["value"]) == (GTIN14, "lot", "LOT-2026/12") and i["tx_hash"]
    assert dl["digital_link_path"] == f"/01/{GTIN14}/10/LOT-2026%2F12"
    assert reg_node.api.get(dl["qr_code"]).status_code == 200
    assert reg_node.api.get(f"/provenance/batches/{plain}/passport").json()["digital_link"]["identifiers"] == []


MINE = ("/01/", "/products/", "/iscc/", "/digital-link/")


def test_issue14_routes_never_answer_5xx_to_generated_requests(reg_node, bound):
    """Schemathesis over this issue's operations only (the node-wide run is tests/node/test_schemathesis.py):
    invalid GTINs, ids beyond every range, other scripts' digits, malformed transfer ids: 4xx, never 5xx."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable

    schema = schemathesis.openapi.from_url(f"{reg_node.url}/openapi.json")
    failures: list[str] = []
    ops = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if not op.path.startswith(MINE):
            continue
        ops += 1

        @settings(max_examples=25, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        @given(case=op.as_strategy())
        def run(case) -> None:
            try:
                r = case.call(base_url=reg_node.url, timeout=60, allow_redirects=False)
            except requests.ConnectionError as exc:
                failures.append(f"{op.label}: connection error {exc!r}")
                return
            if r.status_code >= 500:
                failures.append(f"{op.label}: {r.status_code} {r.text[:300]} for {case.as_curl_command()}")

        try:
            run()
        except Unsatisfiable:
            pass
    assert ops >= 9, ops
    assert not failures, "\n".join(failures[:20])


def test_contract_refuses_what_the_node_refuses(reg_node, bound):
    """The chain is the authority: a request that skips the node's checks is refused by the contract too, and
    the contract's check digit and character set agree with the node's on many values."""
    import random

    from web3.exceptions import ContractCustomError, ContractLogicError

    from node_api.digital_link.gs1 import Gs1Error, check_digit, normalise_gtin, validate_value

    pi = reg_node.contracts["ProductIdentifiers"]
    product = bound[0]
    brand = reg_node.world.brand.address
    for gtin, value, error in ((4006381333932, "L9", "IdentifierInvalidGtin"), (0, "L9", "IdentifierInvalidGtin"),
                               (10**14 + 3, "L9", "IdentifierInvalidGtin"), (4006381333931, "L 9", "IdentifierInvalidValue"),
                               (4006381333931, "", "IdentifierInvalidValue"), (4006381333931, "x" * 21, "IdentifierInvalidValue")):
        with pytest.raises((ContractCustomError, ContractLogicError)) as e:
            pi.functions.bind(product, gtin, 0, value).call({"from": brand})
        selector = "0x" + reg_node.w3.keccak(text=next(
            f"{x['name']}({','.join(i['type'] for i in x['inputs'])})" for x in pi.abi
            if x.get("type") == "error" and x["name"] == error))[:4].hex()
        assert selector in str(e.value.args) or error in str(e.value), (gtin, value, e.value)
    rnd = random.Random(14)
    for _ in range(200):
        body = "".join(rnd.choice("0123456789") for _ in range(rnd.choice((7, 11, 12, 13))))
        good = body + str(check_digit(body))
        bad = body + str((check_digit(body) + rnd.randint(1, 9)) % 10)
        assert pi.functions.validGtin(int(good)).call() == (int(good) != 0)
        assert pi.functions.validGtin(int(bad)).call() is False
        if int(good):
            assert normalise_gtin(good).lstrip("0") == good.lstrip("0")
    for c in map(chr, range(32, 127)):
        try:
            validate_value(c, "lot")
            ok = True
        except Gs1Error:
            ok = False
        assert pi.functions.validValue(c).call() == ok, repr(c)


def test_auditor_verifies_every_binding_from_the_chain(reg_node, bound, capsys):
    import json as _json

    from auditor.cli import main

    pi = reg_node.node.addresses["ProductIdentifiers"]
    rc = main(["identifiers", "--rpc", reg_node.anvil.url, "--registry", reg_node.registry, "--contract", pi, "--json"])
    res = _json.loads(capsys.readouterr().out)
    assert rc == 0, res["findings"]
    got = {(b["gtin"], b["kind"], b["value"], b["batchId"]) for b in res["bindings"]}
    assert {(GTIN14, "lot", "LOT-2026/12", bound[0]), ("00000096385074", "serial", "SN000123", bound[1])} <= got
    assert all(not b["problems"] for b in res["bindings"])


def test_auditor_catches_a_binding_made_outside_this_ledger(reg_node, bound, capsys):
    """A look-alike contract wired to another token contract lets a wallet "bind" a token it does not hold on
    this ledger: the auditor reports the wiring and the binding (the signer held none of the batch)."""
    from auditor.cli import main
    from node_api.core.chain import deploy_contract, send_tx
    from node_api.core.compile import compile_contracts

    arts = compile_contracts()
    brand = reg_node.world.brand.account
    plain = bound[2]  # held by the farm, not by the brand
    fake_ledger = deploy_contract(reg_node.w3, arts["BareERC1155"], brand)
    send_tx(reg_node.w3, fake_ledger.functions.mint(brand.address, plain, 1), brand)
    rogue = deploy_contract(reg_node.w3, arts["ProductIdentifiers"], brand, reg_node.registry, fake_ledger.address,
                            reg_node.node.addresses["CocForwarder"])
    send_tx(reg_node.w3, rogue.functions.bind(plain, int(GTIN14), 0, "ROGUE-1"), brand)
    rc = main(["identifiers", "--rpc", reg_node.anvil.url, "--registry", reg_node.registry, "--contract",
               rogue.address])
    out = capsys.readouterr().out
    assert rc == 1
    assert "identifiers.wiring: the contract's ledger is" in out
    assert f"held none of batch {plain}" in out and "[FAIL] /01/04006381333931/10/ROGUE-1" in out
    # the node's resolver only reads the deployment's own contract: the rogue binding resolves to nothing
    assert reg_node.api.get(f"/01/{GTIN14}/10/ROGUE-1", follow_redirects=False).status_code == 404
