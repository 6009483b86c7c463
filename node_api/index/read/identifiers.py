"""GS1 identifiers bound to a token (ProductIdentifierBound of contract ProductIdentifiers, issue 14), read from
the verbatim event table: what the passport shows beside its QR code. The node's resolver reads the same
bindings from the contract's views (node_api.digital_link.bindings)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.engine import Connection

from .. import schema as t

_AI = {0: ("lot", "10"), 1: ("serial", "21")}


def identifiers(conn: Connection, batch_id: int) -> list[dict[str, Any]]:
    """The token's GS1 identifiers, in binding order, each with its event."""
    ev = t.events.c
    out = []
    for r in conn.execute(select(t.events).where(ev.contract == "identifiers", ev.name == "ProductIdentifierBound")
                          .order_by(ev.block_number, ev.log_index)):
        a = json.loads(r.args)
        if int(a["batchId"]) != batch_id:
            continue
        kind, ai = _AI[int(a["kind"])]
        gtin = str(int(a["gtin"])).zfill(14)
        out.append({"gtin": gtin, "kind": kind, "ai": ai, "value": a["value"],
                    "path": f"/01/{gtin}/{ai}/{quote(str(a['value']), safe='')}", "bound_by": a["by"],
                    "tx_hash": r.tx_hash, "block_number": r.block_number, "log_index": r.log_index})
    return out


def digital_link(conn: Connection, batch_id: int) -> dict[str, Any]:
    """The passport's GS1 Digital Link section: identifiers, the QR code and the product page (paths on this
    node; the QR code carries the first identifier's Digital Link URI, or the product page without one)."""
    ids = identifiers(conn, batch_id)
    return {"identifiers": ids, "digital_link_path": ids[0]["path"] if ids else None,
            "qr_code": f"/products/{batch_id}/qr.svg", "product_page": f"/app/products/{batch_id}",
            "declarations": f"/products/{batch_id}/declarations", "dds": f"/products/{batch_id}/dds"}
