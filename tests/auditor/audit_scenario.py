"""A demo ledger covering every operation, built with the sandbox on the session consortium.

Segregated origins merged, ginned and split; a two-step transfer accepted, one rejected, one cancelled;
controlled blending down to a yarn sold to the brand; mass balance with declarations, conversion,
a move within a group and a period close with a lapse scheme; book & claim from pledged credits, from a
pledged batch and from verified production, with transfers, retirements and a revocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from testkit.sandbox import (
    CONTROLLED_BLENDING,
    DAY,
    MASS_BALANCE,
    SEGREGATED,
    UNCERTIFIED,
    World,
    h,
)


@dataclass
class Demo:
    world: World
    ids: dict = field(default_factory=dict)


def build_demo(world: World) -> Demo:
    sb, w = world.sb, world
    d = Demo(world)
    ids = d.ids
    # ---------------------------------------------------------------- segregated organic: origin -> gin -> split
    o1 = sb.create_origin(w.farm, w.raw_cotton, 6_000_000, characteristic=w.organic, model=SEGREGATED)
    o2 = sb.create_origin(w.farm2, w.raw_cotton, 4_000_000, characteristic=w.organic, model=SEGREGATED)
    sb.transfer(w.farm, w.ginner, o1, 6_000_000)
    sb.transfer(w.farm2, w.ginner, o2, 4_000_000)
    merged = sb.merge(w.ginner, [o1, o2], [6_000_000, 4_000_000], SEGREGATED)
    lint = sb.transform(w.ginner, w.ginning, [merged], [10_000_000], 3_400_000, SEGREGATED)
    to_spinner, kept = sb.split(w.ginner, lint, [2_000_000, 1_400_000])
    t = sb.propose(w.ginner, w.spinner, to_spinner, 2_000_000)
    sb.accept(w.spinner, t)
    ids.update(o1=o1, o2=o2, merged=merged, lint=lint, seg_lint=to_spinner, kept=kept)
    # ---------------------------------------------------------------- controlled blending: 2 t organic + 6 t conventional
    conv = sb.create_origin(w.spinner, w.lint, 6_000_000)
    blend = sb.merge(w.spinner, [to_spinner, conv], [2_000_000, 6_000_000], CONTROLLED_BLENDING)
    yarn = sb.transform(w.spinner, w.spinning, [blend], [8_000_000], 6_800_000, CONTROLLED_BLENDING)
    sb.transfer(w.spinner, w.brand, yarn, 5_000_000)
    sb.consume(w.brand, yarn, 1_000_000)
    ids.update(conventional=conv, blend=blend, yarn=yarn)
    # a segregated yarn product, exactly 100 % organic
    seg_yarn = sb.transform(w.ginner, w.spinning, [kept], [400_000], 340_000, SEGREGATED)
    sb.transfer(w.ginner, w.brand, seg_yarn, 340_000)
    ids.update(seg_yarn=seg_yarn)
    # ---------------------------------------------------------------- mass balance: declarations, conversion, move
    mb = sb.create_origin(w.farm, w.raw_cotton, 5_000_000, characteristic=w.organic, model=MASS_BALANCE)
    sb.transfer(w.farm, w.ginner, mb, 5_000_000, certified=3_000_000)
    mb_lint = sb.transform(w.ginner, w.ginning, [mb], [5_000_000], 1_750_000, MASS_BALANCE, 3_000_000)
    rejected = sb.propose(w.ginner, w.spinner, mb_lint, 500_000, certified=400_000)
    sb.reject(w.spinner, rejected)
    cancelled = sb.propose(w.ginner, w.spinner, mb_lint, 500_000, certified=400_000)
    sb.cancel(w.ginner, cancelled)
    accepted = sb.propose(w.ginner, w.spinner, mb_lint, 1_000_000, certified=600_000)
    sb.accept(w.spinner, accepted)
    sb.tx(w.sb.c.mass_balance.functions.moveCredits(w.lint, w.cotton_waste, w.organic, 10_000), w.ginner)
    ids.update(mb=mb, mb_lint=mb_lint, mb_transfer=accepted.transfer_id())
    # ---------------------------------------------------------------- book & claim
    pledge_c = sb.pledge_credits(w.ginner, w.lint, w.organic, 50_000)
    cert_c = sb.issue(w.issuer, w.ginner, w.ginner, 5, unit_size=10_000, material=w.lint, characteristic=w.organic,
                      pledge_id=pledge_c)
    sb.tx(sb.c.certificates.functions.safeTransferFrom(w.ginner.address, w.brand.address, cert_c, 5, b""), w.ginner)
    ret_c = sb.retire(w.brand, cert_c, 2, "Brand Ltd FW25 collection")
    seg_rest = sb.split(w.ginner, kept, [500_000])[0]
    pledge_b = sb.pledge_batch(w.ginner, seg_rest, 500_000)
    cert_b = sb.issue(w.issuer, w.ginner, w.brand, 5, unit_size=100_000, material=w.lint, characteristic=w.organic,
                      pledge_id=pledge_b)
    ret_b = sb.retire(w.brand, cert_b, 3, "Brand Ltd")
    cert_v = sb.issue(w.issuer, w.farm, w.farm, 10, material=w.raw_cotton, characteristic=w.organic)
    sb.tx(sb.c.certificates.functions.safeTransferFrom(w.farm.address, w.brand.address, cert_v, 4, b""), w.farm)
    ret_v = sb.retire(w.brand, cert_v, 4, "Brand Ltd")
    cert_x = sb.issue(w.issuer, w.farm2, w.farm2, 7, material=w.raw_cotton, characteristic=w.organic)
    sb.tx(sb.c.certificates.functions.revoke(cert_x, h("fraud")), w.issuer)
    ids.update(cert_credits=cert_c, cert_batch=cert_b, cert_verified=cert_v, cert_revoked=cert_x,
               ret_credits=ret_c, ret_batch=ret_b, ret_verified=ret_v, seg_rest=seg_rest)
    # ---------------------------------------------------------------- registry changes over time
    reg = sb.c.registry
    sb.tx(reg.functions.setParticipantStatus(w.trader.participant_id, 2), sb.admin)
    sb.tx(reg.functions.setParticipantStatus(w.trader.participant_id, 1), sb.admin)
    cert_farm2 = w.certifications[w.farm2.name]
    sb.tx(reg.functions.setCertificationStatus(cert_farm2, 2, h("audit pending")), w.certifier)
    sb.tx(reg.functions.setCertificationStatus(cert_farm2, 1, h("audit passed")), w.certifier)
    # ---------------------------------------------------------------- a lapse scheme (credits lapse after 2 periods)
    mspo = sb.scheme("MSPO", period_length=30 * DAY, lapse_after=2)
    palm = sb.characteristic("sustainable palm", mspo)
    sb.certify(w.certifier, w.farm, [w.raw_cotton], [palm], scheme="MSPO")
    sb.certify(w.certifier, w.ginner, [w.raw_cotton], [palm], scheme="MSPO")
    p1 = sb.create_origin(w.farm, w.raw_cotton, 700_000, characteristic=palm, model=MASS_BALANCE)
    late = sb.propose(w.farm, w.ginner, p1, 50_000, certified=50_000)  # debited from the first vintage
    sb.advance(31 * DAY)
    p2 = sb.create_origin(w.farm, w.raw_cotton, 300_000, characteristic=palm, model=MASS_BALANCE)
    sb.transfer(w.farm, w.ginner, p2, 300_000, certified=200_000)
    sb.advance(31 * DAY)  # what is left of the first vintage lapses at the end of period 1
    sb.transfer(w.farm, w.ginner, p1, 100_000, certified=100_000)
    sb.cancel(w.farm, late)  # the credits come back dated to their expired vintage: they lapse at once
    sb.advance(60 * DAY)  # the organic 90-day period closes as well
    mb_key = sb.account_key(w.ginner, w.lint, w.organic)
    sb.tx(sb.c.mass_balance.functions.roll(mb_key), sb.admin)
    ids.update(palm=palm, mspo=mspo, p1=p1, p2=p2)
    # an uncertified batch to the trader (no declaration) and a destroyed remainder
    sb.transfer(w.ginner, w.trader, mb_lint, 100_000)
    sb.consume(w.ginner, mb_lint, 50_000, 1)
    return d
