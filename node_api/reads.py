"""Minimal reads for a participant's own view (held batches, transfers awaiting it, credits,
certificates), computed from contract views and events (eth_getLogs). The rich provenance index
lives in node_api/index/; these exist so the supplier's CLI works against any node."""

from __future__ import annotations

import asyncio
from typing import Any

from eth_utils import to_checksum_address

from .errors import MODELS, TRANSFER_STATUS
from .service import Node


def _topic_address(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


async def held_batches(node: Node, address: str) -> list[dict[str, Any]]:
    address = to_checksum_address(address)
    logs = await node.logs("BatchLedger", "TransferSingle", None, None, _topic_address(address))
    ids = sorted({lg["args"]["id"] for lg in logs})
    if not ids:
        return []
    balances = await node.view("BatchLedger", "balanceOfBatch", [address] * len(ids), ids)
    held = [(i, b) for i, b in zip(ids, balances) if b > 0]
    infos = await asyncio.gather(*(node.view("BatchLedger", "batch", i) for i, _ in held))
    out = []
    for (i, bal), b in zip(held, infos):
        out.append({"batchId": i, "quantity": bal, **b, "modelName": MODELS[b["model"]]})
    return out


async def transfers(node: Node, address: str) -> dict[str, list[dict[str, Any]]]:
    """Pending custody transfers waiting for ``address`` (incoming) or sent by it (outgoing)."""
    address = to_checksum_address(address)
    proposed = await node.logs("BatchLedger", "CustodyProposed")
    mine = [p for p in proposed if address in (p["args"]["to"], p["args"]["from"])]
    statuses = await asyncio.gather(*(node.view("BatchLedger", "transferStatus", p["args"]["transferId"]) for p in mine))
    incoming, outgoing = [], []
    for p, st in zip(mine, statuses):
        if st != 1:
            continue
        a = p["args"]
        item = {k: a[k] for k in ("transferId", "batchId", "from", "to", "quantity", "certifiedQuantity", "nonce", "deadline")}
        item["status"] = TRANSFER_STATUS[st]
        (incoming if a["to"] == address else outgoing).append(item)
    return {"incoming": incoming, "outgoing": outgoing}


async def credits(node: Node, address: str) -> list[dict[str, Any]]:
    address = to_checksum_address(address)
    w = await node.view("ParticipantRegistry", "wallet", address)
    if not w["participantId"]:
        return []
    opened = await node.logs("MassBalance", "AccountOpened", None, "0x" + int(w["participantId"]).to_bytes(32, "big").hex())
    accounts = [o["args"] for o in opened if o["args"]["siteId"] == w["siteId"]]
    balances = await asyncio.gather(*(node.view("MassBalance", "balanceOf", a["account"]) for a in accounts))
    return [
        {"account": a["account"], "siteId": a["siteId"], "material": a["material"], "characteristic": a["characteristic"],
         "scheme": a["scheme"], "balance": bal}
        for a, bal in zip(accounts, balances)
    ]


async def certificates_held(node: Node, address: str) -> list[dict[str, Any]]:
    address = to_checksum_address(address)
    logs = await node.logs("CertificateRegistry", "TransferSingle", None, None, _topic_address(address))
    ids = sorted({lg["args"]["id"] for lg in logs})
    if not ids:
        return []
    balances = await node.view("CertificateRegistry", "balanceOfBatch", [address] * len(ids), ids)
    out = []
    for i, bal in zip(ids, balances):
        if bal > 0:
            iss = await node.view("CertificateRegistry", "issuance", i)
            out.append({"certificateId": i, **iss["out0"], **{k: v for k, v in iss["out1"].items() if k != "amount"},
                        "issued": iss["out1"]["amount"], "amount": bal})
    return out


async def batch(node: Node, batch_id: int) -> dict[str, Any]:
    b, parents, origin, supply = await asyncio.gather(
        node.view("BatchLedger", "batch", batch_id),
        node.view("BatchLedger", "parents", batch_id),
        node.view("BatchLedger", "origin", batch_id),
        node.view("BatchLedger", "totalSupply", batch_id),
    )
    if not b["createdAt"]:
        from .errors import contract_error

        raise contract_error("BatchUnknown", {"batchId": batch_id})
    return {"batchId": batch_id, **b, "modelName": MODELS[b["model"]], "supply": supply, "parents": parents,
            "origin": origin if b["kind"] == 0 else None}
