from fastapi import APIRouter

from ..deps import ReadDep
from ..schemas.describe import RegistryNames
from .participants import NamesDep

router = APIRouter(prefix="/registry")


@router.get("/names", tags=["participants"], response_model=RegistryNames,
            summary="Names by id: participants, sites, materials (with their unit), schemes, characteristics, processes")
async def names(names: NamesDep, _: ReadDep):
    await names.refresh(force=True)
    return {
        "participants": names.participants,
        "sites": {i: {"name": s.name, "participantId": s.participant_id} for i, s in names.sites.items()},
        "materials": {i: {"name": m.name, "unit": m.unit, "group": m.group, "waste": m.waste}
                      for i, m in names.materials.items()},
        "schemes": names.schemes,
        "characteristics": {i: {"name": n, "schemeId": s} for i, (n, s) in names.characteristics.items()},
        "processes": {i: {"name": n, "inputMaterial": a, "outputMaterial": b} for i, (n, a, b) in names.processes.items()},
    }
