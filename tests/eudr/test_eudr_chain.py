"""EUDR traceability on chain (libraries/EudrTrace.sol, BatchLedger.eudrStatus, DueDiligenceRegistry).

Each rule is tried against: an origin with a plot is traceable only when segregated or identity
preserved; a split keeps the status; a merge or transform keeps it only under a segregated or stronger
model with every input traceable; mixing into mass balance (or with material without a plot) ends it
with EudrTraceabilityEnded, for good; the library cannot be called directly; a statement is recorded only
for a traceable batch by a registered holder, once per reference, and changed only by its operator.
"""

from __future__ import annotations

import pytest

from helpers import events, expect_revert
from testkit.sandbox import IDENTITY_PRESERVED, MASS_BALANCE, SEGREGATED, UNCERTIFIED, h

T = 1_000_000
DDS = None  # the DueDiligenceRegistry of the session's deployment (set by the fixture below)


@pytest.fixture(autouse=True)
def _dds_registry(deployed):
    global DDS
    DDS = deployed.dds
NONE, TRACEABLE, ENDED = 0, 1, 2
NOT_SEGREGATED, MIXED = 1, 2


def origin(sb, w, qty=10 * T, model=SEGREGATED, plot=True) -> int:
    params = list(sb.origin_params(w.farm, w.raw_cotton, qty, characteristic=0 if model == UNCERTIFIED else w.organic,
                                   model=model))
    if not plot:
        params[5] = b"\x00" * 32
    receipt = sb.tx(sb.c.ledger.functions.createOrigin(tuple(params)), w.farm)
    return events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]


def status(sb, batch_id: int) -> int:
    return sb.c.ledger.functions.eudrStatus(batch_id).call()


def ended(sb, receipt) -> list[tuple[int, int]]:
    return [(e["batchId"], e["reason"]) for e in events(sb.c.ledger, receipt, "EudrTraceabilityEnded")]


def test_eudr_origin_with_plot_segregated_or_ip_is_traceable(world):
    sb, w = world.sb, world
    assert status(sb, origin(sb, w, model=SEGREGATED)) == TRACEABLE
    assert status(sb, origin(sb, w, model=IDENTITY_PRESERVED)) == TRACEABLE


def test_eudr_origin_without_plot_is_not_eudr_material(world):
    sb, w = world.sb, world
    assert status(sb, origin(sb, w, plot=False)) == NONE
    assert status(sb, 999_999) == NONE  # an unknown batch carries nothing


def test_eudr_origin_with_plot_under_weaker_model_ends_at_once(world):
    sb, w = world.sb, world
    params = sb.origin_params(w.farm, w.raw_cotton, T, model=UNCERTIFIED)
    receipt = sb.tx(sb.c.ledger.functions.createOrigin(params), w.farm)
    b = events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]
    assert status(sb, b) == ENDED
    assert ended(sb, receipt) == [(b, NOT_SEGREGATED)]


def test_eudr_status_byte_leaves_the_batch_fields_intact(world):
    """The status lives in the top byte of the batch's slot: every field batch() returns is unchanged by it."""
    sb, w = world.sb, world
    o = origin(sb, w, model=IDENTITY_PRESERVED)
    m, c, model, share, creator, orig, kind, created = sb.batch(o)
    assert (m, c, model, share, creator, orig, kind) == (w.raw_cotton, w.organic, IDENTITY_PRESERVED, 1_000_000,
                                                         w.farm.participant_id, o, 0)
    assert 0 < created <= sb.now() and status(sb, o) == TRACEABLE


def test_eudr_released_attributes_end_traceability(world):
    """A batch whose attributes went to a certificate continues uncertified: no deforestation-free claim either."""
    sb, w = world.sb, world
    o = origin(sb, w)
    receipt = sb.tx(sb.c.certificates.functions.pledgeBatch(o, T), w.farm)
    child = [e["batchId"] for e in events(sb.c.ledger, receipt, "BatchCreated")][0]
    assert status(sb, child) == ENDED and ended(sb, receipt) == [(child, NOT_SEGREGATED)]
    assert status(sb, o) == TRACEABLE  # what was not pledged keeps it


def test_eudr_split_and_custody_transfer_keep_traceability(world):
    sb, w = world.sb, world
    o = origin(sb, w)
    children = sb.split(w.farm, o, [4 * T, 6 * T])
    assert [status(sb, c) for c in children] == [TRACEABLE, TRACEABLE]
    sb.transfer(w.farm, w.ginner, children[0], 4 * T)
    assert status(sb, children[0]) == TRACEABLE


def test_eudr_segregated_transform_of_traceable_inputs_stays_traceable(world):
    sb, w = world.sb, world
    a, b = origin(sb, w), origin(sb, w)
    sb.transfer(w.farm, w.ginner, a, 10 * T)
    sb.transfer(w.farm, w.ginner, b, 10 * T)
    receipt = sb.tx(sb.c.ledger.functions.transform(w.ginning, [a, b], [10 * T, 10 * T], 7 * T, SEGREGATED, 0), w.ginner)
    lint = events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]
    assert status(sb, lint) == TRACEABLE and ended(sb, receipt) == []


def test_eudr_mass_balance_mixing_ends_traceability_for_good(world):
    sb, w = world.sb, world
    a = origin(sb, w)
    receipt = sb.tx(sb.c.ledger.functions.merge([a], [10 * T], MASS_BALANCE), w.farm)
    mb = events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]
    assert status(sb, mb) == ENDED
    assert ended(sb, receipt) == [(mb, NOT_SEGREGATED)]
    # nothing downstream regains it, and the end is not announced twice
    receipt = sb.tx(sb.c.ledger.functions.split(mb, [T]), w.farm)
    child = events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]
    assert status(sb, child) == ENDED and ended(sb, receipt) == []


def test_eudr_segregated_merge_with_non_eudr_material_ends_traceability(world):
    sb, w = world.sb, world
    eudr, plain = origin(sb, w), origin(sb, w, plot=False)
    receipt = sb.tx(sb.c.ledger.functions.merge([eudr, plain], [T, T], SEGREGATED), w.farm)
    m = events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]
    assert status(sb, m) == ENDED and ended(sb, receipt) == [(m, MIXED)]
    # input order does not matter
    receipt = sb.tx(sb.c.ledger.functions.merge([plain, eudr], [T, T], SEGREGATED), w.farm)
    m2 = events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]
    assert status(sb, m2) == ENDED and ended(sb, receipt) == [(m2, MIXED)]


def test_eudr_ended_input_taints_a_segregated_merge(world):
    sb, w = world.sb, world
    a, b = origin(sb, w), origin(sb, w)
    receipt = sb.tx(sb.c.ledger.functions.merge([a], [T], MASS_BALANCE), w.farm)
    mb = events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]
    assert status(sb, mb) == ENDED
    # merging the traceable b with material whose traceability ended: b's claim ends too
    u = origin(sb, w, model=UNCERTIFIED)
    receipt = sb.tx(sb.c.ledger.functions.merge([b, u], [T, T], UNCERTIFIED), w.farm)
    m = events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]
    assert status(sb, m) == ENDED and ended(sb, receipt) == [(m, NOT_SEGREGATED)]


def test_eudr_library_cannot_be_called_directly(world, deployed, w3, accounts):
    """derive writes statuses only in the ledger's storage, by DELEGATECALL: a direct CALL of the deployed
    library reverts (solc's call protection), so nobody can set a status from outside."""
    from eth_abi import encode
    from eth_utils import keccak

    from node_api.core.deploy import library_placeholder

    sb = world.sb
    code = bytes(w3.eth.get_code(sb.c.ledger.address)).hex()
    lib_art = deployed.artifacts["EudrTrace"]
    at = deployed.artifacts["BatchLedger"]["deployedBytecode"][2:].index(
        library_placeholder(lib_art["sourceName"], "EudrTrace"))
    library = w3.to_checksum_address("0x" + code[at:at + 40])
    selector = keccak(text="derive(mapping(uint256 => IBatchLedger.Batch) storage,uint256,Model,IBatchLedger.Parent[])")[:4]
    assert "63" + selector.hex() in code  # the ledger calls exactly this function
    # a storage mapping travels as its slot number
    data = selector + encode(["uint256", "uint256", "uint8", "(uint64,uint96)[]"], [0, 1, SEGREGATED, [(1, 1)]])
    try:
        w3.eth.call({"from": accounts[2].address, "to": library, "data": "0x" + data.hex()})
    except Exception as exc:  # noqa: BLE001 - web3 raises a ContractLogicError subclass on revert
        assert "revert" in type(exc).__name__.lower() or "revert" in str(exc).lower() or "logic" in type(exc).__name__.lower()
    else:
        raise AssertionError("a direct call of EudrTrace.derive succeeded")


# ---------------------------------------------------------------------------------------------- DDS registry


def _record(sb, actor, batch_id, ref="26FRXVV3VOSIAB", ver="KLMNPQRS", doc=None):
    return DDS.functions.record(batch_id, ref, ver, doc or h(f"dds:{batch_id}:{ref}"))


def test_eudr_dds_recorded_for_traceable_batch_by_holder(world):
    sb, w = world.sb, world
    o = origin(sb, w)
    receipt = sb.tx(_record(sb, w.farm, o), w.farm)
    ev = events(DDS, receipt, "DdsRecorded")[0]
    assert (ev["batchId"], ev["index"], ev["participantId"], ev["referenceNumber"], ev["verificationNumber"]) == (
        o, 0, w.farm.participant_id, "26FRXVV3VOSIAB", "KLMNPQRS")
    st = DDS.functions.statements(o).call()
    assert [(s[0], s[1], s[3], s[5]) for s in st] == [("26FRXVV3VOSIAB", "KLMNPQRS", w.farm.participant_id, False)]


def test_eudr_dds_refused_when_not_traceable(world):
    sb, w = world.sb, world
    plain = origin(sb, w, plot=False)
    expect_revert(_record(sb, w.farm, plain), w.farm.account, "DdsNotTraceable", batchId=plain, status=NONE)
    a = origin(sb, w)
    receipt = sb.tx(sb.c.ledger.functions.merge([a], [T], MASS_BALANCE), w.farm)
    mb = events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]
    expect_revert(_record(sb, w.farm, mb), w.farm.account, "DdsNotTraceable", batchId=mb, status=ENDED)


def test_eudr_dds_refused_for_non_holder_and_unregistered(world, accounts):
    sb, w = world.sb, world
    o = origin(sb, w)
    expect_revert(_record(sb, w.ginner, o), w.ginner.account, "DdsNotHolder", batchId=o, wallet=w.ginner.address)
    expect_revert(_record(sb, None, o), accounts[15], "RegistryUnknownWallet", wallet=accounts[15].address)


def test_eudr_dds_fields_and_duplicates_refused(world):
    sb, w = world.sb, world
    o = origin(sb, w)
    expect_revert(_record(sb, w.farm, o, ref=""), w.farm.account, "DdsInvalid", field="referenceNumber")
    expect_revert(_record(sb, w.farm, o, ver=""), w.farm.account, "DdsInvalid", field="verificationNumber")
    expect_revert(DDS.functions.record(o, "R1", "V1", b"\x00" * 32), w.farm.account, "DdsInvalid",
                  field="documentHash")
    sb.tx(_record(sb, w.farm, o, ref="R1"), w.farm)
    expect_revert(_record(sb, w.farm, o, ref="R1"), w.farm.account, "DdsDuplicateReference", batchId=o,
                  referenceNumber="R1")


def test_eudr_dds_amend_and_retract_only_by_operator_and_once(world):
    sb, w = world.sb, world
    o = origin(sb, w)
    sb.tx(_record(sb, w.farm, o), w.farm)
    amend = DDS.functions.amend(o, 0, "NEWVERIF", h("amended"))
    expect_revert(amend, w.ginner.account, "DdsNotOperator", batchId=o, index=0, participantId=w.ginner.participant_id)
    expect_revert(DDS.functions.amend(o, 1, "X", h("x")), w.farm.account, "DdsUnknown", batchId=o, index=1)
    receipt = sb.tx(amend, w.farm)
    assert events(DDS, receipt, "DdsAmended")[0]["verificationNumber"] == "NEWVERIF"
    receipt = sb.tx(DDS.functions.retract(o, 0), w.farm)
    assert events(DDS, receipt, "DdsRetracted")[0]["index"] == 0
    expect_revert(DDS.functions.retract(o, 0), w.farm.account, "DdsAlreadyRetracted", batchId=o, index=0)
    expect_revert(amend, w.farm.account, "DdsAlreadyRetracted", batchId=o, index=0)
    assert DDS.functions.statements(o).call()[0][5] is True
