"""Compare the replayed state with the contracts' own view functions (eth_call in JSON-RPC batches,
all pinned to one block). Every disagreement is a finding of rule ``views.match``."""

from __future__ import annotations

from typing import Any, Callable

from .abi import function
from .model import MASS_BALANCE, PPM, ZERO, Findings
from .replay import Replay, balance_at, statement_at

REG, LED, MB, CER = "ParticipantRegistry", "BatchLedger", "MassBalance", "CertificateRegistry"


class ViewCheck:
    def __init__(self, rpc: Any, replay: Replay, addresses: dict[str, str], block: int, block_ts: int):
        self.rpc = rpc
        self.r = replay
        self.addr = {REG: addresses["registry"], LED: addresses["ledger"], MB: addresses["mass"],
                     CER: addresses["certs"]}
        self.block = block
        self.ts = block_ts
        self.calls: list[tuple[str, str, tuple, Any, list, Callable[[Any], Any] | None]] = []

    def want(self, contract: str, name: str, args: tuple, expected: Any, evidence: list | None = None,
             project: Callable[[Any], Any] | None = None) -> None:
        self.calls.append((contract, name, args, expected, evidence or [], project))

    def run(self, findings: Findings, progress: Callable[[int, int], None] | None = None) -> int:
        self.plan()
        tag = hex(self.block)
        reqs = []
        for contract, name, args, *_ in self.calls:
            fn = function(contract, name, len(args))
            reqs.append(("eth_call", [{"to": self.addr[contract], "data": fn.encode(*args)}, tag]))
        results = []
        step = 2000
        for start in range(0, len(reqs), step):
            results.extend(self.rpc.batch(reqs[start:start + step]))
            if progress:
                progress(min(start + step, len(reqs)), len(reqs))
        for (contract, name, args, expected, evidence, project), raw in zip(self.calls, results):
            label = f"{contract}.{name}({', '.join(_short(a) for a in args)})"
            if isinstance(raw, Exception):
                got: Any = f"reverted: {raw.error}"
            else:
                got = function(contract, name, len(args)).decode(raw)
                if project is not None:
                    got = project(got)
            if _norm(got) != _norm(expected):
                findings.add("views.match", f"{label} returns {_short(got)}, replay says {_short(expected)}", evidence,
                             view=label, contract_value=_norm(got), replay_value=_norm(expected))
            else:
                findings.ok("views.match")
        return len(self.calls)

    # ------------------------------------------------------------------ what is compared
    def plan(self) -> None:
        r = self.r
        w = self.want
        w(REG, "counts", (), [len(r.participants), len(r.sites), len(r.certifications), len(r.materials),
                             len(r.characteristics), len(r.schemes), len(r.processes)])
        for pid, p in r.participants.items():
            w(REG, "participant", (pid,), {"roles": p["roles"], "status": p["status"]}, [p["ref"]])
        seen = set()
        for h in r.wallet_history:
            if h["wallet"] in seen:
                continue
            seen.add(h["wallet"])
            pid, site = r.wallets.get(h["wallet"], (0, 0))
            w(REG, "wallet", (h["wallet"],), {"participantId": pid, "siteId": site}, [h.get("added") or h.get("removed")])
        for sid, s in r.sites.items():
            w(REG, "siteOwner", (sid,), s["owner"], [s["ref"]])
        for cid, c in r.certifications.items():
            w(REG, "certification", (cid,), {"holder": c["holder"], "certifier": c["certifier"], "models": c["models"],
                                             "status": c["status"], "validFrom": c["validFrom"],
                                             "validTo": c["validTo"]}, [c["ref"]])
        for (pid, mat), cap in r.capacity.items():
            w(REG, "capacity", (pid, mat), {k: cap[k] for k in ("validFrom", "validTo", "amount", "used")}, [cap["ref"]])
        for mid, m in r.materials.items():
            w(REG, "material", (mid,), {"group": m["group"], "waste": m["waste"], "exists": True})
        for ch, c in r.characteristics.items():
            s = r.schemes[c["scheme"]]
            w(REG, "schemeOf", (ch,), [c["scheme"], {"periodLength": s["periodLength"], "anchor": s["anchor"],
                                                    "lapseAfterPeriods": s["lapseAfterPeriods"], "exists": True}])
        for pr, p in r.processes.items():
            w(REG, "process", (pr,), {"inputMaterial": p["input"], "outputMaterial": p["output"], "factor": p["factor"],
                                      "tolerance": p["tolerance"], "exists": True})
        for (pid, mat, ch) in r.coverage:
            for model in (1, 2, 3, 4):
                valid, cid = r.certification_for(pid, mat, ch, model, self.ts)
                w(REG, "certificationFor", (pid, mat, ch, model), [valid, cid])
        # ---------------------------------------------------------- ledger
        w(LED, "batchCount", (), len(r.batches))
        w(LED, "totals", (), [r.created, r.consumed, r.lost, sum(r.supply.values())])
        sep = "0x" + r.separator.hex()
        w(LED, "eip712Domain", (), ["CocBatchLedger", "1", r.chain_id, r.ledger_addr],
          project=lambda v: [v[1], v[2], v[3], v[4]])
        del sep
        for bid, b in r.batches.items():
            w(LED, "batch", (bid,), {"material": b["material"], "characteristic": b["characteristic"],
                                     "model": b["model"], "share": b["share"], "creator": b["creator"],
                                     "origin": b["origin"], "kind": b["kind"], "createdAt": b["createdAt"]}, [b["ref"]])
            w(LED, "parents", (bid,), [{"batchId": p, "quantity": q} for p, q in b["parents"]], [b["ref"]])
            w(LED, "totalSupply", (bid,), r.supply[bid], [b["ref"]])
            w(LED, "eudrStatus", (bid,), r.eudr_of(bid), [b["ref"]])
            if b["originInfo"]:
                o = b["originInfo"]
                w(LED, "origin", (bid,), {"siteId": o["siteId"], "productionDate": o["productionDate"],
                                          "certificationId": o["certificationId"],
                                          "geolocationHash": o["geolocationHash"], "evidenceHash": o["evidenceHash"]},
                  [o["ref"]])
        for (holder, bid), q in r.balances.items():
            w(LED, "balanceOf", (holder, bid), q, [r.batches[bid]["ref"]] if bid in r.batches else [])
        for tid, t in r.transfers.items():
            if t.get("sameTx"):
                continue  # a one-transaction transfer is not stored (its events record it)
            w(LED, "transferStatus", (bytes.fromhex(tid[2:]),), t["status"], [t["proposed"], t["settled"]])
        for sender, n in r.nonces.items():
            w(LED, "nonces", (sender,), n)
        # ---------------------------------------------------------- mass balance
        for key, a in r.accounts.items():
            kb = bytes.fromhex(key[2:])
            last = a.bookings[-1] if a.bookings else None
            ev = [a.opened] + ([{"event": "CreditsBooked", "tx": last["tx"], "block": last["block"],
                                 "logIndex": last["logIndex"]}] if last else [])
            w(MB, "account", (kb,), {"balance": a.balance, "period": a.period, "openedPeriod": a.opened_period,
                                     "periodLength": a.period_length, "anchor": a.anchor,
                                     "lapseAfterPeriods": a.lapse, "open": True}, ev)
            w(MB, "balanceOf", (kb,), balance_at(a, self.ts), ev)
            current = a.period_at(self.ts)
            w(MB, "currentPeriod", (kb,), current, ev)
            for p in range(a.opened_period, max(current, a.period) + 1):
                st, closing = statement_at(a, p, self.ts)
                w(MB, "statement", (kb, p), [st, closing], ev)
        # ---------------------------------------------------------- certificates
        w(CER, "certificateCount", (), len(r.issuances))
        w(CER, "pledgeCount", (), len(r.pledges))
        for cid, i in r.issuances.items():
            source = r.pledges[i["pledgeId"]]["source"] if i["pledgeId"] in r.pledges else 0
            w(CER, "issuance", (cid,), [
                {"issuer": i["issuer"], "producer": i["producer"], "material": i["material"],
                 "characteristic": i["characteristic"], "periodStart": i["periodStart"], "periodEnd": i["periodEnd"],
                 "revoked": i["revoked"], "source": source},
                {"unitSize": i["unitSize"], "amount": i["amount"], "retired": i["retired"],
                 "retirementCount": i["retirementCount"]}], [i["ref"]] + ([i["revokedRef"]] if i["revoked"] else []))
            w(CER, "evidenceUsedBy", (bytes.fromhex(i["evidenceHash"][2:]),), r.evidence.get(i["evidenceHash"]), [i["ref"]])
        for rid, x in r.retirements.items():
            w(CER, "retirement", (rid,), {"certificateId": x["certificateId"], "amount": x["amount"],
                                          "retiredBy": x["retiredBy"], "periodStart": x["periodStart"],
                                          "periodEnd": x["periodEnd"]}, [x["ref"]])
        for pid, p in r.pledges.items():
            w(CER, "pledge", (pid,), {"producer": p["producer"], "material": p["material"],
                                      "characteristic": p["characteristic"], "source": p["source"],
                                      "used": p["used"] is not None, "quantity": p["quantity"]}, [p["ref"]])
        for (holder, cid), q in r.holdings.items():
            w(CER, "balanceOf", (holder, cid), q, [r.issuances[cid]["ref"]] if cid in r.issuances else [])


def _norm(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, str) and v.startswith("0x"):
        return v.lower()
    if v is None:
        return 0
    return v


def _short(v: Any) -> str:
    if isinstance(v, bytes):
        return "0x" + v.hex()[:8] + ".."
    s = str(_norm(v))
    return s if len(s) < 160 else s[:157] + "..."


__all__ = ["ViewCheck", "PPM", "MASS_BALANCE", "ZERO"]
