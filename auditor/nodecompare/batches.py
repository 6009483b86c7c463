"""The expected answer of GET /provenance/batches/{id}: the batch, its lineage and descendants, its custody,
its book & claim part and the claim it supports."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

from ..model import CONSUME_REASONS, CONTROLLED_BLENDING, KINDS, MASS_BALANCE, MODELS, PPM, SEGREGATED, TRANSFER_STATUS
from ..claims import released_quantity
from ..replay import Replay
from .values import ABSENT, Approx, EVIDENCE, Keyed, Percent, Valid, hex_text, snake_name
from .facts import ACCEPTED, Facts, PENDING, batch_refs, certification_answer, certification_at
from .certificates import issuance_summary, pledge_answer, pledges_of


# ---------------------------------------------------------------------------------------------- batches
def _batch_core(fx: Facts, bid: int) -> dict[str, Any]:
    r = fx.r
    b = r.batches[bid]
    node = {
        "batch_id": bid, "kind": snake_name(KINDS[b["kind"]]), "material_id": b["material"],
        "material": fx.material(b["material"]), "unit": fx.unit(b["material"]),
        "characteristic_id": b["characteristic"], "characteristic": fx.characteristic(b["characteristic"]),
        "model_id": b["model"], "model": MODELS[b["model"]], "share_ppm": b["share"],
        "origin_batch_id": b["origin"] or None, "creator_id": b["creator"], "creator": fx.name(b["creator"]),
        "created_by": b["holder"], "quantity": b["quantity"], "tx_hash": b["ref"]["tx"],
        "block_number": b["ref"]["block"], "log_index": b["ref"]["logIndex"], "time": b["createdAt"],
    }
    info = b["originInfo"]
    if info is not None:
        site = r.sites.get(info["siteId"])
        node.update(site_id=info["siteId"], site=site["name"] if site else None,
                    certification_id=info["certificationId"] or None,
                    geolocation_hash=info["geolocationHash"], dds_reference=info["ddsReference"],
                    evidence_hash=info["evidenceHash"], production_date=info["productionDate"])
    else:
        node["site_id"] = ABSENT
    return node


def transfer_answer(fx: Facts, tid: str) -> dict[str, Any]:
    t = fx.r.transfers[tid]
    block = t["proposed"]["block"]
    out = {
        "transfer_id": tid, "batch_id": t["batchId"], "status": TRANSFER_STATUS[t["status"]].lower(),
        "signer": fx.who(t["from"], block), "receiver": fx.who(t["to"], block), "quantity": t["quantity"],
        "certified_quantity": t["certifiedQuantity"], "declaration": t["certifiedQuantity"] > 0,
        "nonce": t["nonce"], "deadline": t["deadline"], "sender_signature": hex_text(t.get("signature")),
        "proposed": {"tx_hash": t["proposed"]["tx"], "block_number": block, "log_index": t["proposed"]["logIndex"],
                     "time": t["proposedAt"]},
        "settled": None,
        EVIDENCE: [t["proposed"], t["settled"]],
    }
    if t["settled"] is not None:
        out["settled"] = {"tx_hash": t["settled"]["tx"], "block_number": t["settled"]["block"], "time": t["settledAt"],
                          "log_index": t["settled"]["logIndex"], "signature": hex_text(t.get("settleSignature")),
                          "signed_by": out["signer"] if t["status"] == 4 else out["receiver"]}
    return out


def _path_check(r: Replay, origin: int, root: int) -> Callable[[Any, dict], bool]:
    def check(got: Any, _parent: dict) -> bool:
        if not isinstance(got, list) or not got or got[0] != origin or got[-1] != root:
            return False
        for a, b in zip(got, got[1:]):
            if not isinstance(b, int) or b not in r.batches or a not in [p for p, _ in r.batches[b]["parents"]]:
                return False
        return True

    return check


def _path_models_check(r: Replay, origin: int, root: int) -> Callable[[Any, dict], bool]:
    path_ok = _path_check(r, origin, root)

    def check(got: Any, parent: dict) -> bool:
        path = parent.get("path") if isinstance(parent, dict) else None
        return path_ok(path, parent) and got == [MODELS[r.batches[x]["model"]] for x in path]

    return check


def _lineage(fx: Facts, bid: int) -> dict[str, Any]:
    r = fx.r
    lin = fx.lineage(bid)
    root_qty = r.batches[bid]["quantity"]
    nodes = Keyed([dict(_batch_core(fx, x), **{EVIDENCE: batch_refs(r, x)}) for x in lin["ids"]], "batch_id")
    edges = Keyed([{"child_id": c, "parent_id": p, "quantity": q, EVIDENCE: [r.batches[c]["ref"]]}
                   for c in lin["ids"] for p, q in r.batches[c]["parents"]], "child_id", "parent_id")
    origins = []
    certs: dict[str, Any] = {}
    for o in lin["origins"]:
        b = r.batches[o]
        path = [o]
        while path[-1] != bid:
            path.append(lin["toward"][path[-1]])
        item = _batch_core(fx, o)
        cid = (b["originInfo"] or {}).get("certificationId") or 0
        item.update(
            quantity_taken=Approx(lin["taken"].get(o, Fraction(0))),
            contribution=Approx(lin["contrib"].get(o, Fraction(0))),
            contribution_percent=Percent(lin["contrib"].get(o, Fraction(0)) * 100 / root_qty if root_qty
                                         else Fraction(0)),
            certification_at_creation=certification_at(r, cid, b["ref"], b["createdAt"]) if cid else None,
            path=Valid(path, _path_check(r, o, bid), f"a path of batches from origin {o} to batch {bid}"),
            path_models=Valid([MODELS[r.batches[x]["model"]] for x in path], _path_models_check(r, o, bid),
                              "the models of the batches on that path"),
            weakest_model_on_paths=MODELS[lin["weakest"].get(o, b["model"])],
        )
        item[EVIDENCE] = batch_refs(r, o) + ([r.certifications[cid]["ref"]] if cid in r.certifications else [])
        origins.append(item)
        if cid in r.certifications:
            certs[str(cid)] = certification_answer(r, cid)
    return {"batch_id": bid, "ancestor_count": len(lin["ids"]) - 1, "nodes": nodes, "edges": edges,
            "origins": Keyed(origins, "batch_id"), "certifications": certs}


def _descendants(r: Replay, bid: int) -> dict[str, Any]:
    seen, stack = set(), [bid]
    while stack:
        for c in r.batches[stack.pop()]["children"]:
            if c not in seen:
                seen.add(c)
                stack.append(c)
    ids = sorted(seen)
    edges = [{"child_id": c, "parent_id": p, "quantity": q, EVIDENCE: [r.batches[c]["ref"]]}
             for c in ids for p, q in r.batches[c]["parents"] if p == bid or p in seen]
    return {"batch_id": bid, "descendant_count": len(ids),
            "nodes": Keyed([{"batch_id": x, EVIDENCE: [r.batches[x]["ref"]]} for x in ids], "batch_id"),
            "edges": Keyed(edges, "child_id", "parent_id")}


def _claim(fx: Facts, bid: int) -> dict[str, Any]:
    """The claim the chain supports for the batch: the figure (share, certified quantity, retired units)
    and the certified origins and declarations behind it."""
    r = fx.r
    b = r.batches[bid]
    model = b["model"]
    lin = fx.lineage(bid)
    out: dict[str, Any] = {"batch_id": bid, "model": MODELS[model],
                           "characteristic": fx.characteristic(b["characteristic"]),
                           "scheme": fx.scheme_of(b["characteristic"]), "material": fx.material(b["material"]),
                           "kind": "none", "percent": None,
                           "origins": Keyed([], "batch_id"), "certified_quantity": None,
                           "declarations": Keyed([], "transfer_id"), "book_and_claim": Keyed([], "pledge_id",
                                                                                                "certificate_id"),
                           EVIDENCE: [b["ref"]]}
    evidence: list[str] = []
    if model >= CONTROLLED_BLENDING:  # C9: released attributes leave the physical claim
        released = released_quantity(r, bid)
        out["released_quantity"] = int(released)
        out["claimable_quantity"] = int((b["quantity"] - released) * b["share"] // PPM)
    if model >= CONTROLLED_BLENDING and not (out["claimable_quantity"] <= 0 < out["released_quantity"]):
        certified = [o for o in lin["origins"] if r.batches[o]["model"] >= CONTROLLED_BLENDING
                     and r.batches[o]["characteristic"] == b["characteristic"]]
        out.update(kind="content" if model >= SEGREGATED else "content_share",
                   percent=Percent(Fraction(b["share"] * 100, PPM)))
        out["origins"] = Keyed([{"batch_id": o, "contribution_percent": Percent(
            lin["contrib"].get(o, Fraction(0)) * 100 / b["quantity"] if b["quantity"] else Fraction(0)),
            "quantity_taken": Approx(lin["taken"].get(o, Fraction(0))), "tx_hash": r.batches[o]["ref"]["tx"],
            EVIDENCE: batch_refs(r, o)} for o in certified], "batch_id")
        evidence += [r.batches[o]["ref"]["tx"] for o in certified]
    elif model == MASS_BALANCE:
        decl = [r.transfers[t] for t in b["transfers"]
                if r.transfers[t]["status"] == ACCEPTED and r.transfers[t]["certifiedQuantity"] > 0]
        total = sum(t["certifiedQuantity"] for t in decl)
        out["certified_quantity"] = total
        out["declarations"] = Keyed([{"transfer_id": t["id"], "quantity": t["quantity"],
                                      "certified_quantity": t["certifiedQuantity"], "tx_hash": t["settled"]["tx"],
                                      "block_number": t["settled"]["block"], EVIDENCE: [t["proposed"], t["settled"]]}
                                     for t in decl], "transfer_id")
        out[EVIDENCE] = [b["ref"]] + [x for t in decl for x in (t["proposed"], t["settled"])]
        evidence += [t["settled"]["tx"] for t in decl]
        if total > 0:
            out["kind"] = "supply_chain"
    items = []
    for p in pledges_of(r, bid):
        pl = r.pledges[p]
        for cid in fx.issuances_of_pledge.get(p, []):
            iss = r.issuances[cid]
            rets = [r.retirements[x] for x in iss["retirements"]]
            items.append({"pledge_id": p, "pledged_batch_id": pl["batchId"] or None,
                          "released_batch_id": pl["releasedBatchId"] or None, "certificate_id": cid,
                          "units_issued": iss["amount"], "units_retired": sum(x["amount"] for x in rets),
                          "retirement_ids": Keyed([x["retirementId"] for x in rets]),
                          "beneficiaries": sorted({x["beneficiary"] for x in rets}), "revoked": iss["revoked"],
                          EVIDENCE: [pl["ref"], iss["ref"], iss["revokedRef"]] + [x["ref"] for x in rets]})
            evidence += [pl["ref"]["tx"], iss["ref"]["tx"]] + [x["ref"]["tx"] for x in rets]
    out["book_and_claim"] = Keyed(items, "pledge_id", "certificate_id")
    # C10: certificates carry no physical link, so they never label the batch (listed apart above)
    out["evidence"] = Keyed(dict.fromkeys(evidence))
    return out


def batch_expected(fx: Facts, bid: int) -> dict[str, Any]:
    r = fx.r
    b = r.batches[bid]
    node = _batch_core(fx, bid)
    node[EVIDENCE] = batch_refs(r, bid)
    node["parents"] = [{"batch_id": p, "quantity": q} for p, q in b["parents"]]
    node["children"] = Keyed([{"batch_id": c, "quantity": q, EVIDENCE: [r.batches[c]["ref"]]}
                              for c in sorted(b["children"]) for p, q in r.batches[c]["parents"] if p == bid],
                             "batch_id")
    tr = b["transform"]
    if tr is not None:
        proc = r.processes.get(tr["processId"], {})
        node["transform"] = {"process_id": tr["processId"], "process": proc.get("name"),
                             "factor_ppm": proc.get("factor"),
                             "input_quantity": tr["inputQuantity"], "output_quantity": tr["outputQuantity"],
                             "loss": tr["loss"], "credits_converted": tr["creditsConverted"],
                             "credits_produced": tr["creditsProduced"], "tx_hash": tr["ref"]["tx"],
                             "block_number": tr["ref"]["block"], "time": b["createdAt"], EVIDENCE: [tr["ref"]]}
    else:
        node["transform"] = ABSENT
    moves = r.batch_moves.get(bid, [])
    node["holders"] = Keyed([dict(fx.who(h), quantity=q, **{EVIDENCE: [b["ref"], *moves]})
                             for h, q in sorted(fx.holdings_by_batch.get(bid, {}).items())
                             if q > 0 and h != r.ledger_addr], "address")
    pending = [r.transfers[t] for t in b["transfers"] if r.transfers[t]["status"] == PENDING]
    node["in_transit"] = sum(t["quantity"] for t in pending)
    node["consumed"] = Keyed([{"holder": fx.who(c["holder"], c["ref"]["block"]), "quantity": c["quantity"],
                               "reason": CONSUME_REASONS[c["reason"]].lower(), "ref": hex_text(c.get("consumeRef")),
                               "tx_hash": c["ref"]["tx"], EVIDENCE: [c["ref"]]} for c in fx.consumed.get(bid, [])],
                             "tx_hash")
    custody_ids = [t for x in sorted({bid, *r.ancestors(bid)}) for t in r.batches[x]["transfers"]]
    return {
        "batch": node,
        "lineage": _lineage(fx, bid),
        "descendants": _descendants(r, bid),
        "custody": Keyed([transfer_answer(fx, t) for t in custody_ids], "transfer_id"),
        "book_and_claim": Keyed([dict(pledge_answer(fx, p), certificates=Keyed(
            [issuance_summary(r, c) for c in fx.issuances_of_pledge.get(p, [])], "certificate_id"))
            for p in pledges_of(r, bid)], "pledge_id"),
        "claim": _claim(fx, bid),
        EVIDENCE: batch_refs(r, bid),
    }
