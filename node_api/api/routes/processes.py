from fastapi import APIRouter

from ...actions import processes as actions
from ..deps import NodeDep, ReadDep
from ._common import add_forward_routes

router = APIRouter(prefix="/processes")

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


@router.get("/materials/{material_id}", tags=["processes"], summary="A registered material")
async def material(material_id: int, node: NodeDep, _: ReadDep):
    m = await node.view("ParticipantRegistry", "material", material_id)
    if not m["exists"]:
        from ...errors import contract_error

        raise contract_error("RegistryUnknownMaterial", {"material": material_id})
    return {"material": material_id, **m}


@router.get("/characteristics/{characteristic_id}", tags=["processes"], summary="A characteristic and its scheme")
async def characteristic(characteristic_id: int, node: NodeDep, _: ReadDep):
    r = await node.view("ParticipantRegistry", "schemeOf", characteristic_id)
    return {"characteristic": characteristic_id, **r}


@router.get("/{process_id}", tags=["processes"], summary="A registered process and its conversion factor")
async def process(process_id: int, node: NodeDep, _: ReadDep):
    p = await node.view("ParticipantRegistry", "process", process_id)
    if not p["exists"]:
        from ...errors import contract_error

        raise contract_error("RegistryUnknownProcess", {"processId": process_id})
    return {"processId": process_id, **p}
