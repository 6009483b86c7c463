from typing import Optional

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ...actions.base import Address
from ...errors import ApiError
from ...keys import KeystoreError
from ..deps import AdminDep, NodeDep

router = APIRouter(prefix="/admin", tags=["admin"])


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: Address = Field(description="the participant wallet the key acts for")
    label: Optional[str] = None


@router.post("/api-keys", summary="Create an API key bound to a wallet (shown once; stored hashed)")
async def create_api_key(body: NewApiKey, node: NodeDep, _: AdminDep):
    key = node.create_api_key(body.address, body.label)
    return {"apiKey": key, "address": body.address, "nodeHoldsKey": node.keystores.has(body.address)}


@router.post("/keystores", summary="Create a wallet held by this node (encrypted keystore, password from the environment)")
async def create_keystore(node: NodeDep, _: AdminDep):
    try:
        address = node.keystores.create()
    except KeystoreError as exc:
        raise ApiError(409, "KeystoreUnavailable", str(exc)) from None
    return {"address": address}


@router.get("/keystores", summary="Wallets held by this node")
async def keystores(node: NodeDep, _: AdminDep):
    return {"addresses": node.keystores.addresses()}
