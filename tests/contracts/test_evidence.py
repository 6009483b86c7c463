"""One piece of evidence backs one claim: one origin batch, or one certificate issuance, never both."""

from helpers import expect_revert

from testkit.sandbox import SEGREGATED, UNCERTIFIED, h


def _origin_params(world, evidence, model=SEGREGATED):
    characteristic = world.organic if model != UNCERTIFIED else 0
    return world.sb.origin_params(world.farm, world.raw_cotton, 1_000, characteristic=characteristic, model=model,
                                  evidence=evidence)


def test_createOrigin_same_evidence_twice_refused(world):
    sb = world.sb
    evidence = h("harvest record 2026 field 7")
    first = sb.create_origin(world.farm, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED,
                             evidence=evidence)
    assert sb.c.ledger.functions.originByEvidence(evidence).call() == first
    count = sb.c.ledger.functions.batchCount().call()
    for producer in (world.farm, world.farm2):  # neither the same producer nor another one
        expect_revert(sb.c.ledger.functions.createOrigin(_origin_params(world, evidence)), producer.account,
                      "BatchEvidenceAlreadyUsed", evidenceHash=evidence, batchId=first, certificateId=0)
    assert sb.c.ledger.functions.batchCount().call() == count


def test_createOrigin_evidence_of_a_certificate_issuance_refused(world):
    sb = world.sb
    evidence = h("production record backing certificates")
    certificate = sb.issue(world.issuer, world.farm, world.brand, 3, material=world.raw_cotton,
                           characteristic=world.organic, evidence=evidence)
    count = sb.c.ledger.functions.batchCount().call()
    expect_revert(sb.c.ledger.functions.createOrigin(_origin_params(world, evidence)), world.farm.account,
                  "BatchEvidenceAlreadyUsed", evidenceHash=evidence, batchId=0, certificateId=certificate)
    assert sb.c.ledger.functions.batchCount().call() == count


def test_issue_evidence_of_an_origin_batch_refused(world):
    sb = world.sb
    evidence = h("harvest record claimed physically")
    batch = sb.create_origin(world.farm, world.raw_cotton, 1_000_000, characteristic=world.organic,
                             model=SEGREGATED, evidence=evidence)
    count = sb.c.certificates.functions.certificateCount().call()
    params = (world.farm.participant_id, world.brand.address, 1, 1_000_000, "1 t", world.raw_cotton, world.organic,
              sb.now() - 86_400, sb.now(), evidence, 0)
    expect_revert(sb.c.certificates.functions.issue(params), world.issuer.account,
                  "CertificateEvidenceBacksBatch", evidenceHash=evidence, batchId=batch)
    assert sb.c.certificates.functions.certificateCount().call() == count
    assert sb.c.certificates.functions.balanceOf(world.brand.address, count + 1).call() == 0
