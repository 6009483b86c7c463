from fastapi import APIRouter

from ...actions import processes as actions
from ..params import Uint32
from ..deps import ReadDep, ReadsDep
from ..schemas.reads import Characteristic, Material, Process
from ._common import add_forward_routes

router = APIRouter(prefix="/processes")

TAG = ["processes"]

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


@router.get("/materials/{material_id}", tags=TAG, summary="A registered material", response_model=Material)
async def material(material_id: Uint32, reads: ReadsDep, _: ReadDep):
    return await reads.material(material_id)


@router.get("/characteristics/{characteristic_id}", tags=TAG, summary="A characteristic and its scheme",
            response_model=Characteristic)
async def characteristic(characteristic_id: Uint32, reads: ReadsDep, _: ReadDep):
    return await reads.characteristic(characteristic_id)


@router.get("/{process_id}", tags=TAG, summary="A registered process and its conversion factor", response_model=Process)
async def process(process_id: Uint32, reads: ReadsDep, _: ReadDep):
    return await reads.process(process_id)
