"""Helpers of the consortium tests: writes through a member node, events counted on chain, the
provenance answers two members must agree on, and a signer cut off from its peers."""

from __future__ import annotations

import time
import uuid
from typing import Any, Callable

import httpx
from eth_abi import decode
from eth_account import Account
from eth_utils import keccak

from node_api import signing
from testkit.consortium import Consortium, block_number, rpc

MATERIAL_REGISTERED = "0x" + keccak(text="MaterialRegistered(uint32,string,string,uint32,bool)").hex()


def write_material(base: str, admin_key: str, name: str, *, wait: bool = True, key: str | None = None,
                   timeout: float = 60.0) -> dict[str, Any]:
    """One admin-signed action through the member node at ``base``: registers a material ``name``.
    Returns the node's answer (200 mined, or 202 pending with ``wait=False``)."""
    admin = Account.from_key(admin_key)
    with httpx.Client(base_url=base, timeout=timeout) as c:
        prep = c.post("/processes/register-material/prepare",
                      json={"signer": admin.address, "name": name, "unit": "g", "group": 7, "waste": False})
        prep.raise_for_status()
        typed = prep.json()["typedData"]
        sig = signing.sign_typed(admin.key, typed)
        r = c.post("/processes/register-material/submit", json={"typedData": typed, "signature": "0x" + sig.hex()},
                   headers={"Idempotency-Key": key or str(uuid.uuid4())}, params={} if wait else {"wait": "false"})
        r.raise_for_status()
        return r.json()


def materials_on_chain(net: Consortium, validator: int = 0) -> list[str]:
    """The names of every MaterialRegistered event on the chain of ``validator``, in order."""
    registry = net.deploy()["contracts"]["ParticipantRegistry"]
    logs = rpc(net.validators[validator].url, "eth_getLogs",
               [{"fromBlock": "0x0", "toBlock": "latest", "address": registry, "topics": [MATERIAL_REGISTERED]}],
               timeout=30)
    return [decode(["string", "string", "uint32", "bool"], bytes.fromhex(lg["data"][2:]))[0] for lg in logs]


def index_status(base: str) -> dict[str, Any]:
    return httpx.get(f"{base}/provenance/status", timeout=10).json()


def wait_indexed(base: str, block: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = index_status(base).get("last_indexed_block")
        if last is not None and last >= block:
            return
        time.sleep(0.3)
    raise TimeoutError(f"{base}: index did not reach block {block}: {index_status(base)}")


#: What says when and where an answer was made, not what it says: an EPCIS document's creation time
#: (now), the block a passport was generated at and the "as of" block (the answering index's position).
ANSWER_METADATA = ("creationDate", "generated_at_block", "as_of")


def provenance_answers(base: str, ids: dict[str, Any]) -> dict[str, Any]:
    """What a member's index answers about every batch, participant and certificate of the demo
    (without ANSWER_METADATA)."""
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=30) as c:
        def get(path: str) -> Any:
            r = c.get(path)
            body = r.json() if "json" in r.headers.get("content-type", "") else r.text
            if isinstance(body, dict):
                body = {k: v for k, v in body.items() if k not in ANSWER_METADATA}
            return {"status": r.status_code, "body": body}

        for name, bid in sorted(ids["batches"].items()):
            for part in ("", "/lineage", "/custody", "/claim", "/passport", "/epcis"):
                out[f"batch {name}{part}"] = get(f"/provenance/batches/{bid}{part}")
        for name, pid in sorted(ids["participants"].items()):
            out[f"participant {name}"] = get(f"/provenance/participants/{pid}")
        for name, cid in sorted(ids.get("certificates", {}).items()):
            out[f"certificate {name}"] = get(f"/provenance/certificates/{cid}")
    return out


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = check()
        except (httpx.HTTPError, RuntimeError, KeyError):
            got = None
        if got:
            return got
        time.sleep(every)
    raise TimeoutError(f"not within {timeout:.0f}s: {what}")


def isolate(net: Consortium, i: int) -> None:
    """Cuts validator ``i`` off: every peer link to and from it removed (static entries too)."""
    me = net.validators[i]
    # only with no block in flight: one it announced and a peer had not fetched yet would be lost
    # to that peer (testkit/consortium_ops.py)
    wait_for(net.all_in_step, 10 * net.period, "every validator on the same head", every=0.02)
    for v in net.validators:
        if v is not me and v.alive:
            rpc(v.url, "admin_removePeer", [me.enode])
            rpc(me.url, "admin_removePeer", [v.enode])
    wait_for(lambda: net.peers(i) == 0, 20, f"validator {i} isolated")


def reconnect(net: Consortium, i: int) -> None:
    me = net.validators[i]
    for v in net.validators:
        if v is not me and v.alive:
            rpc(v.url, "admin_addPeer", [me.enode])
            rpc(me.url, "admin_addPeer", [v.enode])
    net.wait_peers()


def signer_of(url: str, number: int) -> str:
    return str(rpc(url, "clique_getSigner", [hex(number)])).lower()


def head(net: Consortium, i: int) -> int:
    return block_number(net.validators[i].url)
