"""Top of the read side: everything a brand needs about a token in one answer (the batch, its
lineage, descendants, custody, book & claim, the claim it supports, every transaction it rests on),
and the product passport made from it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from .. import schema as t
from .batches import batch, descendants
from .certificates import book_and_claim
from .claims import supported_claim
from .custody import custody
from .identifiers import digital_link
from .lineage import lineage
from .passport import passport_of
from .reference import reference


def provenance(conn: Connection, batch_id: int) -> dict[str, Any] | None:
    """Everything a brand needs about a token, in one answer (claim included)."""
    ref = reference(conn)
    b = batch(conn, batch_id, ref)
    if b is None:
        return None
    lin = lineage(conn, batch_id, ref)
    assert lin is not None
    cust = custody(conn, batch_id, ref)
    bc = book_and_claim(conn, batch_id, ref)
    desc = descendants(conn, batch_id, ref)
    claim = supported_claim(b, lin, cust, bc, ref, desc)
    return {"chain_id": ref.chain_id, "batch": b, "lineage": lin, "descendants": desc, "custody": cust,
            "book_and_claim": bc, "claim": claim, "facts": facts(b, lin, cust, bc)}


def passport(conn: Connection, batch_id: int) -> dict[str, Any] | None:
    """A Digital Product Passport style answer for a token (node_api.index.read.passport)."""
    p = provenance(conn, batch_id)
    if p is None:
        return None
    meta = t.read_meta(conn)
    ledger = reference(conn).contracts.get("ledger", "0x0").lower()
    doc = passport_of(p, ledger, int(meta["last_block"]) if "last_block" in meta else None)
    doc["digital_link"] = digital_link(conn, batch_id)  # GS1 identifiers and the QR code (issue 14)
    return doc


def facts(b: dict, lin: dict, cust: list, bc: list) -> list[dict[str, Any]]:
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
