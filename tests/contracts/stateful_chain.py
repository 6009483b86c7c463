"""The stateful contract test's plumbing: raw JSON-RPC (batched), fast ABI encoding of calls and views, a
sender that mines refused calls on purpose, and the follower that feeds the auditor's replay each block's
logs as it is mined."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from auditor.abi import canonical as abi_type
from auditor.audit import LogFeed
from auditor.replay import Replay
from node_api.core.chain import ContractRevert
from node_api.core.abi import decode_revert

GAS = 6_000_000  # every call's gas limit: a refused call is mined and reverts on chain


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]):
        super().__init__(error)
        self.error = error


class Rpc:
    """JSON-RPC over one HTTP session; `batch` sends many calls in one request."""

    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()

    def __call__(self, method: str, params: list | None = None) -> Any:
        return self.batch([(method, params or [])])[0]

    def batch(self, calls: list[tuple[str, list]]) -> list[Any]:
        if not calls:
            return []
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        answers = sorted(self.session.post(self.url, json=payload, timeout=120).json(), key=lambda a: a["id"])
        out = []
        for a in answers:
            if "error" in a:
                raise RpcError(a["error"])
            out.append(a["result"])
        return out


class Abi:
    """Encodes calls and decodes results of one contract with eth_abi (much faster than web3 objects)."""

    def __init__(self, address: str, abi: list[dict[str, Any]]):
        self.address = address
        self.fns: dict[str, tuple[bytes, list[str], list[str]]] = {}
        names = Counter(i["name"] for i in abi if i.get("type") == "function")
        for item in abi:
            if item.get("type") != "function":
                continue
            ins = [abi_type(i) for i in item["inputs"]]
            outs = [abi_type(o) for o in item.get("outputs", [])]
            selector = keccak(text=f"{item['name']}({','.join(ins)})")[:4]
            key = item["name"] if names[item["name"]] == 1 else f"{item['name']}/{len(ins)}"
            self.fns[key] = (selector, ins, outs)

    def data(self, fn: str, *args: Any) -> str:
        selector, ins, _ = self.fns[fn]
        return "0x" + (selector + abi_encode(ins, list(args))).hex()

    def decode(self, fn: str, result: str) -> Any:
        values = abi_decode(self.fns[fn][2], bytes.fromhex(result[2:]))
        return values[0] if len(values) == 1 else values


class Sender:
    """Signs locally and sends raw transactions with a fixed gas limit, so that a refused call is mined
    and reverts on chain (not just in gas estimation); decodes the revert from the mined transaction."""

    def __init__(self, rpc: Rpc, chain_id: int):
        self.rpc = rpc
        self.chain_id = chain_id
        self.nonces: dict[str, int] = {}
        self.sent = 0

    def send(self, account: LocalAccount, abi: Abi, fn: str, *args: Any) -> dict[str, Any]:
        data = abi.data(fn, *args)
        for attempt in (0, 1):
            nonce = self.nonces.get(account.address)
            if nonce is None:
                nonce = int(self.rpc("eth_getTransactionCount", [account.address, "pending"]), 16)
            tx = {
                "to": abi.address,
                "data": data,
                "gas": GAS,
                "nonce": nonce,
                "chainId": self.chain_id,
                "maxFeePerGas": 100 * 10**9,
                "maxPriorityFeePerGas": 1,
                "value": 0,
                "type": 2,
            }
            raw = account.sign_transaction(tx).raw_transaction
            try:
                tx_hash = self.rpc("eth_sendRawTransaction", ["0x" + bytes(raw).hex()])
            except RpcError:
                self.nonces.pop(account.address, None)
                if attempt:
                    raise
                continue
            self.nonces[account.address] = nonce + 1
            break
        self.sent += 1
        receipt = None
        for _ in range(600):
            receipt = self.rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                break
            time.sleep(0.01)
        assert receipt is not None, f"transaction {tx_hash} not mined"
        if int(receipt["status"], 16) != 1:
            assert receipt["logs"] == [], "a reverted transaction left logs"
            trace = self.rpc("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
            output = trace.get("output") or "0x"
            name, args = decode_revert(output)
            raise ContractRevert(name, args, bytes.fromhex(output[2:]), tx_hash)
        return receipt



def dirty_of(events: list) -> set[tuple[str, Any]]:
    """The records the events of a step touched, by the view that shows them."""
    out: set[tuple[str, Any]] = set()
    for e in events:
        a = e.a
        if "transferId" in a:
            out.add(("transfer", a["transferId"]))
        if a.get("pledgeId"):
            out.add(("pledge", a["pledgeId"]))
        if "certificateId" in a:
            out.add(("cert", a["certificateId"]))
        if e.c == "mass" and "account" in a:
            out.add(("account", a["account"]))
    return out


class AuditorFollower:
    """Feeds the auditor's replay the logs of every block mined since the last call (what a follower of a
    live chain does), and remembers the head: its timestamp is the time the next operation sees."""

    def __init__(self, rpc: Rpc, r: Replay, addresses: dict[str, str], next_block: int):
        self.rpc = rpc
        self.r = r
        self.feed = LogFeed(r, addresses)
        self.addresses = [a for k, a in addresses.items() if k != "forwarder"]
        self.next_block = next_block
        self.last_block: int | None = None
        self.last_hash: str | None = None
        self.last_timestamp = 0

    def sync(self) -> list:
        """Applies the logs of every block since the last sync; returns the auditor's events, in order."""
        rpc = self.rpc
        if self.last_block is not None:
            block = rpc("eth_getBlockByNumber", [hex(self.last_block), False])
            if block is None or block["hash"] != self.last_hash:
                raise AssertionError(f"block {self.last_block} changed under the replay (chain reverted?)")
        latest = rpc("eth_getBlockByNumber", ["latest", False])
        number = int(latest["number"], 16)
        out: list = []
        if number >= self.next_block:
            raw = rpc("eth_getLogs", [{"fromBlock": hex(self.next_block), "toBlock": hex(number),
                                       "address": self.addresses}])
            raw.sort(key=lambda x: (int(x["blockNumber"], 16), int(x["logIndex"], 16)))
            assert all("blockTimestamp" in x for x in raw), "the node's logs carry no blockTimestamp"
            out = self.feed.add(raw)
            self.feed.flush()  # every block is whole
            self.next_block = number + 1
        self.last_block, self.last_hash = number, latest["hash"]
        self.last_timestamp = int(latest["timestamp"], 16)
        return out

