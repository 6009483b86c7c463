"""Verify a brand's claim on a product token, and explain a certificate retirement, from the replay alone.

Claim file (JSON): {"tokenId": 9, "model": "controlled blending", "characteristic": "organic" | 1,
                    "share": 40}            # percent of the product, or
                   {"tokenId": 11, "model": "mass balance", "characteristic": "organic", "quantity": 3000000}
                   {"tokenId": 2, "model": "book and claim", "characteristic": "organic", "quantity": 300000}
For book & claim the token id is the certificate (issuance) id and the quantity is in base units
(units x unit size); "units" may be given instead.
A phrase ("contains 40 % organic cotton", "supports 3 t organic cotton") is parsed into the same fields.

The rules are those of docs/claims.md (C1, C2, ...); each check below cites its rule.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from .model import (
    CONTROLLED_BLENDING,
    IDENTITY_PRESERVED,
    KINDS,
    MASS_BALANCE,
    MODELS,
    PPM,
    RELEASED,
    SEGREGATED,
    UNCERTIFIED,
)
from .replay import Replay

BOOK_AND_CLAIM = 5
MODEL_ALIASES = {
    "uncertified": UNCERTIFIED, "mass balance": MASS_BALANCE, "mb": MASS_BALANCE, "mass-balance": MASS_BALANCE,
    "controlled blending": CONTROLLED_BLENDING, "cb": CONTROLLED_BLENDING, "segregated": SEGREGATED,
    "segregation": SEGREGATED, "identity preserved": IDENTITY_PRESERVED, "ip": IDENTITY_PRESERVED,
    "book and claim": BOOK_AND_CLAIM, "book & claim": BOOK_AND_CLAIM, "book-and-claim": BOOK_AND_CLAIM,
    "b&c": BOOK_AND_CLAIM,
}
UNITS = {"t": 1_000_000, "tonne": 1_000_000, "tonnes": 1_000_000, "kg": 1_000, "g": 1}


class ClaimError(ValueError):
    pass


def model_of(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    m = MODEL_ALIASES.get(str(value).strip().lower())
    if m is None:
        raise ClaimError(f"unknown chain-of-custody model {value!r}")
    return m


def characteristic_of(r: Replay, value: Any, own: int | None = None) -> int:
    """C1: a characteristic by id; a name only when unambiguous. Two schemes may register the same name: the
    name then resolves to `own` (the characteristic the claimed token carries) when it is a candidate, and is
    an error naming every candidate otherwise. Never "the first one with that name"."""
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        cid = int(value)
        if cid not in r.characteristics:
            raise ClaimError(f"unknown characteristic {cid}")
        return cid
    text = str(value).lower()
    named = [(cid, c) for cid, c in r.characteristics.items() if c["name"] and c["name"].lower() in text]
    if not named:
        raise ClaimError(f"no registered characteristic named in {value!r} "
                         f"(known: {sorted({c['name'] for c in r.characteristics.values()})})")
    longest = max(len(c["name"]) for _, c in named)  # "organic cotton" is meant, not "organic" within it
    candidates = sorted(cid for cid, c in named if len(c["name"]) == longest)
    if len(candidates) == 1:
        return candidates[0]
    if own in candidates:
        return int(own)
    # a scheme named in the text settles it ("organic (EU organic)")
    by_scheme = [cid for cid in candidates
                 if (r.schemes.get(r.characteristics[cid]["scheme"], {}).get("name") or "\0").lower() in text]
    if len(by_scheme) == 1:
        return by_scheme[0]
    names = ", ".join(f"{cid} ({r.characteristics[cid]['name']!r} of scheme "
                      f"{r.schemes.get(r.characteristics[cid]['scheme'], {}).get('name', r.characteristics[cid]['scheme'])!r})"
                      for cid in candidates)
    raise ClaimError(f"characteristic name in {value!r} is ambiguous: candidates {names}; "
                     "the claimed token carries none of them (C1): name it by id")


# C8 / C10: mass balance and book & claim never support content wording. Content wording is refused first;
# what is left must use supply-chain wording, or it is refused as well (the burden is on the claim).
CONTENT_WORDING = re.compile(
    r"%|\b(contain\w*|content|made|consist\w*|compos\w*|compris\w*|includ\w*|incorporat\w*|percent|per\s*cent"
    r"|pct|share|proportion|of which|inside|in (this|the|each|every) (product|item|bottle|garment|batch))\b"
    r"|\b(this|the|each|every|our) (product|item|bottle|garment|batch|shirt|fabric|yarn|pack\w*) (is|are)\b",
    re.I)
SUPPLY_WORDING = re.compile(
    r"\b(supports?|supported|supporting|sourced|sourcing|attribut\w*|allocat\w*|linked to|used|purchased|bought"
    r"|mass[- ]balance[d]?|book (and|&) claim|credits?)\b", re.I)


def wording_problem(text: str | None) -> str | None:
    """Why `text` cannot state a mass-balance or book & claim claim (C8, C10), or None when it may."""
    if not text:
        return None
    m = CONTENT_WORDING.search(text)
    if m:
        return (f"content wording ({m.group(0).strip()!r}) states what the product physically contains; mass "
                "balance and book & claim support only supply-chain wording (\"supports N t certified ... input\")")
    if not SUPPLY_WORDING.search(text):
        return ("wording not recognised as a supply-chain claim; state it as \"supports N t certified ... input\" "
                "or \"sourced / attributed under mass balance\"")
    return None


def _without_name(text: str | None, name: str) -> str | None:
    """The claim's words without the characteristic's own name (a name such as "recycled content" is no
    content wording)."""
    return re.sub(re.escape(name), " ", text, flags=re.I) if text and name else text


def released_quantity(r: Replay, bid: int) -> Fraction:
    """C9: the physical quantity of batch `bid` whose attributes went into certificates, directly (a release
    child) or through the batches made from it (the released fraction of a child times the input it took).
    Iterative post-order: lineages may be deeper than Python's recursion limit."""
    memo: dict[int, Fraction] = {}
    stack = [(bid, False)]
    while stack:
        x, done = stack.pop()
        if x in memo:
            continue
        b = r.batches[x]
        kids = [c for c in b["children"] if c in r.batches]
        if not done:
            stack.append((x, True))
            stack.extend((c, False) for c in kids if c not in memo and r.batches[c]["kind"] != RELEASED)
            continue
        total = Fraction(0)
        for c in kids:
            ch = r.batches[c]
            q_in = sum(q for p, q in ch["parents"] if p == x)
            if ch["kind"] == RELEASED:
                total += q_in
            elif ch["quantity"]:
                total += memo.get(c, Fraction(0)) * q_in / ch["quantity"]
        memo[x] = min(total, Fraction(b["quantity"]))
    return memo[bid]


def parse_claim_text(r: Replay, text: str, token_id: int, model: str | None = None) -> dict[str, Any]:
    # the characteristic is resolved in verify_claim, where the token's own characteristic is known (C1)
    claim: dict[str, Any] = {"tokenId": int(token_id), "text": text, "characteristic": text}
    pct = re.search(r"(\d+(?:[.,]\d+)?)\s*(?:%|percent|per cent)", text, re.I)
    qty = re.search(r"(\d+(?:[.,]\d+)?)\s*(t|tonnes?|kg|g)\b", text, re.I)
    if pct:
        claim["share"] = float(pct.group(1).replace(",", "."))
    elif qty:
        claim["quantity"] = int(round(float(qty.group(1).replace(",", ".")) * UNITS[qty.group(2).lower()]))
    else:
        claim["share"] = None  # "contains organic cotton": any positive content
    for alias, m in MODEL_ALIASES.items():
        if len(alias) > 3 and alias in text.lower():
            claim["model"] = alias
    if model:
        claim["model"] = model
    return claim


def _tx(ref: dict | None) -> list[str]:
    return [ref["tx"]] if ref else []


def lineage_evidence(r: Replay, bid: int) -> list[dict[str, Any]]:
    """Every batch of the lineage with the transactions that created it and moved it."""
    out = []
    for x in [bid] + r.ancestors(bid):
        b = r.batches[x]
        item = {"batchId": x, "kind": KINDS[b["kind"]], "model": MODELS[b["model"]], "share": b["share"],
                "characteristic": b["characteristic"], "quantity": b["quantity"], "created": b["ref"]["tx"],
                "parents": [{"batchId": p, "quantity": q} for p, q in b["parents"]]}
        if b["originInfo"]:
            item["origin"] = {"site": b["originInfo"]["siteId"], "certificationId": b["originInfo"]["certificationId"],
                              "evidenceHash": b["originInfo"]["evidenceHash"], "tx": b["originInfo"]["ref"]["tx"]}
        if b["transform"]:
            item["transformTx"] = b["transform"]["ref"]["tx"]
        item["custody"] = [{"transferId": t, "tx": r.transfers[t]["proposed"]["tx"],
                            "settledTx": (r.transfers[t]["settled"] or {}).get("tx"),
                            "status": ["None", "Pending", "Accepted", "Rejected", "Cancelled"][r.transfers[t]["status"]]}
                           for t in b["transfers"]]
        out.append(item)
    return out


def verify_claim(r: Replay, claim: dict[str, Any]) -> dict[str, Any]:
    token = int(claim["tokenId"])
    requested = model_of(claim.get("model"))
    if requested == BOOK_AND_CLAIM:
        own = (r.issuances.get(token) or {}).get("characteristic")
    else:
        own = (r.batches.get(token) or {}).get("characteristic")
    characteristic = characteristic_of(r, claim.get("characteristic", ""), own)  # C1
    cname = r.characteristics[characteristic]["name"]
    result: dict[str, Any] = {"claim": claim, "tokenId": token, "characteristic": cname,
                              "characteristicId": characteristic}
    if requested == BOOK_AND_CLAIM:
        return _verify_book_and_claim(r, claim, token, characteristic, result)
    b = r.batches.get(token)
    if b is None:
        return dict(result, verdict="not supported", reason=f"token {token} is no batch on this ledger", evidence=[])
    model = b["model"]
    result["model"] = MODELS[model]
    evidence = lineage_evidence(r, token)
    result["evidence"] = evidence
    result["evidenceTxs"] = sorted({e["created"] for e in evidence} | {c["tx"] for e in evidence for c in e["custody"]})
    share_ppm = None if claim.get("share") is None else int(round(float(claim["share"]) * 10_000))
    quantity = claim.get("quantity")

    def verdict(ok: bool, figure: dict, reason: str) -> dict:
        return dict(result, verdict="supported" if ok else "not supported", supported=figure, reason=reason)

    if requested is not None and requested != model and not (requested < model and requested != UNCERTIFIED):
        # C2: a weaker model than the batch carries may be claimed (IP -> segregated -> ...), never a stronger one
        return verdict(False, {"model": MODELS[model]}, f"the batch carries {MODELS[model]}, the claim asks for "
                       f"{MODELS[requested]}")
    if model == UNCERTIFIED or b["characteristic"] != characteristic:
        why = "the batch carries no certified claim"
        if b["kind"] == RELEASED:
            parent = b["parents"][0][0]
            rel = r.batches[parent].get("release") or {}
            why += f" (its attributes were released into book & claim: pledge {rel.get('pledgeId')}, tx " \
                   f"{(rel.get('ref') or {}).get('tx')})"
        elif model != UNCERTIFIED:
            why = f"the batch's characteristic is {r.characteristics.get(b['characteristic'], {}).get('name')}"
        return verdict(False, {"sharePercent": 0}, why)
    claimed_model = model if requested is None else requested
    if model in (SEGREGATED, IDENTITY_PRESERVED, CONTROLLED_BLENDING) and claimed_model != MASS_BALANCE:
        problems = _lineage_problems(r, token, characteristic)
        if problems:
            return verdict(False, {"sharePercent": 0}, "lineage does not support a physical claim: " + "; ".join(problems))
        figure = {"sharePpm": b["share"], "sharePercent": b["share"] / 10_000, "model": MODELS[model]}
        if model == IDENTITY_PRESERVED or (model == SEGREGATED and b["origin"]):
            figure["origins"] = [b["origin"]]
        else:
            figure["origins"] = sorted(x for x in r.ancestors(token) if r.batches[x]["kind"] == 0
                                       and r.batches[x]["model"] != UNCERTIFIED)
        # C9: what was released into certificates (from this batch or the batches made from it) is no longer
        # claimable physically: the certified quantity is that of the part still carrying the claim
        released = released_quantity(r, token)
        kept = b["quantity"] - released
        certified = int(kept * b["share"] // PPM)
        figure.update(certifiedQuantity=certified, releasedQuantity=int(released),
                      releasedCertifiedQuantity=b["quantity"] * b["share"] // PPM - certified)
        rel_note = (f" after {int(released)} released into certificates (C9)" if released else "")
        if kept <= 0:
            return verdict(False, figure, f"all of batch {token} was released into certificates: it supports no "
                           "physical claim (C9)")
        if quantity is not None:  # C5-C7 with C9
            return verdict(int(quantity) <= certified, figure, f"the batch of {b['quantity']} contains {certified} "
                           f"{cname} ({b['share'] / 10_000:g} %){rel_note}; the claim states {quantity}")
        if share_ppm is None:
            return verdict(b["share"] > 0, figure, f"contains {b['share'] / 10_000:g} % {cname}{rel_note}")
        return verdict(share_ppm <= b["share"], figure, f"the chain supports {b['share'] / 10_000:g} % {cname}, "
                       f"the claim states {share_ppm / 10_000:g} %")
    # C8, C8a: mass balance: a supply-chain-level claim from the declarations on accepted deliveries of this
    # batch (only the delivered part), never content
    declared = [(t, r.transfers[t]) for t in b["transfers"] if r.transfers[t]["status"] == 2
                and r.transfers[t]["certifiedQuantity"]]
    total = sum(t["certifiedQuantity"] for _, t in declared)
    figure = {"model": MODELS[MASS_BALANCE], "declaredCertifiedQuantity": total,
              "deliveredQuantity": sum(t["quantity"] for _, t in declared),
              "declarations": [{"transferId": tid, "from": t["from"], "to": t["to"], "quantity": t["quantity"],
                                "certifiedQuantity": t["certifiedQuantity"], "tx": t["proposed"]["tx"]}
                               for tid, t in declared]}
    result["evidenceTxs"] = sorted({t["proposed"]["tx"] for _, t in declared} | {t["settled"]["tx"] for _, t in declared})
    # C8: no content wording, whatever the phrasing (a weaker model claimed on a physical batch is held to the
    # weaker model's words)
    problem = wording_problem(_without_name(claim.get("text"), cname))
    if problem is not None:
        return verdict(False, figure, problem + " (C8)")
    if share_ppm is not None:
        return verdict(False, figure, "mass balance supports a supply-chain-level claim (\"supports N certified "
                       f"{cname} input\"), never a content share; declared: {total}")
    if quantity is None:
        return verdict(total > 0, figure, f"supply-chain-level claim: {total} certified {cname} input declared on "
                       f"accepted deliveries of batch {token} (not a statement of content)")
    return verdict(int(quantity) <= total, figure, f"{total} certified {cname} declared on accepted deliveries of "
                   f"batch {token}; the claim states {quantity}")


def _lineage_problems(r: Replay, token: int, characteristic: int) -> list[str]:
    problems = []
    b = r.batches[token]
    for x in [token] + r.ancestors(token):
        a = r.batches[x]
        if a["model"] == UNCERTIFIED or a["model"] == MASS_BALANCE:
            if b["model"] >= SEGREGATED:
                problems.append(f"ancestor {x} is {MODELS[a['model']]}")
            continue
        if a["characteristic"] != characteristic:
            problems.append(f"ancestor {x} carries characteristic {a['characteristic']}")
        if b["model"] >= SEGREGATED and a["share"] != PPM:
            problems.append(f"ancestor {x} has share {a['share']} ppm, not 1e6")
        if b["model"] == IDENTITY_PRESERVED and a["origin"] != b["origin"]:
            problems.append(f"ancestor {x} comes from origin {a['origin']}, not {b['origin']}")
        if a["kind"] == 0 and a["originInfo"] and a["originInfo"]["certificationId"] == 0:
            problems.append(f"origin {x} was created without certification")
        if a.get("mix") and a["model"] == CONTROLLED_BLENDING:
            want = a["mix"]["certified"] * PPM // a["mix"]["total"]
            if want != a["share"]:
                problems.append(f"batch {x} records share {a['share']}, its inputs give {want}")
    return problems


def _verify_book_and_claim(r: Replay, claim: dict, cid: int, characteristic: int, result: dict) -> dict:
    iss = r.issuances.get(cid)
    result["model"] = "book and claim"
    if iss is None:
        return dict(result, verdict="not supported", reason=f"no certificate {cid}", evidence=[])
    rets = [r.retirements[x] for x in iss["retirements"]]
    if claim.get("beneficiary"):
        rets = [x for x in rets if x["beneficiary"] == claim["beneficiary"]]
    units = sum(x["amount"] for x in rets)
    figure = {"retiredUnits": units, "unitSize": iss["unitSize"], "unitLabel": iss["unitLabel"],
              "retiredQuantity": units * iss["unitSize"], "retirementIds": [x["retirementId"] for x in rets]}
    result["evidenceTxs"] = [iss["ref"]["tx"]] + [x["ref"]["tx"] for x in rets] + _tx(iss["revokedRef"])
    result["evidence"] = {"issuance": retirement_issuance(r, cid), "retirements": [explain_retirement(r, x["retirementId"])
                                                                                  for x in rets]}
    problem = wording_problem(_without_name(claim.get("text"), r.characteristics[characteristic]["name"]))  # C10: book & claim is never content either
    if problem is not None or claim.get("share") is not None:
        return dict(result, verdict="not supported", supported=figure,
                    reason=(problem or "book & claim supports no content share") + " (C10)")
    asked = claim.get("quantity")
    if asked is None and claim.get("units") is not None:
        asked = int(claim["units"]) * iss["unitSize"]
    if iss["characteristic"] != characteristic:
        return dict(result, verdict="not supported", supported=figure,
                    reason=f"certificate {cid} is for characteristic {iss['characteristic']}")
    if iss["revoked"]:  # C12: revoked units support nothing, retired before the revocation or not
        return dict(result, verdict="not supported", supported=figure,
                    reason=f"issuance {cid} was revoked (tx {iss['revokedRef']['tx']}): its retirements support no claim")
    ok = units > 0 and (asked is None or int(asked) <= units * iss["unitSize"])
    return dict(result, verdict="supported" if ok else "not supported", supported=figure,
                reason=f"{units} units of {iss['unitSize']} retired; the claim states {asked}")


def retirement_issuance(r: Replay, cid: int) -> dict[str, Any]:
    iss = r.issuances[cid]
    out = {"certificateId": cid, "issuer": iss["issuer"], "issuerName": r.participants.get(iss["issuer"], {}).get("name"),
           "producer": iss["producer"], "producerName": r.participants.get(iss["producer"], {}).get("name"),
           "material": iss["material"], "characteristic": iss["characteristic"], "amount": iss["amount"],
           "unitSize": iss["unitSize"], "unitLabel": iss["unitLabel"], "periodStart": iss["periodStart"],
           "periodEnd": iss["periodEnd"], "evidenceHash": iss["evidenceHash"], "tx": iss["ref"]["tx"],
           "block": iss["ref"]["block"], "revoked": iss["revoked"]}
    if iss["pledgeId"]:
        pl = r.pledges.get(iss["pledgeId"], {})
        out["pledge"] = {"pledgeId": iss["pledgeId"], "source": ["Verified", "Credits", "Batch"][pl.get("source", 0)],
                         "quantity": pl.get("quantity"), "batchId": pl.get("batchId") or None,
                         "releasedBatchId": pl.get("releasedBatchId") or None, "tx": (pl.get("ref") or {}).get("tx")}
    else:
        out["pledge"] = None
    if iss["revoked"]:
        out["revocation"] = {"tx": iss["revokedRef"]["tx"], "block": iss["revokedRef"]["block"],
                             "outstanding": iss["revokedOutstanding"], "reasonHash": iss["revokedReason"]}
    return out


def explain_retirement(r: Replay, rid: int) -> dict[str, Any]:
    x = r.retirements.get(int(rid))
    if x is None:
        return {"retirementId": int(rid), "found": False, "verdict": "unknown retirement"}
    iss = r.issuances[x["certificateId"]]
    out = {"retirementId": int(rid), "found": True, "certificateId": x["certificateId"], "holder": x["holder"],
           "retiredBy": x["retiredBy"], "retiredByName": r.participants.get(x["retiredBy"], {}).get("name"),
           "units": x["amount"], "quantity": x["amount"] * iss["unitSize"], "unitLabel": iss["unitLabel"],
           "beneficiary": x["beneficiary"], "periodStart": x["periodStart"], "periodEnd": x["periodEnd"],
           "purposeHash": x["purposeHash"], "tx": x["ref"]["tx"], "block": x["ref"]["block"],
           "issuance": retirement_issuance(r, x["certificateId"]), "revoked": iss["revoked"]}
    if iss["revoked"]:
        out["verdict"] = "issuance revoked: the retired units support no claim"
        out["revokedAfterRetirement"] = iss["revokedRef"]["block"] >= x["ref"]["block"]
    else:
        out["verdict"] = "valid"
    return out


def claim_refs(r: Replay, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The event references (transaction, block, log index) behind a claim's verdict (C4): the token's
    creation and lineage, its custody and declarations, or the issuance, its retirements and revocation."""
    token = result.get("tokenId")
    if result.get("model") == "book and claim":
        iss = r.issuances.get(token)
        if iss is None:
            return []
        return [iss["ref"]] + [r.retirements[x]["ref"] for x in iss["retirements"]] + _refs(iss["revokedRef"])
    if token not in r.batches:
        return []
    refs = [r.batches[x]["ref"] for x in [token] + r.ancestors(token)]
    for t in r.batches[token]["transfers"]:
        refs += [r.transfers[t]["proposed"]] + _refs(r.transfers[t]["settled"])
    return refs


def _refs(ref: dict | None) -> list[dict]:
    return [ref] if ref else []
