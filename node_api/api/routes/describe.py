from typing import Annotated

from fastapi import APIRouter, Depends

from ...errors import ApiError
from ...services.describe import Describer
from ..deps import NodeDep, ReadDep
from ..schemas.describe import DescribeRequest, Description

router = APIRouter(prefix="/typed-data")


def get_describer(node: NodeDep) -> Describer:
    return node.describer


DescriberDep = Annotated[Describer, Depends(get_describer)]


@router.post("/describe", tags=["signing"], response_model=Description,
             summary="What a typed data asks its signer to sign, in words (no blind signing)",
             description="Takes the EIP-712 typed data a prepare endpoint returned (or the whole prepare answer): "
             "ForwardRequests are decoded with the contracts' ABIs, custody messages field by field. Answers the "
             "action in words, each field with its name and its value in words (quantities in the material's "
             "registered unit, organisations by name, dates), the organisations involved and the declaration. "
             "Typed data for another chain or contract, other types, or a function no participant signs: 422.")
async def describe(body: DescribeRequest, describer: DescriberDep, _: ReadDep):
    extra = body.model_extra or {}
    typed = body.typedData if body.typedData is not None else (extra if "primaryType" in extra else None)
    if typed is None:
        raise ApiError(422, "InvalidRequest", "give the typed data (domain, types, primaryType, message) or "
                       "{\"typedData\": ...}", {"field": "typedData"})
    return await describer.describe(typed, body.transfer)
