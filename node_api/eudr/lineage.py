"""A batch's EUDR facts read from the chain: its status, why it ended, and its whole lineage (every ancestor,
the origins with their plot hashes and the DDS references recorded at origin, and the statements recorded in
DueDiligenceRegistry for any batch of the lineage). Reads the contracts directly (not the index), so what a
statement relies on is what the chain says at the latest block."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..services.contracts import Contracts

LEDGER = "BatchLedger"
DDS_REGISTRY = "DueDiligenceRegistry"
STATUS = ("none", "traceable", "ended")
END_REASON = ("none", "model not segregated", "mixed with non-EUDR material")
ZERO32 = "0x" + "00" * 32


def _hex32(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    return str(v).lower()


@dataclass
class Lineage:
    batch_id: int
    status: str
    ended_reason: str | None
    #: ancestors (the batch itself included), each once
    batches: list[int] = field(default_factory=list)
    #: origin batch -> {geolocationHash, ddsReference, siteId, productionDate}
    origins: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: statements recorded on chain for batches of the lineage: {batchId, index, referenceNumber, ...}
    statements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def plot_hashes(self) -> list[str]:
        return sorted({o["geolocationHash"] for o in self.origins.values() if o["geolocationHash"] != ZERO32})

    def dds_references(self) -> list[dict[str, Any]]:
        """Every DDS reference the product relies on: those recorded at its origins and the statements filed
        for batches of its lineage (retracted ones left out)."""
        out = [{"source": "origin", "batchId": b, "referenceNumber": o["ddsReference"], "verificationNumber": None}
               for b, o in sorted(self.origins.items()) if o["ddsReference"]]
        out += [{"source": "statement", "batchId": s["batchId"], "referenceNumber": s["referenceNumber"],
                 "verificationNumber": s["verificationNumber"]} for s in self.statements if not s["retracted"]]
        return out

    def as_json(self) -> dict[str, Any]:
        return {"batchId": self.batch_id, "eudrStatus": self.status, "endedReason": self.ended_reason,
                "lineage": self.batches, "plots": self.plot_hashes,
                "origins": [{"batchId": b, **o} for b, o in sorted(self.origins.items())],
                "ddsReferences": self.dds_references()}


async def eudr_status(contracts: Contracts, batch_id: int) -> tuple[str, str | None]:
    """(status, reason it ended or None) of ``batch_id``: the ledger's view and its EudrTraceabilityEnded event,
    looked up along the lineage when the end happened upstream."""
    status = STATUS[int(await contracts.view(LEDGER, "eudrStatus", batch_id))]
    if status != "ended":
        return status, None
    stack, seen = [batch_id], set()
    while stack:
        b = stack.pop()
        if b in seen:
            continue
        seen.add(b)
        logs = await contracts.logs(LEDGER, "EudrTraceabilityEnded", "0x" + b.to_bytes(32, "big").hex())
        if logs:
            return status, END_REASON[int(logs[0]["args"]["reason"])] + ("" if b == batch_id else f" (at batch {b})")
        stack += [int(p["batchId"]) for p in await contracts.view(LEDGER, "parents", b)]
    return status, None


async def statements_of(contracts: Contracts, batch_id: int) -> list[dict[str, Any]]:
    """The statements DueDiligenceRegistry holds for ``batch_id`` ([] when the registry is not deployed)."""
    if DDS_REGISTRY not in contracts.addresses:
        return []
    rows = await contracts.view(DDS_REGISTRY, "statements", batch_id)
    return [{"batchId": batch_id, "index": i, "referenceNumber": r["referenceNumber"],
             "verificationNumber": r["verificationNumber"], "documentHash": _hex32(r["documentHash"]),
             "participantId": int(r["participantId"]), "recordedAt": int(r["recordedAt"]), "retracted": bool(r["retracted"])}
            for i, r in enumerate(rows)]


async def lineage(contracts: Contracts, batch_id: int) -> Lineage:
    """The EUDR lineage of ``batch_id`` (raises the mapped BatchUnknown for an unknown batch)."""
    b = await contracts.view(LEDGER, "batch", batch_id)
    if not b["createdAt"]:
        from ..errors import contract_error
        raise contract_error("BatchUnknown", {"batchId": batch_id})
    status, reason = await eudr_status(contracts, batch_id)
    out = Lineage(batch_id, status, reason)
    stack, seen = [batch_id], set()
    while stack:
        x = stack.pop()
        if x in seen:
            continue
        seen.add(x)
        out.batches.append(x)
        parents = await contracts.view(LEDGER, "parents", x)
        out.statements += await statements_of(contracts, x)
        if not parents:
            o = await contracts.view(LEDGER, "origin", x)
            logs = await contracts.logs(LEDGER, "OriginRecorded", "0x" + x.to_bytes(32, "big").hex())
            ref = logs[0]["args"]["ddsReference"] if logs else ""
            out.origins[x] = {"geolocationHash": _hex32(o["geolocationHash"]), "ddsReference": ref,
                              "siteId": int(o["siteId"]), "productionDate": int(o["productionDate"])}
        stack += [int(p["batchId"]) for p in parents]
    out.batches.sort()
    return out
