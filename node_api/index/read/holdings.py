"""ERC-1155 balances from the recorded token moves (``idx_token_moves``): holders of one token, or
the tokens a set of wallets holds. The ledger's own address holds batches in transit (escrow)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from .. import schema as t
from .common import ZERO_ADDRESS
from .reference import Reference


def holders(conn: Connection, contract: str, token_id: int, ref: Reference) -> list[dict[str, Any]]:
    """Current balances of a token (moves summed), the ledger's in-transit escrow excluded."""
    m = t.token_moves.c
    bal: dict[str, int] = defaultdict(int)
    for r in conn.execute(select(m.from_address, m.to_address, m.value)
                          .where(m.contract == contract, m.token_id == token_id)):
        if r.from_address != ZERO_ADDRESS:
            bal[r.from_address] -= r.value
        if r.to_address != ZERO_ADDRESS:
            bal[r.to_address] += r.value
    escrow = ref.ledger
    return [{**ref.who(a), "quantity": q} for a, q in sorted(bal.items()) if q > 0 and a != escrow]


def balances(conn: Connection, contract: str, addresses: list[str]) -> dict[tuple[str, int], int]:
    """{(wallet, token id): balance > 0} of ``contract``'s tokens held by ``addresses``."""
    bal: dict[tuple[str, int], int] = defaultdict(int)
    if not addresses:
        return {}
    m = t.token_moves.c
    for r in conn.execute(select(m.to_address, m.token_id, m.value).where(m.contract == contract, m.to_address.in_(addresses))):
        bal[(r.to_address, r.token_id)] += r.value
    for r in conn.execute(select(m.from_address, m.token_id, m.value).where(m.contract == contract, m.from_address.in_(addresses))):
        bal[(r.from_address, r.token_id)] -= r.value
    return {k: v for k, v in bal.items() if v > 0}
