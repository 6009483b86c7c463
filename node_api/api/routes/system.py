from fastapi import APIRouter

from ..deps import NodeDep

router = APIRouter(tags=["node"])


@router.get("/health", summary="Liveness and chain reachability")
async def health(node: NodeDep):
    block = await node.rpc.call("eth_getBlockByNumber", ["latest", False])
    return {"status": "ok", "blockNumber": int(block["number"], 16), "timestamp": int(block["timestamp"], 16),
            "relayer": node.relayer.address, "relayerQueue": node.relayer.queue_depth,
            "relayerStats": node.relayer.stats}


@router.get("/info", summary="Chain id, contract addresses, EIP-712 domains, relayer, actions")
async def info(node: NodeDep):
    return node.info()
