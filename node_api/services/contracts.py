"""The ledger's deployed contracts as the node sees them: addresses, ABIs, views, logs, simulated calls.

Every read of the chain the services make goes through here; a revert comes back as the mapped
``ApiError`` (node_api.errors), never as raw revert data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from eth_utils import to_checksum_address

from ..core.abi import ContractABI, Event
from ..core.abi import decode_revert
from ..core.rpc import Rpc, RpcError
from ..errors import contract_error

FORWARDER = "CocForwarder"
LEDGER = "BatchLedger"


def revert_of(exc: RpcError) -> tuple[str, dict[str, Any]]:
    """The decoded custom error (name, args) of a reverted call."""
    return decode_revert(exc.revert_data or b"")


@dataclass
class Contracts:
    rpc: Rpc
    chain_id: int
    #: artifact name -> checksummed address
    addresses: dict[str, str]
    abis: Mapping[str, ContractABI]
    deploy_block: int
    _events: dict[tuple[str, bytes], Event] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.addresses = {k: to_checksum_address(v) for k, v in self.addresses.items()}
        self._events = {
            (addr.lower(), topic): ev
            for name, addr in self.addresses.items()
            for topic, ev in self.abis[name].events.items()
        }

    @property
    def forwarder(self) -> str:
        return self.addresses[FORWARDER]

    @property
    def ledger(self) -> str:
        return self.addresses[LEDGER]

    def encode(self, contract: str, fn: str, *args: Any) -> bytes:
        return self.abis[contract].fn(fn).encode(*args)

    # ------------------------------------------------------------------ reads
    async def view(self, contract: str, fn: str, *args: Any, block: str = "latest") -> Any:
        f = self.abis[contract].fn(fn, len(args))
        data = f.encode(*args)
        try:
            res = await self.rpc.call("eth_call", [{"to": self.addresses[contract], "data": "0x" + data.hex()}, block])
        except RpcError as exc:
            raise contract_error(*revert_of(exc)) from None
        return f.decode_output(res)

    async def chain_time(self) -> int:
        block = await self.rpc.call("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    async def try_call(self, call: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Simulate ``call`` on the latest state: None if it passes, else its decoded revert."""
        try:
            await self.rpc.call("eth_call", [call, "latest"])
            return None
        except RpcError as exc:
            return revert_of(exc)

    async def logs(self, contract: str, event: str, *topics: Any, from_block: int | None = None) -> list[dict[str, Any]]:
        ev = self.abis[contract].events_by_name[event]
        flt = {
            "address": self.addresses[contract],
            "fromBlock": hex(from_block if from_block is not None else self.deploy_block),
            "toBlock": "latest",
            "topics": ["0x" + ev.topic.hex(), *topics],
        }
        raw = await self.rpc.call("eth_getLogs", [flt])
        return self.decode_logs(raw)

    def decode_logs(self, logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for lg in logs:
            topics = [bytes.fromhex(t[2:]) for t in lg["topics"]]
            if not topics:
                continue
            ev = self._events.get((lg["address"].lower(), topics[0]))
            if ev is None:
                continue
            args = ev.decode(topics, bytes.fromhex(lg["data"][2:]))
            item = {"event": ev.name, "contract": ev.contract, "args": args}
            if "blockNumber" in lg:
                item["blockNumber"] = int(lg["blockNumber"], 16)
                item["txHash"] = lg.get("transactionHash")
            out.append(item)
        return out
