"""A supplier's day in the browser, each action prepared by the node, described, signed by the
injected wallet and checked on chain afterwards: create an origin with its plot's GeoJSON, a refusal
shown before anything is signed, transfer, the receiver's inbox (sender, material, quantity with
unit, model, declared certified quantity) with accept and reject, split, merge, transform, consume,
and the credit statements with their chart."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from eth_utils import keccak

from webhelp import shot, sign_and_wait, sign_in

pytestmark = pytest.mark.chain

GEOJSON = ('{"type":"Feature","properties":{"plot":"GJ-RJT-0009"},"geometry":{"type":"Polygon","coordinates":'
           '[[[70.801234,22.301234],[70.811234,22.301234],[70.811234,22.311234],[70.801234,22.301234]]]}}')


def held(web, who: str) -> dict[int, int]:
    """Batch id -> quantity the wallet holds, from the chain (the node's contract reads)."""
    ans = web.api.get(f"/participants/{web.keys[who].address}/batches").json()
    return {b["batchId"]: b["quantity"] for b in ans["batches"]}


def new_batches(before: dict[int, int], after: dict[int, int]) -> list[int]:
    return sorted(set(after) - set(before))


def fill_form(page, form: str, **values) -> None:
    for name, v in values.items():
        el = page.locator(f"{form} [name='{name}']").first
        tag = el.evaluate("e => e.tagName")
        if tag == "SELECT":
            el.select_option(label=v)
        else:
            el.fill(str(v))


def test_supplier_day(web, ctx, wallet):
    page = ctx.new_page()
    ledger = web.c.ledger
    farm, ginner = web.keys["farm"], web.keys["ginner"]
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")

    # --- the farm creates an origin with its plot's GeoJSON
    sign_in(page, web, wallet, farm)
    page.goto(web.url + "/app/supplier")
    before = held(web, "farm")
    f = "#f-batches-create"
    fill_form(page, f, material="seed cotton (g)", characteristic="organic (GOTS)", model="segregated", quantity="2",
              quantity__unit="t", productionDate=yesterday, geolocationHash=GEOJSON, ddsReference="EUDR-DDS-WEB-9",
              evidenceHash="harvest record 2026, plot 9")
    shot(page, "supplier-create-origin")
    described = sign_and_wait(page, f)
    # the node's description was on screen before signing: names, the quantity with its unit, dates
    for expected in ("Create origin", "seed cotton", "(2 t)", "segregated", "Organisations"):
        assert expected in described, (expected, described)
    (origin,) = new_batches(before, held(web, "farm"))
    assert held(web, "farm")[origin] == 2_000_000  # 2 t in the material's registered unit (g)
    assert ledger.functions.origin(origin).call()[3] == keccak(text=GEOJSON)  # the plot's GeoJSON hash on chain

    # --- a transfer of more than the farm holds: the node's refusal, before any signature
    signed = len(wallet.signed)
    f = "#f-batches-transfer"
    page.locator(f"{f} [name=batchId]").select_option(str(origin))
    fill_form(page, f, to="Rajkot Ginning Mill, Gin Rajkot", quantity="5", quantity__unit="t")
    page.locator(f"{f} button[type=submit]").click()
    page.wait_for_function("() => document.querySelector('#f-batches-transfer .outcome').textContent.includes('Refused')")
    assert "nothing signed" in page.inner_text(f"{f} .outcome")
    assert len(wallet.signed) == signed and not page.locator("#confirm").is_visible()
    shot(page, "supplier-refused")

    # --- the same transfer, 2 t: sent, waiting for the ginner
    fill_form(page, f, quantity="2")
    sign_and_wait(page, f)
    assert ledger.functions.balanceOf(farm.address, origin).call() == 0

    # --- the ginner's inbox: sender, material, quantity with unit, model, no declaration; accept
    sign_in(page, web, wallet, ginner)
    page.goto(web.url + "/app/supplier")
    row = page.locator("#inbox tbody tr", has_text=f"batch #{origin}")
    text = row.inner_text()
    for expected in ("Organic Cotton Farm, Gujarat", "seed cotton (organic)", "2 t", "segregated", "none declared"):
        assert expected in text, (expected, text)
    row.locator("button[data-settle=accept]").click()
    page.locator("#confirm").wait_for(state="visible")
    page.click("#confirm-sign")
    page.wait_for_function("() => document.querySelector('#flash').textContent.startsWith('Recorded')")
    assert ledger.functions.balanceOf(ginner.address, origin).call() == 2_000_000
    assert f"batch #{origin}" in page.inner_text("#holdings")

    # --- split 2 t into 1 t, 0.5 t and 0.5 t
    before = held(web, "ginner")
    f = "#f-batches-split"
    page.locator(f"{f} [name=batchId]").select_option(str(origin))
    fill_form(page, f, quantities="1, 0.5, 0.5", quantities__unit="t")
    sign_and_wait(page, f)
    a, b, c = new_batches(before, held(web, "ginner"))
    assert [ledger.functions.balanceOf(ginner.address, x).call() for x in (a, b, c)] == [1_000_000, 500_000, 500_000]

    # --- merge the first two: 1 t and 500 kg
    before = held(web, "ginner")
    f = "#f-batches-merge"
    for x, q, unit in ((a, "1", "t"), (b, "500", "kg")):
        page.check(f"#mg-{x}")
        page.fill(f"#mgq-{x}", q)
        page.select_option(f"#mgu-{x}", label=unit)
    fill_form(page, f, model="segregated")
    sign_and_wait(page, f)
    (merged,) = new_batches(before, held(web, "ginner"))
    assert ledger.functions.balanceOf(ginner.address, merged).call() == 1_500_000

    # --- transform the third through ginning: 500 kg seed cotton -> 175 kg lint
    before = held(web, "ginner")
    f = "#f-batches-transform"
    fill_form(page, f, processId="ginning: seed cotton to cotton lint (factor 35 %)", outputQuantity="175",
              outputQuantity__unit="kg", model="segregated")
    page.check(f"#tf-{c}")
    page.fill(f"#tfq-{c}", "0.5")
    page.select_option(f"#tfu-{c}", label="t")
    sign_and_wait(page, f)
    (lint,) = new_batches(before, held(web, "ginner"))
    assert ledger.functions.balanceOf(ginner.address, lint).call() == 175_000

    # --- consume 100 kg of the lint: sold
    f = "#f-batches-consume"
    page.locator(f"{f} [name=batchId]").select_option(str(lint))
    fill_form(page, f, quantity="100", quantity__unit="kg", reason="sold", ref="sales order WEB-77")
    sign_and_wait(page, f)
    assert ledger.functions.balanceOf(ginner.address, lint).call() == 75_000
    assert "75 kg" in page.locator("#holdings tr", has_text=f"batch #{lint}").inner_text()
    shot(page, "supplier")


def test_mass_balance_delivery_with_declaration_accept_reject_and_credits(web, ctx, wallet):
    page = ctx.new_page()
    ledger = web.c.ledger
    feedstock, cracker = web.keys["feedstock"], web.keys["cracker"]
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")

    # the refinery: a mass-balance origin, delivered with a declaration of certified quantity
    sign_in(page, web, wallet, feedstock)
    page.goto(web.url + "/app/supplier")
    before = held(web, "feedstock")
    fill_form(page, "#f-batches-create", material="naphtha (g)", characteristic="bio-circular (ISCC PLUS)",
              model="mass balance", quantity="55", quantity__unit="t", productionDate=today,
              geolocationHash='{"type":"Point","coordinates":[4.400001,51.900001]}', evidenceHash="production WEB-1")
    sign_and_wait(page, "#f-batches-create")
    (naphtha,) = new_batches(before, held(web, "feedstock"))
    f = "#f-batches-transfer"
    for q, declared in (("30", "20"), ("20", ""), ("5", "")):
        page.locator(f"{f} [name=batchId]").select_option(str(naphtha))
        fill_form(page, f, to="Steam Cracker Antwerp, Cracker Antwerp", quantity=q, quantity__unit="t",
                  certifiedQuantity=declared, certifiedQuantity__unit="t")
        described = sign_and_wait(page, f)
        assert "Steam Cracker Antwerp" in described and f"({q} t)" in described

    # the last offer (5 t) is cancelled by its sender
    page.locator("#outgoing tr", has_text="5 t").locator("button[data-settle=cancel]").click()
    page.locator("#confirm").wait_for(state="visible")
    page.click("#confirm-sign")
    page.wait_for_function("() => document.querySelector('#flash').textContent.startsWith('Recorded')")
    assert page.locator("#outgoing tbody tr").count() == 2

    # the cracker's inbox shows both, the declaration on the first; accept it, reject the other
    sign_in(page, web, wallet, cracker)
    page.goto(web.url + "/app/supplier")
    rows = page.locator("#inbox tbody tr", has_text=f"batch #{naphtha}")
    assert rows.count() == 2
    first = page.locator("#inbox tbody tr", has_text="30 t")
    text = first.inner_text()
    for expected in ("Bio-Feedstock Refinery", "naphtha (bio-circular), mass balance", "30 t", "20 t"):
        assert expected in text, (expected, text)
    shot(page, "supplier-inbox")
    first.locator("button[data-settle=accept]").click()
    page.locator("#confirm").wait_for(state="visible")
    described = page.inner_text("#confirm")
    for expected in ("Bio-Feedstock Refinery", "Steam Cracker Antwerp", "(30 t)", "(20 t)", "certified", "UTC"):
        assert expected in described, (expected, described)
    shot(page, "signing-dialog", "#confirm")
    page.click("#confirm-sign")
    page.wait_for_function("() => document.querySelector('#flash').textContent.startsWith('Recorded')")
    page.locator("#inbox tbody tr", has_text="20 t").locator("button[data-settle=reject]").click()
    page.locator("#confirm").wait_for(state="visible")
    page.click("#confirm-sign")
    page.wait_for_function("() => document.querySelector('#flash').textContent.startsWith('Recorded')")
    assert ledger.functions.balanceOf(cracker.address, naphtha).call() == 30_000_000
    # the rejected 20 t and the cancelled 5 t are back with the refinery
    assert ledger.functions.balanceOf(feedstock.address, naphtha).call() == 25_000_000
    assert "Nothing is waiting for you" in page.inner_text("#inbox")

    # credits: the period statement and its chart, in tonnes
    page.goto(web.url + "/app/credits")
    account = page.locator("article.account", has_text="naphtha, bio-circular")
    assert account.locator("svg.chart rect").count() >= 2
    assert "20 t" in account.inner_text()  # the declared certified quantity came in as credits
    shot(page, "supplier-credits")
