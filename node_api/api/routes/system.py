from fastapi import APIRouter

from ...services.reads import node_info
from ..deps import NodeDep
from ..schemas.node import Health, Info

router = APIRouter(tags=["node"])


@router.get("/health", summary="Liveness and chain reachability", response_model=Health)
async def health(node: NodeDep):
    block = await node.rpc.call("eth_getBlockByNumber", ["latest", False])
    return {"status": "ok", "blockNumber": int(block["number"], 16), "timestamp": int(block["timestamp"], 16),
            "relayer": node.relayer.address, "relayerQueue": node.relayer.queue_depth,
            "relayerStats": node.relayer.stats}


@router.get("/info", summary="Chain id, contract addresses, EIP-712 domains, relayer, actions", response_model=Info)
async def info(node: NodeDep):
    return node_info(node.contracts, node.settings.effective_rpc_url, node.relayer.address)
