from fastapi import APIRouter

from ...services.reads import node_info
from ..deps import NodeDep
from ..schemas.node import Health, Info

router = APIRouter(tags=["node"])


@router.get("/health", summary="ok, or degraded with the reasons (chain, relayer balance, stuck transactions, index)",
            response_model=Health)
async def health(node: NodeDep):
    answer = await node.health.check()
    return {**answer, "relayer": node.relayer.address, "relayerQueue": node.relayer.queue_depth,
            "relayerStats": node.relayer.stats, "acknowledgedResent": node.relayer.stats["resent"],
            "acknowledgedOrphaned": node.relayer.stats["resent"] + node.relayer.stats["moved"]}


@router.get("/info", summary="Chain id, contract addresses, EIP-712 domains, relayer, actions", response_model=Info)
async def info(node: NodeDep):
    return node_info(node.contracts, node.rpc.url, node.relayer.address)  # the endpoint in use (failover)
