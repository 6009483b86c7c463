"""Demo scenario: two supply chains on the ledger, every write signed by the acting participant's own
key and sent through the node's HTTP API (prepare -> sign locally -> submit).

- Textile (segregated, GOTS organic): organic cotton farm -> ginner -> spinner -> weaver -> brand,
  with a two-step handshake, one-transaction transfers, a split, a cancelled offer, three transforms
  through registered processes and the brand's sale.
- Chemicals (mass balance, ISCC PLUS bio-circular): bio-feedstock -> steam cracker -> polymer plant ->
  film converter; deliveries carry declarations (credits move with them), the cracker blends fossil
  naphtha, transforms convert credits with the process factor.
- Book & claim: the polymer plant pledges its spare credits, the registry (issuer) issues certificates
  against the pledge, they are traded and retired for a brand; a second, verified issuance is revoked.

Administration (participants, reference data) is signed by the consortium admin wallet, the
certifications by the certification bodies' wallets. Run ``python scripts/demo.py [URL]`` against a
running node, or ``make run DEMO=1``. ``run_demo(base_url, ...)`` returns every id it created.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node_api.cli.client import NodeClient
from node_api.core.config import ANVIL_DEFAULT_KEY

DAY = 86_400
PPM = 1_000_000
T = 1_000_000  # grams per tonne
SUPPLIER, CERTIFIER, ISSUER, BRAND = 4, 2, 8, 32
ALL_CERTIFIED_MODELS = 0b11110
UNCERTIFIED, MASS_BALANCE, SEGREGATED = 0, 1, 3


def h(text: str) -> str:
    return "0x" + keccak(text=text).hex()


def actor_key(seed: str, name: str) -> LocalAccount:
    return Account.from_key(keccak(text=f"coc-demo:{seed}:{name}"))


def run_demo(base_url: str, *, admin_key: str | None = None, admin_wallet_key: str = ANVIL_DEFAULT_KEY,
             seed: str | None = None, log=print) -> dict[str, Any]:
    """Loads both chains through the node at ``base_url``; returns the ids (participants, wallets'
    addresses, materials, batches, transfers, certificates...). ``seed`` makes the actors' keys
    (default: a fresh seed, so the demo can run again on the same chain)."""
    seed = seed or str(time.time_ns())
    c = NodeClient(base_url, admin_key=admin_key)
    admin = Account.from_key(admin_wallet_key)
    ids: dict[str, Any] = {"seed": seed, "addresses": {}, "participants": {}, "keys": {}}
    now = int(c.get("health")["timestamp"])

    def act(who: LocalAccount, action: str, **params: Any) -> dict[str, Any]:
        return c.act(who, action, **params)["result"]

    # ------------------------------------------------------------------ participants
    actors: dict[str, LocalAccount] = {}

    def participant(key: str, name: str, roles: int, site: str | None = None) -> int:
        acct = actor_key(seed, key)
        pid = act(admin, "participants/register", name=name, roles=roles)["participantId"]
        site_id = 0
        if site:
            site_id = act(admin, "participants/add-site", participantId=pid, name=site, locationRef=f"site:{site}")["siteId"]
        act(admin, "participants/add-wallet", wallet=acct.address, participantId=pid, siteId=site_id)
        ids.setdefault("sites", {})[key] = site_id
        actors[key] = acct
        ids["participants"][key] = pid
        ids["addresses"][key] = acct.address
        ids["keys"][key] = "0x" + acct.key.hex()
        return pid

    log("registering participants (admin-signed)...")
    participant("control_union", "Control Union Certifications", CERTIFIER)
    participant("farm", "Organic Cotton Farm, Gujarat", SUPPLIER, "Farm Gujarat")
    participant("ginner", "Rajkot Ginning Mill", SUPPLIER, "Gin Rajkot")
    participant("spinner", "Tiruppur Spinning Mill", SUPPLIER, "Spinner Tiruppur")
    participant("weaver", "Coimbatore Weaving", SUPPLIER, "Weaver Coimbatore")
    participant("brand", "Fashion Brand Ltd", BRAND, "Brand DC Rotterdam")
    participant("sgs", "SGS ISCC Certification", CERTIFIER)
    participant("feedstock", "Bio-Feedstock Refinery", SUPPLIER, "Refinery Rotterdam")
    participant("cracker", "Steam Cracker Antwerp", SUPPLIER, "Cracker Antwerp")
    participant("polymer", "Polymer Plant Geleen", SUPPLIER, "Polymer Geleen")
    participant("converter", "Film Converter Lyon", SUPPLIER, "Converter Lyon")
    participant("registry", "Book & Claim Registry", ISSUER)
    a = actors
    # A further wallet needs the participant's own consent (issue 10 J): the brand's wallet binds it, not the
    # admin (the admin alone binds only a participant's first wallet, at onboarding).
    second = actor_key(seed, "brand-2")
    act(a["brand"], "participants/add-wallet", wallet=second.address, participantId=ids["participants"]["brand"],
        siteId=ids["sites"]["brand"])  # a brand acts from a site: site 0 is refused (issue 13)
    ids["wallets"] = {"brand_2": second.address}

    log("registering reference data (materials, schemes, processes)...")
    m = ids["materials"] = {}
    g = int(seed.encode().hex()[-6:], 16) % 10_000 * 10 + 100  # groups unique per demo run
    for i, (key, name) in enumerate([("seed_cotton", "seed cotton"), ("lint", "cotton lint"), ("yarn", "cotton yarn"),
                                     ("fabric", "greige fabric"), ("naphtha", "naphtha"), ("ethylene", "ethylene"),
                                     ("pe", "polyethylene"), ("film", "PE film")]):
        m[key] = act(admin, "processes/register-material", name=name, unit="g", group=g + i, waste=False)["material"]
    gots = act(admin, "processes/register-scheme", name="GOTS", periodLength=90 * DAY, anchor=now - DAY)["scheme"]
    iscc = act(admin, "processes/register-scheme", name="ISCC PLUS", periodLength=90 * DAY, anchor=now - DAY)["scheme"]
    organic = act(admin, "processes/register-characteristic", name="organic", scheme=gots)["characteristic"]
    biocirc = act(admin, "processes/register-characteristic", name="bio-circular", scheme=iscc)["characteristic"]
    ids.update(schemes={"gots": gots, "iscc": iscc}, characteristics={"organic": organic, "bio_circular": biocirc})
    p = ids["processes"] = {}
    for key, name, i, o, f, tol in [
        ("ginning", "ginning", "seed_cotton", "lint", 350_000, 50_000),
        ("spinning", "ring spinning", "lint", "yarn", 850_000, 50_000),
        ("weaving", "weaving", "yarn", "fabric", 950_000, 50_000),
        ("cracking", "steam cracking", "naphtha", "ethylene", 300_000, 100_000),
        ("polymerisation", "polymerisation", "ethylene", "pe", 980_000, 20_000),
        ("extrusion", "film extrusion", "pe", "film", 950_000, 50_000),
    ]:
        p[key] = act(admin, "processes/register", name=name, inputMaterial=m[i], outputMaterial=m[o], factor=f,
                     tolerance=tol)["processId"]

    log("recording certifications (certifier-signed)...")
    certs = ids["certifications"] = {}
    textile = [m["seed_cotton"], m["lint"], m["yarn"], m["fabric"]]
    chem = [m["naphtha"], m["ethylene"], m["pe"], m["film"]]
    for key in ("farm", "ginner", "spinner", "weaver", "brand"):
        certs[key] = act(a["control_union"], "participants/record-certification", holder=ids["participants"][key],
                         scheme="GOTS", certificateNumber=f"CU-GOTS-{seed[-6:]}-{key}", materials=textile,
                         characteristics=[organic], models=ALL_CERTIFIED_MODELS, validFrom=now - DAY,
                         validTo=now + 365 * DAY)["certificationId"]
    for key in ("feedstock", "cracker", "polymer", "converter"):
        certs[key] = act(a["sgs"], "participants/record-certification", holder=ids["participants"][key],
                         scheme="ISCC PLUS", certificateNumber=f"ISCC-PLUS-{seed[-6:]}-{key}", materials=chem,
                         characteristics=[biocirc], models=1 << MASS_BALANCE, validFrom=now - DAY,
                         validTo=now + 365 * DAY)["certificationId"]
    act(a["control_union"], "participants/set-capacity", participantId=ids["participants"]["farm"],
        material=m["seed_cotton"], validFrom=now - DAY, validTo=now + 365 * DAY, amount=1_000 * T)
    act(a["sgs"], "participants/set-capacity", participantId=ids["participants"]["feedstock"],
        material=m["naphtha"], validFrom=now - DAY, validTo=now + 365 * DAY, amount=10_000 * T)

    # ------------------------------------------------------------------ textile, segregated
    log("textile chain: farm -> ginner -> spinner -> weaver -> brand (segregated organic)...")
    b = ids["batches"] = {}
    tr = ids["transfers"] = {}
    b["seed_cotton"] = act(a["farm"], "batches/create", material=m["seed_cotton"], characteristic=organic,
                           model="segregated", share=PPM, quantity=10 * T, geolocationHash=f"geojson:{seed}:plot-7",
                           ddsReference=f"EUDR-DDS-{seed[-6:]}-1", evidenceHash=f"harvest:{seed}:2026",
                           productionDate=now - 2 * DAY)["batchIds"][0]
    tr["farm_ginner"] = c.propose(a["farm"], a["ginner"].address, b["seed_cotton"], 10 * T)["result"]["transferId"]
    c.settle("accept", a["ginner"], tr["farm_ginner"])
    b["lint"] = act(a["ginner"], "batches/transform", processId=p["ginning"], batchIds=[b["seed_cotton"]],
                    quantities=[10 * T], outputQuantity=3_500_000, model="segregated")["batchIds"][0]
    c.transfer_with_acceptance(a["ginner"], a["spinner"], b["lint"], 3_500_000)
    b["yarn"] = act(a["spinner"], "batches/transform", processId=p["spinning"], batchIds=[b["lint"]],
                    quantities=[3_500_000], outputQuantity=2_975_000, model="segregated")["batchIds"][0]
    b["yarn_lot_a"], b["yarn_lot_b"] = act(a["spinner"], "batches/split", batchId=b["yarn"],
                                           quantities=[2_000_000, 975_000])["batchIds"]
    tr["spinner_weaver_a"] = c.propose(a["spinner"], a["weaver"].address, b["yarn_lot_a"], 2_000_000)["result"]["transferId"]
    tr["spinner_weaver_b_cancelled"] = c.propose(a["spinner"], a["weaver"].address, b["yarn_lot_b"], 975_000)["result"]["transferId"]
    c.settle("cancel", a["spinner"], tr["spinner_weaver_b_cancelled"])
    c.settle("accept", a["weaver"], tr["spinner_weaver_a"])
    b["fabric"] = act(a["weaver"], "batches/transform", processId=p["weaving"], batchIds=[b["yarn_lot_a"]],
                      quantities=[2_000_000], outputQuantity=1_900_000, model="segregated")["batchIds"][0]
    c.transfer_with_acceptance(a["weaver"], a["brand"], b["fabric"], 1_900_000)
    act(a["brand"], "batches/consume", batchId=b["fabric"], quantity=400_000, reason=0, ref=f"sales-order:{seed}:1")

    # ------------------------------------------------------------------ chemicals, mass balance
    log("chemicals chain: bio-feedstock -> cracker -> polymer -> converter (mass balance)...")
    b["bio_naphtha"] = act(a["feedstock"], "batches/create", material=m["naphtha"], characteristic=biocirc,
                           model="mass balance", share=0, quantity=100 * T, geolocationHash=f"geo:{seed}:refinery",
                           ddsReference="", evidenceHash=f"production:{seed}:bio-naphtha",
                           productionDate=now - DAY)["batchIds"][0]
    b["fossil_naphtha"] = act(a["cracker"], "batches/create", material=m["naphtha"], characteristic=0,
                              model="uncertified", share=0, quantity=300 * T, geolocationHash=f"geo:{seed}:tank",
                              ddsReference="", evidenceHash=f"intake:{seed}:fossil", productionDate=now - DAY)["batchIds"][0]
    c.transfer_with_acceptance(a["feedstock"], a["cracker"], b["bio_naphtha"], 100 * T, certified=100 * T)
    b["naphtha_blend"] = act(a["cracker"], "batches/merge", batchIds=[b["bio_naphtha"], b["fossil_naphtha"]],
                             quantities=[100 * T, 300 * T], model="mass balance")["batchIds"][0]
    b["ethylene"] = act(a["cracker"], "batches/transform", processId=p["cracking"], batchIds=[b["naphtha_blend"]],
                        quantities=[400 * T], outputQuantity=120 * T, model="mass balance",
                        creditsToConvert=100 * T)["batchIds"][0]
    tr["cracker_polymer"] = c.propose(a["cracker"], a["polymer"].address, b["ethylene"], 120 * T,
                                      certified=30 * T)["result"]["transferId"]
    c.settle("accept", a["polymer"], tr["cracker_polymer"])
    b["pe"] = act(a["polymer"], "batches/transform", processId=p["polymerisation"], batchIds=[b["ethylene"]],
                  quantities=[120 * T], outputQuantity=117_600_000, model="mass balance",
                  creditsToConvert=30 * T)["batchIds"][0]
    c.transfer_with_acceptance(a["polymer"], a["converter"], b["pe"], 117_600_000, certified=20 * T)
    b["film"] = act(a["converter"], "batches/transform", processId=p["extrusion"], batchIds=[b["pe"]],
                    quantities=[117_600_000], outputQuantity=111_720_000, model="mass balance",
                    creditsToConvert=20 * T)["batchIds"][0]

    # ------------------------------------------------------------------ book & claim
    log("book & claim: pledge credits, issue, transfer, retire; a verified issuance revoked...")
    cert = ids["certificates"] = {}
    pledge = act(a["polymer"], "certificates/pledge-credits", material=m["pe"], characteristic=biocirc,
                 quantity=9 * T)["pledgeId"]
    ids["pledges"] = {"polymer_pe": pledge}
    cert["pe_credits"] = act(a["registry"], "certificates/issue", producer=ids["participants"]["polymer"],
                             to=a["polymer"].address, amount=9, unitSize=T, unitLabel="1 t bio-circular PE",
                             material=m["pe"], characteristic=biocirc, periodStart=now - 30 * DAY, periodEnd=now,
                             evidenceHash=f"audit:{seed}:polymer-q1", pledgeId=pledge)["certificateId"]
    act(a["polymer"], "certificates/transfer", to=a["converter"].address, certificateId=cert["pe_credits"], amount=5)
    ids["retirements"] = {"converter_claim": act(
        a["converter"], "certificates/retire", certificateId=cert["pe_credits"], amount=3,
        beneficiary="Consumer Goods Brand plc", periodStart=now - 30 * DAY, periodEnd=now,
        purposeHash="claim: 3 t bio-circular PE film, 2026 packaging")["retirementId"]}
    cert["verified_revoked"] = act(a["registry"], "certificates/issue", producer=ids["participants"]["feedstock"],
                                   to=a["feedstock"].address, amount=50, unitSize=T, unitLabel="1 t",
                                   material=m["naphtha"], characteristic=biocirc, periodStart=now - 30 * DAY,
                                   periodEnd=now, evidenceHash=f"audit:{seed}:feedstock-q1", pledgeId=0)["certificateId"]
    act(a["registry"], "certificates/revoke", certificateId=cert["verified_revoked"],
        reasonHash="audit finding: double counted production")
    c.close()
    log(f"demo loaded: {len(b)} batches, {len(tr)} transfers, {len(cert)} certificate issuances")
    return ids


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", nargs="?", default="http://127.0.0.1:8000")
    ap.add_argument("--admin-wallet-key", default=ANVIL_DEFAULT_KEY, help="consortium admin wallet key (signs admin actions)")
    ap.add_argument("--seed", default=None)
    ap.add_argument("--json", action="store_true", help="print the ids as JSON")
    args = ap.parse_args(argv)
    ids = run_demo(args.url, admin_wallet_key=args.admin_wallet_key, seed=args.seed,
                   log=(lambda *_: None) if args.json else print)
    if args.json:
        print(json.dumps(ids, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
