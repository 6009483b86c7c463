"""The brand's work in the browser: search products by name, lot or batch; the product page (what it
is, the claim in words, the lineage graph, custody, the QR code); the passport."""

from __future__ import annotations

import pytest

from webhelp import shot

pytestmark = pytest.mark.chain


def test_brand_searches_and_reads_the_product_page_and_passport(web, ctx):
    page = ctx.new_page()
    fabric = web.ids["batches"]["fabric"]
    seed_cotton = web.ids["batches"]["seed_cotton"]

    page.goto(web.url + "/app/products")
    assert "Type a material" in page.inner_text("main")
    # by name (a material), by lot (the origin's due-diligence reference), by batch number
    page.fill("#q", "greige")
    page.press("#q", "Enter")
    page.wait_for_selector("#results")
    assert f"greige fabric (organic), segregated, batch #{fabric}" in page.inner_text("#results")
    assert "Coimbatore Weaving" in page.inner_text("#results")
    shot(page, "brand-search")
    page.goto(web.url + "/app/products?q=EUDR-DDS-")
    assert f"seed cotton (organic), segregated, batch #{seed_cotton}" in page.inner_text("#results")
    page.goto(web.url + f"/app/products?q=%23{fabric}")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 1
    page.goto(web.url + "/app/products?q=no-such-product-anywhere")
    assert "No product matches" in page.inner_text("main")

    # the product page: names, units, dates; the claim in words; the graph; the QR code
    page.goto(web.url + "/app/products?q=greige")
    page.click(f"#results a[href='/app/products/{fabric}']")
    page.wait_for_selector("#lineage-graph")
    assert page.url.endswith(f"/app/products/{fabric}")
    facts = page.inner_text(".facts")
    assert "Coimbatore Weaving" in facts and "1.9 t" in facts and "UTC" in facts
    claim = page.inner_text("#claim")
    assert "Segregated: this greige fabric contains 100 % organic material from Organic Cotton Farm, Gujarat" in claim
    graph = page.locator("#lineage-graph")
    assert graph.locator("g.node").count() == 5  # seed cotton -> lint -> yarn -> yarn lot -> fabric
    assert graph.locator("g.node.origin").count() == 1
    assert "10 t" in graph.text_content()  # the quantity moved along the first edge, with its unit
    assert "Organic Cotton Farm, Gujarat" in page.inner_text("#origins")
    qr = page.locator(".qr img")
    assert qr.get_attribute("src") == f"/products/{fabric}/qr.svg" and "QR code" in qr.get_attribute("alt")
    assert "Rajkot Ginning Mill" in page.inner_text("#custody")
    shot(page, "brand-product")

    page.click("text=Product passport")
    page.wait_for_selector("#passport-origins")
    assert "GOTS" in page.inner_text("main") and "EUDR-DDS-" in page.inner_text("#passport-origins")
    assert page.locator(".qr img").get_attribute("src") == f"/products/{fabric}/qr.svg"
    shot(page, "brand-passport")

    r = web.api.get("/app/products/999999")
    assert r.status_code == 404 and "Nothing here" in r.text
