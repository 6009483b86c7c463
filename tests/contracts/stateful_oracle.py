"""Predicts each operation of the stateful contract test from the auditor's replayed state with the auditor's
rules (`auditor.rules`): the refusal a contract must answer with (custom error and arguments), or the exact
effects of the call. What lives here is only the order in which a contract checks its inputs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from auditor import rules
from auditor.model import MERGE as K_MERGE
from auditor.model import ORIGIN as K_ORIGIN
from auditor.model import RELEASED as K_RELEASED
from auditor.model import SPLIT as K_SPLIT
from auditor.model import TRANSFORM as K_TRANSFORM
from auditor.model import ZERO as ZERO_ADDRESS
from auditor.replay import Replay, account_key, balance_at
from node_api.signing import CustodyTransfer

T_NONE, T_PENDING, T_ACCEPTED, T_REJECTED, T_CANCELLED = range(5)  # IBatchLedger.TransferStatus
S_VERIFIED, S_CREDITS, S_BATCH = range(3)  # ICertificateRegistry.Source
P_ACTIVE = 1  # ParticipantStatus.Active
UNC, MB, CB, SEG, IP = range(5)
ROLE_ADMIN, ROLE_CERTIFIER, ROLE_SUPPLIER, ROLE_ISSUER, ROLE_AUDITOR, ROLE_BRAND = 1, 2, 4, 8, 16, 32
ALL_ROLES = 63
UINT96_MAX = 2**96 - 1

BLOCK_TIME = object()  # an error argument that is the timestamp of the block the refused call was mined in


class Refused(Exception):
    """The refusal the model predicts: custom error name and every argument."""

    def __init__(self, name: str, **args: Any):
        super().__init__(name, args)
        self.name = name
        self.args_ = args


def lower(address: str) -> str:
    """The auditor keys addresses in lower case; the contracts' errors name them checksummed."""
    return address.lower()


def hex32(value: bytes) -> str:
    """The auditor keys bytes32 values (account keys, transfer ids, evidence) as 0x-hex."""
    return "0x" + value.hex()


def refuse(problem: rules.Problem | None) -> None:
    """Turns a rule of the auditor that fails into the refusal the contract must answer with."""
    if problem is not None:
        raise Refused(problem.error, **problem.args)


class Oracle:
    """Predicts one operation over the auditor's replayed state with the auditor's rules: raises Refused with
    the error the contract must raise, or records the exact effects (balance and credit deltas, new records).
    It keeps no state of its own beyond the effects of the one operation it predicts."""

    def __init__(self, r: Replay, timestamp: int):
        self.r = r
        self.ts = timestamp
        self.deltas: Counter = Counter()
        self.new_batches: list[dict[str, Any]] = []
        self.new_pledge: dict[str, Any] | None = None
        self.new_certificate: dict[str, Any] | None = None
        self.new_retirement: dict[str, Any] | None = None
        self.transfer: tuple[bytes, int, bool] | None = None  # (transfer id, status, stored) afterwards
        self.revoked: tuple[int, int] | None = None  # (certificate id, outstanding units frozen)
        self.keys: set[str] = set()
        self._credits: dict[str, int] = {}
        self._batches = len(r.batches)

    # ---------------------------------------------------------------- registry
    def actor(self, wallet: str, roles: int) -> tuple[int, int]:
        pid, site = self.r.wallets.get(lower(wallet), (0, 0))
        refuse(rules.actor_problem(wallet, pid, self.r.participants.get(pid), roles))
        return pid, site

    def certified_actor(
        self, wallet: str, roles: int, material: int, characteristic: int, model: int
    ) -> tuple[int, int]:
        pid, site = self.actor(wallet, roles)
        if model != UNC and not self.r.certification_for(pid, material, characteristic, model, self.ts)[0]:
            refuse(rules.not_certified(pid, material, characteristic, model))
        return pid, site

    # ---------------------------------------------------------------- tokens and credits
    def holding(self, book: str, holder: str, token: int) -> int:
        if book == "ledger":
            base = 0 if token > self._batches else self.r.balances.get((lower(holder), token), 0)
        else:
            base = self.r.holdings.get((lower(holder), token), 0)
        return base + self.deltas[(book, lower(holder), token)]

    def burn(self, book: str, holder: str, token: int, q: int) -> None:
        have = self.holding(book, holder, token)
        if have < q:
            raise Refused("ERC1155InsufficientBalance", sender=holder, balance=have, needed=q, tokenId=token)
        self.deltas[(book, lower(holder), token)] -= q

    def mint(self, book: str, holder: str, token: int, q: int) -> None:
        self.deltas[(book, lower(holder), token)] += q

    def move(self, frm: str, to: str, token: int, q: int) -> None:
        self.burn("ledger", frm, token, q)
        self.mint("ledger", to, token, q)

    def credits(self, key: str) -> int:
        if key not in self._credits:
            acct = self.r.accounts.get(key)
            self._credits[key] = balance_at(acct, self.ts) if acct is not None else 0
        return self._credits[key]

    def touch(self, characteristic: int) -> None:
        if characteristic not in self.r.characteristics:
            raise Refused("RegistryUnknownCharacteristic", characteristic=characteristic)

    def book_in(self, pid: int, site: int, material: int, characteristic: int, amount: int) -> None:
        """Credits in (amount 0 here: booked in and lapsed at once, no net effect)."""
        key = account_key(pid, site, material, characteristic)
        self.touch(characteristic)
        self._credits[key] = self.credits(key) + amount
        self.deltas[("credits", key)] += amount
        self.keys.add(key)

    def book_out(self, pid: int, site: int, material: int, characteristic: int, amount: int) -> None:
        key = account_key(pid, site, material, characteristic)
        self.keys.add(key)
        self.touch(characteristic)
        if amount == 0:
            raise Refused("MassBalanceZeroAmount")
        have = self.credits(key)
        if amount > have:
            raise Refused(
                "MassBalanceInsufficientCredits", account=bytes.fromhex(key[2:]), balance=have, requested=amount
            )
        self._credits[key] = have - amount
        self.deltas[("credits", key)] -= amount

    def new_batch(
        self,
        holder: str,
        creator: int,
        material: int,
        characteristic: int,
        model: int,
        share: int,
        origin: int,
        kind: int,
        quantity: int,
        parents: list[tuple[int, int]],
    ) -> int:
        batch_id = self._batches + len(self.new_batches) + 1
        self.new_batches.append(
            {
                "material": material,
                "characteristic": characteristic,
                "model": model,
                "share": share,
                "creator": creator,
                "origin": origin,
                "kind": kind,
                "quantity": quantity,
                "holder": lower(holder),
                "parents": list(parents),
            }
        )
        self.mint("ledger", holder, batch_id, quantity)
        return batch_id

    def batch(self, batch_id: int) -> dict[str, Any]:
        b = self.r.batches.get(batch_id)
        if b is None:
            raise Refused("BatchUnknown", batchId=batch_id)
        return b

    # ---------------------------------------------------------------- batch ledger
    def create_origin(self, holder: str, p: tuple) -> None:
        material, characteristic, model, share, quantity, _geo, _dds, evidence, production_date = p
        pid, site = self.actor(holder, ROLE_SUPPLIER)
        if site == 0:
            raise Refused("RegistryWalletHasNoSite", wallet=holder)
        if material not in self.r.materials:
            raise Refused("RegistryUnknownMaterial", material=material)
        if quantity == 0:
            raise Refused("BatchZeroQuantity")
        if evidence == bytes(32):
            raise Refused("BatchInvalidOrigin", field="evidenceHash")
        if production_date > self.ts:
            raise Refused("BatchInvalidOrigin", field="productionDate")
        if (model == UNC) != (characteristic == 0):
            raise Refused("BatchInvalidOrigin", field="characteristic")
        if not rules.origin_share_valid(model, share):
            raise Refused("BatchInvalidOrigin", field="share")
        cid = 0
        if model != UNC:
            valid, cid = self.r.certification_for(pid, material, characteristic, model, self.ts)
            if not valid:
                refuse(rules.not_certified(pid, material, characteristic, model))
            certified = rules.certified_quantity(model, quantity, share)
            available = rules.capacity_available(self.r.capacity.get((pid, material)), self.ts)
            if certified > available:
                raise Refused(
                    "RegistryCapacityExceeded",
                    participantId=pid,
                    material=material,
                    available=available,
                    requested=certified,
                )
            self.deltas[("capacity", pid, material)] += certified
        batch_id = self._batches + 1
        origin = rules.origin_of_new_origin(model, batch_id)
        self.new_batch(holder, pid, material, characteristic, model, share, origin, K_ORIGIN, quantity, [])
        self.origin = {
            "siteId": site,
            "productionDate": production_date,
            "certificationId": cid,
            "evidenceHash": hex32(evidence),
        }
        if model == MB:
            self.book_in(pid, site, material, characteristic, quantity)

    def verify_proposal(self, t: CustodyTransfer, signature_ok: bool) -> None:
        if t.quantity == 0:
            raise Refused("BatchZeroQuantity")
        if lower(t.to) in (lower(t.from_), ZERO_ADDRESS, self.r.ledger_addr):
            raise Refused("BatchInvalidTransfer", field="to")
        if t.certifiedQuantity > t.quantity:
            raise Refused("BatchDeclarationExceedsQuantity", certifiedQuantity=t.certifiedQuantity, quantity=t.quantity)
        self.verify(t.from_, t.deadline, signature_ok)
        current = self.r.nonces.get(lower(t.from_), 0)
        if t.nonce != current:
            raise Refused("InvalidAccountNonce", account=t.from_, currentNonce=current)

    def verify(self, signer: str, deadline: int, signature_ok: bool) -> None:
        if self.ts > deadline:
            raise Refused("BatchSignatureExpired", deadline=deadline, timestamp=BLOCK_TIME)
        if not signature_ok:
            raise Refused("BatchInvalidSignature", expectedSigner=signer)

    def transfer_parties(self, t: CustodyTransfer) -> tuple[int, int, int, int]:
        b = self.batch(t.batchId)
        if t.certifiedQuantity != 0 and b["model"] != MB:
            raise Refused("BatchDeclarationNotAllowed", batchId=t.batchId, model=b["model"])
        model = rules.claim_model(b["model"], t.certifiedQuantity)
        fp, fs = self.certified_actor(t.from_, ROLE_SUPPLIER, b["material"], b["characteristic"], model)
        tp, ts = self.certified_actor(t.to, ROLE_SUPPLIER | ROLE_BRAND, b["material"], b["characteristic"], model)
        if t.certifiedQuantity != 0:
            if fs == 0:
                raise Refused("RegistryWalletHasNoSite", wallet=t.from_)
            if ts == 0:
                raise Refused("RegistryWalletHasNoSite", wallet=t.to)
        return fp, fs, tp, ts

    def transfer_now(self, t: CustodyTransfer, sender_ok: bool, accept_deadline: int, accept_ok: bool) -> None:
        self.verify_proposal(t, sender_ok)
        self.verify(t.to, accept_deadline, accept_ok)
        fp, fs, tp, ts = self.transfer_parties(t)
        self.move(t.from_, t.to, t.batchId, t.quantity)
        if t.certifiedQuantity:
            b = self.r.batches[t.batchId]
            self.book_out(fp, fs, b["material"], b["characteristic"], t.certifiedQuantity)
            self.book_in(tp, ts, b["material"], b["characteristic"], t.certifiedQuantity)
        self.transfer = (t.transfer_id(), T_ACCEPTED, False)  # settled at once, not stored

    def propose(self, t: CustodyTransfer, sender_ok: bool) -> None:
        self.verify_proposal(t, sender_ok)
        fp, fs, _, _ = self.transfer_parties(t)
        self.move(t.from_, self.r.ledger_addr, t.batchId, t.quantity)
        if t.certifiedQuantity:
            b = self.r.batches[t.batchId]
            self.book_out(fp, fs, b["material"], b["characteristic"], t.certifiedQuantity)
        self.transfer = (t.transfer_id(), T_PENDING, True)

    def settle(self, t: CustodyTransfer, action: str, deadline: int, signature_ok: bool) -> None:
        tid = t.transfer_id()
        rec = self.r.transfers.get(hex32(tid))
        status = T_NONE if rec is None or rec.get("sameTx") else rec["status"]
        if status != T_PENDING:
            raise Refused("BatchTransferNotPending", transferId=tid, status=status)
        self.verify(t.from_ if action == "cancel" else t.to, deadline, signature_ok)
        b = self.r.batches[t.batchId]
        self.transfer = (tid, {"accept": T_ACCEPTED, "reject": T_REJECTED, "cancel": T_CANCELLED}[action], True)
        if action == "accept":
            fp, fs, tp, ts = self.transfer_parties(t)
            self.move(self.r.ledger_addr, t.to, t.batchId, t.quantity)
            if t.certifiedQuantity:
                # Into the receiver's account with the age the credits had when escrowed: credits whose
                # time ran out in transit lapse at once (the sender's account has the same scheme).
                acct = self.r.accounts[account_key(fp, fs, b["material"], b["characteristic"])]
                vintage = self.r.delivery_vintage(hex32(tid))
                alive = vintage is None or rules.vintage_alive(vintage, acct.lapse, acct.period_at(self.ts))
                self.book_in(tp, ts, b["material"], b["characteristic"], t.certifiedQuantity if alive else 0)
        else:
            if action == "reject":
                self.actor(t.to, ROLE_SUPPLIER | ROLE_BRAND)
            else:
                self.actor(t.from_, ROLE_SUPPLIER)
            self.move(self.r.ledger_addr, t.from_, t.batchId, t.quantity)
            if t.certifiedQuantity:
                # Back to the sender's account, dated to the oldest period the declaration took: credits
                # whose time ran out meanwhile lapse at once.
                pid, site = self.r.wallets[lower(t.from_)]
                acct = self.r.accounts[account_key(pid, site, b["material"], b["characteristic"])]
                vintage = self.r.debit_vintage(hex32(tid), pid)
                alive = vintage is None or rules.vintage_alive(vintage, acct.lapse, acct.period_at(self.ts))
                self.book_in(pid, site, b["material"], b["characteristic"], t.certifiedQuantity if alive else 0)

    def split(self, holder: str, batch_id: int, quantities: list[int]) -> None:
        b = self.batch(batch_id)
        pid, _ = self.certified_actor(holder, ROLE_SUPPLIER, b["material"], b["characteristic"], b["model"])
        for q in quantities:
            if q == 0:
                raise Refused("BatchZeroQuantity")
            self.burn("ledger", holder, batch_id, q)
            self.new_batch(
                holder,
                pid,
                b["material"],
                b["characteristic"],
                b["model"],
                b["share"],
                b["origin"],
                K_SPLIT,
                q,
                [(batch_id, q)],
            )

    def mix(self, holder: str, ids: list[int], quantities: list[int], model: int) -> rules.Mix:
        if not ids or len(ids) != len(quantities):
            raise Refused("BatchLengthMismatch", ids=len(ids), quantities=len(quantities))
        m = None
        for bid, q in zip(ids, quantities):
            b = self.batch(bid)
            if q == 0:
                raise Refused("BatchZeroQuantity")
            m, problems = rules.mix_add(m, b, q, model)
            refuse(problems[0] if problems else None)
            self.burn("ledger", holder, bid, q)
        for problem in rules.mix_end(m, model):
            refuse(problem)
        return m

    def output(
        self, holder: str, pid: int, site: int, material: int, m: rules.Mix, model: int, kind: int, quantity: int
    ) -> None:
        share, origin, characteristic = rules.output_claim(m, model)
        self.new_batch(holder, pid, material, characteristic, model, share, origin, kind, quantity, m.parents)
        if model == MB and m.certified:
            if site == 0:
                raise Refused("RegistryWalletHasNoSite", wallet=holder)
            self.book_in(pid, site, m.material, m.characteristic, m.certified)

    def merge(self, holder: str, ids: list[int], quantities: list[int], model: int) -> None:
        m = self.mix(holder, ids, quantities, model)
        pid, site = self.certified_actor(holder, ROLE_SUPPLIER, m.material, m.characteristic, model)
        self.output(holder, pid, site, m.material, m, model, K_MERGE, m.total)

    def transform(
        self, holder: str, process_id: int, ids: list[int], quantities: list[int], output: int, model: int, credits: int
    ) -> None:
        proc = self.r.processes.get(process_id)
        if proc is None:
            raise Refused("RegistryUnknownProcess", processId=process_id)
        m = self.mix(holder, ids, quantities, model)
        if m.material != proc["input"]:
            raise Refused("BatchMaterialMismatch", batchId=ids[0], expected=proc["input"], actual=m.material)
        if output == 0:
            raise Refused("BatchZeroQuantity")
        minimum, maximum = rules.transform_bounds(m.total, proc["factor"], proc["tolerance"])
        if output > maximum:
            raise Refused("BatchTransformExceedsFactor", output=output, maximum=maximum)
        if output < minimum:
            raise Refused("BatchTransformBelowTolerance", output=output, minimum=minimum)
        if credits > m.total:
            raise Refused("BatchConversionExceedsInput", credits=credits, input=m.total)
        if credits != 0 and model != MB:
            raise Refused("BatchDeclarationNotAllowed", batchId=0, model=model)
        self.deltas[("lost",)] += m.total - output
        pid, site = self.certified_actor(holder, ROLE_SUPPLIER, proc["output"], m.characteristic, model)
        self.output(holder, pid, site, proc["output"], m, model, K_TRANSFORM, output)
        if credits:
            wpid, wsite = self.r.wallets[lower(holder)]
            refuse(rules.waste_to_regular(self.r.materials, proc["input"], proc["output"]))
            converted = rules.converted_credits(credits, proc["factor"])
            self.book_out(wpid, wsite, proc["input"], m.characteristic, credits)
            if converted:
                self.book_in(wpid, wsite, proc["output"], m.characteristic, converted)

    def consume(self, holder: str, batch_id: int, quantity: int) -> None:
        self.batch(batch_id)
        self.actor(holder, ROLE_SUPPLIER | ROLE_BRAND)
        if quantity == 0:
            raise Refused("BatchZeroQuantity")
        self.burn("ledger", holder, batch_id, quantity)
        self.deltas[("consumed",)] += quantity

    # ---------------------------------------------------------------- mass balance
    def roll(self, sender: str) -> None:
        """MassBalance.roll: any active wallet of a registered participant; it changes no balance shown."""
        self.actor(sender, ALL_ROLES)

    def move_credits(self, sender: str, frm: int, to: int, characteristic: int, amount: int) -> None:
        pid, site = self.certified_actor(sender, ROLE_SUPPLIER, frm, characteristic, MB)
        self.certified_actor(sender, ROLE_SUPPLIER, to, characteristic, MB)
        if site == 0:
            raise Refused("RegistryWalletHasNoSite", wallet=sender)
        refuse(rules.credit_move_problem(self.r.materials, frm, to))
        self.book_out(pid, site, frm, characteristic, amount)
        self.book_in(pid, site, to, characteristic, amount)

    # ---------------------------------------------------------------- certificates
    def pledge_credits(self, holder: str, material: int, characteristic: int, quantity: int) -> None:
        pid, site = self.certified_actor(holder, ROLE_SUPPLIER, material, characteristic, MB)
        if site == 0:
            raise Refused("RegistryWalletHasNoSite", wallet=holder)
        self.book_out(pid, site, material, characteristic, quantity)
        self.new_pledge = {
            "producer": pid,
            "material": material,
            "characteristic": characteristic,
            "source": S_CREDITS,
            "used": False,
            "quantity": quantity,
        }

    def pledge_batch(self, holder: str, batch_id: int, quantity: int) -> None:
        b = self.batch(batch_id)
        pid, _ = self.certified_actor(holder, ROLE_SUPPLIER, b["material"], b["characteristic"], b["model"])
        if b["model"] < CB:
            raise Refused("BatchNotCertified", batchId=batch_id)
        if quantity == 0:
            raise Refused("BatchZeroQuantity")
        self.burn("ledger", holder, batch_id, quantity)
        self.new_batch(holder, pid, b["material"], 0, UNC, 0, 0, K_RELEASED, quantity, [(batch_id, quantity)])
        certified = rules.released_certified(quantity, b["share"])
        if certified == 0 or certified > UINT96_MAX:
            raise Refused("CertificateInvalid", field="quantity")
        self.new_pledge = {
            "producer": pid,
            "material": b["material"],
            "characteristic": b["characteristic"],
            "source": S_BATCH,
            "used": False,
            "quantity": certified,
        }

    def issue(self, sender: str, p: tuple) -> None:
        producer, to, amount, unit_size, _label, material, characteristic, start, end, evidence, pledge_id = p
        issuer, _ = self.actor(sender, ROLE_ISSUER)
        if amount == 0:
            raise Refused("CertificateInvalid", field="amount")
        if unit_size == 0:
            raise Refused("CertificateInvalid", field="unitSize")
        if evidence == bytes(32):
            raise Refused("CertificateInvalid", field="evidenceHash")
        if end < start:
            raise Refused("CertificateInvalid", field="periodEnd")
        status = self.r.participants.get(producer, {"status": 0})["status"]
        if status == 0:
            raise Refused("RegistryUnknownParticipant", participantId=producer)
        if status != P_ACTIVE:
            raise Refused("RegistryParticipantSuspended", participantId=producer)
        if material not in self.r.materials:
            raise Refused("RegistryUnknownMaterial", material=material)
        self.touch(characteristic)
        used_by = self.r.evidence.get(hex32(evidence))
        if used_by is not None:
            raise Refused("CertificateEvidenceAlreadyUsed", evidenceHash=evidence, certificateId=used_by)
        source = S_VERIFIED
        if pledge_id:
            pl = self.r.pledges.get(pledge_id)
            if pl is None or pl["used"] is not None:
                raise Refused("CertificatePledgeUnusable", pledgeId=pledge_id)
            for problem in rules.pledge_mismatches(pl, producer, material, characteristic, amount, unit_size):
                raise Refused(problem.error, pledgeId=pledge_id, **problem.args)
            source = pl["source"]
        cid = len(self.r.issuances) + 1
        self.actor(to, ALL_ROLES)  # the mint passes _update: registered, active receivers only
        self.mint("cert", to, cid, amount)
        self.new_certificate = {
            "issuer": issuer,
            "producer": producer,
            "amount": amount,
            "unitSize": unit_size,
            "material": material,
            "characteristic": characteristic,
            "source": source,
            "evidenceHash": hex32(evidence),
            "pledgeId": pledge_id,
            "revoked": False,
            "retired": 0,
        }

    def _update(self, frm: str, to: str, cid: int, value: int) -> None:
        if self.r.issuances.get(cid, {}).get("revoked"):
            raise Refused("CertificateRevoked", certificateId=cid)
        if frm != ZERO_ADDRESS:
            self.actor(frm, ALL_ROLES)
        if to != ZERO_ADDRESS:
            self.actor(to, ALL_ROLES)
        if frm != ZERO_ADDRESS:
            self.burn("cert", frm, cid, value)
        if to != ZERO_ADDRESS:
            self.mint("cert", to, cid, value)

    def transfer_certificate(self, sender: str, frm: str, to: str, cid: int, value: int) -> None:
        if lower(frm) != lower(sender) and not self.r.approvals.get((lower(frm), lower(sender))):
            raise Refused("ERC1155MissingApprovalForAll", operator=sender, owner=frm)
        if lower(to) == ZERO_ADDRESS:
            raise Refused("ERC1155InvalidReceiver", receiver=to)
        self._update(frm, to, cid, value)

    def revoke(self, sender: str, cid: int) -> None:
        pid, _ = self.actor(sender, ROLE_ISSUER)
        c = self.r.issuances.get(cid)
        if c is None:
            raise Refused("CertificateUnknown", certificateId=cid)
        if c["issuer"] != pid:
            raise Refused("CertificateNotIssuer", certificateId=cid, participantId=pid)
        if c["revoked"]:
            raise Refused("CertificateRevoked", certificateId=cid)
        if c["amount"] - c["retired"] == 0:
            raise Refused("CertificateNothingToRevoke", certificateId=cid)
        self.revoked = (cid, c["amount"] - c["retired"])

    def retire(self, holder: str, cid: int, amount: int, beneficiary: str, start: int, end: int) -> None:
        if amount == 0:
            raise Refused("CertificateInvalid", field="amount")
        if end < start:
            raise Refused("CertificateInvalid", field="periodEnd")
        if not beneficiary:
            raise Refused("CertificateInvalid", field="beneficiary")
        self._update(holder, ZERO_ADDRESS, cid, amount)
        c = self.r.issuances.get(cid, {"retirementCount": 0})
        self.new_retirement = {
            "id": rules.retirement_id(cid, c["retirementCount"] + 1),
            "certificateId": cid,
            "amount": amount,
            "retiredBy": self.r.wallets.get(lower(holder), (0, 0))[0],
            "periodStart": start,
            "periodEnd": end,
        }


