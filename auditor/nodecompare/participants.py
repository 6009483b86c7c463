"""The expected answer of GET /provenance/participants/{id}: roles, sites, wallets, holdings, certifications
and every mass-balance credit account with its bookings and period statements."""

from __future__ import annotations

from typing import Any

from ..model import MODELS, PARTICIPANT_STATUS, ROLE_NAMES
from .values import EVIDENCE, Keyed, event_ref, snake_name
from .facts import Facts, certification_answer
from .batches import transfer_answer


# ---------------------------------------------------------------------------------------------- participants
def _statements(acct: Any) -> list[dict[str, Any]]:
    periods = sorted({b["period"] for b in acct.bookings})
    out = []
    for p in periods:
        st = acct.statements.get(p)
        if st is None:
            continue
        closing = st["opening"] + st["inflow"] + st["convertedIn"] - st["outflow"] - st["convertedOut"] - st["lapsed"]
        out.append({"period": p, "opening": st["opening"], "inflow": st["inflow"], "converted_in": st["convertedIn"],
                    "outflow": st["outflow"], "converted_out": st["convertedOut"], "lapsed": st["lapsed"],
                    "closing": closing, "bookings": sum(1 for b in acct.bookings if b["period"] == p),
                    EVIDENCE: [event_ref("CreditsBooked", b) for b in acct.bookings if b["period"] == p]})
    return out


def participant_expected(fx: Facts, pid: int) -> dict[str, Any]:
    r = fx.r
    p = r.participants[pid]
    wallets = fx.wallets_of.get(pid, [])
    held = []
    for bid, h, q in sorted((bid, h, q) for h in wallets for bid, q in fx.balances_of.get(h, [])):
        bb = r.batches[bid]
        held.append({"batch_id": bid, "wallet": h, "quantity": q, "model": MODELS[bb["model"]],
                     "share_ppm": bb["share"], EVIDENCE: [bb["ref"], *r.batch_moves.get(bid, [])]})

    def transit(by_wallet: dict[str, list[str]]) -> Keyed:
        return Keyed([transfer_answer(fx, t) for h in wallets for t in by_wallet.get(h, [])], "transfer_id")

    accounts = []
    for acct in fx.accounts_of.get(pid, []):
        accounts.append({
            "account": acct.key, "site_id": acct.site, "site": r.sites.get(acct.site, {}).get("name"),
            "material_id": acct.material, "material": fx.material(acct.material), "unit": fx.unit(acct.material),
            "characteristic_id": acct.characteristic, "characteristic": fx.characteristic(acct.characteristic),
            "scheme": r.schemes.get(acct.scheme, {}).get("name"), "period_length": acct.period_length, "anchor": acct.anchor,
            "lapse_after_periods": acct.lapse, "balance": acct.balance,
            "opened": {"tx_hash": acct.opened["tx"], "block_number": acct.opened["block"]},
            "statements": Keyed(_statements(acct), "period"),
            "closed_periods": Keyed([{"period": k, "opening": c["opening"], "inflow": c["inflow"],
                                      "converted_in": c["convertedIn"], "outflow": c["outflow"],
                                      "converted_out": c["convertedOut"], "lapsed": c["lapsed"], "closing": c["closing"],
                                      "tx_hash": c["ref"]["tx"], EVIDENCE: [c["ref"]]}
                                     for k, c in sorted(acct.closed.items())], "period"),
            "bookings": Keyed([{"period": b["period"], "entry": snake_name(b["entry"]), "reason": snake_name(b["reason"]),
                                "amount": b["amount"], "balance": b["balance"], "ref": b["ref"], "tx_hash": b["tx"],
                                "block_number": b["block"], EVIDENCE: [event_ref("CreditsBooked", b)]}
                               for b in acct.bookings], "tx_hash", "entry", "reason"),
            EVIDENCE: [acct.opened] + [event_ref("CreditsBooked", b) for b in acct.bookings[-1:]],
        })
    certs_held = [{"certificate_id": cid, "wallet": h, "units": q,
                   EVIDENCE: [r.issuances[cid]["ref"]] + [ref for *_, ref in r.cert_moves.get(cid, [])]}
                  for cid, h, q in sorted((cid, h, q) for h in wallets for cid, q in fx.certs_of.get(h, []))
                  if cid in r.issuances]
    retired = [{"retirement_id": x, "certificate_id": ret["certificateId"], "retired_by_id": pid, "amount": ret["amount"],
                "beneficiary": ret["beneficiary"], "tx_hash": ret["ref"]["tx"], EVIDENCE: [ret["ref"]]}
               for x in fx.retired_by.get(pid, []) for ret in [r.retirements[x]]]
    return {
        "participant_id": pid, "name": p["name"],
        "roles": Keyed([n for bit, n in ROLE_NAMES.items() if p["roles"] & bit]),
        "status": PARTICIPANT_STATUS[p["status"]].lower(),
        "registered": {"tx_hash": p["ref"]["tx"], "block_number": p["ref"]["block"]},
        "sites": Keyed([{"site_id": s, "name": site["name"], "location_ref": site.get("locationRef"),
                         EVIDENCE: [site["ref"]]} for s in sorted(fx.sites_of.get(pid, [])) for site in [r.sites[s]]],
                       "site_id"),
        "wallets": Keyed(wallets),
        "batches_held": Keyed(held, "batch_id", "wallet"),
        "in_transit": {"outgoing": transit(fx.pending_from), "incoming": transit(fx.pending_to)},
        "credit_accounts": Keyed(accounts, "account"),
        "certificates_held": Keyed(certs_held, "certificate_id", "wallet"),
        "retirements": Keyed(retired, "retirement_id"),
        "certifications": Keyed([certification_answer(r, cid) for cid in sorted(fx.certifications_of.get(pid, []))],
                                "certification_id"),
        EVIDENCE: [p["ref"]] + [x[3] for x in p["history"][1:]],
    }
