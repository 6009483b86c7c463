"""Mass-balance credit accounts (MassBalance events): bookings, balances, and a statement per
balancing period with activity."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from node_api.domain import CreditEntry

from .. import schema as t
from ..spelling import entry_name, reason_name
from .common import fact
from .reference import Reference

#: The statement line a booking adds to.
_STATEMENT_LINE = {CreditEntry.IN: "inflow", CreditEntry.OUT: "outflow", CreditEntry.CONVERTED_IN: "converted_in",
                   CreditEntry.CONVERTED_OUT: "converted_out", CreditEntry.LAPSED: "lapsed"}
#: The columns of a PeriodClosed row shown in ``closed_periods``.
_CLOSING_COLUMNS = ("period", "opening", "inflow", "converted_in", "outflow", "converted_out", "lapsed", "closing",
                    "tx_hash", "block_number")


def statements(bookings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per balancing period with activity: opening, inflow, conversions, outflow, lapse, closing."""
    out: list[dict[str, Any]] = []
    prev_balance = 0
    cur: dict[str, Any] | None = None
    for b in bookings:
        if cur is None or cur["period"] != b["period"]:
            cur = {"period": b["period"], "opening": prev_balance, "inflow": 0, "converted_in": 0, "outflow": 0,
                   "converted_out": 0, "lapsed": 0, "closing": prev_balance, "bookings": 0}
            out.append(cur)
        cur[_STATEMENT_LINE[CreditEntry(b["entry"])]] += b["amount"]
        cur["closing"] = b["balance"]
        cur["bookings"] += 1
        prev_balance = b["balance"]
    return out


def accounts_of(conn: Connection, participant_id: int, ref: Reference) -> list[dict[str, Any]]:
    """A participant's credit accounts, in the order they were opened."""
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
            "scheme": ref.scheme_name(a.scheme), "period_length": a.period_length,
            "anchor": a.anchor, "lapse_after_periods": a.lapse_after_periods,
            "balance": bookings[-1]["balance"] if bookings else 0,
            "opened": fact(a),
            "statements": statements(bookings),
            "closed_periods": [{k: c[k] for k in _CLOSING_COLUMNS} for c in closings],
            "bookings": [{"period": b["period"], "entry": entry_name(b["entry"]), "reason": reason_name(b["reason"]),
                          "amount": b["amount"], "balance": b["balance"], "ref": b["ref"], **fact(b)} for b in bookings],
        })
    return out
