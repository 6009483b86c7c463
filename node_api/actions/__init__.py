"""Supply chain actions mapped onto contract calls: one module per resource, no HTTP here.

Every action a participant signs is either one of the batch ledger's own EIP-712 custody messages
(``batches``: transfer, accept, reject, cancel, transfer with acceptance) or an ERC-2771
ForwardRequest to one contract function (everything else). ``FORWARD_ACTIONS`` lists the latter by
name ("<resource>.<path>").
"""

from __future__ import annotations

from .base import ForwardAction
from . import batches, certificates, identifiers, mass_balance, participants, processes

FORWARD_ACTIONS: dict[str, ForwardAction] = {
    a.name: a
    for module in (participants, processes, batches, mass_balance, certificates, identifiers)
    for a in module.ACTIONS
}

__all__ = ["FORWARD_ACTIONS", "ForwardAction"]
