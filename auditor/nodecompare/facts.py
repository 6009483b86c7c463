"""Indexes over the replay that the expected answers need (built once per comparison), and the facts about
batches and certifications that several endpoints share."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import Any

from ..model import CERT_STATUS, MODELS
from ..replay import Replay
from .values import EVIDENCE


ACCEPTED, PENDING = 2, 1  # IBatchLedger.TransferStatus


class Facts:
    """Indexes over the replay that the expected answers need (built once per comparison)."""

    def __init__(self, r: Replay):
        self.r = r
        self.bindings: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)  # addr -> (block, li, pid, site)
        self.wallets_of: dict[int, list[str]] = defaultdict(list)
        for w in r.wallet_history:
            if "added" in w:
                ref = w["added"]
                self.bindings[w["wallet"]].append((ref["block"], ref["logIndex"], w["participant"], w["site"]))
                if w["wallet"] not in self.wallets_of[w["participant"]]:
                    self.wallets_of[w["participant"]].append(w["wallet"])
        self.holdings_by_batch: dict[int, dict[str, int]] = defaultdict(dict)
        for (holder, bid), v in r.balances.items():
            if v:
                self.holdings_by_batch[bid][holder] = v
        self.cert_holdings: dict[int, dict[str, int]] = defaultdict(dict)
        for (holder, cid), v in r.holdings.items():
            if v:
                self.cert_holdings[cid][holder] = v
        self.consumed: dict[int, list[dict]] = defaultdict(list)
        for c in r.consumptions:
            self.consumed[c["batchId"]].append(c)
        self.issuances_of_pledge: dict[int, list[int]] = defaultdict(list)
        for cid, iss in r.issuances.items():
            if iss["pledgeId"]:
                self.issuances_of_pledge[iss["pledgeId"]].append(cid)
        self._lineage: dict[int, dict] = {}
        # per participant (wallet), for the participant answers
        self.balances_of: dict[str, list[tuple[int, int]]] = defaultdict(list)  # wallet -> [(batch, quantity)]
        for (holder, bid), v in r.balances.items():
            if v > 0:
                self.balances_of[holder].append((bid, v))
        self.certs_of: dict[str, list[tuple[int, int]]] = defaultdict(list)  # wallet -> [(certificate, units)]
        for (holder, cid), v in r.holdings.items():
            if v > 0:
                self.certs_of[holder].append((cid, v))
        self.pending_from: dict[str, list[str]] = defaultdict(list)
        self.pending_to: dict[str, list[str]] = defaultdict(list)
        for tid, t in r.transfers.items():
            if t["status"] == PENDING:
                self.pending_from[t["from"]].append(tid)
                self.pending_to[t["to"]].append(tid)
        self.accounts_of: dict[int, list[Any]] = defaultdict(list)
        for acct in r.accounts.values():
            self.accounts_of[acct.participant].append(acct)
        self.retired_by: dict[int, list[int]] = defaultdict(list)
        for rid, ret in r.retirements.items():
            self.retired_by[ret["retiredBy"]].append(rid)
        self.certifications_of: dict[int, list[int]] = defaultdict(list)
        for cid, c in r.certifications.items():
            self.certifications_of[c["holder"]].append(cid)
        self.sites_of: dict[int, list[int]] = defaultdict(list)
        for sid, site in r.sites.items():
            self.sites_of[site["owner"]].append(sid)

    def who(self, address: str, block: int | None = None) -> dict[str, Any]:
        """The participant (and site) a wallet was bound to at ``block`` (the latest binding if None), as
        the node's ``{"address", "participant_id", "participant", "site_id", "site"}``."""
        pid = site = None
        for b, _li, p, s in self.bindings.get(address.lower(), ()):
            if block is None or b <= block:
                pid, site = p, s or None
        return {"address": address, "participant_id": pid, "participant": self.name(pid), "site_id": site,
                "site": self.r.sites[site]["name"] if site in self.r.sites else None}

    # names, as the registry's events gave them
    def name(self, pid: int | None) -> str | None:
        p = self.r.participants.get(pid) if pid else None
        return p["name"] if p else None

    def material(self, mid: int) -> str:
        m = self.r.materials.get(mid)
        return m["name"] if m else f"material {mid}"

    def unit(self, mid: int) -> str:
        m = self.r.materials.get(mid)
        return m["unit"] if m else ""

    def characteristic(self, cid: int) -> str | None:
        if not cid:
            return None
        c = self.r.characteristics.get(cid)
        return c["name"] if c else f"characteristic {cid}"

    def scheme_of(self, cid: int) -> str | None:
        c = self.r.characteristics.get(cid) if cid else None
        s = self.r.schemes.get(c["scheme"]) if c else None
        return s["name"] if s else None

    def lineage(self, bid: int) -> dict:
        """Ancestry of ``bid`` with exact proportional attribution (Fractions), weakest model per origin."""
        if bid in self._lineage:
            return self._lineage[bid]
        r = self.r
        ids = sorted({bid, *r.ancestors(bid)})
        root = r.batches[bid]
        taken = {bid: Fraction(root["quantity"])}
        contrib = {bid: Fraction(root["quantity"])}
        weakest = {bid: root["model"]}
        toward: dict[int, int] = {}
        for x in reversed(ids):
            b = r.batches[x]
            if x not in taken or not b["parents"]:
                continue
            f_taken = taken[x] / b["quantity"] if b["quantity"] else Fraction(0)
            total = sum(q for _, q in b["parents"])
            f_contrib = contrib[x] / total if total else Fraction(0)
            for p, q in b["parents"]:
                taken[p] = taken.get(p, Fraction(0)) + q * f_taken
                contrib[p] = contrib.get(p, Fraction(0)) + q * f_contrib
                w = min(r.batches[p]["model"], weakest[x])
                weakest[p] = min(weakest.get(p, 99), w)
                toward.setdefault(p, x)
        out = {"ids": ids, "taken": taken, "contrib": contrib, "weakest": weakest, "toward": toward,
               "origins": [x for x in ids if r.batches[x]["kind"] == 0]}
        self._lineage[bid] = out
        return out


def batch_refs(r: Replay, bid: int) -> list[dict]:
    b = r.batches[bid]
    return [b["ref"], (b["originInfo"] or {}).get("ref"), (b["transform"] or {}).get("ref")]


def certification_at(r: Replay, cid: int, ref: dict, ts: int) -> dict[str, Any] | None:
    c = r.certifications.get(cid)
    if c is None:
        return None
    status = 1
    for ch in c.get("changes", []):
        if (ch["ref"]["block"], ch["ref"]["logIndex"]) < (ref["block"], ref["logIndex"]):
            status = ch["status"]
    return {"certification_id": cid, "scheme": c["scheme"], "certificate_number": c["number"],
            "status_at_time": CERT_STATUS[status].lower(),
            "valid_at_time": status == 1 and c["validFrom"] <= ts <= c["validTo"]}


def certification_answer(r: Replay, cid: int) -> dict[str, Any]:
    c = r.certifications[cid]
    changes = c.get("changes", [])
    return {
        "certification_id": cid, "scheme": c["scheme"], "certificate_number": c["number"], "holder_id": c["holder"],
        "holder": r.participants.get(c["holder"], {}).get("name"), "certifier_id": c["certifier"],
        "certifier": r.participants.get(c["certifier"], {}).get("name"), "valid_from": c["validFrom"],
        "valid_to": c["validTo"],
        "models": [MODELS[m] for m in range(1, 5) if (c["models"] >> m) & 1],
        "status_now": CERT_STATUS[c["status"]].lower(),
        "recorded": {"tx_hash": c["ref"]["tx"], "block_number": c["ref"]["block"]},
        "status_changes": [{"status": CERT_STATUS[ch["status"]].lower(), "reason_hash": ch["reasonHash"],
                            "tx_hash": ch["ref"]["tx"], "block_number": ch["ref"]["block"], EVIDENCE: [ch["ref"]]}
                           for ch in changes],
        EVIDENCE: [c["ref"]] + [ch["ref"] for ch in changes],
    }
