"""DueDiligenceRegistry's actions as ERC-2771 forward actions (the same prepare / submit / node-signed routes as
every other contract call; mounted by node_api/api/routes/eudr.py under /eudr/dds)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..actions.base import U256, Bytes32, ForwardAction, Params

C = "DueDiligenceRegistry"
Number = Annotated[str, Field(min_length=1, max_length=64)]


class RecordDds(Params):
    batchId: U256
    referenceNumber: Number
    verificationNumber: Number
    documentHash: Bytes32


class AmendDds(Params):
    batchId: U256
    index: U256
    verificationNumber: Number
    documentHash: Bytes32


class RetractDds(Params):
    batchId: U256
    index: U256


RECORD = ForwardAction("eudr/dds", "record", C, "record", RecordDds,
                       lambda p: (p.batchId, p.referenceNumber, p.verificationNumber, p.documentHash),
                       "Record a due-diligence statement TRACES accepted for a batch", "holder")
AMEND = ForwardAction("eudr/dds", "amend", C, "amend", AmendDds,
                      lambda p: (p.batchId, p.index, p.verificationNumber, p.documentHash),
                      "Record an amendment of a due-diligence statement", "operator that recorded it")
RETRACT = ForwardAction("eudr/dds", "retract", C, "retract", RetractDds, lambda p: (p.batchId, p.index),
                        "Record that a due-diligence statement was retracted in TRACES", "operator that recorded it")
ACTIONS = [RECORD, AMEND, RETRACT]
