"""The custody handshake of BatchLedger, replayed: proposals, acceptances, rejections, cancellations, each
signature recomputed from the event and recovered, each sender nonce used once and in order."""

from __future__ import annotations

from collections import defaultdict

from .. import eip712
from ..model import MASS_BALANCE, ROLE_BRAND, ROLE_SUPPLIER, WARN
from ..rules import claim_model
from .events import Ev


class CustodyReplay:
    """State and event handlers of BatchLedger's custody transfers (one part of `Replay`)."""

    def _init_custody(self) -> None:
        self.transfers: dict[str, dict] = {}
        self.nonces: dict[str, int] = defaultdict(int)

    def _check_sig(self, e: Ev, signer: str, struct_hash: bytes, signature: bytes, deadline: int, what: str) -> dict:
        self.signatures_checked += 1
        recovered, note = eip712.recover(eip712.digest(self.separator, struct_hash), signature)
        result = {"signer": signer, "recovered": recovered, "kind": what}
        if e.ts > deadline:
            self.f.add("custody.signatures", f"{what} signature used after its deadline {deadline} (block time {e.ts})",
                       [e.ref()])
        if recovered == signer:
            self.f.ok("custody.signatures")
            result["verified"] = "ecdsa"
        elif self.has_code is not None and self.has_code(signer):
            # SignatureChecker falls back to ERC-1271 for a signer with code: not verifiable from logs alone
            result["verified"] = "erc1271-unverifiable-offchain"
            self.unverifiable.append({"event": e.ref(), "signer": signer, "kind": what, "note": note})
            self.f.add("custody.signatures", f"{what} signed by contract {signer} (ERC-1271): unverifiable offchain",
                       [e.ref()], severity=WARN, signer=signer)
        else:
            result["verified"] = False
            self.f.add("custody.signatures", f"{what} signature does not recover to {signer} "
                       f"(recovered {recovered}{'; ' + note if note else ''})", [e.ref()], signer=signer,
                       recovered=recovered)
        return result

    def _check_parties(self, e: Ev, t: dict, stage: str) -> None:
        b = self.batches.get(t["batchId"])
        if b is None:
            self.f.add("custody.eligibility", f"transfer of unknown batch {t['batchId']}", [e.ref()])
            return
        model = b["model"]
        if t["certifiedQuantity"] and model != MASS_BALANCE:
            self.f.add("credits.bookings", f"declaration on batch {b['id']} of model {model}", [e.ref()])
        model = claim_model(model, t["certifiedQuantity"])
        _, fsite, p1 = self.certified_actor(t["from"], ROLE_SUPPLIER, b["material"], b["characteristic"], model, e.ts)
        _, tsite, p2 = self.certified_actor(t["to"], ROLE_SUPPLIER | ROLE_BRAND, b["material"], b["characteristic"],
                                            model, e.ts)
        problems = [f"sender: {p1}"] if p1 else []
        if p2:
            problems.append(f"receiver: {p2}")
        if t["certifiedQuantity"] and (fsite == 0 or tsite == 0):
            problems.append("a declaration needs a site at both ends")
        if problems:
            self.f.add("custody.eligibility", f"transfer {t['id'][:10]}.. at {stage}: " + "; ".join(problems),
                       [t["proposed"], e.ref()], transferId=t["id"])
        else:
            self.f.ok("custody.eligibility")

    def on_ledger_CustodyProposed(self, e: Ev) -> None:
        a = e.a
        tid = a["transferId"]
        struct = eip712.transfer_struct_hash(a["batchId"], a["from"], a["to"], a["quantity"], a["certifiedQuantity"],
                                             a["nonce"], a["deadline"])
        if "0x" + struct.hex() != tid:
            self.f.add("custody.signatures", "transfer id is not the EIP-712 struct hash of the event's fields", [e.ref()])
        t = {
            "id": tid, "batchId": a["batchId"], "from": a["from"], "to": a["to"], "quantity": a["quantity"],
            "certifiedQuantity": a["certifiedQuantity"], "nonce": a["nonce"], "deadline": a["deadline"],
            "status": 1, "proposed": e.ref(), "proposedAt": e.ts, "settled": None, "signatures": [],
            "signature": a["signature"], "settleSignature": None, "settleDeadline": None,
        }
        if tid in self.transfers:
            self.f.add("custody.nonces", f"transfer {tid[:10]}.. proposed twice", [self.transfers[tid]["proposed"], e.ref()])
        self.transfers[tid] = t
        expected = self.nonces[a["from"]]
        if a["nonce"] != expected:
            self.f.add("custody.nonces", f"sender {a['from']} used nonce {a['nonce']}, expected {expected}", [e.ref()])
        else:
            self.f.ok("custody.nonces")
        self.nonces[a["from"]] = a["nonce"] + 1
        t["signatures"].append(self._check_sig(e, a["from"], struct, a["signature"], a["deadline"], "CustodyTransfer"))
        self._check_parties(e, t, "proposal")
        b = self.batches.get(a["batchId"])
        if b is not None:
            b["transfers"].append(tid)
        self._tx_ledger.append(e)

    def _settle(self, e: Ev, status: int, party_field: str) -> dict | None:
        a = e.a
        t = self.transfers.get(a["transferId"])
        if t is None:
            self.f.add("custody.settlement", f"settlement of an unknown transfer {a['transferId'][:10]}..", [e.ref()])
            return None
        if t["status"] != 1:
            self.f.add("custody.settlement", f"transfer {t['id'][:10]}.. settled twice", [t["settled"], e.ref()])
            return None
        if t["batchId"] != a["batchId"] or t[party_field] != a[party_field]:
            self.f.add("custody.settlement", "settlement event disagrees with the proposal", [t["proposed"], e.ref()])
        else:
            self.f.ok("custody.settlement")
        t["status"] = status
        t["settled"] = e.ref()
        t["settledAt"] = e.ts
        t["sameTx"] = t["proposed"]["tx"] == e.tx
        t["settleSignature"], t["settleDeadline"] = a["signature"], a["deadline"]
        self._tx_ledger.append(e)
        return t

    def on_ledger_CustodyAccepted(self, e: Ev) -> None:
        t = self._settle(e, 2, "to")
        if t is None:
            return
        tid = bytes.fromhex(t["id"][2:])
        t["signatures"].append(self._check_sig(
            e, t["to"], eip712.accept_struct_hash(tid, t["batchId"], t["quantity"], e.a["deadline"]), e.a["signature"],
            e.a["deadline"], "AcceptTransfer"))
        self._check_parties(e, t, "acceptance")

    def on_ledger_CustodyRejected(self, e: Ev) -> None:
        t = self._settle(e, 3, "to")
        if t is None:
            return
        tid = bytes.fromhex(t["id"][2:])
        t["signatures"].append(self._check_sig(e, t["to"], eip712.reject_struct_hash(tid, e.a["deadline"]),
                                               e.a["signature"], e.a["deadline"], "RejectTransfer"))

    def on_ledger_CustodyCancelled(self, e: Ev) -> None:
        t = self._settle(e, 4, "from")
        if t is None:
            return
        tid = bytes.fromhex(t["id"][2:])
        t["signatures"].append(self._check_sig(e, t["from"], eip712.cancel_struct_hash(tid, e.a["deadline"]),
                                               e.a["signature"], e.a["deadline"], "CancelTransfer"))
