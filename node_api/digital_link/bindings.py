"""GS1 identifiers bound to product tokens, read from the chain (contract ProductIdentifiers).

Why on chain, in a contract of its own: a binding is a statement by the holder of a token ("this GTIN with
this lot is batch N"); signed by the holder's wallet and checked by the contract (check digit, character set,
holder, one token per identifier), anyone with JSON-RPC access can verify it without trusting this node;
BatchLedger has no code size to spare and an identifier changes nothing about custody or claims. The node
reads the contract's views at request time, so no index table is needed."""

from __future__ import annotations

from typing import Any

from ..services.contracts import Contracts
from .gs1 import KIND_CODE, KIND_NAME, ProductKey

CONTRACT = "ProductIdentifiers"


def available(contracts: Contracts) -> bool:
    return CONTRACT in contracts.addresses


async def token_of(contracts: Contracts, key: ProductKey) -> int | None:
    """The token ``key`` is bound to, or None."""
    if not available(contracts):
        return None
    batch_id = int(await contracts.view(CONTRACT, "batchOf", int(key.gtin), KIND_CODE[key.kind], key.value))
    return batch_id or None


async def identifiers_of(contracts: Contracts, batch_id: int) -> list[dict[str, Any]]:
    """Every identifier bound to ``batch_id``, in binding order, with the event that bound it (one
    ProductIdentifierBound per binding, in the same order as the contract's list)."""
    if not available(contracts):
        return []
    rows = await contracts.view(CONTRACT, "identifiersOf", batch_id)
    ev = contracts.abis[CONTRACT].events_by_name["ProductIdentifierBound"]
    raw = await contracts.rpc.call("eth_getLogs", [{
        "address": contracts.addresses[CONTRACT], "fromBlock": hex(contracts.deploy_block), "toBlock": "latest",
        "topics": ["0x" + ev.topic.hex(), "0x" + batch_id.to_bytes(32, "big").hex()]}])
    out = []
    for i, r in enumerate(rows):
        b = r if isinstance(r, dict) else dict(zip(("batchId", "gtin", "kind", "value", "by", "participantId",
                                                    "boundAt"), r))
        key = ProductKey(str(int(b["gtin"])).zfill(14), KIND_NAME[int(b["kind"])], str(b["value"]))
        lg = raw[i] if i < len(raw) else None
        out.append({"gtin": key.gtin, "kind": key.kind, "ai": key.ai, "value": key.value, "path": key.path(),
                    "bound_by": b["by"], "participant_id": int(b["participantId"]), "bound_at": int(b["boundAt"]),
                    "tx_hash": lg["transactionHash"] if lg else None,
                    "block_number": int(lg["blockNumber"], 16) if lg else None,
                    "log_index": int(lg["logIndex"], 16) if lg else None})
    return out
