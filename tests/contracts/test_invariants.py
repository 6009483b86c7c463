"""Stateful property test of the ledger's contracts (Hypothesis), on the session Anvil, checked against the
auditor's replay.

`LedgerMachine` runs random sequences of every operation (origin creation in every model, custody
transfers in one transaction or as a propose/accept/reject/cancel handshake, split, merge, transform with
credit conversion, consume, credit moves, pledges, certificate issue/transfer/revoke/retire, time
advances and period rolls, certification and participant suspensions) by randomly drawn participants,
including the ones the contracts must refuse.

The model is the independent auditor (auditor/), not a copy of the rules kept here: its replay
(`auditor.replay.Replay`) is fed each step's logs as they are mined (`auditor.audit.LogFeed`), and before
each operation the prediction reads the auditor's replayed state (balances, statuses, nonces, capacities,
credits, pending transfers) and applies the auditor's own rules (`auditor.rules`, the functions the
auditor's checks use) to predict the outcome: the exact refusal (custom error and its arguments) or the
exact effect (every balance, credit and capacity that changes, every batch, pledge, certificate and
retirement created). What stays here is the order in which a contract checks its inputs.

After every step (`@invariant`):
  0. the auditor's rule checks report no failure on this honest chain (every event it replayed, and the
     totals: supply, holdings, certificates);
  1. ledger.totals(): supply == created - consumed - lost, and supply == the sum of balanceOf over every
     batch id and every wallet plus the ledger itself (in-transit quantities);
  2. every credit account's balance is >= 0 and equals the auditor's replay of its CreditsBooked events;
  3. every certificate: issued == held + retired + revoked, from the issuance() view and from the replay;
  4. the views agree with the auditor's replay of ALL events since the deployment block (balances, batch
     records, parents, origins, credit accounts and period statements, issuances, retirements, pledges,
     transfer statuses, nonces, capacities). The replay reads only new blocks at each step. Every
     VIEW_CHECK_EVERY transactions the auditor's own comparison of its replay with every view function
     (`auditor.views.ViewCheck`, what `coc-audit --views` runs) must agree too.
A refused operation must change nothing: a fingerprint of the views is compared before and after, and
the reverted transaction (mined on purpose, with a fixed gas limit) must leave no event.

The plumbing (batched JSON-RPC, ABI encoding, the sender, the follower that feeds the auditor) is in
stateful_chain.py, the predictions in stateful_oracle.py.

Every example starts from an evm_snapshot of the consortium (`world_session`, plus a second issuer, a
second site of the ginner and a scheme whose credits lapse) and is reverted at teardown. The refusals the
issue lists must all have been exercised: those the random steps did not hit are run afterwards by a
scripted machine with the same checks, so the final assertion does not depend on the draws.
"""

from __future__ import annotations

import copy
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, Phase, event, note, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from auditor import rules
from auditor.model import ORIGIN as K_ORIGIN
from auditor.model import PPM
from auditor.model import Findings
from auditor.replay import Replay, account_key, balance_at, statement_at
from auditor.rpc import Rpc as AuditorRpc
from auditor.views import ViewCheck
from node_api.core.chain import ContractRevert
from testkit.sandbox import Actor, World
from stateful_chain import (
    Abi,
    AuditorFollower,
    Rpc,
    Sender,
    dirty_of,
)
from stateful_oracle import (
    BLOCK_TIME,
    CB,
    IP,
    MB,
    Oracle,
    P_ACTIVE,
    ROLE_ISSUER,
    Refused,
    SEG,
    S_VERIFIED,
    T_NONE,
    UNC,
    hex32,
    lower,
)
from node_api.signing import (
    CustodyTransfer,
    accept_typed_data,
    cancel_typed_data,
    reject_typed_data,
    sign_typed,
    transfer_typed_data,
)

CONTRACT_NAMES = ("ParticipantRegistry", "CocForwarder", "MassBalance", "BatchLedger", "CertificateRegistry")
SHORT_NAMES = {"ParticipantRegistry": "registry", "CocForwarder": "forwarder", "MassBalance": "mass",
               "BatchLedger": "ledger", "CertificateRegistry": "certs"}
DAY = 86_400

# Who acts. Custody parties hold batches; the others appear as wrong actors and certificate holders.
PARTIES = ("farm", "farm2", "ginner", "ginner_b", "spinner", "brand", "trader")
OTHERS = ("issuer", "issuer2", "certifier", "auditor")
EVERYONE = PARTIES + OTHERS
RECEIVERS = PARTIES + ("issuer", "unregistered")
VIEW_CHECK_EVERY = 25  # transactions between two runs of the auditor's full view comparison
SETTINGS = settings(
    max_examples=12,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    # No shrinking: every replayed example costs a second or two of chain time, and shrinking a 30-step
    # failure would outlast the suite's timeout. A failure prints all its steps and each call's expected
    # outcome (note()); add Phase.shrink locally to minimise one.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    print_blob=True,
)
# Refusals the run must have exercised (each has a rule that sets up its own preconditions).
REQUIRED_REFUSALS = {
    "RegistryNotCertified",  # e.g. a certified claim to the uncertified trader
    "RegistryMissingRole",
    "ERC1155InsufficientBalance",  # wrong holder, too large a quantity
    "BatchIdentityPreservedMixed",  # identity-preserved merge across origins
    "MassBalanceInsufficientCredits",  # a delivery declaring more credits than held
    "BatchSignatureExpired",
    "InvalidAccountNonce",  # a replayed signature
    "BatchInvalidSignature",
    "BatchTransferNotPending",
    "CertificateRevoked",  # a revoked certificate moved or retired
    "CertificateEvidenceAlreadyUsed",  # a second issuance on the same evidence
    "BatchTransferRequiresSignatures",
}



# ====================================================================== the environment shared by examples
@dataclass
class Env:
    world: World
    rpc: Rpc
    auditor_rpc: AuditorRpc  # the auditor's own JSON-RPC client (its view check)
    abi: SimpleNamespace
    actors: dict[str, Actor]
    admin: LocalAccount
    relayer: LocalAccount
    unregistered: LocalAccount
    chain_id: int
    addresses: dict[str, str]  # the auditor's short names -> address
    base: Replay  # the auditor's replay of the consortium, up to base_block
    base_block: int
    ids: SimpleNamespace
    time_limit: int
    stats: Counter = field(default_factory=Counter)
    ops: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # what -> [ok, refused]

    def address(self, name: str) -> str:
        return self.unregistered.address if name == "unregistered" else self.actors[name].address

    def account(self, name: str) -> LocalAccount:
        return self.unregistered if name == "unregistered" else self.actors[name].account





picks = st.integers(0, 10**6)
honesty = st.integers(0, 9).map(lambda x: x < 9)  # mostly the real holder, sometimes a wrong one
fracs = st.integers(1, 100)
qmodes = st.sampled_from(["part"] * 8 + ["all", "over", "zero"])
# How a merge or transform chooses its requested model: like its first input most of the time.
model_choice = st.sampled_from(("same",) * 5 + ("any",) * 3 + ("weaker",) * 2)


class LedgerMachine(RuleBasedStateMachine):
    batches = Bundle("batches")
    pendings = Bundle("pendings")
    certs = Bundle("certs")
    pledges = Bundle("pledges")

    def __init__(self, env: Env):
        super().__init__()
        self.env = env
        self.rpc = env.rpc
        self.snapshot = self.rpc("evm_snapshot")
        self.r = copy.deepcopy(env.base)
        self.follower = AuditorFollower(env.rpc, self.r, env.addresses, env.base_block + 1)
        self.follower.sync()
        self.dirty: set[tuple[str, Any]] = set()
        self.sender = Sender(env.rpc, env.chain_id)
        self.n = 0
        self.last_signed: tuple[str, tuple] | None = None
        self.used_evidence: list[bytes] = []
        self.checked_batches: set[int] = set(self.r.batches)
        self.checked_retirements: set[int] = set(self.r.retirements)
        self.time_moved = True
        self.steps = 0
        self.next_view_check = 0
        env.stats["examples"] += 1

    def teardown(self) -> None:
        self.env.stats["transactions"] += self.sender.sent
        assert self.rpc("evm_revert", [self.snapshot]), "evm_revert failed"

    # ------------------------------------------------------------------ plumbing
    def addr(self, name: str) -> str:
        return self.env.address(name)

    def fresh(self, label: str) -> bytes:
        self.n += 1
        return keccak(text=f"{label}-{self.n}-{self.snapshot}-{time.time_ns()}")

    def now(self) -> int:
        return self.follower.last_timestamp + 1

    def oracle(self) -> Oracle:
        return Oracle(self.r, self.now())

    def sync(self) -> list:
        events = self.follower.sync()
        self.dirty |= dirty_of(events)
        return events

    # ------------------------------------------------------------------ the auditor's replayed state, read
    def balance(self, holder: str, batch_id: int) -> int:
        return self.r.balances.get((lower(holder), batch_id), 0)

    def cert_balance(self, holder: str, cid: int) -> int:
        return self.r.holdings.get((lower(holder), cid), 0)

    def credits_at(self, key: str, timestamp: int) -> int:
        acct = self.r.accounts.get(key)
        return 0 if acct is None else balance_at(acct, timestamp)

    def wallet(self, name: str) -> tuple[int, int]:
        return self.r.wallets[lower(self.addr(name))]

    def holders(self) -> list[str]:
        """Every address that is or ever was a registered wallet or a holder, and the ledger itself."""
        r = self.r
        seen = {h["wallet"] for h in r.wallet_history} | {r.ledger_addr}
        seen |= {h for h, _ in r.balances} | {h for h, _ in r.holdings}
        return sorted(seen)

    def certificate_record(self, cid: int) -> dict[str, Any]:
        """The issuance as the auditor replayed it, with the source its pledge gives it."""
        i = self.r.issuances[cid]
        pledge = self.r.pledges.get(i["pledgeId"])
        return dict(i, source=pledge["source"] if pledge else S_VERIFIED)

    def views(self, calls: list[tuple[Abi, str, tuple]]) -> list[Any]:
        results = self.rpc.batch(
            [("eth_call", [{"to": a.address, "data": a.data(fn, *args)}, "latest"]) for a, fn, args in calls]
        )
        return [a.decode(fn, res) for (a, fn, _), res in zip(calls, results)]

    def fingerprint(self, oracle: Oracle, extra: list[tuple[Abi, str, tuple]]) -> list[Any]:
        """Everything a refused call might have touched, read from the views in one request."""
        L, M, C = self.env.abi.ledger, self.env.abi.mass_balance, self.env.abi.certificates
        holders = self.holders()
        ids = sorted(set(self.r.batches) | {k[2] for k in oracle.deltas if k[0] == "ledger"})
        cids = sorted(set(self.r.issuances) | {k[2] for k in oracle.deltas if k[0] == "cert"})
        calls: list[tuple[Abi, str, tuple]] = [
            (L, "totals", ()),
            (L, "batchCount", ()),
            (C, "certificateCount", ()),
            (C, "pledgeCount", ()),
        ]
        if ids:
            calls.append((L, "balanceOfBatch", ([h for h in holders for _ in ids], [i for _ in holders for i in ids])))
        if cids:
            calls.append(
                (C, "balanceOfBatch", ([h for h in holders for _ in cids], [i for _ in holders for i in cids]))
            )
            calls += [(C, "issuance", (c,)) for c in self.r.issuances]
        for key in sorted(set(self.r.accounts) | oracle.keys):
            kb = bytes.fromhex(key[2:])
            calls += [(M, "balanceOf", (kb,)), (M, "account", (kb,))]
        calls += [(L, "nonces", (self.addr(p),)) for p in PARTIES]
        calls += [(self.env.abi.registry, "capacity", k) for k in sorted(self.r.capacity)]
        return self.views(calls + extra)
    def attempt(
        self,
        what: str,
        account: LocalAccount,
        abi: Abi,
        fn: str,
        args: tuple,
        oracle: Oracle,
        expected: Refused | None,
        extra: list[tuple[Abi, str, tuple]] = (),
    ) -> list | None:
        """Sends the call; checks the predicted refusal (and that nothing changed) or the predicted effects.
        Returns the logs of the transaction on success, None when refused."""
        in_hypothesis = currently_in_test_context()  # the scripted top-up runs outside Hypothesis
        if in_hypothesis:
            note(f"{what}: expecting {expected!r}" if expected else f"{what}: expecting success")
        self.steps += 1
        before = self.flat(oracle.ts)
        fingerprint_before = self.fingerprint(oracle, list(extra)) if expected is not None else None
        try:
            receipt = self.sender.send(account, abi, fn, *args)
        except ContractRevert as rev:
            new = self.sync()
            assert new == [], f"{what}: a refused call left events {new}"
            assert expected is not None, f"{what}: unexpected refusal {rev}"
            assert rev.name == expected.name, f"{what}: expected {expected!r}, got {rev}"
            mined_at = self.follower.last_timestamp  # automine: the refused call is the latest block
            want = {k: mined_at if v is BLOCK_TIME else v for k, v in expected.args_.items()}
            got = {k: rev.error_args.get(k) for k in want}
            assert set(rev.error_args) == set(expected.args_), f"{what}: {rev} has other arguments than {expected!r}"
            assert got == want, f"{what}: expected {expected!r}, got {rev}"
            assert (
                self.fingerprint(oracle, list(extra)) == fingerprint_before
            ), f"{what}: refused with {rev} but the state changed"
            self.env.stats[f"refused {rev.name}"] += 1
            self.env.ops[what][1] += 1
            if in_hypothesis:
                event(f"refused {rev.name}")
            return None
        logs = self.sync()
        assert expected is None, f"{what}: expected {expected!r}, but it succeeded"
        self.env.stats[f"ok {what}"] += 1
        self.env.ops[what][0] += 1
        self.check_effects(what, before, oracle)
        return [log for log in logs if log.tx == receipt["transactionHash"]]

    def flat(self, timestamp: int) -> Counter:
        """Every balance, credit, capacity use and total, flattened, for comparing effects."""
        r = self.r
        out: Counter = Counter()
        for (h, token), v in r.balances.items():
            out[("ledger", h, token)] = v
        for (h, token), v in r.holdings.items():
            out[("cert", h, token)] = v
        for key, acct in r.accounts.items():
            out[("credits", key)] = balance_at(acct, timestamp)
        for (pid, material), cap in r.capacity.items():
            out[("capacity", pid, material)] = cap["used"]
        out[("lost",)] = r.lost
        out[("consumed",)] = r.consumed
        return +out

    def check_effects(self, what: str, before: Counter, oracle: Oracle) -> None:
        r = self.r
        after = self.flat(self.follower.last_timestamp)
        expected = Counter(before)
        expected.update(oracle.deltas)
        expected = +expected
        if after != expected:
            diff = {
                k: (expected.get(k, 0), after.get(k, 0))
                for k in set(after) | set(expected)
                if after.get(k, 0) != expected.get(k, 0)
            }
            raise AssertionError(f"{what}: effects differ from the model (key: (expected, actual)): {diff}")
        created = [r.batches[i] for i in range(oracle._batches + 1, len(r.batches) + 1)]
        assert len(created) == len(
            oracle.new_batches
        ), f"{what}: {len(created)} batches created, {len(oracle.new_batches)} expected"
        for got, want in zip(created, oracle.new_batches):
            assert {k: got[k] for k in want} == want, f"{what}: new batch {got} != model {want}"
        if oracle.new_pledge is not None:
            got = r.pledges[len(r.pledges)]
            got = dict(got, used=got["used"] is not None)
            assert {k: got[k] for k in oracle.new_pledge} == oracle.new_pledge, f"{what}: pledge {got}"
        if oracle.new_certificate is not None:
            got = self.certificate_record(len(r.issuances))
            assert {k: got[k] for k in oracle.new_certificate} == oracle.new_certificate, f"{what}: certificate {got}"
        if oracle.new_retirement is not None:
            want = dict(oracle.new_retirement)
            rid = want.pop("id")
            assert rid in r.retirements, f"{what}: retirement {rid:#x} not recorded"
            got = r.retirements[rid]
            assert {k: got[k] for k in want} == want, f"{what}: retirement {got} != {want}"
        if oracle.transfer is not None:
            tid, status, stored = oracle.transfer
            rec = r.transfers.get(hex32(tid))
            assert rec is not None and (rec["status"], not rec.get("sameTx")) == (status, stored), f"{what}: transfer {rec}"
        if oracle.revoked is not None:
            cid, outstanding = oracle.revoked
            c = r.issuances[cid]
            assert c["revoked"] and c["revokedOutstanding"] == outstanding, f"{what}: certificate {c}"

    def predict(self, oracle: Oracle, method: str, *args: Any) -> Refused | None:
        try:
            getattr(oracle, method)(*args)
        except Refused as refused:
            return refused
        return None

    # ------------------------------------------------------------------ choosing actors and quantities
    def holder_of(self, batch_id: int, pick: int, honest: bool) -> str:
        holders = [p for p in PARTIES if self.balance(self.addr(p), batch_id) > 0]
        if honest and holders:
            return holders[pick % len(holders)]
        return EVERYONE[pick % len(EVERYONE)]

    def cert_holder(self, cid: int, pick: int, honest: bool) -> str:
        holders = [p for p in EVERYONE if self.cert_balance(self.addr(p), cid) > 0]
        if honest and holders:
            return holders[pick % len(holders)]
        return EVERYONE[pick % len(EVERYONE)]

    @staticmethod
    def quantity(balance: int, frac: int, qmode: str) -> int:
        if qmode == "zero":
            return 0
        if qmode == "over":
            return balance + frac
        if qmode == "all":
            return balance or 1
        return max(1, balance * frac // 100)

    def holdings(self, name: str, material: int) -> list[int]:
        a = self.addr(name)
        return [i for i, b in sorted(self.r.batches.items()) if b["material"] == material and self.balance(a, i) > 0]

    # ------------------------------------------------------------------ batch ledger operations
    def do_create_origin(
        self, actor: str, material: int, model: int, characteristic: int, share: int, quantity: int, flaw: str = "none"
    ) -> int | None:
        ts = self.now()
        production = ts - DAY
        evidence = self.fresh("harvest")
        if flaw == "zero_quantity":
            quantity = 0
        elif flaw == "future_date":
            production = ts + 10 * DAY
        elif flaw == "zero_evidence":
            evidence = bytes(32)
        elif flaw == "bad_share":
            share = {UNC: 1, MB: 1, CB: 0, SEG: PPM // 2, IP: PPM - 1}[model]
        elif flaw == "characteristic":
            characteristic = self.env.ids.organic if model == UNC else 0
        elif flaw == "unknown_material":
            material = 99
        params = (
            material,
            characteristic,
            model,
            share,
            quantity,
            keccak(text=f"geojson:{actor}"),
            f"EUDR-DDS-{self.n}",
            evidence,
            production,
        )
        who = self.addr(actor)
        oracle = self.oracle()
        expected = self.predict(oracle, "create_origin", who, params)
        logs = self.attempt(
            "createOrigin", self.env.account(actor), self.env.abi.ledger, "createOrigin", (params,), oracle, expected
        )
        if logs is None:
            return None
        [created] = [log.a["batchId"] for log in logs if log.name == "BatchCreated"]
        origin = self.r.batches[created]["originInfo"]
        want = oracle.origin
        assert {k: origin[k] for k in want} == want, f"origin {origin} != {want}"
        return created

    @initialize(target=batches)
    def seed(self):
        """A few batches so that every rule has something to work on."""
        i = self.env.ids
        specs = [
            ("farm", i.raw, SEG, i.organic, 0, 8_000_000),
            ("farm", i.raw, MB, i.organic, 0, 8_000_000),
            ("farm", i.raw, IP, i.recycled, PPM, 4_000_000),
            ("farm2", i.raw, IP, i.organic, PPM, 4_000_000),
            ("farm2", i.raw, MB, i.sustainable, 0, 6_000_000),
            ("farm2", i.raw, CB, i.recycled, 400_000, 5_000_000),
            ("trader", i.raw, UNC, 0, 0, 3_000_000),
            ("spinner", i.lint, UNC, 0, 0, 2_000_000),
            ("ginner", i.waste, UNC, 0, 0, 1_000_000),
        ]
        ids = []
        for actor, material, model, characteristic, share, quantity in specs:
            share = PPM if model >= SEG else share
            ids.append(self.do_create_origin(actor, material, model, characteristic, share, quantity))
        assert all(ids), "seed origins refused"
        # A mass-balance ginning that converts credits, so that lint credits exist to move and pledge.
        oracle = self.oracle()
        args = (i.ginning, [ids[1]], [2_000_000], 700_000, MB, 1_000_000)
        expected = self.predict(oracle, "transform", self.addr("farm"), *args)
        assert expected is None, expected
        logs = self.attempt("transform", self.env.account("farm"), self.env.abi.ledger, "transform", args, oracle, None)
        ids += [log.a["batchId"] for log in logs if log.name == "BatchCreated"]
        return multiple(*ids)

    def exercise_missing_refusals(self) -> list[str]:
        """Runs the scenario of every listed refusal that no random step has hit (a scripted run after the
        random ones, with the same checks), so that the coverage assertion does not depend on the draws."""
        seen = {k[8:] for k in self.env.stats if k.startswith("refused ")}
        ran = []
        scenarios = {
            "RegistryNotCertified": lambda: self.custody_refusal("uncertified_receiver", 0),
            "MassBalanceInsufficientCredits": lambda: self.custody_refusal("over_declaration", 0),
            "BatchSignatureExpired": lambda: self.custody_refusal("expired", 0),
            "BatchInvalidSignature": lambda: self.custody_refusal("wrong_signer", 1),
            "InvalidAccountNonce": lambda: self.custody_refusal("replayed", 0),
            "BatchTransferNotPending": lambda: self.custody_refusal("not_pending", 1),
            "BatchIdentityPreservedMixed": lambda: self.merge_identity_preserved_across_origins(0),
            "CertificateEvidenceAlreadyUsed": lambda: self.second_issuance_on_same_evidence("brand"),
            "CertificateRevoked": lambda: self.revoked_certificate_cannot_move(
                self.second_issuance_on_same_evidence("spinner"), 0, "brand"
            ),
            "BatchTransferRequiresSignatures": lambda: self.direct_token_move(1, 0, "safeTransferFrom"),
            "RegistryMissingRole": lambda: self.do_create_origin("auditor", self.env.ids.raw, UNC, 0, 0, 1_000),
            "ERC1155InsufficientBalance": lambda: self.consume(1, 0, False, 1, "over", 0),
        }
        assert set(scenarios) == REQUIRED_REFUSALS
        for name, scenario in scenarios.items():
            if name not in seen:
                ran.append(name)
                scenario()
                self.ledger_agrees_with_replay()
                seen = {k[8:] for k in self.env.stats if k.startswith("refused ")}
        return ran

    @rule(
        target=batches,
        actor=st.sampled_from(("farm", "farm", "farm2", "farm2") + EVERYONE),
        material=st.sampled_from(("raw", "raw", "raw", "lint", "yarn", "waste")),
        model=st.integers(0, 4),
        characteristic=st.sampled_from(("organic", "recycled", "sustainable")),
        share=st.integers(1, PPM),
        quantity=st.integers(1, 6_000_000),
        flaw=st.sampled_from(
            ("none",) * 12
            + ("zero_quantity", "future_date", "zero_evidence", "bad_share", "characteristic", "unknown_material")
        ),
    )
    def create_origin(self, actor, material, model, characteristic, share, quantity, flaw):
        i = self.env.ids
        char = 0 if model == UNC else getattr(i, characteristic)
        share = PPM if model >= SEG else (share if model == CB else 0)
        created = self.do_create_origin(actor, getattr(i, material), model, char, share, quantity, flaw)
        return created if created else multiple()

    def custody_message(self, sender: str, receiver: str, batch_id: int, quantity: int, certified: int, flaw: str):
        ts = self.now()
        frm = self.addr(sender)
        to = frm if flaw == "self" else self.addr(receiver)
        nonce = self.r.nonces.get(lower(frm), 0)
        if flaw == "stale_nonce":
            nonce = nonce - 1 if nonce else nonce + 1
        deadline = ts - 10 if flaw == "expired" else ts + 3600
        t = CustodyTransfer(batch_id, frm, to, quantity, certified, nonce, deadline)
        signer = self.env.account(sender)
        if flaw == "wrong_signer":
            signer = self.env.account("trader" if sender != "trader" else "farm")
        chain_id = self.env.chain_id + 1 if flaw == "wrong_chain" else self.env.chain_id
        signature = sign_typed(signer.key, transfer_typed_data(chain_id, self.env.abi.ledger.address, t))
        return t, signature, flaw not in ("wrong_signer", "wrong_chain")

    def do_custody(
        self, sender: str, receiver: str, batch_id: int, quantity: int, certified: int, flaw: str, two_step: bool
    ) -> CustodyTransfer | None:
        t, signature, sender_ok = self.custody_message(sender, receiver, batch_id, quantity, certified, flaw)
        L = self.env.abi.ledger
        oracle = self.oracle()
        extra = [(L, "transferStatus", (t.transfer_id(),))]
        if two_step:
            args = (t.as_tuple(), signature)
            expected = self.predict(oracle, "propose", t, sender_ok)
            logs = self.attempt(
                "proposeTransfer", self.env.relayer, L, "proposeTransfer", args, oracle, expected, extra
            )
        else:
            accept_deadline = oracle.ts - 10 if flaw == "accept_expired" else oracle.ts + 3600
            acceptor = (
                self.env.account("farm2" if receiver != "farm2" else "farm")
                if flaw == "bad_accept"
                else self.env.account(receiver)
            )
            accept_sig = sign_typed(acceptor.key, accept_typed_data(self.env.chain_id, L.address, t, accept_deadline))
            args = (t.as_tuple(), signature, accept_deadline, accept_sig)
            expected = self.predict(oracle, "transfer_now", t, sender_ok, accept_deadline, flaw != "bad_accept")
            logs = self.attempt(
                "transferWithAcceptance", self.env.relayer, L, "transferWithAcceptance", args, oracle, expected, extra
            )
        if logs is None:
            return None
        self.last_signed = ("proposeTransfer" if two_step else "transferWithAcceptance", args, t)
        return t

    custody_args = dict(
        batch=batches,
        pick=picks,
        honest=honesty,
        receiver=st.sampled_from(PARTIES * 2 + RECEIVERS),
        frac=fracs,
        qmode=qmodes,
        declare=st.sampled_from(("none", "none", "part", "all", "over_quantity")),
        flaw=st.sampled_from(
            ("none",) * 14
            + ("expired", "wrong_signer", "wrong_chain", "stale_nonce", "self", "bad_accept", "accept_expired")
        ),
    )

    def custody_transfer(self, batch, pick, honest, receiver, frac, qmode, declare, flaw, two_step):
        sender = self.holder_of(batch, pick, honest)
        q = self.quantity(self.balance(self.addr(sender), batch), frac, qmode)
        certified = {"none": 0, "part": q // 2, "all": q, "over_quantity": q + 1}[declare]
        return self.do_custody(sender, receiver, batch, q, certified, flaw, two_step)

    @rule(**custody_args)
    def transfer_in_one_transaction(self, **kw):
        """The sender's offer and the receiver's acceptance in one transaction."""
        self.custody_transfer(two_step=False, **kw)

    @rule(target=pendings, **custody_args)
    def propose_transfer(self, **kw):
        """The sender's signed offer; the quantity (and declared credits) wait in transit."""
        t = self.custody_transfer(two_step=True, **kw)
        return t if t is not None else multiple()

    @precondition(lambda self: self.last_signed is not None)
    @rule()
    def replay_signed_message(self):
        """The same signed custody message submitted again: the nonce is spent (or the deadline passed)."""
        fn, args, t = self.last_signed
        self.last_signed = None  # once is enough
        oracle = self.oracle()
        if fn == "proposeTransfer":
            expected = self.predict(oracle, "propose", t, True)
        else:
            expected = self.predict(oracle, "transfer_now", t, True, args[2], True)
        assert expected is not None, "a replayed custody message must be refused"
        self.attempt(f"replayed {fn}", self.env.relayer, self.env.abi.ledger, fn, args, oracle, expected)

    @rule(
        t=pendings,
        action=st.sampled_from(("accept", "accept", "reject", "cancel")),
        flaw=st.sampled_from(("none",) * 4 + ("wrong_key", "expired")),
    )
    def settle_transfer(self, t, action, flaw):
        sender = next(n for n in PARTIES if self.addr(n) == t.from_)
        receiver = next((n for n in RECEIVERS if self.addr(n) == t.to), None)
        signer = sender if action == "cancel" else receiver
        if flaw == "wrong_key":
            signer = receiver if action == "cancel" else sender
        oracle = self.oracle()
        deadline = oracle.ts - 10 if flaw == "expired" else oracle.ts + 3600
        build = {"accept": accept_typed_data, "reject": reject_typed_data, "cancel": cancel_typed_data}[action]
        L = self.env.abi.ledger
        signature = sign_typed(self.env.account(signer).key, build(self.env.chain_id, L.address, t, deadline))
        expected = self.predict(oracle, "settle", t, action, deadline, flaw != "wrong_key")
        self.attempt(
            f"{action}Transfer",
            self.env.relayer,
            L,
            f"{action}Transfer",
            (t.as_tuple(), deadline, signature),
            oracle,
            expected,
            [(L, "transferStatus", (t.transfer_id(),))],
        )

    @rule(
        target=batches,
        batch=batches,
        pick=picks,
        honest=honesty,
        parts=st.lists(st.integers(1, 60), min_size=1, max_size=3),
        qmode=qmodes,
    )
    def split(self, batch, pick, honest, parts, qmode):
        holder = self.holder_of(batch, pick, honest)
        balance = self.balance(self.addr(holder), batch)
        quantities = [max(1, balance * p // 100) for p in parts]
        if qmode == "zero":
            quantities[0] = 0
        elif qmode == "over":
            quantities[-1] = balance + 1
        oracle = self.oracle()
        expected = self.predict(oracle, "split", self.addr(holder), batch, quantities)
        logs = self.attempt(
            "split", self.env.account(holder), self.env.abi.ledger, "split", (batch, quantities), oracle, expected
        )
        if logs is None:
            return multiple()
        return multiple(*[log.a["batchId"] for log in logs if log.name == "BatchCreated"])

    def inputs(self, holder: str, first: int, material: int, partners: list[int], frac: int, qmode: str):
        """The first input and partners of the same material held by the same holder: mostly ones with the
        same model and characteristic (a mix that can work), the first partner of any kind otherwise."""
        b = self.r.batches[first]
        own = [i for i in self.holdings(holder, material) if i != first]
        alike = [
            i
            for i in own
            if (self.r.batches[i]["model"], self.r.batches[i]["characteristic"]) == (b["model"], b["characteristic"])
        ]
        ids = [first]
        for n, p in enumerate(partners):
            pool = alike if (alike and p % 4) else own
            if pool:
                chosen = pool[p % len(pool)]
                ids.append(chosen)
                for lst in (own, alike):
                    if chosen in lst:
                        lst.remove(chosen)
        a = self.addr(holder)
        quantities = [max(1, self.balance(a, i) * frac // 100) for i in ids]
        if qmode == "zero":
            quantities[-1] = 0
        elif qmode == "over":
            quantities[-1] = self.balance(a, ids[-1]) + 1
        return ids, quantities

    def requested_model(self, first: int, choice: str, model: int) -> int:
        own = self.r.batches[first]["model"]
        if choice == "same":
            return own
        if choice == "weaker":
            return min(own, model)
        return model

    @rule(
        target=batches,
        batch=batches,
        pick=picks,
        honest=honesty,
        partners=st.lists(picks, max_size=2),
        foreign=batches,
        mix_foreign=st.integers(0, 9).map(lambda x: x == 0),
        choice=model_choice,
        model=st.integers(0, 4),
        frac=fracs,
        qmode=qmodes,
    )
    def merge(self, batch, pick, honest, partners, foreign, mix_foreign, choice, model, frac, qmode):
        holder = self.holder_of(batch, pick, honest)
        ids, quantities = self.inputs(holder, batch, self.r.batches[batch]["material"], partners, frac, qmode)
        if mix_foreign:  # any batch, of any material and holder
            ids.append(foreign)
            quantities.append(max(1, self.balance(self.addr(holder), foreign) * frac // 100))
        return self.do_merge(holder, ids, quantities, self.requested_model(batch, choice, model))

    def do_merge(self, holder: str, ids: list[int], quantities: list[int], model: int):
        oracle = self.oracle()
        expected = self.predict(oracle, "merge", self.addr(holder), ids, quantities, model)
        logs = self.attempt(
            "merge", self.env.account(holder), self.env.abi.ledger, "merge", (ids, quantities, model), oracle, expected
        )
        if logs is None:
            return multiple()
        return multiple(*[log.a["batchId"] for log in logs if log.name == "BatchCreated"])

    @rule(target=batches, share=st.integers(1, PPM - 1), odd=st.integers(0, 999))
    def blend_two_origins(self, share, odd):
        """A controlled-blending merge of two blended origins of the farm with quantities that do not divide
        evenly: the output's share is the quantity-weighted share of the inputs, rounded down. (Random merges
        rarely draw two blended inputs of odd quantities.)"""
        i = self.env.ids
        made = [
            self.do_create_origin("farm2", i.raw, CB, i.recycled, s, q)
            for s, q in ((share, 1_000_003 + 2 * odd), (400_000 + odd, 700_001))
        ]
        if None in made:
            return multiple(*[b for b in made if b])
        a = self.addr("farm2")
        quantities = [self.balance(a, b) - odd for b in made]
        return multiple(*made, *self.do_merge("farm2", made, quantities, CB))

    @rule(target=batches, pick=picks)
    def merge_identity_preserved_across_origins(self, pick):
        """Two identity-preserved batches of one characteristic but different origins held by one supplier,
        merged as identity preserved: refused. Creates the origins the holder lacks."""
        i = self.env.ids
        holder = ("farm", "farm2")[pick % 2]
        made = []
        for _ in range(3):  # at most two origins to create
            ip = [
                b
                for b in self.holdings(holder, i.raw)
                if self.r.batches[b]["model"] == IP and self.r.batches[b]["characteristic"] == i.organic
            ]
            if len({self.r.batches[b]["origin"] for b in ip}) >= 2:
                break
            created = self.do_create_origin(holder, i.raw, IP, i.organic, PPM, 1_000_000)
            if created is None:
                return multiple(*made)
            made.append(created)
        else:
            return multiple(*made)
        first = ip[0]
        second = next(b for b in ip if self.r.batches[b]["origin"] != self.r.batches[first]["origin"])
        ids = [first, second]
        quantities = [max(1, self.balance(self.addr(holder), b) // 2) for b in ids]
        out = self.do_merge(holder, ids, quantities, IP)
        return multiple(*made, *out)

    @rule(
        target=batches,
        batch=batches,
        pick=picks,
        honest=honesty,
        process=st.sampled_from(("ginning",) * 4 + ("spinning",) * 4 + ("waste_spinning", "unknown")),
        extra=picks,
        two_inputs=st.integers(0, 3).map(lambda x: x == 0),
        choice=model_choice,
        model=st.sampled_from((UNC, MB, MB, MB, CB, SEG, IP)),
        frac=fracs,
        qmode=st.sampled_from(("part",) * 10 + ("all", "over", "zero")),
        yield_mode=st.sampled_from(("within",) * 8 + ("max", "min", "above", "below", "zero")),
        yield_frac=st.integers(0, 100),
        credit_mode=st.sampled_from(("none", "none", "tenth", "tenth", "third", "all", "over_input")),
    )
    def transform(
        self,
        batch,
        pick,
        honest,
        process,
        extra,
        two_inputs,
        choice,
        model,
        frac,
        qmode,
        yield_mode,
        yield_frac,
        credit_mode,
    ):
        i = self.env.ids
        pid = getattr(i, process) if process != "unknown" else 99
        proc = self.r.processes.get(pid, self.r.processes[i.ginning])
        holder = self.holder_of(batch, pick, honest)
        if honest:  # a supplier that holds input material
            suppliers = [p for p in PARTIES if p != "brand" and self.holdings(p, proc["input"])]
            if suppliers and not self.holdings(holder, proc["input"]):
                holder = suppliers[pick % len(suppliers)]
        own = self.holdings(holder, proc["input"])
        first = batch if batch in own or not own else own[pick % len(own)]
        ids, quantities = self.inputs(holder, first, proc["input"], [extra] if two_inputs else [], frac, qmode)
        model = self.requested_model(first, choice, model)
        total = sum(quantities)
        hi = total * proc["factor"] // PPM
        lo = total * (proc["factor"] - proc["tolerance"]) // PPM
        output = {
            "within": lo + (hi - lo) * yield_frac // 100,
            "max": hi,
            "min": lo,
            "above": hi + 1,
            "below": lo - 1 if lo > 1 else 0,
            "zero": 0,
        }[yield_mode]
        credits = {"none": 0, "tenth": total // 10, "third": total // 3, "all": total, "over_input": total + 1}[
            credit_mode
        ]
        if model != MB and credit_mode in ("tenth", "third") and pick % 4:
            credits = 0  # conversion is for mass-balance outputs; sometimes asked for anyway
        oracle = self.oracle()
        expected = self.predict(oracle, "transform", self.addr(holder), pid, ids, quantities, output, model, credits)
        args = (pid, ids, quantities, output, model, credits)
        logs = self.attempt(
            "transform", self.env.account(holder), self.env.abi.ledger, "transform", args, oracle, expected
        )
        if logs is None:
            return multiple()
        return multiple(*[log.a["batchId"] for log in logs if log.name == "BatchCreated"])

    @rule(batch=batches, pick=picks, honest=honesty, frac=fracs, qmode=qmodes, reason=st.integers(0, 1))
    def consume(self, batch, pick, honest, frac, qmode, reason):
        holder = self.holder_of(batch, pick, honest)
        q = self.quantity(self.balance(self.addr(holder), batch), frac, qmode)
        oracle = self.oracle()
        expected = self.predict(oracle, "consume", self.addr(holder), batch, q)
        self.attempt(
            "consume",
            self.env.account(holder),
            self.env.abi.ledger,
            "consume",
            (batch, q, reason, self.fresh("sale")),
            oracle,
            expected,
        )

    @rule(
        batch=batches,
        pick=picks,
        how=st.sampled_from(("safeTransferFrom", "safeBatchTransferFrom", "setApprovalForAll")),
    )
    def direct_token_move(self, batch, pick, how):
        """Batch tokens never move by plain ERC-1155 calls, even by their holder."""
        holder = self.holder_of(batch, pick, True)
        a, other = self.addr(holder), self.addr(PARTIES[(pick + 1) % len(PARTIES)])
        args = {
            "safeTransferFrom": (a, other, batch, 1, b""),
            "safeBatchTransferFrom": (a, other, [batch], [1], b""),
            "setApprovalForAll": (other, True),
        }[how]
        oracle = self.oracle()
        self.attempt(
            how,
            self.env.account(holder),
            self.env.abi.ledger,
            how,
            args,
            oracle,
            Refused("BatchTransferRequiresSignatures"),
        )

    # ------------------------------------------------------------------ mass balance
    def funded_account(self, pick: int) -> tuple[str, int, int] | None:
        """(party, material, characteristic) of an account with credits, if there is one."""
        funded = []
        for key, acc in sorted(self.r.accounts.items()):
            if self.credits_at(key, self.now()) > 0:
                for p in PARTIES:
                    if self.r.wallets.get(lower(self.addr(p))) == (acc.participant, acc.site):
                        funded.append((p, acc.material, acc.characteristic))
        return funded[pick % len(funded)] if funded else None

    @rule(
        actor=st.sampled_from(PARTIES),
        pair=st.sampled_from(
            (("lint", "waste"),) * 3 + (("waste", "lint"), ("raw", "lint"), ("lint", "lint"), ("raw", "raw"))
        ),
        characteristic=st.sampled_from(("organic", "recycled", "sustainable")),
        pick=picks,
        honest=honesty,
        frac=fracs,
        qmode=qmodes,
    )
    def move_credits(self, actor, pair, characteristic, pick, honest, frac, qmode):
        i = self.env.ids
        frm, to = getattr(i, pair[0]), getattr(i, pair[1])
        char = getattr(i, characteristic)
        funded = self.funded_account(pick)
        if honest and funded and funded[1] in (i.lint, i.waste):  # lint and waste share a group
            actor, frm, char = funded
            to = i.waste if frm == i.lint else i.lint
        pid, site = self.wallet(actor)
        amount = self.quantity(self.credits_at(account_key(pid, site, frm, char), self.now()), frac, qmode)
        oracle = self.oracle()
        expected = self.predict(oracle, "move_credits", self.addr(actor), frm, to, char, amount)
        self.attempt(
            "moveCredits",
            self.env.account(actor),
            self.env.abi.mass_balance,
            "moveCredits",
            (frm, to, char, amount),
            oracle,
            expected,
        )

    @rule(pick=picks, who=st.sampled_from(("relayer", "farm", "auditor")))
    def roll_account(self, pick, who):
        """A registered participant's wallet may bring an account up to the current period (never the
        unregistered relayer); it never changes the balance shown."""
        keys = [bytes.fromhex(k[2:]) for k in sorted(self.r.accounts)] + [bytes(32)]
        key = keys[pick % len(keys)]
        account = self.env.relayer if who == "relayer" else self.env.account(who)
        oracle = self.oracle()
        expected = self.predict(oracle, "roll", account.address)
        self.attempt("roll", account, self.env.abi.mass_balance, "roll", (key,), oracle, expected)

    @rule(days=st.sampled_from((0.1, 1.05, 29, 31, 91)))
    def advance_time(self, days):
        """Chain time moves on (periods roll lazily), within the certifications' validity."""
        self.advance(int(days * DAY))

    # ------------------------------------------------------------------ permissions changing underfoot
    @rule(
        party=st.sampled_from(("farm", "farm2", "ginner", "spinner", "brand")),
        invalid=st.integers(0, 4).map(lambda x: x == 0),
    )
    def toggle_certification(self, party, invalid):
        """The certifier suspends or reinstates a party's certification (or tries a change it cannot make)."""
        cid = self.env.world.certifications[self.env.actors[party].name]
        status = self.r.certifications[cid]["status"]
        target = (2 if status == 1 else 1) if not invalid else status
        oracle = self.oracle()
        expected = (
            Refused("RegistryCertificationStatusChange", certificationId=cid, **{"from": status}, to=target)
            if invalid
            else None
        )
        self.attempt(
            "setCertificationStatus",
            self.env.actors["certifier"].account,
            self.env.abi.registry,
            "setCertificationStatus",
            (cid, target, self.fresh("reason")),
            oracle,
            expected,
        )

    @rule(party=st.sampled_from(("farm2", "ginner", "spinner", "brand", "trader", "issuer")))
    def toggle_participant(self, party):
        """The admin suspends or reactivates a participant."""
        pid = self.env.actors[party].participant_id
        status = 2 if self.r.participants[pid]["status"] == P_ACTIVE else 1
        self.attempt(
            "setParticipantStatus",
            self.env.admin,
            self.env.abi.registry,
            "setParticipantStatus",
            (pid, status),
            self.oracle(),
            None,
        )

    # ------------------------------------------------------------------ book & claim
    @rule(
        target=pledges,
        actor=st.sampled_from(("farm", "farm", "farm2", "ginner", "trader", "brand")),
        material=st.sampled_from(("raw", "raw", "lint")),
        characteristic=st.sampled_from(("organic", "recycled", "sustainable")),
        pick=picks,
        honest=honesty,
        frac=fracs,
        qmode=qmodes,
    )
    def pledge_credits(self, actor, material, characteristic, pick, honest, frac, qmode):
        i = self.env.ids
        m, char = getattr(i, material), getattr(i, characteristic)
        funded = self.funded_account(pick)
        if honest and funded:
            actor, m, char = funded
        pid, site = self.wallet(actor)
        q = self.quantity(self.credits_at(account_key(pid, site, m, char), self.now()), frac, qmode)
        oracle = self.oracle()
        expected = self.predict(oracle, "pledge_credits", self.addr(actor), m, char, q)
        logs = self.attempt(
            "pledgeCredits",
            self.env.account(actor),
            self.env.abi.certificates,
            "pledgeCredits",
            (m, char, q),
            oracle,
            expected,
        )
        return multiple() if logs is None else len(self.r.pledges)

    @rule(target=pledges, batch=batches, pick=picks, honest=honesty, frac=fracs, qmode=qmodes)
    def pledge_batch(self, batch, pick, honest, frac, qmode):
        holder = self.holder_of(batch, pick, honest)
        if honest:  # mostly a certified batch (controlled blending or stronger) of its holder
            certified = [
                (p, b)
                for p in PARTIES
                for b in sorted(self.r.batches)
                if self.r.batches[b]["model"] >= CB and self.balance(self.addr(p), b) > 0
            ]
            if certified and pick % 5:
                holder, batch = certified[pick % len(certified)]
        q = self.quantity(self.balance(self.addr(holder), batch), frac, qmode)
        oracle = self.oracle()
        expected = self.predict(oracle, "pledge_batch", self.addr(holder), batch, q)
        logs = self.attempt(
            "pledgeBatch",
            self.env.account(holder),
            self.env.abi.certificates,
            "pledgeBatch",
            (batch, q),
            oracle,
            expected,
        )
        return multiple() if logs is None else len(self.r.pledges)

    def do_issue(self, issuer: str, params: tuple) -> int | None:
        oracle = self.oracle()
        expected = self.predict(oracle, "issue", self.addr(issuer), params)
        C = self.env.abi.certificates
        logs = self.attempt(
            "issue",
            self.env.account(issuer),
            C,
            "issue",
            (params,),
            oracle,
            expected,
            [(C, "evidenceUsedBy", (params[9],))],
        )
        if logs is None:
            return None
        self.used_evidence.append(params[9])
        return len(self.r.issuances)

    def issue_params(
        self,
        producer: int,
        to: str,
        amount: int,
        unit_size: int,
        material: int,
        characteristic: int,
        evidence: bytes,
        pledge_id: int,
        period_ok: bool = True,
    ) -> tuple:
        ts = self.now()
        start, end = (ts - 30 * DAY, ts) if period_ok else (ts, ts - DAY)
        return (producer, to, amount, unit_size, "1 t", material, characteristic, start, end, evidence, pledge_id)

    @rule(
        target=certs,
        pledge=pledges,
        pick=picks,
        issuer=st.sampled_from(("issuer",) * 6 + ("issuer2", "issuer2", "farm")),
        to=st.sampled_from(PARTIES * 2 + EVERYONE + ("unregistered",)),
        flaw=st.sampled_from(("none",) * 10 + ("amount", "producer", "material", "characteristic", "used", "unknown")),
    )
    def issue_from_pledge(self, pledge, pick, issuer, to, flaw):
        pl = self.r.pledges[pledge]
        q = pl["quantity"]
        divisors = [d for d in (1, 2, 4, 5, 10, 100, 1000) if q % d == 0]
        amount = divisors[pick % len(divisors)]
        unit, producer, material, char, pledge_id = (
            q // amount,
            pl["producer"],
            pl["material"],
            pl["characteristic"],
            pledge,
        )
        if flaw == "amount":
            amount += 1
        elif flaw == "producer":
            producer = (
                self.env.actors["spinner"].participant_id
                if producer != self.env.actors["spinner"].participant_id
                else self.env.actors["farm"].participant_id
            )
        elif flaw == "material":
            material = self.env.ids.yarn
        elif flaw == "characteristic":
            char = self.env.ids.recycled if char != self.env.ids.recycled else self.env.ids.organic
        elif flaw == "unknown":
            pledge_id = len(self.r.pledges) + 5
        used_first = None
        if flaw == "used" and pl["used"] is None:
            used_first = self.do_issue(
                "issuer",
                self.issue_params(
                    producer, self.addr("brand"), amount, unit, material, char, self.fresh("evidence"), pledge_id
                ),
            )
        params = self.issue_params(
            producer, self.addr(to), amount, unit, material, char, self.fresh("evidence"), pledge_id
        )
        cid = self.do_issue(issuer, params)
        return multiple(*[c for c in (used_first, cid) if c])

    @rule(
        target=certs,
        issuer=st.sampled_from(("issuer",) * 6 + ("issuer2", "issuer2", "farm", "auditor")),
        producer=st.sampled_from(PARTIES + ("unknown",)),
        to=st.sampled_from(PARTIES * 2 + EVERYONE + ("unregistered",)),
        amount=st.integers(1, 1000),
        material=st.sampled_from(("raw", "lint", "yarn")),
        characteristic=st.sampled_from(("organic", "recycled", "sustainable")),
        flaw=st.sampled_from(
            ("none",) * 12 + ("zero_amount", "zero_unit", "zero_evidence", "period", "reuse_evidence")
        ),
    )
    def issue_verified(self, issuer, producer, to, amount, material, characteristic, flaw):
        i = self.env.ids
        producer_id = 999 if producer == "unknown" else self.env.actors[producer].participant_id
        evidence = self.fresh("evidence")
        if flaw == "zero_evidence":
            evidence = bytes(32)
        elif flaw == "reuse_evidence" and self.used_evidence:
            evidence = self.used_evidence[0]
        params = self.issue_params(
            producer_id,
            self.addr(to),
            0 if flaw == "zero_amount" else amount,
            0 if flaw == "zero_unit" else 1_000_000,
            getattr(i, material),
            getattr(i, characteristic),
            evidence,
            0,
            flaw != "period",
        )
        cid = self.do_issue(issuer, params)
        return cid if cid else multiple()

    @rule(target=certs, to=st.sampled_from(("brand", "spinner", "auditor")))
    def second_issuance_on_same_evidence(self, to):
        """The same evidence can back one issuance only."""
        i = self.env.ids
        evidence = self.fresh("evidence")
        producer = self.env.actors["farm"].participant_id
        first = self.do_issue(
            "issuer", self.issue_params(producer, self.addr(to), 10, 1_000_000, i.raw, i.organic, evidence, 0)
        )
        again = self.do_issue(
            "issuer", self.issue_params(producer, self.addr("brand"), 5, 1_000_000, i.raw, i.organic, evidence, 0)
        )
        assert first is None or again is None, "evidence backed two issuances"
        return first if first else multiple()

    @rule(
        cert=certs,
        pick=picks,
        honest=honesty,
        receiver=st.sampled_from(EVERYONE + ("unregistered",)),
        frac=fracs,
        qmode=qmodes,
        foreign=st.integers(0, 5).map(lambda x: x == 0),
    )
    def transfer_certificate(self, cert, pick, honest, receiver, frac, qmode, foreign):
        holder = self.cert_holder(cert, pick, honest)
        value = self.quantity(self.cert_balance(self.addr(holder), cert), frac, qmode)
        sender = holder
        if foreign:  # someone else moves the holder's certificates without approval
            sender = next(p for p in EVERYONE[pick % len(EVERYONE) :] + EVERYONE if p != holder)
        self.do_transfer_certificate(sender, holder, receiver, cert, value)

    def do_transfer_certificate(self, sender: str, holder: str, receiver: str, cert: int, value: int) -> None:
        oracle = self.oracle()
        expected = self.predict(
            oracle, "transfer_certificate", self.addr(sender), self.addr(holder), self.addr(receiver), cert, value
        )
        args = (self.addr(holder), self.addr(receiver), cert, value, b"")
        C = self.env.abi.certificates
        self.attempt(
            "certificate safeTransferFrom",
            self.env.account(sender),
            C,
            "safeTransferFrom",
            args,
            oracle,
            expected,
            [(C, "issuance", (cert,))],
        )

    @rule(cert=certs, who=st.sampled_from(("issuer", "issuer", "issuer2", "farm")))
    def revoke(self, cert, who):
        oracle = self.oracle()
        expected = self.predict(oracle, "revoke", self.addr(who), cert)
        C = self.env.abi.certificates
        self.attempt(
            "revoke",
            self.env.account(who),
            C,
            "revoke",
            (cert, self.fresh("fraud")),
            oracle,
            expected,
            [(C, "issuance", (cert,))],
        )

    def do_retire(
        self, holder: str, cert: int, amount: int, beneficiary: str = "Brand Ltd", period_ok: bool = True
    ) -> None:
        oracle = self.oracle()
        start, end = (oracle.ts - 90 * DAY, oracle.ts) if period_ok else (oracle.ts, oracle.ts - 1)
        expected = self.predict(oracle, "retire", self.addr(holder), cert, amount, beneficiary, start, end)
        C = self.env.abi.certificates
        self.attempt(
            "retire",
            self.env.account(holder),
            C,
            "retire",
            (cert, amount, beneficiary, start, end, self.fresh("purpose")),
            oracle,
            expected,
            [(C, "issuance", (cert,))],
        )

    @rule(
        cert=certs,
        pick=picks,
        honest=honesty,
        frac=fracs,
        qmode=qmodes,
        flaw=st.sampled_from(("none",) * 6 + ("period", "beneficiary")),
    )
    def retire(self, cert, pick, honest, frac, qmode, flaw):
        holder = self.cert_holder(cert, pick, honest)
        amount = self.quantity(self.cert_balance(self.addr(holder), cert), frac, qmode)
        self.do_retire(holder, cert, amount, "" if flaw == "beneficiary" else "Brand Ltd", flaw != "period")

    @rule(cert=certs, pick=picks, receiver=st.sampled_from(PARTIES))
    def revoked_certificate_cannot_move(self, cert, pick, receiver):
        """Once revoked, nothing of an issuance moves or retires. Revokes it first if it can be revoked."""
        c = self.r.issuances[cert]
        issuer = "issuer" if c["issuer"] == self.env.actors["issuer"].participant_id else "issuer2"
        if not c["revoked"]:
            self.revoke(cert, issuer)
        holders = [p for p in EVERYONE if self.cert_balance(self.addr(p), cert) > 0]
        if not holders:
            return
        holder = holders[pick % len(holders)]
        self.do_transfer_certificate(holder, holder, receiver if receiver != holder else "brand", cert, 1)
        self.do_retire(holder, cert, 1)

    # ------------------------------------------------------------------ classic refusals, set up on purpose
    @rule(
        case=st.sampled_from(
            ("uncertified_receiver", "over_declaration", "expired", "replayed", "wrong_signer", "not_pending")
        ),
        pick=picks,
    )
    def custody_refusal(self, case, pick):
        """The handshake refusals the issue lists, each built from a batch that allows the transfer otherwise."""
        i = self.env.ids
        model = MB if case == "over_declaration" else SEG
        candidates = [
            (p, b)
            for p in ("farm", "farm2", "ginner", "ginner_b", "spinner")
            for b in self.holdings(p, i.raw)
            if self.r.batches[b]["model"] == model and self.r.batches[b]["characteristic"] == i.organic
        ]
        if not candidates:
            created = self.do_create_origin("farm", i.raw, model, i.organic, PPM if model == SEG else 0, 2_000_000)
            if created is None:
                return
            candidates = [("farm", created)]
        sender, batch = candidates[pick % len(candidates)]
        balance = self.balance(self.addr(sender), batch)
        receiver = "spinner" if sender != "spinner" else "ginner"
        if case == "uncertified_receiver":
            self.do_custody(sender, "trader", batch, max(1, balance // 3), 0, "none", pick % 2 == 0)
        elif case == "over_declaration":
            # A mass-balance delivery declaring more credits than the sender's site holds. The second
            # site of the ginner receives the batch without a declaration first, so it holds the goods but
            # not the credits.
            mb = [(p, b) for p, b in candidates if self.r.batches[b]["model"] == MB]
            sender, batch = mb[pick % len(mb)]
            if sender != "ginner_b":
                moved = min(self.balance(self.addr(sender), batch), 1_000_000)
                if self.do_custody(sender, "ginner_b", batch, moved, 0, "none", False) is None:
                    return
                sender = "ginner_b"
            pid, site = self.wallet(sender)
            held = self.credits_at(account_key(pid, site, i.raw, i.organic), self.now())
            balance = self.balance(self.addr(sender), batch)
            if held + 1 <= balance:
                self.do_custody(sender, receiver, batch, balance, held + 1, "none", pick % 2 == 0)
        elif case == "expired":
            self.do_custody(sender, receiver, batch, 1, 0, "expired", pick % 2 == 0)
        elif case == "wrong_signer":
            self.do_custody(sender, receiver, batch, 1, 0, "wrong_signer", pick % 2 == 0)
        elif case == "replayed":
            if self.do_custody(sender, receiver, batch, 1, 0, "none", False) is not None:
                self.replay_signed_message()
        elif case == "not_pending":
            if pick % 2:  # a one-transaction transfer is never pending
                t = self.do_custody(sender, receiver, batch, 1, 0, "none", False)
                if t is not None:
                    self.settle_transfer(t, "accept", "none")
            else:  # a settled handshake cannot be settled again
                t = self.do_custody(sender, receiver, batch, 1, 0, "none", True)
                if t is not None:
                    self.settle_transfer(t, "accept", "none")
                    self.settle_transfer(t, ("accept", "reject", "cancel")[pick % 3], "none")

    # ------------------------------------------------------------------ credits that lapse keep their age
    def advance(self, seconds: int) -> bool:
        if self.now() + seconds > self.env.time_limit:
            return False
        self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine", [])
        self.sync()
        self.time_moved = True
        self.env.stats["time advances"] += 1
        return True

    def lapsing_account(self, party: str, material: int) -> tuple[str, Any]:
        pid, site = self.wallet(party)
        key = account_key(pid, site, material, self.env.ids.sustainable)
        return key, self.r.accounts.get(key)

    def live_vintages(self, acc: Any) -> list[int]:
        if acc is None:
            return []
        current = acc.period_at(self.now())
        return sorted(
            v for v, amount in acc.vintages.items() if amount and acc.lapse and rules.vintage_alive(v, acc.lapse, current)
        )

    @rule(target=batches, odd=st.integers(0, 999))
    def convert_credits_of_two_vintages(self, odd):
        """A mass-balance ginning converting credits (of a scheme where credits lapse) taken from two
        periods: the converted credits keep the age of each part, the rounding remainder going to the oldest
        (the replay checks every ConvertedIn against _agedParts)."""
        i = self.env.ids
        key, acc = self.lapsing_account("farm2", i.raw)
        made = []
        for _ in range(3):
            if len(self.live_vintages(acc)) >= 2:
                break
            if acc is not None and acc.period_at(self.now()) in self.live_vintages(acc):
                if not self.advance(31 * DAY):
                    return multiple(*made)
            created = self.do_create_origin("farm2", i.raw, MB, i.sustainable, 0, 1_000_003 + 2 * odd)
            if created is None:
                return multiple(*made)
            made.append(created)
            key, acc = self.lapsing_account("farm2", i.raw)
        live = self.live_vintages(acc)
        if len(live) < 2:
            return multiple(*made)
        # Credits one more than the oldest vintage holds (plus a few): they come from two periods. The
        # inputs are as many of its mass-balance batches as it takes to cover them.
        credits = min(self.credits_at(key, self.now()), acc.vintages[live[0]] + 1 + odd)
        a = self.addr("farm2")
        inputs = sorted(
            (
                b
                for b in self.holdings("farm2", i.raw)
                if self.r.batches[b]["model"] == MB and self.r.batches[b]["characteristic"] == i.sustainable
            ),
            key=lambda b: -self.balance(a, b),
        )
        ids, quantities = [], []
        while inputs and sum(quantities) < credits:
            ids.append(inputs.pop(0))
            quantities.append(self.balance(a, ids[-1]))
        if not ids:
            return multiple(*made)
        total = sum(quantities)
        args = (i.ginning, ids, quantities, total * 350_000 // PPM, MB, min(credits, total))
        oracle = self.oracle()
        expected = self.predict(oracle, "transform", self.addr("farm2"), *args)
        logs = self.attempt(
            "transform (two vintages)",
            self.env.account("farm2"),
            self.env.abi.ledger,
            "transform",
            args,
            oracle,
            expected,
        )
        created = [log.a["batchId"] for log in logs or [] if log.name == "BatchCreated"]
        return multiple(*made, *created)

    @rule(action=st.sampled_from(("reject", "cancel")), days=st.sampled_from((61, 91)))
    def return_after_credits_expired(self, action, days):
        """A declared mass-balance delivery comes back (rejected or cancelled) after the credits it took
        have expired: they are booked back with their age and lapse at once."""
        i = self.env.ids
        batches = [
            b
            for b in self.holdings("farm2", i.raw)
            if self.r.batches[b]["model"] == MB and self.r.batches[b]["characteristic"] == i.sustainable
        ]
        key, _ = self.lapsing_account("farm2", i.raw)
        held = self.credits_at(key, self.now())
        if not batches or held == 0 or self.now() + days * DAY > self.env.time_limit:
            return
        batch = batches[0]
        q = self.balance(self.addr("farm2"), batch)
        t = self.do_custody("farm2", "spinner", batch, q, min(q, held), "none", True)
        if t is None or not self.advance(days * DAY):
            return
        self.settle_transfer(t, action, "none")

    # ------------------------------------------------------------------ invariants
    # ------------------------------------------------------------------ invariants
    @invariant()
    def ledger_agrees_with_replay(self):
        self.sync()
        r = self.r
        r.check_totals()
        failures = r.f.failures
        assert not failures, "the auditor finds the chain breaking its rules: " + "; ".join(
            f"{f.rule}: {f.message}" for f in failures[:5]
        )
        env = self.env
        L, M, C, R = env.abi.ledger, env.abi.mass_balance, env.abi.certificates, env.abi.registry
        full = self.steps % 10 == 0
        holders = self.holders()
        ids = sorted(r.batches)
        cids = sorted(r.issuances)
        calls: list[tuple[Abi, str, tuple]] = [
            (L, "totals", ()),
            (L, "batchCount", ()),
            (C, "certificateCount", ()),
            (C, "pledgeCount", ()),
        ]
        if ids:
            calls.append((L, "balanceOfBatch", ([h for h in holders for _ in ids], [i for _ in holders for i in ids])))
        if cids:
            calls.append(
                (C, "balanceOfBatch", ([h for h in holders for _ in cids], [i for _ in holders for i in cids]))
            )
        calls += [(C, "issuance", (c,)) for c in cids]
        keys = sorted(r.accounts)
        calls += [(M, "balanceOf", (bytes.fromhex(k[2:]),)) for k in keys]
        calls += [(L, "nonces", (self.addr(p),)) for p in PARTIES]
        caps = sorted(r.capacity)
        calls += [(R, "capacity", k) for k in caps]
        n_fixed = len(calls)
        # Records, checked when new or changed (dirty), and all of them every 10 steps.
        dirty = self.dirty
        new_batches = [i for i in ids if full or i not in self.checked_batches]
        for i in new_batches:
            calls += [(L, "batch", (i,)), (L, "parents", (i,)), (L, "origin", (i,)), (L, "totalSupply/1", (i,))]
        tids = [t for t in r.transfers if full or ("transfer", t) in dirty]
        calls += [(L, "transferStatus", (bytes.fromhex(t[2:]),)) for t in tids]
        rids = [x for x in r.retirements if full or x not in self.checked_retirements]
        calls += [(C, "retirement", (x,)) for x in rids]
        pids = [p for p in r.pledges if full or ("pledge", p) in dirty]
        calls += [(C, "pledge", (p,)) for p in pids]
        ev_cids = [c for c in cids if full or ("cert", c) in dirty]
        calls += [(C, "evidenceUsedBy", (bytes.fromhex(r.issuances[c]["evidenceHash"][2:]),)) for c in ev_cids]
        stmt_keys = [k for k in keys if full or self.time_moved or ("account", k) in dirty]
        periods = []
        ts = self.follower.last_timestamp
        for k in stmt_keys:
            acc = r.accounts[k]
            kb = bytes.fromhex(k[2:])
            calls += [(M, "account", (kb,)), (M, "currentPeriod", (kb,))]
            ps = list(range(acc.opened_period, acc.period_at(ts) + 1))
            periods.append(ps)
            calls += [(M, "statement", (kb, p)) for p in ps]
        # Registry records (what every permission check reads), every 10 steps.
        pids_registered = sorted(r.participants) if full else []
        calls += [(R, "participant", (p,)) for p in pids_registered]
        cert_ids = sorted(r.certifications) if full else []
        calls += [(R, "certification", (c,)) for c in cert_ids]
        res = self.views(calls)
        totals, batch_count, cert_count, pledge_count = res[:4]
        pos = 4
        # ---- (1) physical conservation
        created, consumed, lost, supply = totals
        r_supply = sum(r.supply.values())
        assert (
            supply == created - consumed - lost
        ), f"supply {supply} != created {created} - consumed {consumed} - lost {lost}"
        if ids:
            bal = dict(zip([(h, i) for h in holders for i in ids], res[pos]))
            pos += 1
            assert sum(bal.values()) == supply, f"balances sum to {sum(bal.values())}, supply is {supply}"
            for (h, i), v in bal.items():
                assert v == self.balance(h, i), f"balanceOf({h}, {i}) = {v}, replay {self.balance(h, i)}"
        assert (created, consumed, lost, supply) == (r.created, r.consumed, r.lost, r_supply), "totals() != replay"
        assert created - consumed - lost == r_supply
        assert batch_count == len(r.batches) and cert_count == len(r.issuances) and pledge_count == len(r.pledges)
        # ---- (3) certificates: issued == held + retired + revoked
        cbal = {}
        if cids:
            cbal = dict(zip([(h, c) for h in holders for c in cids], res[pos]))
            pos += 1
        for c in cids:
            (issuer, producer, material, char, start, end, revoked, source), (unit, amount, retired, count) = res[pos]
            pos += 1
            rc = self.certificate_record(c)
            held = sum(v for (h, cc), v in cbal.items() if cc == c)
            replay_held = sum(v for (h, cc), v in r.holdings.items() if cc == c)
            assert held == replay_held, f"certificate {c}: held {held} != replay {replay_held}"
            outstanding = rc["revokedOutstanding"]
            assert amount == (0 if revoked else held) + retired + (
                outstanding if revoked else 0
            ), f"certificate {c}: issued {amount} != held {held} + retired {retired} + revoked {outstanding if revoked else 0}"
            if revoked:
                assert held == outstanding, f"certificate {c}: {held} units held but {outstanding} revoked"
            assert rc["amount"] == (0 if rc["revoked"] else held) + rc["retired"] + (
                outstanding if rc["revoked"] else 0
            )
            view = (issuer, producer, material, char, start, end, revoked, source, unit, amount, retired, count)
            rep = (
                rc["issuer"],
                rc["producer"],
                rc["material"],
                rc["characteristic"],
                rc["periodStart"],
                rc["periodEnd"],
                rc["revoked"],
                rc["source"],
                rc["unitSize"],
                rc["amount"],
                rc["retired"],
                rc["retirementCount"],
            )
            assert view == rep, f"issuance({c}) {view} != replay {rep}"
            for (h, cc), v in cbal.items():
                if cc == c:
                    assert v == self.cert_balance(h, c), f"certificate balance {h} {c}: {v} != replay"
        # ---- (2) credits
        for k in keys:
            v = res[pos]
            pos += 1
            acc = r.accounts[k]
            last = acc.bookings[-1]["balance"] if acc.bookings else 0
            assert acc.balance >= 0 and acc.balance == last, f"account {k}: replay {acc.balance} != last booking {last}"
            assert v == balance_at(acc, ts) >= 0, f"credits {k}: view {v} != replay {balance_at(acc, ts)}"
        for p in PARTIES:
            want = r.nonces.get(lower(self.addr(p)), 0)
            assert res[pos] == want, f"nonce of {p}: {res[pos]} != replay {want}"
            pos += 1
        for k in caps:
            vf, vt, amount, used = res[pos]
            pos += 1
            cap = r.capacity[k]
            assert (vf, vt, amount, used) == (
                cap["validFrom"],
                cap["validTo"],
                cap["amount"],
                cap["used"],
            ), f"capacity {k}"
        assert pos == n_fixed
        # ---- (4) records
        for i in new_batches:
            b, parents, origin, total_supply = res[pos : pos + 4]
            pos += 4
            rb = r.batches[i]
            rep = (
                rb["material"],
                rb["characteristic"],
                rb["model"],
                rb["share"],
                rb["creator"],
                rb["origin"],
                rb["kind"],
                rb["createdAt"],
            )
            assert tuple(b) == rep, f"batch({i}) {b} != replay {rep}"
            assert [tuple(p) for p in parents] == rb["parents"], f"parents({i}) {parents} != replay {rb['parents']}"
            assert total_supply == r.supply.get(i, 0), f"totalSupply({i})"
            if rb["kind"] == K_ORIGIN:
                o = rb["originInfo"]
                assert tuple(origin) == (
                    o["siteId"],
                    o["productionDate"],
                    o["certificationId"],
                    bytes.fromhex(o["geolocationHash"][2:]),
                    bytes.fromhex(o["evidenceHash"][2:]),
                ), f"origin({i})"
            else:
                assert tuple(origin) == (0, 0, 0, bytes(32), bytes(32))
            self.checked_batches.add(i)
        for t in tids:
            rt = r.transfers[t]
            assert res[pos] == (
                T_NONE if rt.get("sameTx") else rt["status"]
            ), f"transferStatus {t}: {res[pos]} != replay {rt['status']}"
            pos += 1
        for x in rids:
            want = r.retirements[x]
            assert tuple(res[pos]) == (
                want["certificateId"],
                want["amount"],
                want["retiredBy"],
                want["periodStart"],
                want["periodEnd"],
            ), f"retirement({x:#x})"
            pos += 1
            self.checked_retirements.add(x)
        for p in pids:
            pl = r.pledges[p]
            assert tuple(res[pos]) == (
                pl["producer"],
                pl["material"],
                pl["characteristic"],
                pl["source"],
                pl["used"] is not None,
                pl["quantity"],
            ), f"pledge({p})"
            pos += 1
        for c in ev_cids:
            assert res[pos] == c, f"evidenceUsedBy for certificate {c}: {res[pos]}"
            pos += 1
        for k, ps in zip(stmt_keys, periods):
            acc = r.accounts[k]
            account, current = res[pos], res[pos + 1]
            pos += 2
            want = (acc.balance, acc.period, acc.opened_period, acc.period_length, acc.anchor, acc.lapse, True)
            assert tuple(account) == want, f"account({k}) {account} != replay {want}"
            assert current == acc.period_at(ts), f"currentPeriod({k})"
            for p in ps:
                (opening, inflow, _materialized, outflow, cin, cout, lapsed), closing = res[pos]
                pos += 1
                got = (opening, inflow, outflow, cin, cout, lapsed, closing)
                st_, cl = statement_at(acc, p, ts)
                want = (st_["opening"], st_["inflow"], st_["outflow"], st_["convertedIn"], st_["convertedOut"],
                        st_["lapsed"], cl)
                assert got == want, f"statement({k}, {p}) {got} != replay {want}"
                if p in acc.closed:
                    pc = acc.closed[p]
                    closed = (pc["opening"], pc["inflow"], pc["outflow"], pc["convertedIn"], pc["convertedOut"],
                              pc["lapsed"], pc["closing"])
                    assert closed == got, f"PeriodClosed({p}) != statement view"
        for p in pids_registered:
            want = (r.participants[p]["roles"], r.participants[p]["status"])
            assert tuple(res[pos]) == want, f"participant({p}) {res[pos]} != replay {want}"
            pos += 1
        for c in cert_ids:
            rc = r.certifications[c]
            want = (rc["holder"], rc["certifier"], rc["models"], rc["status"], rc["validFrom"], rc["validTo"])
            assert tuple(res[pos]) == want, f"certification({c}) {res[pos]} != replay {want}"
            pos += 1
        assert pos == len(res)
        if self.steps >= self.next_view_check:
            self.auditor_views_agree()
            self.next_view_check = self.steps + VIEW_CHECK_EVERY
        self.dirty.clear()
        self.time_moved = False

    def auditor_views_agree(self) -> None:
        """The auditor's own comparison of its replay with every view function (`coc-audit --views`)."""
        findings = Findings()
        check = ViewCheck(self.env.auditor_rpc, self.r, self.env.addresses, self.follower.last_block,
                          self.follower.last_timestamp)
        self.env.stats["views compared by the auditor"] += check.run(findings)
        assert not findings.failures, "the auditor's view check disagrees: " + "; ".join(
            f.message for f in findings.failures[:5]
        )


# ====================================================================== the test
def _first_code_block(rpc: Rpc, address: str, latest: int) -> int:
    lo, hi = 0, latest
    while lo < hi:
        mid = (lo + hi) // 2
        if rpc("eth_getCode", [address, hex(mid)]) in ("0x", "0x0", ""):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _setup(w3, accounts, world: World) -> Env:
    """Extra participants and a lapsing scheme, registered inside the test's own snapshot."""
    sb = world.sb
    actors = {
        name: getattr(world, name)
        for name in ("farm", "farm2", "ginner", "spinner", "brand", "issuer", "certifier", "auditor", "trader")
    }
    actors["issuer2"] = sb.participant("Second Registry", ROLE_ISSUER, accounts[10])
    actors["ginner_b"] = sb.add_wallet(world.ginner, accounts[11], site="Gin Kutch")
    # A scheme whose credits lapse two periods after they came in (MSPO-like), 30-day periods.
    scheme = sb.scheme("MSPO", period_length=30 * DAY, lapse_after=2)
    sustainable = sb.characteristic("sustainable", scheme)
    everything = [world.raw_cotton, world.lint, world.yarn, world.cotton_waste]
    for name in ("farm", "farm2", "ginner", "spinner", "brand"):
        sb.certify(world.certifier, actors[name], everything, [sustainable], scheme="MSPO")
    c = sb.c
    rpc = Rpc(w3.provider.endpoint_uri)
    contracts = {
        "ParticipantRegistry": c.registry,
        "CocForwarder": c.forwarder,
        "MassBalance": c.mass_balance,
        "BatchLedger": c.ledger,
        "CertificateRegistry": c.certificates,
    }
    addresses = {SHORT_NAMES[n]: contracts[n].address.lower() for n in CONTRACT_NAMES}
    latest = int(rpc("eth_blockNumber"), 16)
    start = min(_first_code_block(rpc, a, latest) for a in addresses.values())
    chain_id = int(rpc("eth_chainId"), 16)
    # The auditor's replay of everything since the deployment: the state every example starts from.
    base = Replay(chain_id, addresses)
    follower = AuditorFollower(rpc, base, addresses, start)
    follower.sync()
    assert not base.f.failures, [f.message for f in base.f.failures[:3]]
    # Certifications and capacities must stay valid while the machine moves time.
    limit = min(
        [cert["validTo"] for cert in base.certifications.values()] + [cap["validTo"] for cap in base.capacity.values()]
    )
    ids = SimpleNamespace(
        raw=world.raw_cotton,
        lint=world.lint,
        yarn=world.yarn,
        waste=world.cotton_waste,
        organic=world.organic,
        recycled=world.recycled,
        sustainable=sustainable,
        ginning=world.ginning,
        spinning=world.spinning,
        waste_spinning=world.waste_spinning,
    )
    return Env(
        world=world,
        rpc=rpc,
        auditor_rpc=AuditorRpc(w3.provider.endpoint_uri),
        abi=SimpleNamespace(
            **{
                k: Abi(v.address, v.abi)
                for k, v in {
                    "registry": c.registry,
                    "ledger": c.ledger,
                    "mass_balance": c.mass_balance,
                    "certificates": c.certificates,
                }.items()
            }
        ),
        actors=actors,
        admin=sb.admin,
        relayer=sb.relayer,
        unregistered=Account.from_key(keccak(text="an unregistered wallet")),
        chain_id=chain_id,
        addresses=addresses,
        base=base,
        base_block=follower.last_block,
        ids=ids,
        time_limit=limit - 5 * DAY,
    )


def test_invariants_hold_under_random_operations(w3, accounts, world_session):
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    actors = dict(world_session.sb.actors)  # _setup registers participants through the shared sandbox
    started = time.monotonic()
    try:
        env = _setup(w3, accounts, world_session)
        assert lower(env.unregistered.address) not in env.base.wallets
        run_state_machine_as_test(lambda: LedgerMachine(env), settings=SETTINGS)
        random_refusals = {k[8:] for k in env.stats if k.startswith("refused ")}
        scripted = []
        if REQUIRED_REFUSALS - random_refusals or not env.stats["time advances"]:
            machine = LedgerMachine(env)
            try:
                machine.seed()
                machine.ledger_agrees_with_replay()
                scripted = machine.exercise_missing_refusals()
                if not env.stats["time advances"]:  # periods must have rolled at least once
                    machine.advance_time(31)
                    machine.ledger_agrees_with_replay()
            finally:
                machine.teardown()
    finally:
        world_session.sb.actors.clear()
        world_session.sb.actors.update(actors)
        assert w3.provider.make_request("evm_revert", [snapshot])["result"], "evm_revert failed"
    elapsed = time.monotonic() - started
    refused = {k.split(" ", 1)[1] for k in env.stats if k.startswith("refused ")}
    print(f"\n{env.stats['examples']} examples, {env.stats['transactions']} transactions in {elapsed:.1f} s, "
          f"{env.stats['views compared by the auditor']} views compared by the auditor's ViewCheck")
    print("  operations (succeeded / refused): " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(env.ops.items())))
    print("  refusals: " + ", ".join(f"{k[8:]} {v}" for k, v in sorted(env.stats.items()) if k.startswith("refused ")))
    print(f"  listed refusals not hit by the random steps, run by the scripted top-up: {scripted or 'none'}")
    missing = REQUIRED_REFUSALS - refused
    assert not missing, f"refusals never exercised: {sorted(missing)}"
    assert env.stats["time advances"] > 0
    assert env.stats["views compared by the auditor"] > 0
