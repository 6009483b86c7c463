"""The expected answer of GET /provenance/certificates/{id}, and the certificate facts a batch answer shows
(pledges, issuance summaries, revocations)."""

from __future__ import annotations

from typing import Any

from ..model import SOURCES, ZERO
from ..replay import Replay
from .values import EVIDENCE, Keyed
from .facts import Facts


def issuance_summary(r: Replay, cid: int) -> dict[str, Any]:
    iss = r.issuances[cid]
    return {
        "certificate_id": cid, "amount": iss["amount"], "unit_size": iss["unitSize"], "tx_hash": iss["ref"]["tx"],
        "retirements": Keyed([{"retirement_id": x, "amount": r.retirements[x]["amount"],
                               "beneficiary": r.retirements[x]["beneficiary"], "tx_hash": r.retirements[x]["ref"]["tx"],
                               EVIDENCE: [r.retirements[x]["ref"]]} for x in iss["retirements"]], "retirement_id"),
        "revoked": _revocation(iss),
        EVIDENCE: [iss["ref"], iss["revokedRef"]],
    }


def _revocation(iss: dict) -> dict[str, Any] | None:
    if not iss["revoked"]:
        return None
    return {"outstanding": iss["revokedOutstanding"], "reason_hash": iss["revokedReason"],
            "tx_hash": iss["revokedRef"]["tx"], "block_number": iss["revokedRef"]["block"], EVIDENCE: [iss["revokedRef"]]}


def pledge_answer(fx: Facts, pid: int) -> dict[str, Any]:
    pl = fx.r.pledges[pid]
    return {"pledge_id": pid, "producer_id": pl["producer"], "producer": fx.name(pl["producer"]),
            "holder": fx.who(pl["holder"], pl["ref"]["block"]), "source": SOURCES[pl["source"]].lower(),
            "material": fx.material(pl["material"]), "characteristic": fx.characteristic(pl["characteristic"]),
            "quantity": pl["quantity"], "batch_id": pl["batchId"] or None,
            "released_batch_id": pl["releasedBatchId"] or None, "tx_hash": pl["ref"]["tx"], EVIDENCE: [pl["ref"]]}


def pledges_of(r: Replay, bid: int) -> list[int]:
    lineage = {bid, *r.ancestors(bid)}
    return sorted(p for p, pl in r.pledges.items()
                  if pl["batchId"] == bid or (pl["releasedBatchId"] and pl["releasedBatchId"] in lineage))


# ---------------------------------------------------------------------------------------------- certificates
def certificate_expected(fx: Facts, cid: int) -> dict[str, Any]:
    r = fx.r
    iss = r.issuances[cid]
    block = iss["ref"]["block"]
    out: dict[str, Any] = {
        "certificate_id": cid, "issuer_id": iss["issuer"], "issuer": fx.name(iss["issuer"]),
        "producer_id": iss["producer"], "producer": fx.name(iss["producer"]), "issued_to": fx.who(iss["to"], block),
        "amount": iss["amount"], "unit_size": iss["unitSize"], "unit_label": iss["unitLabel"],
        "material_id": iss["material"], "material": fx.material(iss["material"]),
        "characteristic_id": iss["characteristic"], "characteristic": fx.characteristic(iss["characteristic"]),
        "period_start": iss["periodStart"], "period_end": iss["periodEnd"], "evidence_hash": iss["evidenceHash"],
        "pledge_id": iss["pledgeId"] or None, "tx_hash": iss["ref"]["tx"], "block_number": block,
        EVIDENCE: [iss["ref"]],
    }
    if iss["pledgeId"] and iss["pledgeId"] in r.pledges:
        out["pledge"] = pledge_answer(fx, iss["pledgeId"])
    history = []
    for frm, to, units, ref in r.cert_moves.get(cid, []):
        kind = "issued" if frm == ZERO else "retired" if to == ZERO else "transferred"
        history.append({"kind": kind, "from": None if frm == ZERO else fx.who(frm, ref["block"]),
                        "to": None if to == ZERO else fx.who(to, ref["block"]), "units": units, "tx_hash": ref["tx"],
                        "block_number": ref["block"], EVIDENCE: [ref]})
    out["holders_over_time"] = history
    moves = [ref for *_, ref in r.cert_moves.get(cid, [])]
    out["holders"] = Keyed([dict(fx.who(h), units=q, **{EVIDENCE: [iss["ref"], *moves]})
                            for h, q in sorted(fx.cert_holdings.get(cid, {}).items()) if q > 0], "address")
    out["retirements"] = Keyed([{
        "retirement_id": x, "certificate_id": cid, "holder": fx.who(ret["holder"], ret["ref"]["block"]),
        "retired_by_id": ret["retiredBy"], "retired_by": fx.name(ret["retiredBy"]), "amount": ret["amount"],
        "beneficiary": ret["beneficiary"], "period_start": ret["periodStart"], "period_end": ret["periodEnd"],
        "purpose_hash": ret["purposeHash"],
        "tx_hash": ret["ref"]["tx"], "block_number": ret["ref"]["block"], EVIDENCE: [ret["ref"]]}
        for x in iss["retirements"] for ret in [r.retirements[x]]], "retirement_id")
    out["retired"] = iss["retired"]
    out["revoked"] = _revocation(iss)
    return out
