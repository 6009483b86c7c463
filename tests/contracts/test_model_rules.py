"""ModelRules, the ISO 22095 chain-of-custody model rules, function by function through ModelRulesHarness.

Each rule's allowed paths and each refusal with its decoded custom error and arguments, without a
consortium: the ledger-level tests (test_models.py, test_custody.py, test_invariants.py) show that
BatchLedger applies these rules in the right order; these show what each rule says on its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from node_api.core.chain import call_revert, deploy_contract
from testkit.sandbox import (
    CONTROLLED_BLENDING,
    IDENTITY_PRESERVED,
    MASS_BALANCE,
    PPM,
    SEGREGATED,
    UNCERTIFIED,
)

CERTIFIED = (MASS_BALANCE, CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED)
COTTON, YARN = 1, 2
ORGANIC, RECYCLED = 7, 8


@pytest.fixture(scope="module")
def rules(w3, accounts, artifacts) -> Any:
    return deploy_contract(w3, artifacts["ModelRulesHarness"], accounts[0]).functions


def batch(material=COTTON, characteristic=ORGANIC, model=SEGREGATED, share=PPM, origin=1) -> tuple:
    """A Batch struct as the ledger stores it (creator, kind and createdAt do not enter any rule)."""
    return (material, characteristic, model, share, 1, origin, 0, 1_700_000_000)


def mix(total=0, certified=0, material=COTTON, characteristic=ORGANIC, origin=1, mixed=False) -> tuple:
    return (total, certified, material, characteristic, origin, mixed)


def refusal(fn) -> tuple[str, dict[str, Any]] | None:
    return call_revert(fn)


# ------------------------------------------------------------------------------------------------ origin
def test_checkOriginClaim_acceptsTheShareOfEachModel(rules) -> None:
    for model, characteristic, share in [
        (UNCERTIFIED, 0, 0),
        (MASS_BALANCE, ORGANIC, 0),
        (CONTROLLED_BLENDING, ORGANIC, 1),
        (CONTROLLED_BLENDING, ORGANIC, PPM),
        (SEGREGATED, ORGANIC, PPM),
        (IDENTITY_PRESERVED, ORGANIC, PPM),
    ]:
        assert refusal(rules.checkOriginClaim(model, characteristic, share)) is None, (model, share)


def test_checkOriginClaim_refusesACharacteristicOnUncertified(rules) -> None:
    assert refusal(rules.checkOriginClaim(UNCERTIFIED, ORGANIC, 0)) == ("BatchInvalidOrigin", {"field": "characteristic"})


def test_checkOriginClaim_refusesCertifiedWithoutCharacteristic(rules) -> None:
    for model in CERTIFIED:
        share = PPM if model >= SEGREGATED else 1 if model == CONTROLLED_BLENDING else 0
        assert refusal(rules.checkOriginClaim(model, 0, share)) == ("BatchInvalidOrigin", {"field": "characteristic"})


def test_checkOriginClaim_refusesAShareTheModelCannotCarry(rules) -> None:
    for model, characteristic, share in [
        (UNCERTIFIED, 0, 1),
        (MASS_BALANCE, ORGANIC, 1),
        (CONTROLLED_BLENDING, ORGANIC, 0),
        (CONTROLLED_BLENDING, ORGANIC, PPM + 1),
        (SEGREGATED, ORGANIC, PPM - 1),
        (IDENTITY_PRESERVED, ORGANIC, 0),
    ]:
        assert refusal(rules.checkOriginClaim(model, characteristic, share)) == (
            "BatchInvalidOrigin",
            {"field": "share"},
        ), (model, share)


def test_originOf_physicalClaimIsItsOwnOrigin(rules) -> None:
    assert [rules.originOf(m, 42).call() for m in range(5)] == [0, 0, 42, 42, 42]


def test_certifiedAtOrigin_massBalanceCountsAllElseTheShare(rules) -> None:
    assert rules.certifiedAtOrigin(MASS_BALANCE, 1000, 0).call() == 1000
    assert rules.certifiedAtOrigin(CONTROLLED_BLENDING, 1000, 250_000).call() == 250
    assert rules.certifiedAtOrigin(SEGREGATED, 1000, PPM).call() == 1000
    assert rules.certifiedAtOrigin(UNCERTIFIED, 1000, 0).call() == 0


# ------------------------------------------------------------------------------------------------ mixing
def test_addInput_firstInputSetsMaterialAndOrigin(rules) -> None:
    m = rules.addInput(mix(material=0, characteristic=0, origin=0), 0, 5, batch(origin=3), 1000, SEGREGATED).call()
    assert m == (1000, 1000, COTTON, ORGANIC, 3, False)


def test_addInput_refusesZeroQuantity(rules) -> None:
    assert refusal(rules.addInput(mix(), 0, 5, batch(), 0, SEGREGATED)) == ("BatchZeroQuantity", {})


def test_addInput_refusesAnotherMaterial(rules) -> None:
    assert refusal(rules.addInput(mix(), 1, 5, batch(material=YARN), 10, SEGREGATED)) == (
        "BatchMaterialMismatch",
        {"batchId": 5, "expected": COTTON, "actual": YARN},
    )


def test_addInput_refusesAnotherCharacteristic(rules) -> None:
    assert refusal(rules.addInput(mix(), 1, 5, batch(characteristic=RECYCLED), 10, CONTROLLED_BLENDING)) == (
        "BatchCharacteristicMismatch",
        {"batchId": 5, "expected": ORGANIC, "actual": RECYCLED},
    )


def test_addInput_uncertifiedOutputIgnoresCharacteristics(rules) -> None:
    m = rules.addInput(mix(characteristic=0), 1, 5, batch(characteristic=RECYCLED), 10, UNCERTIFIED).call()
    assert m[3] == 0


def test_addInput_uncertifiedInputLeavesCharacteristicOpen(rules) -> None:
    plain = batch(characteristic=0, model=UNCERTIFIED, share=0, origin=0)
    m = rules.mix([1, 2], [plain, batch(origin=0)], [10, 10], MASS_BALANCE).call()
    assert m == (20, 10, COTTON, ORGANIC, 0, False)


def test_addInput_refusesAWeakerInputForSegregatedOrStronger(rules) -> None:
    for requested in (SEGREGATED, IDENTITY_PRESERVED):
        assert refusal(rules.addInput(mix(), 1, 5, batch(model=CONTROLLED_BLENDING, share=500_000), 10, requested)) == (
            "BatchModelUpgrade",
            {"batchId": 5, "inputModel": CONTROLLED_BLENDING, "requested": requested},
        )


def test_addInput_allowsAWeakerOutput(rules) -> None:
    for requested in (UNCERTIFIED, MASS_BALANCE, CONTROLLED_BLENDING, SEGREGATED):
        m = rules.addInput(mix(), 1, 5, batch(model=IDENTITY_PRESERVED), 10, requested).call()
        assert m[0] == 10, requested


def test_addInput_refusesIdentityPreservedFromAnotherOrigin(rules) -> None:
    assert refusal(rules.addInput(mix(origin=1), 1, 5, batch(model=IDENTITY_PRESERVED, origin=2), 10, IDENTITY_PRESERVED)) == (
        "BatchIdentityPreservedMixed",
        {"batchId": 5, "expectedOrigin": 1, "origin": 2},
    )


def test_addInput_segregatedFromTwoOriginsIsMixed(rules) -> None:
    m = rules.mix([1, 2], [batch(origin=1), batch(origin=2)], [10, 10], SEGREGATED).call()
    assert m == (20, 20, COTTON, ORGANIC, 1, True)


def test_addInput_countsCertifiedContentOfPhysicalClaimsOnly(rules) -> None:
    inputs = [batch(model=CONTROLLED_BLENDING, share=250_000), batch(), batch(model=MASS_BALANCE, share=0)]
    m = rules.mix([1, 2, 3], inputs, [1000, 1000, 1000], MASS_BALANCE).call()
    assert (m[0], m[1]) == (3000, 1250)


def test_checkMix_refusesControlledBlendingWithoutCertifiedContent(rules) -> None:
    assert refusal(rules.checkMix(mix(total=10, certified=0), CONTROLLED_BLENDING)) == ("BatchNoCertifiedInput", {})


def test_checkMix_refusesMassBalanceWithoutCharacteristic(rules) -> None:
    assert refusal(rules.checkMix(mix(total=10, characteristic=0), MASS_BALANCE)) == ("BatchNoCertifiedInput", {})


def test_checkMix_acceptsWhatTheModelNeeds(rules) -> None:
    assert refusal(rules.checkMix(mix(total=10, certified=1), CONTROLLED_BLENDING)) is None
    assert refusal(rules.checkMix(mix(total=10, certified=0), MASS_BALANCE)) is None
    assert refusal(rules.checkMix(mix(total=10, certified=0, characteristic=0), UNCERTIFIED)) is None


def test_outputClaim_segregatedKeepsASingleOrigin(rules) -> None:
    for model in (SEGREGATED, IDENTITY_PRESERVED):
        assert rules.outputClaim(mix(total=10, certified=10, origin=4), model).call() == [ORGANIC, PPM, 4]
    assert rules.outputClaim(mix(total=10, certified=10, origin=4, mixed=True), SEGREGATED).call() == [ORGANIC, PPM, 0]


def test_outputClaim_controlledBlendingWeightsTheShare(rules) -> None:
    assert rules.outputClaim(mix(total=3000, certified=1250, origin=4), CONTROLLED_BLENDING).call() == [ORGANIC, 416_666, 0]


def test_outputClaim_massBalanceAndUncertifiedCarryNoShare(rules) -> None:
    assert rules.outputClaim(mix(total=10, certified=10), MASS_BALANCE).call() == [ORGANIC, 0, 0]
    assert rules.outputClaim(mix(total=10, certified=10), UNCERTIFIED).call() == [0, 0, 0]


def test_downgradeCredits_massBalanceBooksTheCertifiedContent(rules) -> None:
    assert rules.downgradeCredits(mix(total=10, certified=7), MASS_BALANCE).call() == 7
    for model in (UNCERTIFIED, CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED):
        assert rules.downgradeCredits(mix(total=10, certified=7), model).call() == 0


# ------------------------------------------------------------------------------------------------ transform
def test_checkYield_acceptsTheWindowBounds(rules) -> None:
    # ginning: 340,000 ppm of lint per seed cotton, 40,000 ppm tolerance -> 300..340 of 1000
    assert refusal(rules.checkYield(1000, 340, 340_000, 40_000)) is None
    assert refusal(rules.checkYield(1000, 300, 340_000, 40_000)) is None


def test_checkYield_refusesZeroOutput(rules) -> None:
    assert refusal(rules.checkYield(1000, 0, 340_000, 340_000)) == ("BatchZeroQuantity", {})


def test_checkYield_refusesMoreThanTheFactor(rules) -> None:
    assert refusal(rules.checkYield(1000, 341, 340_000, 40_000)) == (
        "BatchTransformExceedsFactor",
        {"output": 341, "maximum": 340},
    )


def test_checkYield_refusesLessThanTheTolerance(rules) -> None:
    assert refusal(rules.checkYield(1000, 299, 340_000, 40_000)) == (
        "BatchTransformBelowTolerance",
        {"output": 299, "minimum": 300},
    )


def test_checkConversion_acceptsUpToTheInputIntoMassBalance(rules) -> None:
    assert refusal(rules.checkConversion(1000, 1000, MASS_BALANCE)) is None
    for model in range(5):
        assert refusal(rules.checkConversion(0, 1000, model)) is None


def test_checkConversion_refusesMoreThanTheInput(rules) -> None:
    assert refusal(rules.checkConversion(1001, 1000, MASS_BALANCE)) == (
        "BatchConversionExceedsInput",
        {"credits": 1001, "input": 1000},
    )


def test_checkConversion_refusesIntoAnotherModel(rules) -> None:
    for model in (UNCERTIFIED, CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED):
        assert refusal(rules.checkConversion(1, 1000, model)) == (
            "BatchDeclarationNotAllowed",
            {"batchId": 0, "model": model},
        )


# ------------------------------------------------------------------------------------------------ custody, book & claim
def test_transferModel_declarationOnlyOnMassBalance(rules) -> None:
    for model in (UNCERTIFIED, CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED):
        assert refusal(rules.transferModel(9, model, 1)) == ("BatchDeclarationNotAllowed", {"batchId": 9, "model": model})
    assert rules.transferModel(9, MASS_BALANCE, 1).call() == MASS_BALANCE


def test_transferModel_massBalanceWithoutDeclarationNeedsNoCertification(rules) -> None:
    assert rules.transferModel(9, MASS_BALANCE, 0).call() == UNCERTIFIED


def test_transferModel_physicalClaimsKeepTheirModel(rules) -> None:
    for model in (UNCERTIFIED, CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED):
        assert rules.transferModel(9, model, 0).call() == model


def test_checkReleasable_refusesWithoutAPhysicalClaim(rules) -> None:
    for model in (UNCERTIFIED, MASS_BALANCE):
        assert refusal(rules.checkReleasable(9, model)) == ("BatchNotCertified", {"batchId": 9})
    for model in (CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED):
        assert refusal(rules.checkReleasable(9, model)) is None


def test_certifiedContent_isTheShareRoundedDown(rules) -> None:
    assert rules.certifiedContent(1000, PPM).call() == 1000
    assert rules.certifiedContent(999, 500_000).call() == 499
    assert rules.certifiedContent(1000, 0).call() == 0
