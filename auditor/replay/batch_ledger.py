"""BatchLedger, replayed: batches and their lineage, token balances from TransferSingle, consumptions; and the
checks of every new batch against its inputs (models, shares, yields, conservation of each transaction)."""

from __future__ import annotations

from collections import Counter, defaultdict

from ..model import (
    CONTROLLED_BLENDING,
    KINDS,
    MASS_BALANCE,
    MERGE,
    ORIGIN,
    RELEASED,
    ROLE_BRAND,
    ROLE_SUPPLIER,
    SPLIT,
    TRANSFORM,
    UNCERTIFIED,
    ZERO,
)
from ..rules import (
    Mix,
    certified_quantity,
    converted_credits,
    mix_add,
    mix_end,
    origin_of_new_origin,
    origin_share_valid,
    output_claim,
    transform_bounds,
    waste_to_regular,
)
from .events import Ev


class BatchLedgerReplay:
    """State and event handlers of BatchLedger's batches (one part of `Replay`)."""

    def _init_batch_ledger(self) -> None:
        self.batches: dict[int, dict] = {}
        self.balances: dict[tuple[str, int], int] = defaultdict(int)  # (holder, batch) -> quantity
        self.supply: dict[int, int] = defaultdict(int)
        self.created = self.consumed = self.lost = 0
        self.origin_evidence: dict[str, int] = {}
        self.consumptions: list[dict] = []
        self.batch_moves: dict[int, list[dict]] = defaultdict(list)  # batch -> refs of its ERC-1155 moves

    def on_ledger_TransferSingle(self, e: Ev) -> None:
        a = e.a
        self._token_move(a["from"], a["to"], a["id"], a["value"])
        self.batch_moves[a["id"]].append(e.ref())

    def on_ledger_TransferBatch(self, e: Ev) -> None:
        for i, v in zip(e.a["ids"], e.a["values"]):
            self._token_move(e.a["from"], e.a["to"], i, v)
            self.batch_moves[i].append(e.ref())

    def _token_move(self, frm: str, to: str, bid: int, value: int) -> None:
        moves = self._tx_moves
        if frm != ZERO:
            self.balances[(frm, bid)] -= value
            moves[(frm, bid)] = moves.get((frm, bid), 0) - value
        else:
            self.supply[bid] += value
        if to != ZERO:
            self.balances[(to, bid)] += value
            moves[(to, bid)] = moves.get((to, bid), 0) + value
        else:
            self.supply[bid] -= value

    def on_ledger_BatchCreated(self, e: Ev) -> None:
        a = e.a
        bid = a["batchId"]
        if bid in self.batches or bid != len(self.batches) + 1:
            self.f.add("physical.conservation", f"batch id {bid} created twice or out of sequence", [e.ref()])
        b = {
            "id": bid, "creator": a["creator"], "holder": a["holder"], "kind": a["kind"], "material": a["material"],
            "characteristic": a["characteristic"], "model": a["model"], "share": a["share"], "origin": a["origin"],
            "quantity": a["quantity"], "parents": [(p["batchId"], p["quantity"]) for p in a["parents"]],
            "createdAt": e.ts, "block": e.block, "ref": e.ref(), "children": [], "originInfo": None, "transform": None,
            "consumed": 0, "transfers": [], "release": None,
        }
        self.batches[bid] = b
        for pid_, _q in b["parents"]:
            parent = self.batches.get(pid_)
            if parent is None:
                self.f.add("physical.conservation", f"batch {bid} names unknown parent {pid_}", [e.ref()])
            else:
                parent["children"].append(bid)
        self._tx_ledger.append(e)

    def on_ledger_OriginRecorded(self, e: Ev) -> None:
        b = self.batches.get(e.a["batchId"])
        if b is None:
            self.f.add("physical.conservation", "origin recorded for an unknown batch", [e.ref()])
            return
        b["originInfo"] = dict(e.a, ref=e.ref())
        # known at once, not only when the transaction is reconciled: an issuance in the same transaction (from a
        # hook) on the origin's own evidence must be seen whatever the order of the logs (G, F)
        self.origin_evidence.setdefault(e.a["evidenceHash"], e.a["batchId"])
        self._tx_ledger.append(e)

    def on_ledger_TransformRecorded(self, e: Ev) -> None:
        b = self.batches.get(e.a["outputBatchId"])
        if b is None:
            self.f.add("physical.conservation", "transform recorded for an unknown batch", [e.ref()])
            return
        b["transform"] = dict(e.a, ref=e.ref())
        self._tx_ledger.append(e)

    def on_ledger_BatchConsumed(self, e: Ev) -> None:
        a = e.a
        b = self.batches.get(a["batchId"])
        if b is not None:
            b["consumed"] += a["quantity"]
        self.consumed += a["quantity"]
        self.consumptions.append(dict(a, ref=e.ref(), consumeRef=a["ref"]))
        _, _, problem = self.actor(a["holder"], ROLE_SUPPLIER | ROLE_BRAND)
        if problem:
            self.f.add("actors.eligibility", f"consumption of batch {a['batchId']} by an ineligible holder: {problem}",
                       [e.ref()])
        else:
            self.f.ok("actors.eligibility")
        self._tx_ledger.append(e)

    def _reconcile_physical(self) -> None:
        expected: Counter = Counter()
        refs = []
        for e in self._tx_ledger:
            a = e.a
            refs.append(e.ref())
            if e.name == "BatchCreated":
                b = self.batches[a["batchId"]]
                expected[(a["holder"], a["batchId"])] += a["quantity"]
                for pid_, q in b["parents"]:
                    expected[(a["holder"], pid_)] -= q
                self._check_batch(b, e)
            elif e.name == "BatchConsumed":
                expected[(a["holder"], a["batchId"])] -= a["quantity"]
            elif e.name == "CustodyProposed":
                expected[(a["from"], a["batchId"])] -= a["quantity"]
                expected[(self.ledger_addr, a["batchId"])] += a["quantity"]
            elif e.name in ("CustodyAccepted", "CustodyRejected", "CustodyCancelled"):
                t = self.transfers.get(a["transferId"])
                if t is None:
                    continue
                back = t["to"] if e.name == "CustodyAccepted" else t["from"]
                expected[(self.ledger_addr, t["batchId"])] -= t["quantity"]
                expected[(back, t["batchId"])] += t["quantity"]
        actual = self._tx_moves
        keys = {k for k, v in expected.items() if v} | {k for k, v in actual.items() if v}
        diffs = {f"{k[0]}:{k[1]}": {"tokens": actual.get(k, 0), "events": expected.get(k, 0)}
                 for k in keys if actual.get(k, 0) != expected.get(k, 0)}
        if diffs:
            self.f.add("physical.conservation", "token flows of the transaction differ from what its ledger events "
                       f"explain: {diffs}", refs, diffs=diffs)
        else:
            self.f.ok("physical.conservation")

    def _check_batch(self, b: dict, e: Ev) -> None:
        kind = b["kind"]
        ts = e.ts
        if kind == ORIGIN:
            self._check_origin(b, e)
            return
        parents = [(self.batches.get(p), q) for p, q in b["parents"]]
        if not parents or any(p is None for p, _ in parents):
            self.f.add("physical.conservation", f"batch {b['id']} ({KINDS[kind]}) without known parents", [e.ref()])
            return
        total = sum(q for _, q in parents)
        problems: list[str] = []
        if kind == SPLIT or kind == RELEASED:
            p = parents[0][0]
            if len(parents) != 1 or b["quantity"] != total:
                problems.append(f"{KINDS[kind]} child holds {b['quantity']} of parent quantity {total}")
            if kind == SPLIT:
                same = all(b[k] == p[k] for k in ("material", "characteristic", "model", "share", "origin"))
                if not same:
                    self.f.add("physical.models", f"split child {b['id']} changed the claim of parent {p['id']}",
                               [p["ref"], e.ref()])
                else:
                    self.f.ok("physical.models")
                _, _, problem = self.certified_actor(b["holder"], ROLE_SUPPLIER, p["material"], p["characteristic"],
                                                     p["model"], ts)
                self._eligible(problem, f"split of batch {p['id']}", e)
            else:
                if (b["model"], b["characteristic"], b["share"], b["origin"], b["material"]) != (
                        UNCERTIFIED, 0, 0, 0, p["material"]) or p["model"] < CONTROLLED_BLENDING:
                    self.f.add("physical.models", f"attribute release {b['id']} of batch {p['id']} kept a claim "
                               "or released an uncertified batch", [p["ref"], e.ref()])
                else:
                    self.f.ok("physical.models")
        else:
            if kind == MERGE and b["quantity"] != total:
                problems.append(f"merge output {b['quantity']} != inputs {total}")
            self._check_mix(b, parents, e)
        if problems:
            self.f.add("physical.conservation", f"batch {b['id']}: " + "; ".join(problems), [e.ref()])
        else:
            self.f.ok("physical.conservation")

    def _eligible(self, problem: str | None, what: str, e: Ev) -> None:
        if problem:
            self.f.add("actors.eligibility", f"{what} by an ineligible holder: {problem}", [e.ref()])
        else:
            self.f.ok("actors.eligibility")

    @staticmethod
    def _mix(parents: list[tuple[dict, int]], model: int) -> tuple[Mix, list[str]]:
        m, problems = None, []
        for p, q in parents:
            m, found = mix_add(m, p, q, model)
            problems += [x.text for x in found]
        problems += [x.text for x in mix_end(m, model)]
        return m, problems

    def _check_mix(self, b: dict, parents: list[tuple[dict, int]], e: Ev) -> None:
        model = b["model"]
        mix, problems = self._mix(parents, model)
        b["mix"] = {"certified": mix.certified, "total": mix.total}
        share, origin, characteristic = output_claim(mix, model)
        material = mix.material
        if b["kind"] == TRANSFORM:
            tr = b["transform"]
            if tr is None:
                self.f.add("physical.conservation", f"transform output {b['id']} without TransformRecorded", [e.ref()])
                return
            proc = self.processes.get(tr["processId"])
            if proc is None:
                self.f.add("physical.yield", f"transform {b['id']} through unknown process {tr['processId']}", [e.ref()])
                return
            if mix.material != proc["input"]:
                problems.append(f"input material {mix.material} is not process input {proc['input']}")
            material = proc["output"]
            conservation = []
            if tr["inputQuantity"] != mix.total:
                conservation.append(f"recorded input {tr['inputQuantity']} != parents {mix.total}")
            if tr["outputQuantity"] != b["quantity"]:
                conservation.append(f"recorded output {tr['outputQuantity']} != batch {b['quantity']}")
            if tr["loss"] != tr["inputQuantity"] - tr["outputQuantity"]:
                conservation.append(f"loss {tr['loss']} != input - output")
            if conservation:
                self.f.add("physical.conservation", f"transform {b['id']}: " + "; ".join(conservation),
                           [tr["ref"], e.ref()])
            else:
                self.f.ok("physical.conservation")
            self.lost += tr["loss"]
            minimum, maximum = transform_bounds(mix.total, proc["factor"], proc["tolerance"])
            if not minimum <= b["quantity"] <= maximum or b["quantity"] == 0:
                self.f.add("physical.yield", f"transform {b['id']} ({proc['name']}): output {b['quantity']} outside "
                           f"[{minimum}, {maximum}] for input {mix.total}", [tr["ref"], e.ref()],
                           minimum=minimum, maximum=maximum)
            else:
                self.f.ok("physical.yield")
            if tr["creditsConverted"] > mix.total or (tr["creditsConverted"] and model != MASS_BALANCE) or \
                    tr["creditsProduced"] != converted_credits(tr["creditsConverted"], proc["factor"]) or \
                    (tr["creditsConverted"] and waste_to_regular(self.materials, proc["input"], proc["output"])):
                self.f.add("credits.bookings", f"transform {b['id']} converted {tr['creditsConverted']} credits into "
                           f"{tr['creditsProduced']} (factor {proc['factor']}, input {mix.total})", [tr["ref"]])
            _, _, problem = self.certified_actor(b["holder"], ROLE_SUPPLIER, proc["output"], mix.characteristic,
                                                 model, e.ts)
        else:
            _, _, problem = self.certified_actor(b["holder"], ROLE_SUPPLIER, mix.material, mix.characteristic,
                                                 model, e.ts)
        self._eligible(problem, f"{KINDS[b['kind']].lower()} into batch {b['id']}", e)
        got = (b["material"], b["characteristic"], b["share"], b["origin"])
        want = (material, characteristic, share, origin)
        if got != want:
            problems.append(f"(material, characteristic, share, origin) {got}, inputs give {want}")
        if problems:
            self.f.add("physical.models", f"{KINDS[b['kind']].lower()} {b['id']}: " + "; ".join(problems),
                       [self.batches[p["id"]]["ref"] for p, _ in parents] + [e.ref()])
        else:
            self.f.ok("physical.models")

    def _check_origin(self, b: dict, e: Ev) -> None:
        self.created += b["quantity"]
        info = b["originInfo"]
        problems = []
        if info is None:
            self.f.add("physical.conservation", f"origin batch {b['id']} without OriginRecorded", [e.ref()])
            return
        pid, site, problem = self.actor(b["holder"], ROLE_SUPPLIER)
        if problem:
            problems.append(problem)
        if pid != b["creator"] or site != info["siteId"] or site == 0:
            problems.append(f"creator {b['creator']}/site {info['siteId']} are not the wallet's {pid}/{site}")
        model, share = b["model"], b["share"]
        if (model == UNCERTIFIED) != (b["characteristic"] == 0):
            problems.append("characteristic inconsistent with model")
        if not origin_share_valid(model, share) or b["origin"] != origin_of_new_origin(model, b["id"]):
            self.f.add("physical.models", f"origin {b['id']}: share {share} / origin {b['origin']} invalid for model "
                       f"{model}", [e.ref()])
        else:
            self.f.ok("physical.models")
        if info["productionDate"] > e.ts or info["evidenceHash"] == "0x" + "00" * 32:
            problems.append("production date in the future or no evidence")
        first = self.origin_evidence.get(info["evidenceHash"])
        if first is not None and first != b["id"]:
            # BatchLedger refuses a second origin on one evidence (BatchEvidenceAlreadyUsed): one seen on chain
            # means the same production claimed twice (finding F: a receiver hook re-entering createOrigin)
            self.f.add("certificates.evidence", f"origin batch {b['id']} reuses the evidence of origin batch {first}: "
                       "the same production claimed twice", [self.batches[first]["ref"], e.ref()])
        else:
            self.origin_evidence[info["evidenceHash"]] = b["id"]
            self.f.ok("certificates.evidence")
        if model != UNCERTIFIED:
            valid, cid = self.certification_for(pid, b["material"], b["characteristic"], model, e.ts)
            if not valid:
                problems.append(f"creator not certified for material {b['material']}, characteristic "
                                f"{b['characteristic']}, model {model}")
            elif cid != info["certificationId"]:
                problems.append(f"recorded certification {info['certificationId']}, replay finds {cid}")
            certified = certified_quantity(model, b["quantity"], share)
            used = [c for c in self._tx_capacity if c.a["participantId"] == pid and c.a["material"] == b["material"]
                    and c.a["amount"] == certified]
            if not used:
                self.f.add("origin.capacity", f"certified origin {b['id']} of {certified} not counted against capacity",
                           [e.ref()])
            else:
                self._tx_capacity.remove(used[0])
        elif info["certificationId"] != 0:
            problems.append("uncertified origin names a certification")
        if problems:
            self.f.add("actors.eligibility", f"origin {b['id']}: " + "; ".join(problems), [e.ref()])
        else:
            self.f.ok("actors.eligibility")
