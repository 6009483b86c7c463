"""The demo scenario the index tests (and the explorer test) read: one product per model.

- yarn product (segregated organic): two farms' origins -> ginner merges -> ginning -> spinner ->
  spinning -> split -> brand; one rejected proposal, one pending proposal, a sale.
- blend (controlled blending): a segregated and an uncertified origin merged at 40 % organic.
- mass balance: a farm's MB origin delivered with a declaration to the ginner, then to the brand.
- book & claim: a farm pledges part of a segregated batch; a certificate issued from the pledge
  to the brand, one unit retired.
- a balancing period closed (time advanced past 90 days, then a new booking).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from testkit.sandbox import CONTROLLED_BLENDING, DAY, MASS_BALANCE, SEGREGATED, UNCERTIFIED, World


@dataclass
class Scenario:
    origin_a: int
    origin_b: int
    merged: int
    lint: int
    yarn: int
    product: int
    rest: int
    seg_c: int
    unc_d: int
    blend: int
    mb_origin: int
    pledged: int
    released: int
    pledge_id: int
    certificate_id: int
    retirement_id: int
    pending_transfer: str
    rejected_transfer: str
    extra: dict = field(default_factory=dict)


def build_scenario(w: World) -> Scenario:
    sb = w.sb
    # --- segregated organic yarn, two origins
    a = sb.create_origin(w.farm, w.raw_cotton, 10_000_000, characteristic=w.organic, model=SEGREGATED)
    b = sb.create_origin(w.farm2, w.raw_cotton, 6_000_000, characteristic=w.organic, model=SEGREGATED)
    sb.transfer(w.farm, w.ginner, a, 8_000_000)
    t = sb.propose(w.farm2, w.ginner, b, 6_000_000)
    sb.accept(w.ginner, t)
    rejected = sb.propose(w.farm, w.ginner, a, 500_000)
    sb.reject(w.ginner, rejected)
    merged = sb.merge(w.ginner, [a, b], [8_000_000, 6_000_000], SEGREGATED)
    lint = sb.transform(w.ginner, w.ginning, [merged], [14_000_000], 4_900_000, SEGREGATED)
    sb.transfer(w.ginner, w.spinner, lint, 4_900_000)
    yarn = sb.transform(w.spinner, w.spinning, [lint], [4_900_000], 4_165_000, SEGREGATED)
    product, rest = sb.split(w.spinner, yarn, [3_000_000, 1_165_000])
    sb.transfer(w.spinner, w.brand, product, 3_000_000)
    pending = sb.propose(w.spinner, w.brand, rest, 1_000_000)
    sb.consume(w.brand, product, 1_000_000)

    # --- controlled blending: 4 t segregated + 6 t uncertified -> 40 %
    c = sb.create_origin(w.farm, w.raw_cotton, 4_000_000, characteristic=w.organic, model=SEGREGATED)
    d = sb.create_origin(w.farm2, w.raw_cotton, 6_000_000, model=UNCERTIFIED)
    sb.transfer(w.farm, w.ginner, c, 4_000_000)
    sb.transfer(w.farm2, w.ginner, d, 6_000_000)
    blend = sb.merge(w.ginner, [c, d], [4_000_000, 6_000_000], CONTROLLED_BLENDING)

    # --- mass balance with declarations
    mb = sb.create_origin(w.farm, w.raw_cotton, 5_000_000, characteristic=w.organic, model=MASS_BALANCE)
    sb.transfer(w.farm, w.ginner, mb, 5_000_000, certified=3_000_000)
    sb.transfer(w.ginner, w.brand, mb, 5_000_000, certified=2_000_000)

    # --- book & claim from a segregated batch
    pledged = sb.create_origin(w.farm, w.raw_cotton, 2_000_000, characteristic=w.organic, model=SEGREGATED)
    pledge_id = sb.pledge_batch(w.farm, pledged, 1_000_000)
    released = sb.c.ledger.functions.batchCount().call()  # the uncertified child the pledge released
    cert = sb.issue(w.issuer, w.farm, w.brand, 1, unit_size=1_000_000, unit_label="1 t", material=w.raw_cotton,
                    characteristic=w.organic, pledge_id=pledge_id)
    retirement = sb.retire(w.brand, cert, 1, beneficiary="Brand Ltd spring collection")

    # --- close a balancing period (90-day periods): the next booking emits PeriodClosed
    sb.advance(91 * DAY)
    mb2 = sb.create_origin(w.farm, w.raw_cotton, 1_000_000, characteristic=w.organic, model=MASS_BALANCE)
    return Scenario(a, b, merged, lint, yarn, product, rest, c, d, blend, mb, pledged, released, pledge_id, cert,
                    retirement, "0x" + pending.transfer_id().hex(), "0x" + rejected.transfer_id().hex(),
                    {"mb2": mb2})
