"""The deliveries the ISCC PLUS declaration tests read (issue 14), built on the ``reg_node`` consortium:

- mass balance: the farm's 5 t MB origin delivered to the ginner with 3 t of credits applied;
- credit transfer between sites: the ginner moves 2 t (1 t credits) from its Rajkot site to its second site
  (Morbi), which then delivers 1.5 t with 0.5 t of credits to the brand;
- physical: a segregated origin delivered farm -> ginner; a controlled-blending merge (40 %) delivered
  ginner -> spinner;
- no claim: a pending proposal, a rejected one, an MB delivery without credits, an uncertified delivery."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from testkit.sandbox import CONTROLLED_BLENDING, MASS_BALANCE, SEGREGATED, UNCERTIFIED


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


@pytest.fixture(scope="module")
def iscc_case(reg_node) -> SimpleNamespace:
    w, sb = reg_node.world, reg_node.sb
    morbi = sb.add_wallet(w.ginner, reg_node.accounts[10], site="Gin Morbi")
    mb = sb.create_origin(w.farm, w.raw_cotton, 5_000_000, characteristic=w.organic, model=MASS_BALANCE)
    mb_delivery = _hex(sb.transfer(w.farm, w.ginner, mb, 5_000_000, certified=3_000_000))
    site_delivery = _hex(sb.transfer(w.ginner, morbi, mb, 2_000_000, certified=1_000_000))
    onward = _hex(sb.transfer(morbi, w.brand, mb, 1_500_000, certified=500_000))
    no_credits = _hex(sb.transfer(w.ginner, w.brand, mb, 1_000_000))
    seg = sb.create_origin(w.farm, w.raw_cotton, 3_000_000, characteristic=w.organic, model=SEGREGATED)
    seg_delivery = _hex(sb.transfer(w.farm, w.ginner, seg, 3_000_000))
    c = sb.create_origin(w.farm, w.raw_cotton, 4_000_000, characteristic=w.organic, model=SEGREGATED)
    d = sb.create_origin(w.farm2, w.raw_cotton, 6_000_000, model=UNCERTIFIED)
    sb.transfer(w.farm, w.ginner, c, 4_000_000)
    uncertified = _hex(sb.transfer(w.farm2, w.ginner, d, 6_000_000))
    blend = sb.merge(w.ginner, [c, d], [4_000_000, 6_000_000], CONTROLLED_BLENDING)
    cb_delivery = _hex(sb.transfer(w.ginner, w.spinner, blend, 10_000_000))
    extra = sb.create_origin(w.farm, w.raw_cotton, 1_000_000, characteristic=w.organic, model=SEGREGATED)
    pending = _hex(sb.propose(w.farm, w.ginner, extra, 400_000).transfer_id())
    rejected_t = sb.propose(w.farm, w.ginner, extra, 300_000)
    sb.reject(w.ginner, rejected_t)
    reg_node.sync()
    return SimpleNamespace(mb_batch=mb, mb_delivery=mb_delivery, site_delivery=site_delivery, onward_delivery=onward,
                           no_credits=no_credits, seg_origin=seg, seg_delivery=seg_delivery, cb_delivery=cb_delivery,
                           uncertified=uncertified, pending=pending, rejected=_hex(rejected_t.transfer_id()),
                           morbi=morbi, blend=blend)
