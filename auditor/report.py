"""What the audit report states, as data (the JSON report; `report_html.py` renders it): per-account,
per-period mass-balance statements; one statement per site covering all its materials (physical stock beside
booked credits, deliveries and credits in transit at the end of the audited period, certificate numbers per
account, conversions with process and factor linking their in and out legs); and the book & claim register
(issuances, retirements per beneficiary and period, revocations). Every quantity also comes as text in its
material's unit (`units.qty`: never raw grams)."""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from typing import Any

from .model import CERT_STATUS, SOURCES
from .replay import Account, Replay, closing_of
from .units import qty

INPUT_REASONS = {"OriginCreated": "origin", "Delivery": "received", "DeliveryReturned": "returned",
                 "Downgrade": "downgraded"}


def _date(ts: int) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%d")


def account_statements(r: Replay, a: Account, now_ts: int) -> list[dict[str, Any]]:
    current = a.period_at(now_ts)
    out = []
    by_period: dict[int, list[dict]] = {}
    for bk in a.bookings:
        by_period.setdefault(bk["period"], []).append(bk)
    last_closing = 0
    for p in range(a.opened_period, max(current, a.period) + 1):
        st = a.statements.get(p)
        if st is None:  # a period without activity carries the last balance
            st = {"opening": last_closing, "inflow": 0, "convertedIn": 0, "outflow": 0, "convertedOut": 0, "lapsed": 0}
        bks = by_period.get(p, [])
        inputs: dict[str, int] = {}
        outputs: dict[str, int] = {}
        for bk in bks:
            if bk["entry"] == "In":
                inputs[INPUT_REASONS.get(bk["reason"], bk["reason"])] = inputs.get(
                    INPUT_REASONS.get(bk["reason"], bk["reason"]), 0) + bk["amount"]
            elif bk["entry"] == "Out":
                name = "delivered" if bk["reason"] == "Delivery" else bk["reason"].lower()
                outputs[name] = outputs.get(name, 0) + bk["amount"]
        closing = closing_of(st)
        final = p < current
        emitted = a.closed.get(p)
        start = a.anchor + p * a.period_length
        out.append({
            "period": p, "start": start, "end": start + a.period_length - 1, "startDate": _date(start),
            "endDate": _date(start + a.period_length - 1), "final": final,
            "opening": st["opening"], "certifiedInputs": st["inflow"], "inputsByCause": inputs,
            "conversionsIn": st["convertedIn"], "conversionsOut": st["convertedOut"],
            "claimedOutputs": st["outflow"], "outputsByCause": outputs, "lapsed": st["lapsed"], "closing": closing,
            "carriedOver": closing if final else None,
            "closedOnChain": None if emitted is None else {"closing": emitted["closing"], "tx": emitted["ref"]["tx"]},
        })
        last_closing = closing
    return out


def mass_balance_report(r: Replay, now_ts: int) -> list[dict[str, Any]]:
    out = []
    for a in r.accounts.values():
        scheme = r.schemes.get(a.scheme, {})
        out.append({
            "account": a.key, "participant": a.participant, "participantName": r.participants.get(a.participant, {}).get("name"),
            "site": a.site, "siteName": r.sites.get(a.site, {}).get("name"), "material": a.material,
            "materialName": r.materials.get(a.material, {}).get("name"), "unit": r.materials.get(a.material, {}).get("unit"),
            "characteristic": a.characteristic, "characteristicName": r.characteristics.get(a.characteristic, {}).get("name"),
            "scheme": scheme.get("name"), "periodLength": a.period_length, "lapseAfterPeriods": a.lapse,
            "rule": "credits carry over" if a.lapse == 0 else f"credits lapse {a.lapse} periods after they came in",
            "balance": a.balance, "statements": account_statements(r, a, now_ts),
            "history": [{"ts": ts, "balance": bal, "tx": ref["tx"]} for ts, bal, ref in a.history],
            "physicalGap": "none: physical quantities are tracked on chain, book and physical stock cannot drift",
            "certificates": certificate_numbers(r, a.participant, a.material, a.characteristic),
        })
    return out


def certificate_numbers(r: Replay, pid: int, material: int | None = None,
                        characteristic: int | None = None) -> list[dict[str, Any]]:
    """The certifications of participant `pid` (covering `material` and `characteristic` when given)."""
    out = []
    for cid, c in sorted(r.certifications.items()):
        if c["holder"] != pid or (material is not None and material not in c["materials"]) or (
                characteristic is not None and characteristic not in c["characteristics"]):
            continue
        out.append({"certificationId": cid, "number": c["number"], "scheme": r.schemes.get(c["scheme"], {}).get("name"),
                    "status": CERT_STATUS[c["status"]], "validFrom": _date(c["validFrom"]),
                    "validTo": _date(c["validTo"])})
    return out


def _unit(r: Replay, material: int) -> str | None:
    return r.materials.get(material, {}).get("unit")


def conversions(r: Replay) -> list[dict[str, Any]]:
    """Every transform with its process and factor, its input legs and output leg (physical), and the credit
    bookings of the same transaction (converted out of the input account, into the output account)."""
    legs: dict[str, list[dict]] = defaultdict(list)
    for a in r.accounts.values():
        for bk in a.bookings:
            if bk["entry"] in ("ConvertedOut", "ConvertedIn"):
                unit = _unit(r, a.material)
                legs[bk["tx"]].append({"entry": bk["entry"], "account": a.key, "material": a.material,
                                       "materialName": r.materials.get(a.material, {}).get("name"),
                                       "characteristicName": r.characteristics.get(a.characteristic, {}).get("name"),
                                       "amount": bk["amount"], "text": qty(bk["amount"], unit)})
    out = []
    for bid, b in sorted(r.batches.items()):
        tr = b["transform"]
        if tr is None:
            continue
        proc = r.processes.get(tr["processId"], {})
        pid, site = r.wallets.get(b["holder"], (0, 0))
        inputs = [{"batchId": p, "material": r.materials.get(r.batches[p]["material"], {}).get("name"), "quantity": q,
                   "text": qty(q, _unit(r, r.batches[p]["material"]))} for p, q in b["parents"]]
        out_unit = _unit(r, b["material"])
        out.append({
            "batchId": bid, "participant": pid, "site": site, "process": proc.get("name"), "processId": tr["processId"],
            "factorPpm": proc.get("factor"), "factor": (proc.get("factor") or 0) / 1_000_000,
            "tolerancePpm": proc.get("tolerance"), "inputs": inputs,
            "output": {"batchId": bid, "material": r.materials.get(b["material"], {}).get("name"),
                       "quantity": b["quantity"], "text": qty(b["quantity"], out_unit)},
            "loss": tr["loss"], "lossText": qty(tr["loss"], _unit(r, r.batches[b["parents"][0][0]]["material"])),
            "creditLegs": legs.get(tr["ref"]["tx"], []), "tx": tr["ref"]["tx"], "date": _date(b["createdAt"]),
        })
    return out


def site_statements(r: Replay, now_ts: int) -> list[dict[str, Any]]:
    """One statement per site covering all its materials, at the end of the audited period (`now_ts`)."""
    stock: dict[tuple, int] = defaultdict(int)
    for (holder, bid), v in r.balances.items():
        if v > 0 and holder in r.wallets:
            pid, site = r.wallets[holder]
            stock[(pid, site, r.batches[bid]["material"])] += v
    transit: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for t in r.transfers.values():
        if t["status"] != 1:
            continue
        b = r.batches[t["batchId"]]
        for side, addr in (("out", t["from"]), ("in", t["to"])):
            pid, site = r.wallets.get(addr, (0, 0))
            transit[(pid, site, b["material"])][side] += t["quantity"]
            transit[(pid, site, b["material"], b["characteristic"])][side] += t["certifiedQuantity"]
    accounts: dict[tuple, list[Account]] = defaultdict(list)
    for a in r.accounts.values():
        accounts[(a.participant, a.site, a.material)].append(a)
    convs = conversions(r)
    keys = {k[:2] for k in stock} | {k[:2] for k in transit} | {k[:2] for k in accounts} | {
        (c["participant"], c["site"]) for c in convs}
    out = []
    for pid, site in sorted(k for k in keys if k[0]):
        materials = sorted({k[2] for k in list(stock) + list(transit) + list(accounts) if k[:2] == (pid, site)})
        rows = []
        for m in materials:
            unit = _unit(r, m)
            credits = []
            for a in sorted(accounts.get((pid, site, m), []), key=lambda a: a.characteristic):
                tr = transit.get((pid, site, m, a.characteristic), {})
                credits.append({
                    "characteristic": a.characteristic,
                    "characteristicName": r.characteristics.get(a.characteristic, {}).get("name"),
                    "scheme": r.schemes.get(a.scheme, {}).get("name"), "balance": a.balance,
                    "balanceText": qty(a.balance, unit), "inTransitOut": tr.get("out", 0),
                    "inTransitOutText": qty(tr.get("out", 0), unit), "inTransitIn": tr.get("in", 0),
                    "inTransitInText": qty(tr.get("in", 0), unit),
                    "certificates": certificate_numbers(r, pid, m, a.characteristic)})
            tr = transit.get((pid, site, m), {})
            rows.append({"material": m, "materialName": r.materials.get(m, {}).get("name"), "unit": unit,
                         "physicalStock": stock.get((pid, site, m), 0), "physicalStockText": qty(stock.get((pid, site, m), 0), unit),
                         "inTransitOut": tr.get("out", 0), "inTransitOutText": qty(tr.get("out", 0), unit),
                         "inTransitIn": tr.get("in", 0), "inTransitInText": qty(tr.get("in", 0), unit),
                         "credits": credits})
        out.append({"participant": pid, "participantName": r.participants.get(pid, {}).get("name"), "site": site,
                    "siteName": r.sites.get(site, {}).get("name"), "periodEnd": _date(now_ts),
                    "certificates": certificate_numbers(r, pid), "materials": rows,
                    "conversions": [c for c in convs if (c["participant"], c["site"]) == (pid, site)],
                    "physicalGap": "none: physical stock is tracked on chain beside the booked credits"})
    return out


def book_and_claim_report(r: Replay) -> dict[str, Any]:
    """Issuances, retirements per beneficiary and claim period, revocations."""
    def name(pid: int) -> str | None:
        return r.participants.get(pid, {}).get("name")

    issuances = []
    for cid, iss in sorted(r.issuances.items()):
        unit = _unit(r, iss["material"])
        pl = r.pledges.get(iss["pledgeId"]) if iss["pledgeId"] else None
        issuances.append({
            "certificateId": cid, "issuer": name(iss["issuer"]), "producer": name(iss["producer"]),
            "material": r.materials.get(iss["material"], {}).get("name"),
            "characteristic": r.characteristics.get(iss["characteristic"], {}).get("name"), "units": iss["amount"],
            "unitSize": iss["unitSize"], "unitSizeText": qty(iss["unitSize"], unit), "unitLabel": iss["unitLabel"],
            "quantityText": qty(iss["amount"] * iss["unitSize"], unit), "retiredUnits": iss["retired"],
            "period": f"{_date(iss['periodStart'])} – {_date(iss['periodEnd'])}",
            "source": SOURCES[pl["source"]] if pl else "Verified", "revoked": iss["revoked"], "tx": iss["ref"]["tx"],
            "date": _date(iss["ts"])})
    groups: dict[tuple, dict[str, Any]] = {}
    for rid, x in sorted(r.retirements.items()):
        iss = r.issuances[x["certificateId"]]
        key = (x["beneficiary"], x["periodStart"], x["periodEnd"], iss["material"], iss["characteristic"])
        g = groups.setdefault(key, {
            "beneficiary": x["beneficiary"], "period": f"{_date(x['periodStart'])} – {_date(x['periodEnd'])}",
            "material": r.materials.get(iss["material"], {}).get("name"), "unit": _unit(r, iss["material"]),
            "characteristic": r.characteristics.get(iss["characteristic"], {}).get("name"),
            "units": 0, "quantity": 0, "validQuantity": 0, "retirements": [], "certificates": []})
        g["units"] += x["amount"]
        g["quantity"] += x["amount"] * iss["unitSize"]
        if not iss["revoked"]:  # C12: revoked units support nothing
            g["validQuantity"] += x["amount"] * iss["unitSize"]
        g["retirements"].append(rid)
        if x["certificateId"] not in g["certificates"]:
            g["certificates"].append(x["certificateId"])
    retirements = []
    for g in groups.values():
        g["quantityText"], g["validQuantityText"] = qty(g["quantity"], g["unit"]), qty(g["validQuantity"], g["unit"])
        retirements.append(g)
    revocations = [{"certificateId": cid, "issuer": name(iss["issuer"]), "outstandingUnits": iss["revokedOutstanding"],
                    "retiredBeforeUnits": iss["retired"],
                    "outstandingText": qty(iss["revokedOutstanding"] * iss["unitSize"], _unit(r, iss["material"])),
                    "reasonHash": iss["revokedReason"], "tx": iss["revokedRef"]["tx"],
                    "date": _date(iss.get("revokedAt") or 0)}
                   for cid, iss in sorted(r.issuances.items()) if iss["revoked"]]
    return {"issuances": issuances, "retirements": retirements, "revocations": revocations}


