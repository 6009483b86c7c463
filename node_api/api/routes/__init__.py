"""Every router of the API. Append a router to ROUTERS to mount it (e.g. the provenance index)."""

from . import admin, batches, certificates, clear_signing, describe, mass_balance, names, participants, processes, system, transactions

ROUTERS = [
    system.router,
    participants.router,
    processes.router,
    batches.router,
    mass_balance.router,
    certificates.router,
    transactions.router,
    admin.router,
    describe.router,
    names.router,
    clear_signing.router,
]
from . import provenance; ROUTERS.append(provenance.router)  # noqa: E402,E702 - provenance index (issue 4)
