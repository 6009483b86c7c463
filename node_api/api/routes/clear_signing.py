from typing import Any

from fastapi import APIRouter, Path

from ...clear_signing import erc7730
from ...errors import ApiError
from ..deps import ContractsDep
from ..schemas.describe import DescriptorIndex, Erc7730Descriptor

router = APIRouter(prefix="/clear-signing")
TAG = ["signing"]


def _deployments(contracts: Any) -> dict[str, list[dict[str, Any]]]:
    return {name: [{"chainId": contracts.chain_id, "address": address}] for name, address in contracts.addresses.items()}


@router.get("", tags=TAG, response_model=DescriptorIndex,
            summary="ERC-7730 clear-signing descriptors of every message a participant signs")
async def index():
    return {"descriptors": [
        {"name": name, "url": f"/clear-signing/{name}", "formats": list(d["display"]["formats"])}
        for name, d in erc7730.published().items()
    ]}


@router.get("/{name}", tags=TAG, response_model=Erc7730Descriptor, response_model_by_alias=True,
            summary="One ERC-7730 descriptor, with this node's deployments (chain id, contract address)")
async def descriptor(contracts: ContractsDep,
                     name: str = Path(description="a file name from GET /clear-signing", max_length=100)):
    published = erc7730.published()
    if name not in published:
        raise ApiError(404, "UnknownDescriptor", f"no descriptor {name!r}: one of {', '.join(published)}",
                       {"field": "name"})
    d = published[name]
    deps = _deployments(contracts)
    ctx = d["context"]
    if "contract" in ctx:
        ctx["contract"]["deployments"] = deps.get(ctx["$id"], [])
    else:
        target = "CocForwarder" if ctx["eip712"]["domain"]["name"] == "CocForwarder" else "BatchLedger"
        ctx["eip712"]["deployments"] = deps[target]
    return d
