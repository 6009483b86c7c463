"""Read side of the index: provenance by token id, participant, certificate, transaction.

Lineage (ancestry) is materialised at ingest (node_api.index.lineage): one range scan per answer.
Descendants and the ancestors' custody are recursive SQL (``WITH RECURSIVE``) over ``idx_edges``,
whose primary key (child_id, position) and index (parent_id, child_id) make every step an index
lookup. Either way the cost of a query grows with the size of its answer, not with the size of the
ledger. Every object returned carries the transaction hash and block number of the event it comes
from.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from fractions import Fraction
from typing import Any, Iterable

from eth_utils import to_checksum_address
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from . import schema as t

MODEL_NAMES = ["uncertified", "mass balance", "controlled blending", "segregated", "identity preserved"]
KIND_NAMES = ["origin", "split", "merge", "transform", "attributes_released"]
CERT_STATUS = ["none", "active", "suspended", "withdrawn"]
PARTICIPANT_STATUS = ["none", "active", "suspended"]
ENTRY_NAMES = ["in", "out", "converted_in", "converted_out", "lapsed"]
REASON_NAMES = ["origin_created", "delivery", "delivery_returned", "downgrade", "conversion", "moved", "pledged", "lapse"]
SOURCE_NAMES = ["verified", "credits", "batch"]
CONSUME_REASONS = ["sold", "destroyed"]
ROLE_NAMES = {1: "admin", 2: "certifier", 4: "supplier", 8: "issuer", 16: "auditor", 32: "brand"}
PPM = 1_000_000
ZERO_ADDRESS = "0x" + "0" * 40


@lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    return to_checksum_address(address)


def fact(row: Any, prefix: str = "") -> dict[str, Any]:
    m = row._mapping if hasattr(row, "_mapping") else row
    return {"tx_hash": m[f"{prefix}tx_hash"], "block_number": m[f"{prefix}block_number"],
            "time": m[f"{prefix}block_time"]}


def percent(f: Fraction) -> str:
    """A percentage as an exact decimal when it has one within 6 places, else rounded with '~'."""
    p = f * 100
    for places in range(0, 7):
        scaled = p * 10**places
        if scaled.denominator == 1:
            s = f"{scaled.numerator / 10**places:.{places}f}" if places else str(scaled.numerator)
            return s
    return f"~{float(p):.2f}"


# ---------------------------------------------------------------------- reference data
@dataclass
class Ref:
    """Names of everything that has an id (small tables, loaded per query)."""

    participants: dict[int, dict[str, Any]]
    sites: dict[int, dict[str, Any]]
    materials: dict[int, dict[str, Any]]
    characteristics: dict[int, dict[str, Any]]
    schemes: dict[int, dict[str, Any]]
    processes: dict[int, dict[str, Any]]
    wallets: dict[str, list[dict[str, Any]]]
    chain_id: int | None

    @classmethod
    def load(cls, conn: Connection) -> "Ref":
        def rows(table: Any, key: str) -> dict[Any, dict[str, Any]]:
            return {r._mapping[key]: dict(r._mapping) for r in conn.execute(select(table))}

        wallets: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in conn.execute(select(t.wallets).order_by(t.wallets.c.added_block, t.wallets.c.added_log_index)):
            wallets[r.address].append(dict(r._mapping))
        meta = {r.key: r.value for r in conn.execute(select(t.meta))}
        return cls(
            participants=rows(t.participants, "participant_id"),
            sites=rows(t.sites, "site_id"),
            materials=rows(t.materials, "material"),
            characteristics=rows(t.characteristics, "characteristic"),
            schemes=rows(t.schemes, "scheme"),
            processes=rows(t.processes, "process_id"),
            wallets=dict(wallets),
            chain_id=int(meta["chain_id"]) if "chain_id" in meta else None,
        )

    def participant_name(self, pid: int | None) -> str | None:
        p = self.participants.get(pid) if pid else None
        return p["name"] if p else None

    def site_name(self, sid: int | None) -> str | None:
        s = self.sites.get(sid) if sid else None
        return s["name"] if s else None

    def material_name(self, mid: int) -> str:
        m = self.materials.get(mid)
        return m["name"] if m else f"material {mid}"

    def unit(self, mid: int) -> str:
        m = self.materials.get(mid)
        return m["unit"] if m else ""

    def characteristic_name(self, cid: int) -> str | None:
        if not cid:
            return None
        c = self.characteristics.get(cid)
        return c["name"] if c else f"characteristic {cid}"

    def scheme_of(self, cid: int) -> str | None:
        c = self.characteristics.get(cid)
        s = self.schemes.get(c["scheme"]) if c else None
        return s["name"] if s else None

    def who(self, address: str, block: int | None = None) -> dict[str, Any]:
        """A wallet as the participant (and site) it was bound to at ``block`` (latest if None)."""
        address = address.lower()
        out: dict[str, Any] = {"address": checksum(address), "participant_id": None, "participant": None,
                               "site_id": None, "site": None}
        binding = None
        for w in self.wallets.get(address, []):
            if block is None or w["added_block"] <= block:
                binding = w
        if binding is not None:
            out.update(participant_id=binding["participant_id"], participant=self.participant_name(binding["participant_id"]),
                       site_id=binding["site_id"] or None, site=self.site_name(binding["site_id"]))
        return out

    def wallets_of(self, pid: int) -> list[str]:
        return [a for a, ws in self.wallets.items() if any(w["participant_id"] == pid for w in ws)]


def percent_of(part: float, whole: float) -> str:
    """``part / whole`` as a percentage: exact digits when it has at most two decimals, else "~" + 2."""
    p = part * 100 / whole if whole else 0.0
    r = round(p, 2)
    if abs(p - r) < 1e-9 * max(1.0, abs(p)):
        return f"{r:.2f}".rstrip("0").rstrip(".")
    return f"~{p:.2f}"


def fmt_qty(q: int | float | Fraction, unit: str) -> str:
    """Human quantity: grams shown as kg or t when large."""
    v = float(q)
    if unit == "g":
        if abs(v) >= 1_000_000:
            return f"{v / 1_000_000:,.3f}".rstrip("0").rstrip(".") + " t"
        if abs(v) >= 1_000:
            return f"{v / 1_000:,.3f}".rstrip("0").rstrip(".") + " kg"
    s = f"{v:,.3f}".rstrip("0").rstrip(".")
    return f"{s} {unit}".strip()


# ---------------------------------------------------------------------- batches
_BATCH_COLS = ("b.batch_id, b.kind, b.material, b.characteristic, b.model, b.share, b.origin, b.creator, b.holder, "
               "b.quantity, b.block_number, b.log_index, b.tx_hash, b.block_time")
_ORIGIN_COLS = ("o.site_id AS o_site_id, o.certification_id AS o_certification_id, "
                "o.geolocation_hash AS o_geolocation_hash, o.dds_reference AS o_dds_reference, "
                "o.evidence_hash AS o_evidence_hash, o.production_date AS o_production_date, "
                "o.tx_hash AS o_tx_hash, o.block_number AS o_block_number, o.block_time AS o_block_time")

_ANCESTORS_CTE = """
WITH RECURSIVE anc(id) AS (
    SELECT parent_id FROM idx_edges WHERE child_id = :root
    UNION
    SELECT e.parent_id FROM idx_edges e JOIN anc ON e.child_id = anc.id
)"""

_DESCENDANTS_CTE = """
WITH RECURSIVE des(id) AS (
    SELECT child_id FROM idx_edges WHERE parent_id = :root
    UNION
    SELECT e.child_id FROM idx_edges e JOIN des ON e.parent_id = des.id
)"""


_LIN_COLS = ("b.batch_id, b.kind, b.material, b.characteristic, b.model, b.share, b.origin, b.creator, b.holder, "
             "b.quantity, b.block_number, b.log_index, b.tx_hash, b.block_time, o.site_id, o.certification_id, "
             "o.geolocation_hash, o.dds_reference, o.evidence_hash, o.production_date")
_LIN_KEYS = ("batch_id", "kind", "material", "characteristic", "model", "share", "origin", "creator", "holder",
             "quantity", "block_number", "log_index", "tx_hash", "block_time", "o_site_id", "o_certification_id",
             "o_geolocation_hash", "o_dds_reference", "o_evidence_hash", "o_production_date")


def node_maker(ref: Ref) -> Any:
    """A function turning a row in ``_LIN_COLS`` order into the API's flat batch dict (cheap enough
    to run ten thousand times per query: plain dict lookups, names resolved from ``ref`` once)."""
    mats = {k: (v["name"], v["unit"]) for k, v in ref.materials.items()}
    chars = {k: v["name"] for k, v in ref.characteristics.items()}
    parts = {k: v["name"] for k, v in ref.participants.items()}
    sites = {k: v["name"] for k, v in ref.sites.items()}
    kinds, models = KIND_NAMES, MODEL_NAMES

    def make(r: Any) -> dict[str, Any]:
        mat = mats.get(r[2]) or (f"material {r[2]}", "")
        char = r[3]
        node = {
            "batch_id": r[0], "kind": kinds[r[1]], "material_id": r[2], "material": mat[0], "unit": mat[1],
            "characteristic_id": char, "characteristic": (chars.get(char) or f"characteristic {char}") if char else None,
            "model_id": r[4], "model": models[r[4]], "share_ppm": r[5], "origin_batch_id": r[6] or None,
            "creator_id": r[7], "creator": parts.get(r[7]), "created_by": checksum(r[8]), "quantity": r[9],
            "tx_hash": r[12], "block_number": r[10], "log_index": r[11], "time": r[13],
        }
        if r[14] is not None:  # an origin batch (OriginRecorded, same transaction)
            node["site_id"] = r[14]
            node["site"] = sites.get(r[14])
            node["certification_id"] = r[15] or None
            node["geolocation_hash"] = r[16]
            node["dds_reference"] = r[17]
            node["evidence_hash"] = r[18]
            node["production_date"] = r[19]
        return node

    return make


def _node(m: Any, ref: Ref) -> dict[str, Any]:
    """A batch as the API shows it, from a mapping with ``_LIN_KEYS``."""
    return node_maker(ref)(tuple(m.get(k) for k in _LIN_KEYS))


def batch(conn: Connection, batch_id: int, ref: Ref | None = None) -> dict[str, Any] | None:
    """The batch itself: what it is, where it came from directly, who holds it now."""
    ref = ref or Ref.load(conn)
    row = conn.execute(text(f"SELECT {_BATCH_COLS}, {_ORIGIN_COLS} FROM idx_batches b "
                            "LEFT JOIN idx_origins o ON o.batch_id = b.batch_id WHERE b.batch_id = :id"),
                       {"id": batch_id}).first()
    if row is None:
        return None
    node = _node(dict(row._mapping), ref)
    node["parents"] = [{"batch_id": r.parent_id, "quantity": r.quantity} for r in conn.execute(
        text("SELECT parent_id, quantity FROM idx_edges WHERE child_id = :id ORDER BY position"), {"id": batch_id})]
    node["children"] = [{"batch_id": r.child_id, "quantity": r.quantity} for r in conn.execute(
        text("SELECT child_id, quantity FROM idx_edges WHERE parent_id = :id ORDER BY child_id"), {"id": batch_id})]
    tr = conn.execute(select(t.transforms).where(t.transforms.c.output_batch_id == batch_id)).first()
    if tr is not None:
        m = tr._mapping
        proc = ref.processes.get(m["process_id"], {})
        node["transform"] = {"process_id": m["process_id"], "process": proc.get("name"),
                             "factor_ppm": proc.get("factor"), "input_quantity": m["input_quantity"],
                             "output_quantity": m["output_quantity"], "loss": m["loss"],
                             "credits_converted": m["credits_converted"], "credits_produced": m["credits_produced"],
                             **fact(tr)}
    node["holders"] = holders(conn, "ledger", batch_id, ref)
    node["in_transit"] = sum(r.quantity for r in conn.execute(
        select(t.transfers.c.quantity).where(t.transfers.c.batch_id == batch_id, t.transfers.c.status == "pending")))
    node["consumed"] = [{"holder": ref.who(r.holder, r.block_number), "quantity": r.quantity,
                         "reason": CONSUME_REASONS[r.reason], "ref": r.ref, **fact(r)}
                        for r in conn.execute(select(t.consumptions).where(t.consumptions.c.batch_id == batch_id)
                                              .order_by(t.consumptions.c.block_number, t.consumptions.c.log_index))]
    return node


def holders(conn: Connection, contract: str, token_id: int, ref: Ref) -> list[dict[str, Any]]:
    """Current balances of a token (ERC-1155 moves summed), the ledger's in-transit escrow excluded."""
    bal: dict[str, int] = defaultdict(int)
    for r in conn.execute(select(t.token_moves.c.from_address, t.token_moves.c.to_address, t.token_moves.c.value)
                          .where(t.token_moves.c.contract == contract, t.token_moves.c.token_id == token_id)):
        if r.from_address != ZERO_ADDRESS:
            bal[r.from_address] -= r.value
        if r.to_address != ZERO_ADDRESS:
            bal[r.to_address] += r.value
    meta = {r.key: r.value for r in conn.execute(select(t.meta))}
    escrow = json.loads(meta.get("contracts", "{}")).get("ledger", "").lower()
    return [{**ref.who(a), "quantity": q} for a, q in sorted(bal.items()) if q > 0 and a != escrow]


# ---------------------------------------------------------------------- lineage
def _certifications(conn: Connection, ids: Iterable[int]) -> tuple[dict[int, dict], dict[int, list[dict]]]:
    ids = sorted({i for i in ids if i})
    if not ids:
        return {}, {}
    certs = {r.certification_id: dict(r._mapping) for r in conn.execute(
        select(t.certifications).where(t.certifications.c.certification_id.in_(ids)))}
    status: dict[int, list[dict]] = defaultdict(list)
    for r in conn.execute(select(t.certification_status).where(t.certification_status.c.certification_id.in_(ids))
                          .order_by(t.certification_status.c.block_number, t.certification_status.c.log_index)):
        status[r.certification_id].append(dict(r._mapping))
    return certs, status


def certification_at(cert: dict | None, history: list[dict], block: int, when: int, ref: Ref,
                     _base: dict | None = None) -> dict[str, Any] | None:
    """A certification as it stood at ``block`` (status from the status events up to that block)."""
    if cert is None:
        return None
    status = 1
    for s in history:
        if s["block_number"] <= block:
            status = s["status"]
    base = _base if _base is not None else _certification_base(cert, history, ref)
    return {**base, "status_at_time": CERT_STATUS[status],
            "valid_at_time": status == 1 and cert["valid_from"] <= when <= cert["valid_to"]}


def _certification_base(cert: dict, history: list[dict], ref: Ref) -> dict[str, Any]:
    now = history[-1]["status"] if history else 1
    return {
        "certification_id": cert["certification_id"],
        "scheme": cert["scheme"],
        "certificate_number": cert["certificate_number"],
        "holder_id": cert["holder"],
        "holder": ref.participant_name(cert["holder"]),
        "certifier_id": cert["certifier"],
        "certifier": ref.participant_name(cert["certifier"]),
        "valid_from": cert["valid_from"],
        "valid_to": cert["valid_to"],
        "models": [MODEL_NAMES[m] for m in range(1, 5) if (cert["models"] >> m) & 1],
        "status_now": CERT_STATUS[now],
        "recorded": {"tx_hash": cert["tx_hash"], "block_number": cert["block_number"]},
        "status_changes": [{"status": CERT_STATUS[s["status"]], "reason_hash": s["reason_hash"],
                            "tx_hash": s["tx_hash"], "block_number": s["block_number"], "time": s["block_time"]}
                           for s in history],
    }


def lineage(conn: Connection, batch_id: int, ref: Ref | None = None) -> dict[str, Any] | None:
    """The batch's full ancestry back to every origin batch, as objects (the compact answer of
    ``lineage.lineage_json`` expanded, so both carry the same facts).

    ``nodes``/``edges``: the ancestry graph (quantities on the edges). ``origins``: every origin batch
    in it with the quantity of it taken into this batch (``quantity_taken``, in the origin's unit)
    and the part of this batch it accounts for (``contribution`` in this batch's unit and
    ``contribution_percent``), both by proportional attribution through every split, merge and
    transform recorded on chain; its site, geolocation hash, DDS reference and evidence hash; the
    producer's certification as it stood at creation (details once in ``certifications``); one path
    from it to this batch (``path`` ids, ``path_models``) and the weakest model on any path.
    (``ref`` is accepted for callers that hold one; the answer needs no reference data.)
    """
    from .lineage import lineage_json  # noqa: PLC0415 - lineage imports this module

    body = lineage_json(conn, batch_id)
    return None if body is None else expand_lineage(json.loads(body))


def expand_lineage(ans: dict[str, Any]) -> dict[str, Any]:
    """The object form of a compact lineage answer (see ``lineage.lineage_json``)."""
    from .lineage import NODE_COLUMNS, node_dict  # noqa: PLC0415

    col = {c: i for i, c in enumerate(NODE_COLUMNS)}
    i_taken, i_contrib, i_weak, i_toward = (col["quantity_taken"], col["contribution"], col["weakest_model_id"],
                                            col["toward"])
    i_cid, i_status = col["certification_id"], col["certification_status_at_time"]
    batch_id = ans["batch_id"]
    rows = {r[0]: r for r in ans["nodes"]}
    nodes = {bid: node_dict(r) for bid, r in rows.items()}
    root_qty = float(rows[batch_id][col["quantity"]])
    paths: dict[int, tuple[list[int], list[str]]] = {batch_id: ([batch_id], [nodes[batch_id]["model"]])}

    def path_of(bid: int) -> tuple[list[int], list[str]]:
        chain = []
        cur = bid
        while cur not in paths:
            chain.append(cur)
            cur = rows[cur][i_toward]
        ids, models = paths[cur]
        for c in reversed(chain):
            ids, models = [c, *ids], [nodes[c]["model"], *models]
            paths[c] = (ids, models)
        return ids, models

    origins = []
    for bid, r in rows.items():
        if r[1] != "origin":
            continue
        ids, models = path_of(bid)
        o = dict(nodes[bid])
        cert = None
        if r[i_cid] is not None and r[i_status] is not None:
            cert = {"certification_id": r[i_cid], "scheme": r[i_cid + 1], "certificate_number": r[i_cid + 2],
                    "status_at_time": r[i_status], "valid_at_time": r[i_status + 1]}
        o["producer"] = o["creator"]
        o["quantity_taken"] = round(float(r[i_taken]), 6)
        o["contribution"] = round(float(r[i_contrib]), 6)
        o["contribution_percent"] = percent_of(float(r[i_contrib]), root_qty)
        o["certification_at_creation"] = cert
        o["path"] = ids
        o["path_models"] = models
        o["weakest_model_on_paths"] = MODEL_NAMES[r[i_weak]]
        origins.append(o)
    return {
        "batch_id": batch_id,
        "batch": nodes[batch_id],
        "ancestor_count": ans["ancestor_count"],
        "nodes": list(nodes.values()),
        "edges": [{"child_id": c, "parent_id": p, "quantity": q} for c, p, q in ans["edges"]],
        "origins": origins,
        "certifications": {int(k): v for k, v in ans["certifications"].items()},
    }


def descendants(conn: Connection, batch_id: int, ref: Ref | None = None) -> dict[str, Any]:
    ref = ref or Ref.load(conn)
    make = node_maker(ref)
    nodes = [make(r) for r in conn.execute(text(
        f"{_DESCENDANTS_CTE} SELECT {_LIN_COLS} FROM des JOIN idx_batches b ON b.batch_id = des.id "
        "LEFT JOIN idx_origins o ON o.batch_id = b.batch_id ORDER BY b.batch_id"), {"root": batch_id}).fetchall()]
    edges = [dict(r._mapping) for r in conn.execute(text(
        f"{_DESCENDANTS_CTE}, n(id) AS (SELECT id FROM des UNION SELECT :root) "
        "SELECT e.child_id, e.parent_id, e.quantity FROM n JOIN idx_edges e ON e.parent_id = n.id "
        "ORDER BY e.child_id, e.position"), {"root": batch_id})]
    return {"batch_id": batch_id, "descendant_count": len(nodes), "nodes": nodes, "edges": edges}


# ---------------------------------------------------------------------- custody
def _transfer(r: Any, ref: Ref) -> dict[str, Any]:
    m = r._mapping
    out = {
        "transfer_id": m["transfer_id"],
        "batch_id": m["batch_id"],
        "status": m["status"],
        "signer": ref.who(m["from_address"], m["proposed_block"]),
        "receiver": ref.who(m["to_address"], m["proposed_block"]),
        "quantity": m["quantity"],
        "certified_quantity": m["certified_quantity"],
        "declaration": m["certified_quantity"] > 0,
        "nonce": m["nonce"],
        "deadline": m["deadline"],
        "sender_signature": m["signature"],
        "proposed": {"tx_hash": m["proposed_tx"], "block_number": m["proposed_block"], "time": m["proposed_time"],
                     "log_index": m["proposed_log_index"]},
        "settled": None,
    }
    if m["settled_tx"] is not None:
        out["settled"] = {"tx_hash": m["settled_tx"], "block_number": m["settled_block"], "time": m["settled_time"],
                          "log_index": m["settled_log_index"], "signature": m["settle_signature"],
                          "signed_by": out["receiver"] if m["status"] != "cancelled" else out["signer"]}
    return out


def custody(conn: Connection, batch_id: int, *, with_ancestors: bool = True, ref: Ref | None = None) -> list[dict[str, Any]]:
    """Every custody transfer of the batch (and of its ancestors), in chain order: who signed it
    away, who received it, when, and the transactions."""
    ref = ref or Ref.load(conn)
    if with_ancestors:
        q = text(f"{_ANCESTORS_CTE}, n(id) AS (SELECT id FROM anc UNION SELECT :root) "
                 "SELECT tr.* FROM n JOIN idx_transfers tr ON tr.batch_id = n.id "
                 "ORDER BY tr.proposed_block, tr.proposed_log_index")
    else:
        q = text("SELECT * FROM idx_transfers WHERE batch_id = :root ORDER BY proposed_block, proposed_log_index")
    return [_transfer(r, ref) for r in conn.execute(q, {"root": batch_id})]


# ---------------------------------------------------------------------- book & claim
def _issuance(r: Any, ref: Ref) -> dict[str, Any]:
    m = r._mapping
    return {
        "certificate_id": m["certificate_id"], "issuer_id": m["issuer"], "issuer": ref.participant_name(m["issuer"]),
        "producer_id": m["producer"], "producer": ref.participant_name(m["producer"]),
        "issued_to": ref.who(m["to_address"], m["block_number"]), "amount": m["amount"],
        "unit_size": m["unit_size"], "unit_label": m["unit_label"], "material_id": m["material"],
        "material": ref.material_name(m["material"]), "characteristic_id": m["characteristic"],
        "characteristic": ref.characteristic_name(m["characteristic"]), "period_start": m["period_start"],
        "period_end": m["period_end"], "evidence_hash": m["evidence_hash"], "pledge_id": m["pledge_id"] or None,
        **fact(r),
    }


def _retirement(r: Any, ref: Ref) -> dict[str, Any]:
    m = r._mapping
    return {"retirement_id": m["retirement_id"], "certificate_id": m["certificate_id"],
            "holder": ref.who(m["holder"], m["block_number"]), "retired_by_id": m["retired_by"],
            "retired_by": ref.participant_name(m["retired_by"]), "amount": m["amount"],
            "beneficiary": m["beneficiary"], "period_start": m["period_start"], "period_end": m["period_end"],
            "purpose_hash": m["purpose_hash"], **fact(r)}


def _pledge(r: Any, ref: Ref) -> dict[str, Any]:
    m = r._mapping
    return {"pledge_id": m["pledge_id"], "producer_id": m["producer"], "producer": ref.participant_name(m["producer"]),
            "holder": ref.who(m["holder"], m["block_number"]), "source": SOURCE_NAMES[m["source"]],
            "material": ref.material_name(m["material"]), "characteristic": ref.characteristic_name(m["characteristic"]),
            "quantity": m["quantity"], "batch_id": m["batch_id"] or None,
            "released_batch_id": m["released_batch_id"] or None, **fact(r)}


def book_and_claim(conn: Connection, batch_id: int, ref: Ref | None = None) -> list[dict[str, Any]]:
    """Book & claim certificates tied to this token: pledges of this batch itself, and pledges whose
    released (now uncertified) batch lies in its ancestry; with the certificates issued from those
    pledges and their retirements."""
    ref = ref or Ref.load(conn)
    q = text(f"{_ANCESTORS_CTE}, n(id) AS (SELECT id FROM anc UNION SELECT :root) "
             "SELECT p.* FROM idx_pledges p WHERE p.batch_id = :root "
             "OR (p.released_batch_id <> 0 AND p.released_batch_id IN (SELECT id FROM n)) ORDER BY p.pledge_id")
    out = []
    for r in conn.execute(q, {"root": batch_id}):
        item = _pledge(r, ref)
        item["certificates"] = []
        for c in conn.execute(select(t.issuances).where(t.issuances.c.pledge_id == r.pledge_id)):
            cert = _issuance(c, ref)
            cert["retirements"] = [_retirement(x, ref) for x in conn.execute(
                select(t.retirements).where(t.retirements.c.certificate_id == c.certificate_id)
                .order_by(t.retirements.c.block_number, t.retirements.c.log_index))]
            rev = conn.execute(select(t.revocations).where(t.revocations.c.certificate_id == c.certificate_id)).first()
            cert["revoked"] = None if rev is None else {"outstanding": rev.outstanding, "reason_hash": rev.reason_hash,
                                                        **fact(rev)}
            item["certificates"].append(cert)
        out.append(item)
    return out


# ---------------------------------------------------------------------- the whole answer
def provenance(conn: Connection, batch_id: int) -> dict[str, Any] | None:
    """Everything a brand needs about a token, in one answer (claim included)."""
    from .claims import supported_claim  # noqa: PLC0415 - claims imports this module

    ref = Ref.load(conn)
    b = batch(conn, batch_id, ref)
    if b is None:
        return None
    lin = lineage(conn, batch_id, ref)
    assert lin is not None
    cust = custody(conn, batch_id, ref=ref)
    bc = book_and_claim(conn, batch_id, ref)
    desc = descendants(conn, batch_id, ref)
    claim = supported_claim(b, lin, cust, bc, ref)
    facts = _facts(b, lin, cust, bc)
    return {"chain_id": ref.chain_id, "batch": b, "lineage": lin, "descendants": desc, "custody": cust,
            "book_and_claim": bc, "claim": claim, "facts": facts}


def _facts(b: dict, lin: dict, cust: list, bc: list) -> list[dict[str, Any]]:
    """Every transaction the answer rests on, once, in chain order."""
    seen: dict[str, dict[str, Any]] = {}

    def add(tx: str | None, block: int | None, what: str) -> None:
        if tx is None:
            return
        f = seen.setdefault(tx, {"tx_hash": tx, "block_number": block, "facts": []})
        if what not in f["facts"]:
            f["facts"].append(what)

    for n in lin["nodes"]:
        add(n["tx_hash"], n["block_number"], f"batch #{n['batch_id']} created ({n['kind']})")
    if "transform" in b:
        add(b["transform"]["tx_hash"], b["transform"]["block_number"], f"transform into #{b['batch_id']}")
    for c in lin["certifications"].values():
        add(c["recorded"]["tx_hash"], c["recorded"]["block_number"], f"certification {c['certificate_number']} recorded")
    for tr in cust:
        add(tr["proposed"]["tx_hash"], tr["proposed"]["block_number"], f"custody of #{tr['batch_id']} signed over")
        if tr["settled"]:
            add(tr["settled"]["tx_hash"], tr["settled"]["block_number"], f"custody of #{tr['batch_id']} {tr['status']}")
    for p in bc:
        add(p["tx_hash"], p["block_number"], f"pledge {p['pledge_id']}")
        for c in p["certificates"]:
            add(c["tx_hash"], c["block_number"], f"certificate {c['certificate_id']} issued")
            for r in c["retirements"]:
                add(r["tx_hash"], r["block_number"], f"retirement {r['retirement_id']}")
    for c in b["consumed"]:
        add(c["tx_hash"], c["block_number"], f"#{b['batch_id']} consumed")
    return sorted(seen.values(), key=lambda f: f["block_number"] or 0)


# ---------------------------------------------------------------------- participants
_STATEMENT_FIELD = {0: "inflow", 1: "outflow", 2: "converted_in", 3: "converted_out", 4: "lapsed"}


def _statements(bookings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per balancing period with activity: opening, inflow, conversions, outflow, lapse, closing."""
    out: list[dict[str, Any]] = []
    prev_balance = 0
    cur: dict[str, Any] | None = None
    for b in bookings:
        if cur is None or cur["period"] != b["period"]:
            cur = {"period": b["period"], "opening": prev_balance, "inflow": 0, "converted_in": 0, "outflow": 0,
                   "converted_out": 0, "lapsed": 0, "closing": prev_balance, "bookings": 0}
            out.append(cur)
        cur[_STATEMENT_FIELD[b["entry"]]] += b["amount"]
        cur["closing"] = b["balance"]
        cur["bookings"] += 1
        prev_balance = b["balance"]
    return out


def accounts_of(conn: Connection, participant_id: int, ref: Ref) -> list[dict[str, Any]]:
    out = []
    for a in conn.execute(select(t.accounts).where(t.accounts.c.participant_id == participant_id)
                          .order_by(t.accounts.c.block_number, t.accounts.c.log_index)):
        bookings = [dict(r._mapping) for r in conn.execute(
            select(t.credit_bookings).where(t.credit_bookings.c.account == a.account)
            .order_by(t.credit_bookings.c.block_number, t.credit_bookings.c.log_index))]
        closings = [dict(r._mapping) for r in conn.execute(
            select(t.period_closings).where(t.period_closings.c.account == a.account)
            .order_by(t.period_closings.c.block_number, t.period_closings.c.log_index))]
        out.append({
            "account": a.account, "site_id": a.site_id, "site": ref.site_name(a.site_id),
            "material": ref.material_name(a.material), "material_id": a.material, "unit": ref.unit(a.material),
            "characteristic": ref.characteristic_name(a.characteristic), "characteristic_id": a.characteristic,
            "scheme": ref.schemes.get(a.scheme, {}).get("name"), "period_length": a.period_length,
            "anchor": a.anchor, "lapse_after_periods": a.lapse_after_periods,
            "balance": bookings[-1]["balance"] if bookings else 0,
            "opened": fact(a),
            "statements": _statements(bookings),
            "closed_periods": [{k: c[k] for k in ("period", "opening", "inflow", "converted_in", "outflow",
                                                  "converted_out", "lapsed", "closing", "tx_hash", "block_number")}
                               for c in closings],
            "bookings": [{"period": b["period"], "entry": ENTRY_NAMES[b["entry"]], "reason": REASON_NAMES[b["reason"]],
                          "amount": b["amount"], "balance": b["balance"], "ref": b["ref"], **fact(b)} for b in bookings],
        })
    return out


def _balances(conn: Connection, contract: str, addresses: list[str]) -> dict[tuple[str, int], int]:
    bal: dict[tuple[str, int], int] = defaultdict(int)
    if not addresses:
        return {}
    m = t.token_moves.c
    for r in conn.execute(select(m.to_address, m.token_id, m.value).where(m.contract == contract, m.to_address.in_(addresses))):
        bal[(r.to_address, r.token_id)] += r.value
    for r in conn.execute(select(m.from_address, m.token_id, m.value).where(m.contract == contract, m.from_address.in_(addresses))):
        bal[(r.from_address, r.token_id)] -= r.value
    return {k: v for k, v in bal.items() if v > 0}


def participant(conn: Connection, participant_id: int) -> dict[str, Any] | None:
    """A participant: its sites and wallets, batches held, in transit, credit accounts with
    period statements, certificates held and retired, certifications."""
    head = conn.execute(select(func.max(t.events.c.block_number), func.max(t.events.c.block_time))).first()
    as_of_block, as_of_time = (head[0] or 0), (head[1] or 0)
    ref = Ref.load(conn)
    p = ref.participants.get(participant_id)
    if p is None:
        return None
    wallets = ref.wallets_of(participant_id)
    held = []
    batch_rows = {}
    bal = _balances(conn, "ledger", wallets)
    if bal:
        ids = sorted({k[1] for k in bal})
        batch_rows = {r.batch_id: dict(r._mapping) for r in conn.execute(select(t.batches).where(t.batches.c.batch_id.in_(ids)))}
    for (addr, bid), q in sorted(bal.items(), key=lambda kv: kv[0][1]):
        b = batch_rows[bid]
        held.append({"batch_id": bid, "wallet": checksum(addr), "quantity": q, "material": ref.material_name(b["material"]),
                     "unit": ref.unit(b["material"]), "model": MODEL_NAMES[b["model"]],
                     "characteristic": ref.characteristic_name(b["characteristic"]), "share_ppm": b["share"]})
    tr = t.transfers.c
    outgoing = [_transfer(r, ref) for r in conn.execute(select(t.transfers).where(
        tr.status == "pending", tr.from_address.in_(wallets)).order_by(tr.proposed_block))] if wallets else []
    incoming = [_transfer(r, ref) for r in conn.execute(select(t.transfers).where(
        tr.status == "pending", tr.to_address.in_(wallets)).order_by(tr.proposed_block))] if wallets else []
    certs_held = [{"certificate_id": cid, "wallet": checksum(a), "units": q}
                  for (a, cid), q in sorted(_balances(conn, "certificates", wallets).items(), key=lambda kv: kv[0][1])]
    retired = [_retirement(r, ref) for r in conn.execute(select(t.retirements).where(
        t.retirements.c.retired_by == participant_id).order_by(t.retirements.c.block_number))]
    cert_rows = [dict(r._mapping) for r in conn.execute(select(t.certifications).where(
        t.certifications.c.holder == participant_id).order_by(t.certifications.c.certification_id))]
    _, status = _certifications(conn, [c["certification_id"] for c in cert_rows])
    return {
        "participant_id": participant_id,
        "name": p["name"],
        "roles": [n for bit, n in ROLE_NAMES.items() if p["roles"] & bit],
        "status": PARTICIPANT_STATUS[p["status"]],
        "registered": fact(p),
        "sites": [{"site_id": s["site_id"], "name": s["name"], "location_ref": s["location_ref"]}
                  for s in ref.sites.values() if s["participant_id"] == participant_id],
        "wallets": [checksum(a) for a in wallets],
        "batches_held": held,
        "in_transit": {"outgoing": outgoing, "incoming": incoming},
        "credit_accounts": accounts_of(conn, participant_id, ref),
        "certificates_held": certs_held,
        "retirements": retired,
        # Status and validity as of the last indexed block: the index answers for what it has seen.
        "certifications": [certification_at(c, status.get(c["certification_id"], []), as_of_block, as_of_time, ref)
                           for c in cert_rows],
        "as_of": {"block_number": as_of_block, "time": as_of_time},
    }


# ---------------------------------------------------------------------- certificates
def certificate(conn: Connection, certificate_id: int) -> dict[str, Any] | None:
    """A book & claim issuance: issuance, the pledge behind it, holders over time, retirements."""
    ref = Ref.load(conn)
    r = conn.execute(select(t.issuances).where(t.issuances.c.certificate_id == certificate_id)).first()
    if r is None:
        return None
    out = _issuance(r, ref)
    if r.pledge_id:
        p = conn.execute(select(t.pledges).where(t.pledges.c.pledge_id == r.pledge_id)).first()
        out["pledge"] = _pledge(p, ref) if p is not None else None
    m = t.token_moves.c
    history = []
    bal: dict[str, int] = defaultdict(int)
    for mv in conn.execute(select(t.token_moves).where(m.contract == "certificates", m.token_id == certificate_id)
                           .order_by(m.block_number, m.log_index, m.position)):
        if mv.from_address != ZERO_ADDRESS:
            bal[mv.from_address] -= mv.value
        if mv.to_address != ZERO_ADDRESS:
            bal[mv.to_address] += mv.value
        kind = "issued" if mv.from_address == ZERO_ADDRESS else "retired" if mv.to_address == ZERO_ADDRESS else "transferred"
        history.append({"kind": kind, "from": None if mv.from_address == ZERO_ADDRESS else ref.who(mv.from_address, mv.block_number),
                        "to": None if mv.to_address == ZERO_ADDRESS else ref.who(mv.to_address, mv.block_number),
                        "units": mv.value, "holders_after": {checksum(a): q for a, q in bal.items() if q > 0},
                        **fact(mv)})
    out["holders_over_time"] = history
    out["holders"] = [{**ref.who(a), "units": q} for a, q in sorted(bal.items()) if q > 0]
    out["retirements"] = [_retirement(x, ref) for x in conn.execute(
        select(t.retirements).where(t.retirements.c.certificate_id == certificate_id)
        .order_by(t.retirements.c.block_number, t.retirements.c.log_index))]
    out["retired"] = sum(x["amount"] for x in out["retirements"])
    rev = conn.execute(select(t.revocations).where(t.revocations.c.certificate_id == certificate_id)).first()
    out["revoked"] = None if rev is None else {"outstanding": rev.outstanding, "reason_hash": rev.reason_hash, **fact(rev)}
    return out


# ---------------------------------------------------------------------- transactions
def tx_facts(conn: Connection, tx_hash: str) -> dict[str, Any] | None:
    rows = conn.execute(select(t.events).where(t.events.c.tx_hash == tx_hash.lower())
                        .order_by(t.events.c.log_index)).all()
    if not rows:
        return None
    return {"tx_hash": tx_hash.lower(), "block_number": rows[0].block_number, "time": rows[0].block_time,
            "events": [{"log_index": r.log_index, "contract": r.contract, "event": r.name, "args": json.loads(r.args)}
                       for r in rows]}
