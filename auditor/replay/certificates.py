"""CertificateRegistry, replayed: pledges, issuances, holdings, retirements and revocations, and the
reconciliation of each transaction's mints and burns with its issuances and retirements."""

from __future__ import annotations

from collections import Counter, defaultdict

from ..model import ALL_ROLES, MASS_BALANCE, RELEASED, ROLE_SUPPLIER, UNCERTIFIED, ZERO
from ..rules import pledge_mismatches, released_certified, retirement_id
from .events import ACTIVE, Ev


class CertificateReplay:
    """State and event handlers of CertificateRegistry (one part of `Replay`)."""

    def _init_certificates(self) -> None:
        self.approvals: dict[tuple[str, str], bool] = {}  # (owner, operator) -> approved for all
        self.issuances: dict[int, dict] = {}
        self.holdings: dict[tuple[str, int], int] = defaultdict(int)
        self.retirements: dict[int, dict] = {}
        self.pledges: dict[int, dict] = {}
        self.evidence: dict[str, int] = {}
        self.cert_transfers: list[dict] = []
        self.cert_moves: dict[int, list[tuple[str, str, int, dict]]] = defaultdict(list)  # (from, to, units, ref)

    def on_certs_ApprovalForAll(self, e: Ev) -> None:
        self.approvals[(e.a["account"], e.a["operator"])] = e.a["approved"]

    def on_certs_TransferSingle(self, e: Ev) -> None:
        a = e.a
        self._cert_move(a["from"], a["to"], a["id"], a["value"], e)

    def on_certs_TransferBatch(self, e: Ev) -> None:
        for i, v in zip(e.a["ids"], e.a["values"]):
            self._cert_move(e.a["from"], e.a["to"], i, v, e)

    def _cert_move(self, frm: str, to: str, cid: int, value: int, e: Ev) -> None:
        iss = self.issuances.get(cid)
        if iss is not None and iss["revoked"]:
            self.f.add("certificates.single_claim", f"units of revoked issuance {cid} moved", [iss["revokedRef"], e.ref()])
        problems = []
        for who in (frm, to):
            if who != ZERO:
                _, _, problem = self.actor(who, ALL_ROLES)
                if problem:
                    problems.append(problem)
        if problems:
            self.f.add("certificates.single_claim", f"certificate {cid} moved with an ineligible party: {problems}",
                       [e.ref()])
        else:
            self.f.ok("certificates.single_claim")
        if frm != ZERO:
            self.holdings[(frm, cid)] -= value  # never negative: checked once the transaction is applied (G)
        if to != ZERO:
            self.holdings[(to, cid)] += value
        self._tx_cert_moves.append((frm, to, cid, value, e))
        self.cert_moves[cid].append((frm, to, value, e.ref()))
        if frm != ZERO and to != ZERO:
            self.cert_transfers.append({"certificateId": cid, "from": frm, "to": to, "amount": value, "ref": e.ref()})

    def on_certs_AttributesPledged(self, e: Ev) -> None:
        a = e.a
        pl = dict(a, used=None, ref=e.ref(), ts=e.ts)
        if a["pledgeId"] in self.pledges or a["pledgeId"] != len(self.pledges) + 1:
            self.f.add("certificates.double_attribute", f"pledge id {a['pledgeId']} reused or out of sequence", [e.ref()])
        self.pledges[a["pledgeId"]] = pl
        if a["source"] == 1:  # credits
            _, _, problem = self.certified_actor(a["holder"], ROLE_SUPPLIER, a["material"], a["characteristic"],
                                                 MASS_BALANCE, e.ts)
        else:
            b = self.batches.get(a["batchId"])
            problem = None if b else f"unknown batch {a['batchId']}"
            if b:
                _, _, problem = self.certified_actor(a["holder"], ROLE_SUPPLIER, b["material"], b["characteristic"],
                                                     b["model"], e.ts)
        if problem:
            self.f.add("actors.eligibility", f"pledge {a['pledgeId']} by an ineligible holder: {problem}", [e.ref()])
        else:
            self.f.ok("actors.eligibility")
        self._tx_pledges.append(e)

    def on_certs_CertificatesIssued(self, e: Ev) -> None:
        a = e.a
        cid = a["certificateId"]
        if cid in self.issuances or cid != len(self.issuances) + 1:
            self.f.add("certificates.evidence", f"certificate id {cid} issued twice or out of sequence", [e.ref()])
        first = self.evidence.get(a["evidenceHash"])
        if first is not None:
            self.f.add("certificates.evidence", f"evidence {a['evidenceHash'][:10]}.. backs certificate {cid} and, "
                       f"before it, certificate {first}", [self.issuances[first]["ref"], e.ref()],
                       evidence=a["evidenceHash"])
        else:
            self.f.ok("certificates.evidence")
            self.evidence[a["evidenceHash"]] = cid
        issuer = self.participants.get(a["issuer"])
        if issuer is None or issuer["status"] != ACTIVE or not issuer["roles"] & 8:
            self.f.add("actors.eligibility", f"certificate {cid} issued by participant {a['issuer']} without an active "
                       "issuer role", [e.ref()])
        self.issuances[cid] = dict(a, ref=e.ref(), ts=e.ts, revoked=False, revokedRef=None, revokedOutstanding=0,
                                   retired=0, retirementCount=0, retirements=[])
        # no attribute claimed twice: a pledge backs exactly this issuance, once
        if a["pledgeId"]:
            pl = self.pledges.get(a["pledgeId"])
            problems = []
            if pl is None:
                problems.append("pledge does not exist")
            else:
                if pl["used"] is not None:
                    problems.append(f"pledge already used by certificate {pl['used']}")
                problems += [x.text for x in pledge_mismatches(pl, a["producer"], a["material"], a["characteristic"],
                                                               a["amount"], a["unitSize"])]
                if pl["used"] is None:
                    pl["used"] = cid
            if problems:
                self.f.add("certificates.double_attribute", f"certificate {cid}: " + "; ".join(problems),
                           [pl["ref"] if pl else None, e.ref()])
            else:
                self.f.ok("certificates.double_attribute")
        else:
            # verified production: its evidence must not be the record of a certified physical batch
            bid = self.origin_evidence.get(a["evidenceHash"])
            if bid is not None and self.batches[bid]["model"] != UNCERTIFIED:
                self.f.add("certificates.double_attribute", f"certificate {cid} is backed by the evidence of certified "
                           f"origin batch {bid}, whose attributes are still claimed physically",
                           [self.batches[bid]["ref"], e.ref()])
            else:
                self.f.ok("certificates.double_attribute")

    def on_certs_IssuanceRevoked(self, e: Ev) -> None:
        a = e.a
        iss = self.issuances.get(a["certificateId"])
        if iss is None:
            self.f.add("certificates.supply", "revocation of an unknown issuance", [e.ref()])
            return
        held = sum(v for (h, c), v in self.holdings.items() if c == a["certificateId"])
        problems = []
        if iss["revoked"]:
            problems.append("revoked twice")
        if a["issuer"] != iss["issuer"]:
            problems.append(f"revoked by {a['issuer']}, issued by {iss['issuer']}")
        if a["outstanding"] != iss["amount"] - iss["retired"] or a["outstanding"] != held:
            problems.append(f"outstanding {a['outstanding']} but issued - retired = {iss['amount'] - iss['retired']}, "
                            f"held {held}")
        if problems:
            self.f.add("certificates.supply", f"revocation of certificate {a['certificateId']}: " + "; ".join(problems),
                       [iss["ref"], e.ref()])
        else:
            self.f.ok("certificates.supply")
        iss["revoked"] = True
        iss["revokedRef"] = e.ref()
        iss["revokedAt"] = e.ts
        iss["revokedOutstanding"] = a["outstanding"]
        iss["revokedReason"] = a["reasonHash"]

    def on_certs_CertificatesRetired(self, e: Ev) -> None:
        a = e.a
        cid, rid = a["certificateId"], a["retirementId"]
        iss = self.issuances.get(cid)
        if iss is None:
            self.f.add("certificates.single_claim", f"retirement {rid} of an unknown certificate", [e.ref()])
            return
        n = iss["retirementCount"] + 1
        problems = []
        if rid != retirement_id(cid, n) or rid in self.retirements:
            problems.append(f"retirement id {rid} is not certificate<<32|{n} or was used before")
        if iss["revoked"]:
            problems.append("retired after the issuance was revoked")
        if iss["retired"] + a["amount"] > iss["amount"]:
            problems.append("more retired than issued")
        wallet = self.wallets.get(a["holder"], (0, 0))
        if wallet[0] != a["retiredBy"]:
            problems.append(f"retiredBy {a['retiredBy']} is not the holder's participant {wallet[0]}")
        if problems:
            self.f.add("certificates.single_claim", f"retirement {rid}: " + "; ".join(problems), [iss["ref"], e.ref()])
        else:
            self.f.ok("certificates.single_claim")
        iss["retirementCount"] = n
        iss["retired"] += a["amount"]
        r = dict(a, ref=e.ref(), ts=e.ts)
        self.retirements[rid] = r
        iss["retirements"].append(rid)

    def _reconcile_certificates(self) -> None:
        for frm, _to, cid, _v, e in self._tx_cert_moves:
            if frm != ZERO and self.holdings[(frm, cid)] < 0:
                self.f.add("certificates.single_claim", f"holding of {frm} in certificate {cid} went negative",
                           [e.ref()])
        mints = Counter()
        burns = Counter()
        for frm, to, cid, v, e in self._tx_cert_moves:
            if frm == ZERO:
                mints[(to, cid)] += v
            if to == ZERO:
                burns[(frm, cid)] += v
        want_mints = Counter()
        want_burns = Counter()
        refs = [m[4].ref() for m in self._tx_cert_moves]
        for cid, iss in ((c, self.issuances[c]) for (_, c) in list(mints) if c in self.issuances):
            if iss["ref"]["tx"] == self._tx_cert_moves[0][4].tx:
                want_mints[(iss["to"], cid)] = iss["amount"]
        for rid, r in self.retirements.items():
            if r["ref"]["tx"] == self._tx_cert_moves[0][4].tx:
                want_burns[(r["holder"], r["certificateId"])] += r["amount"]
        if mints != want_mints or burns != want_burns:
            self.f.add("certificates.supply", "certificate mints/burns differ from issuances/retirements in the "
                       "transaction", refs, mints=dict((f"{k[0]}:{k[1]}", v) for k, v in mints.items()),
                       burns=dict((f"{k[0]}:{k[1]}", v) for k, v in burns.items()))
        elif mints or burns:
            self.f.ok("certificates.supply")

    def _check_release(self, e: Ev) -> None:
        a = e.a
        parent, child = self.batches.get(a["batchId"]), self.batches.get(a["releasedBatchId"])
        problems = []
        if parent is None or child is None:
            problems.append("released batch unknown")
        else:
            if child["kind"] != RELEASED or child["parents"] != [(parent["id"], child["quantity"])]:
                problems.append(f"batch {child['id']} is not the uncertified continuation of batch {parent['id']}")
            if child["holder"] != a["holder"]:
                problems.append("continuation held by someone else")
            if (a["material"], a["characteristic"]) != (parent["material"], parent["characteristic"]):
                problems.append("pledged attributes are not the batch's")
            if a["quantity"] != released_certified(child["quantity"], parent["share"]):
                problems.append(f"pledged {a['quantity']} != released {child['quantity']} x share {parent['share']}")
            parent["release"] = {"pledgeId": a["pledgeId"], "child": child["id"], "ref": e.ref()}
        if problems:
            self.f.add("certificates.double_attribute", f"pledge {a['pledgeId']}: " + "; ".join(problems), [e.ref()])
        else:
            self.f.ok("certificates.double_attribute")
