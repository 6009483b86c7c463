"""``coc``'s tables, for people: organisations, materials and characteristics by name, quantities in the
material's registered unit, dates instead of unix times; an empty table says why and what to do."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from ..clear_signing.words import date_words, quantity_words
from ..domain import BatchKind, Model
from .client import NodeClient, NodeError

console = Console()


class RegistryNames:
    """The node's registry names (GET /registry/names), fetched once per command."""

    def __init__(self, c: NodeClient):
        self.c = c
        self._data: dict[str, Any] | None = None
        self._wallets: dict[str, str] = {}

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            try:
                self._data = self.c.get("registry/names")
            except NodeError:  # an older node: ids it is
                self._data = {}
        return self._data

    def _get(self, table: str, i: Any) -> Any:
        return self.data.get(table, {}).get(str(i))

    def participant(self, pid: int) -> str:
        return self._get("participants", pid) or f"participant {pid}"

    def material(self, mid: int) -> str:
        m = self._get("materials", mid)
        return m["name"] if m else f"material {mid}"

    def unit(self, mid: int) -> str | None:
        m = self._get("materials", mid)
        return m["unit"] if m else None

    def quantity(self, q: int, mid: int) -> str:
        return quantity_words(int(q), self.unit(mid))

    def characteristic(self, cid: int) -> str:
        if not cid:
            return "uncertified"
        ch = self._get("characteristics", cid)
        if not ch:
            return f"characteristic {cid}"
        scheme = self._get("schemes", ch["schemeId"])
        return f"{ch['name']} ({scheme})" if scheme else ch["name"]

    def wallet(self, address: str) -> str:
        if address not in self._wallets:
            try:
                w = self.c.get(f"participants/wallets/{address}")
                name = w.get("name") or self.participant(w["participantId"])
                self._wallets[address] = name + (f", {w['siteName']}" if w.get("siteName") else "")
            except NodeError:
                self._wallets[address] = f"{address} (not registered)"
        return self._wallets[address]


def who(c: NodeClient, address: str) -> tuple[str, str | None]:
    """(title part naming the wallet's organisation, hint when the wallet is not registered)."""
    try:
        w = c.get(f"participants/wallets/{address}")
    except NodeError as exc:
        if exc.error in ("RegistryUnknownWallet",) or exc.status in (403, 404):
            return address, (f"wallet {address} is not registered with any participant of this consortium: send this "
                             "address to the consortium administrator, who binds it to your organisation and site "
                             "(participants/add-wallet); see \"Join a consortium\" in the README")
        raise
    name = w.get("name") or f"participant {w['participantId']}"
    site = f" at {w['siteName']}" if w.get("siteName") else " (no site)"
    return f"{name}{site} ({address})", None


def _render(args: argparse.Namespace, c: NodeClient, data: dict[str, Any], rows_key: str, title: str,
            columns: tuple[str, ...], row: Callable[[dict[str, Any]], tuple[str, ...]], empty: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return
    label, hint = who(c, data["address"])
    t = Table(title=title.format(who=label))
    for col in columns:
        t.add_column(col, overflow="fold")
    for item in data[rows_key]:
        t.add_row(*row(item))
    console.print(t)
    if not data[rows_key]:
        console.print(hint or empty)


def cmd_batches(args: argparse.Namespace, c: NodeClient, address: str) -> int:
    data = c.get(f"participants/{address}/batches")
    n = RegistryNames(c)
    _render(args, c, data, "batches", "batches held by {who}",
            ("batch", "material", "quantity", "characteristic", "model", "kind", "created"),
            lambda b: (str(b["batchId"]), n.material(b["material"]), n.quantity(b["quantity"], b["material"]),
                       n.characteristic(b["characteristic"]), b.get("modelName") or Model(b["model"]).label,
                       _kind(b["kind"]), date_words(b["createdAt"]) if b.get("createdAt") else ""),
            "no batches held: create an origin batch (coc do batches/create ...) or accept a transfer (coc pending)")
    return 0


def cmd_pending(args: argparse.Namespace, c: NodeClient, address: str) -> int:
    data = c.get(f"participants/{address}/transfers")
    n = RegistryNames(c)
    materials: dict[int, int] = {}

    def material_of(batch_id: int) -> int:
        if batch_id not in materials:
            materials[batch_id] = c.get(f"batches/{batch_id}")["material"]
        return materials[batch_id]

    def row(x: dict[str, Any]) -> tuple[str, ...]:
        m = material_of(x["batchId"])
        return (x["transferId"], n.wallet(x["from"]), f"batch {x['batchId']}: {n.material(m)}",
                n.quantity(x["quantity"], m), n.quantity(x["certifiedQuantity"], m), date_words(x["deadline"]))

    _render(args, c, data, "incoming", "transfers waiting for {who} to accept",
            ("transfer", "from", "batch", "quantity", "declared certified", "offer valid until"), row,
            "nothing waiting for acceptance")
    return 0


def cmd_credits(args: argparse.Namespace, c: NodeClient, address: str) -> int:
    data = c.get(f"participants/{address}/credits")
    n = RegistryNames(c)
    _render(args, c, data, "accounts", "mass-balance credits of the site of {who}",
            ("material", "characteristic", "balance", "account"),
            lambda a: (n.material(a["material"]), n.characteristic(a["characteristic"]),
                       n.quantity(a["balance"], a["material"]), a["account"]),
            "no credit accounts: credits come with certified mass-balance batches created or received at this site")
    return 0


def cmd_certificates(args: argparse.Namespace, c: NodeClient, address: str) -> int:
    data = c.get(f"participants/{address}/certificates")
    n = RegistryNames(c)
    _render(args, c, data, "certificates", "certificates held by {who}",
            ("certificate", "units held", "each unit", "material", "characteristic", "production period", "revoked"),
            lambda x: (str(x["certificateId"]), f"{x['amount']:,}", f"{x.get('unitLabel', '')} "
                       f"({n.quantity(x.get('unitSize', 0), x['material'])})", n.material(x["material"]),
                       n.characteristic(x["characteristic"]),
                       f"{date_words(x['periodStart'])} to {date_words(x['periodEnd'])}" if "periodStart" in x else "",
                       "yes" if x.get("revoked") else "no"),
            "no certificates held")
    return 0


def _kind(k: int) -> str:
    try:
        return BatchKind(int(k)).label
    except ValueError:
        return str(k)
