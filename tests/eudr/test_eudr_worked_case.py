"""The worked EUDR case, end to end through a running node and the TRACES stand-in process (the README follows
it step by step): plot -> origin -> transfer -> transform -> product -> DDS -> TRACES -> numbers on chain.
And the refusals on the way: an invalid plot file, a file that is not the origin's, a plot read by someone not
entitled, a statement for a product whose traceability ended, a statement without a TRACES endpoint's answer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from eth_account import Account

from eudr_data import DALOA, SOUBRE, SOUBRE_HA, dds_request, polygon_text
from node_api.core.anvil import EmbeddedAnvil, free_port
from node_api.core.chain import connect
from node_api.core.config import Settings
from testkit.sandbox import (IDENTITY_PRESERVED, MASS_BALANCE, ROLE_AUDITOR, ROLE_BRAND, ROLE_CERTIFIER,
                             ROLE_SUPPLIER, SEGREGATED, Contracts, Sandbox, h, models_mask)

pytestmark = pytest.mark.chain
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "node"))
from nodeserver import ADMIN_KEY, ServerThread, node_settings  # noqa: E402

MNEMONIC = "test test test test test test test test test test test junk"
T = 1_000_000  # grams per tonne
KEYSTORE_PW = "node-keystore-pw"


def dev(i: int):
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    anvil = EmbeddedAnvil.throwaway(accounts=20)
    anvil.start()
    port = free_port()
    standin = subprocess.Popen([sys.executable, "-m", "testkit.traces_standin", "--port", str(port), "--username",
                                "operator-nl", "--auth-key", "traces-key"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    url = standin.stdout.readline().rsplit(" ", 1)[-1].strip()
    settings = node_settings(tmp_path_factory.mktemp("eudr-node"), anvil.url, traces_url=url,
                             traces_username="operator-nl", traces_auth_key="traces-key")
    srv = ServerThread(settings).start()
    try:
        yield build_case(srv, anvil)
    finally:
        srv.stop()
        standin.terminate()
        standin.wait(10)
        anvil.stop()


def build_case(srv: ServerThread, anvil: EmbeddedAnvil) -> SimpleNamespace:
    node = srv.node
    w3 = connect(Settings(), rpc_url=anvil.url)
    c = {full: w3.eth.contract(address=node.addresses[full], abi=node.abis[full].abi) for full in node.addresses}
    sb = Sandbox(w3, Contracts(c["ParticipantRegistry"], c["CocForwarder"], c["MassBalance"], c["BatchLedger"],
                               c["CertificateRegistry"]), dev(0), dev(19))
    certifier = sb.participant("Control Union", ROLE_CERTIFIER, dev(1))
    farm = sb.participant("Coopérative de Soubré", ROLE_SUPPLIER, dev(2), site="Soubré warehouse")
    grinder = sb.participant("Abidjan Cocoa Processing", ROLE_SUPPLIER, dev(3), site="Abidjan mill")
    brand = sb.participant("Chocolaterie Rotterdam", ROLE_SUPPLIER | ROLE_BRAND, dev(4), site="Rotterdam plant")
    auditor = sb.participant("Audit GmbH", ROLE_AUDITOR, dev(5))
    stranger = sb.participant("Other Trader", ROLE_SUPPLIER, dev(6), site="Antwerp")
    beans = sb.material("cocoa beans")
    mass = sb.material("cocoa mass")
    scheme = sb.scheme("Rainforest Alliance")
    certified = sb.characteristic("certified", scheme)
    grinding = sb.process("grinding", beans, mass, 800_000, 50_000)
    for actor in (farm, grinder, brand, stranger):
        sb.certify(certifier, actor, [beans, mass], [certified], scheme="Rainforest Alliance")
    sb.capacity(certifier, farm, beans, 100 * T)
    keys = {}
    for actor in (farm, grinder, brand, auditor, stranger):
        node.accounts.keystores.save(actor.account, KEYSTORE_PW)
        keys[actor.name] = node.accounts.create_api_key(actor.address, actor.name)
    api = httpx.Client(base_url=srv.url, timeout=60)
    return SimpleNamespace(rpc_url=anvil.url, sb=sb, c=c, api=api, keys=keys, farm=farm, grinder=grinder, brand=brand, auditor=auditor,
                           stranger=stranger, beans=beans, mass=mass, certified=certified, grinding=grinding)


def as_(case, actor) -> dict:
    return {"X-API-Key": case.keys[actor.name]}


def origin(case, plot_hash: str, quantity: int, *, model=SEGREGATED, dds_ref: str = "") -> int:
    sb = case.sb
    params = (case.beans, case.certified, model, 1_000_000 if model >= SEGREGATED else 0, quantity,
              bytes.fromhex(plot_hash[2:]), dds_ref, sb.next_evidence("harvest"), sb.now() - 86_400)
    receipt = sb.tx(case.c["BatchLedger"].functions.createOrigin(params), case.farm)
    return sb.events(receipt, case.c["BatchLedger"], "BatchCreated")[0]["batchId"]


# ---------------------------------------------------------------------------------------------- the worked case
def test_eudr_worked_case_plot_to_dds(case):
    api, sb = case.api, case.sb
    # 1. the cooperative registers its plot: a polygon (24.7 ha) in WGS84, six decimals
    plot_file = polygon_text(SOUBRE, area_ha=SOUBRE_HA, name="Soubré block 7")
    r = api.post("/eudr/plots", content=plot_file, headers=as_(case, case.farm) | {"Content-Type": "application/geo+json"})
    assert r.status_code == 201, r.text
    plot = r.json()
    assert plot["kind"] == "polygon" and plot["country"] == "CI" and 23.5 < plot["areaHa"] < 26
    # 2. it creates a segregated origin on that plot: the chain keeps the file's hash
    o = origin(case, plot["geolocationHash"], 10 * T, dds_ref="25CIXXSIMPLIFIED1")
    assert case.c["BatchLedger"].functions.eudrStatus(o).call() == 1  # traceable
    # the upload can be checked against the origin's hash afterwards
    r = api.post(f"/eudr/plots?origin={o}", content=plot_file, headers=as_(case, case.farm))
    assert r.status_code == 201 and r.json()["geolocationHash"] == plot["geolocationHash"]
    # 3. custody to the grinder, 4. grinding (segregated) into cocoa mass, 5. custody to the brand
    sb.transfer(case.farm, case.grinder, o, 10 * T)
    receipt = sb.tx(case.c["BatchLedger"].functions.transform(case.grinding, [o], [10 * T], 8 * T, SEGREGATED, 0),
                    case.grinder)
    product = sb.events(receipt, case.c["BatchLedger"], "BatchCreated")[0]["batchId"]
    sb.transfer(case.grinder, case.brand, product, 8 * T)
    # the node shows its EUDR facts: traceable, the plot, the DDS references of all its inputs
    facts = api.get(f"/eudr/batches/{product}").json()
    assert facts["eudrStatus"] == "traceable" and facts["plots"] == [plot["geolocationHash"]]
    assert [(x["batchId"], x["referenceNumber"]) for x in facts["ddsReferences"]] == [(o, "25CIXXSIMPLIFIED1")]
    # 6. the brand builds its statement: Annex II fields, the plot's geolocation, the upstream reference
    req = dds_request(hsCode="1803", description="Cocoa paste, not defatted", tradeName="Soubré 100% cocoa mass",
                      netMassKg=8000)
    r = api.post(f"/eudr/products/{product}/dds/build", json=req, headers=as_(case, case.brand))
    assert r.status_code == 200, r.text
    st = r.json()["statement"]
    assert st["countriesOfProduction"] == ["CI"] and st["commodity"] == "cocoa"
    assert st["geolocation"]["features"][0]["properties"]["geolocationHash"] == plot["geolocationHash"]
    assert st["referencedStatements"] == [{"referenceNumber": "25CIXXSIMPLIFIED1", "verificationNumber": None}]
    # 7. submitted to TRACES (the stand-in), the numbers recorded on chain by the brand's wallet
    r = api.post(f"/eudr/products/{product}/dds", json=req, headers=as_(case, case.brand))
    assert r.status_code == 200, r.text
    sub = r.json()
    assert len(sub["referenceNumber"]) == 14 and len(sub["verificationNumber"]) == 8
    tx = sub["transaction"]
    assert tx["signer"] == case.brand.address and tx["action"] == "eudr/dds.record"
    assert [e["event"] for e in tx["events"]] == ["DdsRecorded", "ExecutedForwardRequest"]
    assert tx["events"][0]["args"]["documentHash"] == sub["documentHash"]
    onchain = case.c["DueDiligenceRegistry"].functions.statements(product).call()
    assert [(s[0], s[1], s[3]) for s in onchain] == [(sub["referenceNumber"], sub["verificationNumber"],
                                                      case.brand.participant_id)]
    # 8. the product's statements as JSON (the URL the GS1 linkset points at)
    listed = api.get(f"/products/{product}/dds").json()
    assert listed["statements"][0]["referenceNumber"] == sub["referenceNumber"]
    assert listed["statements"][0]["document"]["hsCode"] == "1803"
    assert listed["inputReferences"][0]["referenceNumber"] == "25CIXXSIMPLIFIED1"
    # 9. TRACES info, an amendment (same reference), a retraction, each recorded on chain
    assert api.get(f"/eudr/products/{product}/dds/0/traces").json()["traces"]["status"] == "AVAILABLE"
    r = api.post(f"/eudr/products/{product}/dds/0/amend", json=req | {"netMassKg": 7950}, headers=as_(case, case.brand))
    assert r.status_code == 200 and r.json()["referenceNumber"] == sub["referenceNumber"], r.text
    r = api.post(f"/eudr/products/{product}/dds/0/retract", headers=as_(case, case.brand))
    assert r.status_code == 200 and r.json()["status"] == "WITHDRAWN", r.text
    assert case.c["DueDiligenceRegistry"].functions.statements(product).call()[0][5] is True
    case.product, case.plot, case.origin = product, plot["geolocationHash"], o


def test_eudr_plot_access_rule(case):
    api = case.api
    if not hasattr(case, "product"):
        pytest.skip("needs the worked case")
    path = f"/eudr/plots/{case.plot}"
    assert api.get(path, headers=as_(case, case.farm)).status_code == 200  # the registrant
    assert api.get(path, headers={"X-Admin-Key": ADMIN_KEY}).status_code == 200  # the consortium admin
    assert api.get(f"{path}?batch={case.product}", headers=as_(case, case.brand)).status_code == 200  # holder
    assert api.get(f"{path}?batch={case.product}", headers=as_(case, case.auditor)).status_code == 200  # auditor
    r = api.get(path, headers=as_(case, case.brand))  # a holder who names no batch
    assert r.status_code == 403 and r.json()["error"] == "PlotAccessDenied"
    r = api.get(f"{path}?batch={case.product}", headers=as_(case, case.grinder))  # held it once, holds none now
    assert r.status_code == 403 and "neither holds" in r.json()["message"]
    r = api.get(f"{path}?batch={case.product}", headers=as_(case, case.stranger))
    assert r.status_code == 403
    assert api.get(path).status_code == 401  # no key
    assert api.get("/eudr/plots/0x" + "11" * 32, headers=as_(case, case.farm)).status_code == 404
    assert api.get("/eudr/plots/nothex", headers=as_(case, case.farm)).status_code == 422


def test_eudr_plot_upload_refusals(case):
    api = case.api
    bad = polygon_text(SOUBRE[:4])  # ring not closed
    r = api.post("/eudr/plots", content=bad, headers=as_(case, case.farm))
    assert r.status_code == 422 and r.json()["details"]["rule"] == "ring.closed"
    other = polygon_text(DALOA)
    o = origin(case, "0x" + h("some other plot").hex(), T)
    r = api.post(f"/eudr/plots?origin={o}", content=other, headers=as_(case, case.farm))
    assert r.status_code == 409 and r.json()["error"] == "PlotHashMismatch"
    assert api.post("/eudr/plots", content=other).status_code == 401


def test_eudr_dds_refused_when_traceability_ended(case):
    api, sb = case.api, case.sb
    plot = api.post("/eudr/plots", content=polygon_text(DALOA, name="Daloa"), headers=as_(case, case.farm)).json()
    o = origin(case, plot["geolocationHash"], 2 * T)
    receipt = sb.tx(case.c["BatchLedger"].functions.merge([o], [2 * T], MASS_BALANCE), case.farm)
    mb = sb.events(receipt, case.c["BatchLedger"], "BatchCreated")[0]["batchId"]
    facts = api.get(f"/eudr/batches/{mb}").json()
    assert facts["eudrStatus"] == "ended" and facts["endedReason"] == "model not segregated"
    r = api.post(f"/eudr/products/{mb}/dds/build", json=dds_request(), headers=as_(case, case.farm))
    assert r.status_code == 422 and r.json()["error"] == "EudrNotTraceable", r.text
    assert "model not segregated" in r.json()["message"]
    # and on chain: the registry refuses to record a statement for it, whoever asks
    r = api.post("/eudr/dds/record", json={"batchId": mb, "referenceNumber": "25X", "verificationNumber": "ABCDEFGH",
                                           "documentHash": "doc"}, headers=as_(case, case.farm))
    assert r.status_code == 409 and r.json()["error"] == "DdsNotTraceable", r.text


def test_eudr_dds_field_rules_and_entitlement_over_http(case):
    api = case.api
    if not hasattr(case, "product"):
        pytest.skip("needs the worked case")
    r = api.post(f"/eudr/products/{case.product}/dds/build", json=dds_request(hsCode="5201"), headers=as_(case, case.brand))
    assert r.status_code == 422 and "hsCode" in r.text
    r = api.post(f"/eudr/products/{case.product}/dds/build", json=dds_request(), headers=as_(case, case.stranger))
    assert r.status_code == 403 and r.json()["error"] == "NotHolder"


def test_eudr_auditor_agrees_with_the_chain(case):
    """The independent auditor replays the whole case (and the refusal cases above): every batch's EUDR status
    and every EudrTraceabilityEnded checked, and the ledger's eudrStatus view compared, without a finding."""
    from auditor.cli import run_audit

    if not hasattr(case, "product"):
        pytest.skip("needs the worked case")
    res = run_audit(case.rpc_url, case.c["ParticipantRegistry"].address,
                    dds_registry=case.c["DueDiligenceRegistry"].address)
    rules = res["rules"]
    assert rules["eudr.traceability"]["checks"] >= 4 and rules["eudr.traceability"]["failures"] == 0
    assert rules["views.match"]["failures"] == 0
    # the statement recorded, amended and retracted in the worked case: three events, each checked
    assert rules["eudr.statements"] == {"checks": 3, "failures": 0, "warnings": 0}
    [st] = [s for s in res["eudrStatements"] if s["batchId"] == case.product]
    assert st["participantId"] == case.brand.participant_id and st["amendments"] == 1 and st["retracted"] is True
    assert res["summary"]["ok"], res["findings"]
