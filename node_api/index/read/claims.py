"""The claim a token supports, worded as ISO 22095 allows for its chain-of-custody model.

Computed only from indexed events, and never stronger than the chain proves:
- identity preserved / segregated: "contains N % <characteristic> material from <origins>", N the
  recorded share (exactly 100 % for these models), origins from the recursive lineage;
- controlled blending: the recorded, quantity-weighted share, exact (ppm on chain);
- mass balance: the certified quantity allocated to the batch by the declarations accepted with
  its deliveries, worded as a claim about the supply chain's sourcing, never about content;
- book & claim: "supports N units of <characteristic> production" for units actually retired,
  with the retirement ids; units issued but not retired, or revoked, support nothing;
- uncertified: no claim.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from node_api.domain import PPM, Model, TransferStatus

from .common import fmt_qty, percent
from .reference import Reference


def _origin_phrase(o: dict[str, Any]) -> str:
    where = f"{o['producer']}, {o['site']}" if o.get("site") else str(o.get("producer"))
    return f"{where} (origin batch #{o['batch_id']}, {o['contribution_percent']} % of this batch)"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def supported_claim(batch: dict[str, Any], lineage: dict[str, Any], custody: list[dict[str, Any]],
                    book_and_claim: list[dict[str, Any]], ref: Reference) -> dict[str, Any]:
    model = batch["model_id"]
    char = batch["characteristic"]
    material = batch["material"]
    unit = batch["unit"]
    scheme = ref.scheme_of(batch["characteristic_id"]) if batch["characteristic_id"] else None
    origins = lineage["origins"]
    certified_origins = [o for o in origins if o["model_id"] >= Model.CONTROLLED_BLENDING and o["characteristic_id"] == batch["characteristic_id"]]
    out: dict[str, Any] = {
        "batch_id": batch["batch_id"], "model": Model(model).label, "characteristic": char, "scheme": scheme,
        "material": material, "kind": "none", "percent": None, "origins": [], "certified_quantity": None,
        "declarations": [], "book_and_claim": [], "statements": [], "evidence": [],
    }
    statements: list[str] = out["statements"]
    evidence: list[str] = out["evidence"]

    def cite(o: dict[str, Any]) -> dict[str, Any]:
        evidence.append(o["tx_hash"])
        return {"batch_id": o["batch_id"], "producer": o["producer"], "site": o["site"],
                "contribution_percent": o["contribution_percent"], "quantity_taken": o["quantity_taken"],
                "unit": o["unit"], "geolocation_hash": o.get("geolocation_hash"),
                "tx_hash": o["tx_hash"], "block_number": o["block_number"]}

    if model >= Model.SEGREGATED:
        n = percent(Fraction(batch["share_ppm"], PPM))
        out.update(kind="content", percent=n, origins=[cite(o) for o in certified_origins])
        if model == Model.IDENTITY_PRESERVED and len(certified_origins) == 1:
            o = certified_origins[0]
            statements.append(
                f"Identity preserved: this {material} comes from {o['producer']}, {o['site']} (origin batch "
                f"#{o['batch_id']}) and contains {n} % {char} material from that origin only ({scheme}).")
        else:
            statements.append(
                f"{Model(model).label.capitalize()}: this {material} contains {n} % {char} material from "
                f"{_join([_origin_phrase(o) for o in certified_origins])} ({scheme}).")
    elif model == Model.CONTROLLED_BLENDING:
        n = percent(Fraction(batch["share_ppm"], PPM))
        out.update(kind="content_share", percent=n, origins=[cite(o) for o in certified_origins])
        statements.append(
            f"Controlled blending: this {material} contains {n} % {char} material, the share recorded on chain "
            f"for this batch ({scheme}); the certified part comes from "
            f"{_join([_origin_phrase(o) for o in certified_origins]) or 'no recorded origin'}.")
    elif model == Model.MASS_BALANCE:
        decl = [tr for tr in custody if tr["batch_id"] == batch["batch_id"] and tr["certified_quantity"] > 0
                and tr["status"] == TransferStatus.ACCEPTED.label]
        total = sum(tr["certified_quantity"] for tr in decl)
        out.update(certified_quantity=total, declarations=[{
            "transfer_id": tr["transfer_id"], "from": tr["signer"]["participant"], "to": tr["receiver"]["participant"],
            "quantity": tr["quantity"], "certified_quantity": tr["certified_quantity"],
            "tx_hash": tr["settled"]["tx_hash"], "block_number": tr["settled"]["block_number"]} for tr in decl])
        evidence.extend(tr["settled"]["tx_hash"] for tr in decl)
        if total > 0:
            out["kind"] = "supply_chain"
            delivered = sum(tr["quantity"] for tr in decl)
            statements.append(
                f"Mass balance (a supply-chain claim, not a statement of content): {fmt_qty(total, unit)} of "
                f"{char}-certified {material} were allocated to this batch by {len(decl)} sustainability "
                f"declaration(s) accepted with deliveries of {fmt_qty(delivered, unit)} ({scheme} credit accounting). "
                f"The supply chain bought that certified quantity; this product may contain any mix.")
        else:
            statements.append(
                f"Mass balance batch without an accepted declaration: no certified quantity was allocated to it, "
                f"so it supports no {char or 'sustainability'} claim.")
    else:
        statements.append(f"Uncertified: this {material} carries no chain-of-custody claim.")

    for p in book_and_claim:
        for c in p["certificates"]:
            retired = [r for r in c["retirements"]]
            units = sum(r["amount"] for r in retired)
            item = {"pledge_id": p["pledge_id"], "pledged_batch_id": p["batch_id"],
                    "released_batch_id": p["released_batch_id"], "certificate_id": c["certificate_id"],
                    "units_issued": c["amount"], "units_retired": units, "unit_label": c["unit_label"],
                    "characteristic": c["characteristic"], "retirement_ids": [r["retirement_id"] for r in retired],
                    "beneficiaries": sorted({r["beneficiary"] for r in retired}), "revoked": c["revoked"] is not None}
            out["book_and_claim"].append(item)
            evidence.append(p["tx_hash"])
            evidence.append(c["tx_hash"])
            evidence.extend(r["tx_hash"] for r in retired)
            released = (f"The {c['characteristic']} attributes of {fmt_qty(p['quantity'], ref.unit(c['material_id']))} "
                        f"of batch #{p['batch_id']} were pledged into book & claim certificate #{c['certificate_id']}; "
                        f"that quantity continues as uncertified batch #{p['released_batch_id']}.")
            if units:
                statements.append(
                    f"{released} Retirements {', '.join(item['retirement_ids'])} support {units} units "
                    f"({c['unit_label']} each) of {c['characteristic']} production, for "
                    f"{_join(item['beneficiaries'])}.")
            else:
                statements.append(f"{released} No unit of it is retired yet, so it supports no claim.")
    if out["book_and_claim"] and out["kind"] == "none":
        out["kind"] = "book_and_claim" if any(i["units_retired"] for i in out["book_and_claim"]) else "none"
    out["evidence"] = list(dict.fromkeys(evidence))
    out["text"] = " ".join(statements)
    return out
