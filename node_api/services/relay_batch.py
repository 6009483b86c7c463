"""The node's RelayBatch contract (contracts/batching/RelayBatch.sol): found or deployed at start.

RelayBatch has no state and no privilege (the ledger and the forwarder check every item's
signatures and nonces as if it were sent alone), so each node may deploy its own. It is not part of
the consortium's deployment record: its address is kept in
``<data_dir>/relaybatch/<chainId>.json`` with the ledger and forwarder it calls and the
block it was deployed in, reused while that block is on the chain and the code is there, else
deployed again (deployer key). ``relay_batch_items = 0`` turns batching and the pipelined checks
off: every action then goes alone and waits for its predecessor to be mined, as before.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping

from eth_account import Account
from web3 import Web3

from ..core.chain import connect, send_tx
from ..core.config import Settings
from ..core.deploy import Deployment, block_hash
from ..core.rpc import SyncRpc

log = logging.getLogger(__name__)
NAME = "RelayBatch"


def ensure_batcher(s: Settings, deployment: Deployment, artifacts: Mapping[str, Any]) -> str | None:
    """The RelayBatch address this node uses (None: batching off, or no artifact)."""
    if s.relay_batch_items <= 0 or NAME not in artifacts:
        return None
    ledger, forwarder = deployment.contracts["BatchLedger"], deployment.contracts["CocForwarder"]
    path = s.data_dir / "relaybatch" / f"{deployment.chain_id}.json"  # not a deployment record
    with SyncRpc(s.effective_rpc_url, retries=0) as rpc:
        if path.exists():
            rec = json.loads(path.read_text())
            if (rec.get("ledger") == ledger and rec.get("forwarder") == forwarder
                    and rec.get("block_hash") == block_hash(rpc, int(rec.get("block_number", 0)))
                    and len(rpc.get_code(Web3.to_checksum_address(rec["address"]))) > 0):
                return str(rec["address"])
            log.warning("%s does not match this chain's deployment: deploying RelayBatch again", path)
    w3 = connect(s)
    art = artifacts[NAME]
    receipt = send_tx(w3, w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor(ledger, forwarder),
                      Account.from_key(s.deployer_key))
    address = Web3.to_checksum_address(receipt["contractAddress"])
    number = int(receipt["blockNumber"])
    with SyncRpc(s.effective_rpc_url, retries=0) as rpc:
        rec = {"address": address, "ledger": ledger, "forwarder": forwarder, "block_number": number,
               "block_hash": block_hash(rpc, number)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec, indent=2) + "\n")
    tmp.replace(path)
    log.info("deployed RelayBatch at %s", address)
    return address
