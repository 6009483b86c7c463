"""The sandbox's consortium works end to end, and chain time is restored between tests."""

from testkit.sandbox import DAY, MASS_BALANCE, SEGREGATED


def test_world_textile_flow(world):
    sb, w = world.sb, world
    batch = sb.create_origin(w.farm, w.raw_cotton, 10_000_000, characteristic=w.organic, model=SEGREGATED)
    sb.transfer(w.farm, w.ginner, batch, 4_000_000)
    assert sb.balance(w.ginner, batch) == 4_000_000
    assert sb.balance(w.farm, batch) == 6_000_000
    mb = sb.create_origin(w.farm, w.raw_cotton, 5_000_000, characteristic=w.organic, model=MASS_BALANCE)
    sb.transfer(w.farm, w.ginner, mb, 2_000_000, certified=1_500_000)
    assert sb.credits(w.ginner, w.raw_cotton, w.organic) == 1_500_000
    assert sb.credits(w.farm, w.raw_cotton, w.organic) == 3_500_000


def test_world_time_advances(world):
    before = world.sb.now()
    world.sb.advance(400 * DAY)
    assert world.sb.now() >= before + 400 * DAY


def test_world_time_restored_after_revert(world):
    # Runs after the test above: certifications valid for a year must still be valid.
    batch = world.sb.create_origin(world.farm, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED)
    assert world.sb.balance(world.farm, batch) == 1_000
