from typing import Optional

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ...actions.base import Address
from ...errors import ApiError
from ...keys import KeystoreError
from ..deps import AccountsDep, AdminDep
from ..schemas.node import ApiKeyCreated, KeystoreCreated, KeystoreList

router = APIRouter(prefix="/admin", tags=["admin"])


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: Address = Field(description="the participant wallet the key acts for")
    label: Optional[str] = None


@router.post("/api-keys", summary="Create an API key bound to a wallet (shown once; stored hashed)",
             response_model=ApiKeyCreated)
async def create_api_key(body: NewApiKey, accounts: AccountsDep, _: AdminDep):
    key = accounts.create_api_key(body.address, body.label)
    return {"apiKey": key, "address": body.address, "nodeHoldsKey": accounts.keystores.has(body.address)}


@router.post("/keystores", summary="Create a wallet held by this node (encrypted keystore, password from the environment)",
             response_model=KeystoreCreated)
async def create_keystore(accounts: AccountsDep, _: AdminDep):
    try:
        address = accounts.keystores.create()
    except KeystoreError as exc:
        raise ApiError(409, "KeystoreUnavailable", str(exc)) from None
    return {"address": address}


@router.get("/keystores", summary="Wallets held by this node", response_model=KeystoreList)
async def keystores(accounts: AccountsDep, _: AdminDep):
    return {"addresses": accounts.keystores.addresses()}
