"""The claim a token supports, worded as ISO 22095 allows for its chain-of-custody model.

The rules are written once in docs/claims.md (C1-C14); the auditor implements them separately. Computed
only from indexed events, and never stronger than the chain proves:
- identity preserved / segregated (C5, C6): "contains N % <characteristic> material from <origins>",
  N the recorded share (exactly 100 % for these models), origins from the recursive lineage;
- controlled blending (C7): the recorded, quantity-weighted share, exact (ppm on chain);
- for these physical claims the quantity that may be claimed (``claimable_quantity``) is the batch's
  quantity times its share minus what was released into book & claim certificates from it or from the
  batches made from it (C9, C3: the same tonne is never claimed physically and as certificates); a batch
  released entirely supports no physical claim;
- mass balance (C8, C8a): the certified quantity declared on accepted deliveries of the batch, worded
  as a claim about the supply chain's sourcing, never about content, and attributed to the delivered
  part only (rejected, cancelled and pending proposals do not count);
- book & claim (C10, C12): certificates carry no physical link, so they never label the batch: they are
  listed apart, and only units retired from an issuance that was not revoked support a claim, for their
  beneficiaries; a revoked issuance supports nothing, retired before the revocation or not;
- the characteristic is the batch's own, by id (C1): the answer names its id and scheme, and only
  origins carrying that id count, whatever other characteristic shares its name;
- uncertified: no claim.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from node_api.domain import PPM, Model, TransferStatus

from node_api.domain import BatchKind

from .common import fmt_qty, percent
from .reference import Reference
from ..spelling import kind_name

_RELEASED = kind_name(BatchKind.ATTRIBUTES_RELEASED)


def released_quantity(batch_id: int, quantity: int, descendants: dict[str, Any]) -> Fraction:
    """C9: the quantity of batch ``batch_id`` (in its unit) whose attributes went into certificates:
    released directly (an attributes-released child takes its edge quantity), or through a batch made
    from it (that batch's released quantity as a fraction of its quantity, times what it took from
    this one). Exact; children before parents (ids grow along the lineage), so any depth is one pass."""
    kind = {n["batch_id"]: n["kind"] for n in descendants["nodes"]}
    qty = {n["batch_id"]: n["quantity"] for n in descendants["nodes"]}
    qty[batch_id] = quantity
    children: dict[int, list[tuple[int, int]]] = {}
    for e in descendants["edges"]:
        children.setdefault(e["parent_id"], []).append((e["child_id"], e["quantity"]))
    released: dict[int, Fraction] = {}
    for x in sorted(qty, reverse=True):
        total = Fraction(0)
        for c, q in children.get(x, ()):
            if kind.get(c) == _RELEASED:
                total += q
            elif qty.get(c):
                total += released.get(c, Fraction(0)) * q / qty[c]
        released[x] = min(total, Fraction(qty[x]))
    return released[batch_id]


def _origin_phrase(o: dict[str, Any]) -> str:
    where = f"{o['producer']}, {o['site']}" if o.get("site") else str(o.get("producer"))
    return f"{where} (origin batch #{o['batch_id']}, {o['contribution_percent']} % of this batch)"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def supported_claim(batch: dict[str, Any], lineage: dict[str, Any], custody: list[dict[str, Any]],
                    book_and_claim: list[dict[str, Any]], ref: Reference,
                    descendants: dict[str, Any] | None = None) -> dict[str, Any]:
    """The claim ``batch`` supports (``descendants``: every batch made from it, for C9; none given:
    the batch has no descendants)."""
    model = batch["model_id"]
    char = batch["characteristic"]
    material = batch["material"]
    unit = batch["unit"]
    scheme = ref.scheme_of(batch["characteristic_id"]) if batch["characteristic_id"] else None
    origins = lineage["origins"]
    certified_origins = [o for o in origins if o["model_id"] >= Model.CONTROLLED_BLENDING and o["characteristic_id"] == batch["characteristic_id"]]
    out: dict[str, Any] = {
        "batch_id": batch["batch_id"], "model": Model(model).label, "characteristic": char,
        "characteristic_id": batch["characteristic_id"] or None, "scheme": scheme, "material": material, "unit": unit,
        "kind": "none", "percent": None, "origins": [], "certified_quantity": None, "claimable_quantity": None,
        "released_quantity": None, "delivered_quantity": None,
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

    if model >= Model.CONTROLLED_BLENDING:  # C9 (C3): released attributes leave every physical claim
        released = released_quantity(batch["batch_id"], batch["quantity"],
                                     descendants or {"nodes": [], "edges": []})
        kept = batch["quantity"] - released
        out.update(released_quantity=int(released), claimable_quantity=int(kept * batch["share_ppm"] // PPM))
    if model >= Model.CONTROLLED_BLENDING and out["claimable_quantity"] <= 0 < out["released_quantity"]:
        statements.append(
            f"{Model(model).label.capitalize()} batch released into book & claim certificates in full "
            f"({fmt_qty(out['released_quantity'], unit)}): it supports no physical {char} claim (C9); the "
            f"certificates support claims for their beneficiaries only.")
    elif model >= Model.SEGREGATED:
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
    if model >= Model.CONTROLLED_BLENDING and out["kind"] != "none":
        claimable = fmt_qty(out["claimable_quantity"], unit)
        if out["released_quantity"]:
            statements.append(
                f"{fmt_qty(out['released_quantity'], unit)} of this batch's {fmt_qty(batch['quantity'], unit)} had their "
                f"attributes released into book & claim certificates (from it or from batches made from it) and "
                f"no longer carry the claim (C9): at most {claimable} of {char} material may be claimed physically.")
        else:
            statements.append(f"At most {claimable} of {char} material may be claimed on this batch.")
    if model == Model.MASS_BALANCE:
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
            out["delivered_quantity"] = delivered
            rest = batch["quantity"] - delivered
            statements.append(
                f"Mass balance (a supply-chain claim, not a statement of content): the "
                f"{fmt_qty(delivered, unit)} of this batch delivered with {len(decl)} accepted sustainability "
                f"declaration(s) carry {fmt_qty(total, unit)} of certified {char} input, allocated by {scheme} credit "
                f"accounting (C8, C8a). The supply chain bought that certified quantity; the product may contain "
                f"any mix." + (f" The other {fmt_qty(rest, unit)} of the batch were not delivered with a "
                               f"declaration and carry no claim." if rest > 0 else ""))
        else:
            statements.append(
                f"Mass balance batch without an accepted declaration: no certified quantity was allocated to it, "
                f"so it supports no {char or 'sustainability'} claim.")
    elif model < Model.CONTROLLED_BLENDING:
        statements.append(f"Uncertified: this {material} carries no chain-of-custody claim.")

    for p in book_and_claim:
        for c in p["certificates"]:
            retired = [r for r in c["retirements"]]
            units = sum(r["amount"] for r in retired)
            revoked = c["revoked"] is not None
            item = {"pledge_id": p["pledge_id"], "pledged_batch_id": p["batch_id"],
                    "released_batch_id": p["released_batch_id"], "certificate_id": c["certificate_id"],
                    "units_issued": c["amount"], "units_retired": units,
                    "units_supporting": 0 if revoked else units,  # C12: a revoked issuance supports nothing
                    "unit_label": c["unit_label"],
                    "characteristic": c["characteristic"], "retirement_ids": [r["retirement_id"] for r in retired],
                    "beneficiaries": sorted({r["beneficiary"] for r in retired}), "revoked": revoked}
            out["book_and_claim"].append(item)
            evidence.append(p["tx_hash"])
            evidence.append(c["tx_hash"])
            evidence.extend(r["tx_hash"] for r in retired)
            released = (f"The {c['characteristic']} attributes of {fmt_qty(p['quantity'], ref.unit(c['material_id']))} "
                        f"of batch #{p['batch_id']} were pledged into book & claim certificate #{c['certificate_id']}; "
                        f"that quantity continues as uncertified batch #{p['released_batch_id']}.")
            if revoked:
                evidence.append(c["revoked"]["tx_hash"])
                statements.append(
                    f"{released} Certificate #{c['certificate_id']} was revoked (tx {c['revoked']['tx_hash']}): its "
                    f"units support nothing, the {units} retired before the revocation included (C12).")
            elif units:
                statements.append(
                    f"{released} Retirements {', '.join(item['retirement_ids'])} support {units} units "
                    f"({c['unit_label']} each) of {c['characteristic']} production, for "
                    f"{_join(item['beneficiaries'])}: a claim of the beneficiaries, not of this batch (C10).")
            else:
                statements.append(f"{released} No unit of it is retired yet, so it supports no claim.")
    out["evidence"] = list(dict.fromkeys(evidence))
    out["text"] = " ".join(statements)
    return out
