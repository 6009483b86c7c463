"""A mined transaction's outcome as the node records it, with the decoded reason of a revert."""

from __future__ import annotations

import json
from typing import Any

import rlp
from eth_utils import to_checksum_address

from ..core.abi import decode_revert
from ..core.rpc import ChainUnavailable, Rpc, RpcError
from ..errors import jsonable
from .requests import RelayRequest

#: errors that only say "the call inside failed": the failing inner frame says why
_WRAPPERS = {"", "FailedCall"}


class Receipts:
    def __init__(self, rpc: Rpc):
        self.rpc = rpc

    async def outcome(self, req: RelayRequest, tx_hash: str, rcpt: dict[str, Any]) -> dict[str, Any]:
        status = int(rcpt.get("status", "0x1"), 16)
        outcome: dict[str, Any] = {
            "txHash": tx_hash,
            "action": req.action,
            "signer": req.signer,
            "status": "mined" if status == 1 else "reverted",
            "blockNumber": int(rcpt["blockNumber"], 16),
            "blockHash": rcpt.get("blockHash"),
            "gasUsed": int(rcpt.get("gasUsed", "0x0"), 16),
            "logs": [
                {"address": lg["address"], "topics": lg["topics"], "data": lg["data"]} for lg in rcpt.get("logs", [])
            ],
        }
        if status != 1:
            outcome["error"] = await self.revert_reason(tx_hash, req.replay, outcome["blockNumber"])
        return outcome

    async def revert_reason(self, tx_hash: str, replay: dict[str, Any] | None, block: int) -> dict[str, Any]:
        """Why a mined transaction reverted, decoded.

        Exact: the revert data of the failing call frame from ``debug_traceTransaction`` (callTracer),
        so a transaction that conflicts with an earlier one *in the same block* reports the error it
        actually hit. Where the chain has no debug API: re-run the call that explains it on the state
        before its block and, if that passes (the conflict came from within the block), on the
        state after it."""
        try:
            trace = await self.rpc.call_direct("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        except (RpcError, ChainUnavailable):
            trace = None
        if isinstance(trace, dict) and trace.get("error"):
            name, args = _frame_revert(trace)
            return {"name": name, "args": jsonable(args)}
        for at in (block - 1, block):
            reason = await self._replay(replay, max(at, 0))
            if reason["name"]:
                return reason
        return {"name": "", "args": {}}

    async def _replay(self, replay: dict[str, Any] | None, block: int) -> dict[str, Any]:
        """Re-run the call that explains a revert on the state of ``block``, and decode it."""
        if not replay:
            return {"name": "", "args": {}}
        try:
            await self.rpc.call_direct("eth_call", [replay, hex(block)])
        except RpcError as exc:
            name, args = decode_revert(exc.revert_data or b"")
            return {"name": name, "args": jsonable(args)}
        except ChainUnavailable:
            pass
        return {"name": "", "args": {}}


def _frame_revert(frame: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The decoded revert of a failed callTracer frame: its own revert data, unless that only wraps
    the failure of a call it made (the forwarder's FailedCall, or no data), then the last failed
    inner call's."""
    name, args = decode_revert(frame.get("output") or b"")
    if name in _WRAPPERS:
        for child in reversed(frame.get("calls") or []):
            if child.get("error"):
                inner = _frame_revert(child)
                if inner[0]:
                    return inner
                break
    return name, args


def call_of(raw: bytes) -> tuple[str, bytes, int]:
    """(to, data, gas) of a transaction signed by core.txsign (legacy, or type 2)."""
    if raw[:1] == b"\x02":  # [chainId, nonce, tip, maxFee, gas, to, value, data, accessList, v, r, s]
        fields = rlp.decode(raw[1:])
        return to_checksum_address(fields[5]), bytes(fields[7]), int.from_bytes(fields[4], "big")
    fields = rlp.decode(raw)
    return to_checksum_address(fields[3]), bytes(fields[5]), int.from_bytes(fields[2], "big")


def db_outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    """The transactions-table columns of an outcome."""
    values: dict[str, Any] = {
        "status": outcome["status"],
        "block_number": outcome["blockNumber"],
        "block_hash": outcome.get("blockHash"),
        "gas_used": outcome["gasUsed"],
        "logs": json.dumps(outcome["logs"]),
    }
    if "error" in outcome:
        values["error"] = json.dumps(outcome["error"])
    return values
