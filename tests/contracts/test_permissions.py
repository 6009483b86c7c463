"""Issue 10 (I): only a participant's certifying body (or the admin) manages its certified capacity and
coverage. Another body can neither reset the capacity a participant used nor fill its coverage slots so that
the participant's own body is refused."""

from __future__ import annotations

from helpers import expect_revert, tx
from testkit.sandbox import DAY, ROLE_CERTIFIER, SEGREGATED, h, models_mask

C_SUSPENDED, C_WITHDRAWN = 2, 3


def _capacity(world, actor, material):
    return tuple(world.sb.c.registry.functions.capacity(actor.participant_id, material).call())


def _rogue(world, accounts):
    return world.sb.participant("Rogue Body", ROLE_CERTIFIER, accounts[14])


def test_setCapacity_another_body_cannot_reset_used_capacity(world, accounts):
    sb, r = world.sb, world.sb.c.registry.functions
    farm, raw = world.farm, world.raw_cotton
    sb.capacity(world.certifier, farm, raw, 1_000, days=100)
    sb.create_origin(farm, raw, 900, characteristic=world.organic, model=SEGREGATED)
    rogue = _rogue(world, accounts)
    now = sb.now()
    before = _capacity(world, farm, raw)
    # the two calls that reset `used` (end the window, start the next one) are refused from the first
    for window in ((now - 10 * DAY, now - 5 * DAY), (now - 4 * DAY, now + 100 * DAY)):
        expect_revert(r.setCapacity(farm.participant_id, raw, *window, 10**12), rogue.account,
                      "RegistryNotCertifyingBody", body=rogue.participant_id, participantId=farm.participant_id,
                      material=raw)
    assert _capacity(world, farm, raw) == before and before[3] == 900


def test_setCapacity_body_certifying_another_participant_only(world, accounts):
    """A body that certifies the farm2 (not the farm) is not the farm's certifying body."""
    sb, r = world.sb, world.sb.c.registry.functions
    rogue = _rogue(world, accounts)
    sb.certify(rogue, world.farm2, [world.raw_cotton], [world.organic])
    now = sb.now()
    expect_revert(r.setCapacity(world.farm.participant_id, world.raw_cotton, now, now + DAY, 1), rogue.account,
                  "RegistryNotCertifyingBody", body=rogue.participant_id, participantId=world.farm.participant_id,
                  material=world.raw_cotton)
    # ... nor for a material its certification of the farm2 does not cover
    expect_revert(r.setCapacity(world.farm2.participant_id, world.lint, now, now + DAY, 1), rogue.account,
                  "RegistryNotCertifyingBody", body=rogue.participant_id, participantId=world.farm2.participant_id,
                  material=world.lint)
    tx(r.setCapacity(world.farm2.participant_id, world.raw_cotton, now, now + DAY, 7), rogue.account)
    assert _capacity(world, world.farm2, world.raw_cotton)[2] == 7


def test_setCapacity_body_whose_certification_is_suspended_or_withdrawn(world, accounts):
    sb, r = world.sb, world.sb.c.registry.functions
    cert = world.certifications[world.farm.name]
    now = sb.now()
    fn = r.setCapacity(world.farm.participant_id, world.raw_cotton, now, now + DAY, 5)
    tx(r.setCertificationStatus(cert, C_SUSPENDED, h("audit")), world.certifier)
    expect_revert(fn, world.certifier.account, "RegistryNotCertifyingBody", body=world.certifier.participant_id,
                  participantId=world.farm.participant_id, material=world.raw_cotton)
    tx(r.setCertificationStatus(cert, 1, h("cleared")), world.certifier)
    tx(fn, world.certifier)
    tx(r.setCertificationStatus(cert, C_WITHDRAWN, h("fraud")), world.certifier)
    expect_revert(r.setCapacity(world.farm.participant_id, world.raw_cotton, now, now + DAY, 6),
                  world.certifier.account, "RegistryNotCertifyingBody", body=world.certifier.participant_id,
                  participantId=world.farm.participant_id, material=world.raw_cotton)


def test_setCapacity_admin_may_set_it(world, accounts):
    sb, r = world.sb, world.sb.c.registry.functions
    now = sb.now()
    tx(r.setCapacity(world.farm.participant_id, world.raw_cotton, now, now + DAY, 11), sb.admin)
    assert _capacity(world, world.farm, world.raw_cotton)[2] == 11


def test_recordCertification_suspended_certifications_cannot_fill_the_slots(world, accounts):
    """A rogue body records certifications of the farm and suspends them: they take no slot from the
    farm's own body, and the rogue can never hold more than two live slots."""
    sb, r = world.sb, world.sb.c.registry.functions
    rogue = _rogue(world, accounts)
    farm, raw, organic = world.farm, world.raw_cotton, world.organic
    for _ in range(6):
        cid = sb.certify(rogue, farm, [raw], [organic], models_mask(SEGREGATED))
        tx(r.setCertificationStatus(cid, C_SUSPENDED, h("parked")), rogue)
    # live ones: two at most
    sb.certify(rogue, farm, [raw], [organic], models_mask(SEGREGATED))
    sb.certify(rogue, farm, [raw], [organic], models_mask(SEGREGATED))
    params = (farm.participant_id, "GOTS", "GOTS-ROGUE-3", [raw], [organic], models_mask(SEGREGATED),
              sb.now() - DAY, sb.now() + 100 * DAY)
    expect_revert(r.recordCertification(params), rogue.account, "RegistryCoverageBodyLimit",
                  certifier=rogue.participant_id)
    # the farm's own body still records its renewal
    renewal = sb.certify(world.certifier, farm, [raw], [organic])
    assert tuple(r.certificationFor(farm.participant_id, raw, organic, SEGREGATED).call()) == (True, renewal)
