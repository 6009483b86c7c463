"""Certification body, issuer and certificate holder in the browser, each action signed by the
injected wallet and checked on chain afterwards: record, suspend and set capacity; issue and revoke;
transfer and retire for a beneficiary."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from webhelp import shot, sign_and_wait, sign_in

pytestmark = pytest.mark.chain


def day(offset: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=offset)).strftime("%Y-%m-%d")


def test_certification_body_records_suspends_and_sets_capacity(web, ctx, wallet):
    page = ctx.new_page()
    reg = web.c.registry
    sign_in(page, web, wallet, web.keys["control_union"])
    page.goto(web.url + "/app/certifier")
    assert "Organic Cotton Farm, Gujarat" in page.inner_text("#certifications")  # the demo's, by name

    f = "#f-participants-record-certification"
    form = page.locator(f)
    form.locator("[name=holder]").select_option(label="Coimbatore Weaving")
    form.locator("[name=certificateNumber]").fill("CU-GOTS-WEB-1")
    form.get_by_label("cotton yarn (g)").check()
    form.get_by_label("greige fabric (g)").check()
    form.get_by_label("organic (GOTS)").check()
    form.get_by_label("segregated").check()
    form.locator("[name=validFrom]").fill(day(-1))
    form.locator("[name=validTo]").fill(day(365))
    described = sign_and_wait(page, f)
    assert described
    row = page.locator("#certifications tr", has_text="CU-GOTS-WEB-1")
    assert "Coimbatore Weaving" in row.inner_text() and "active" in row.inner_text()

    f = "#f-participants-set-certification-status"
    sel = page.locator(f"{f} [name=certificationId]")
    cid = int(sel.locator("option", has_text="CU-GOTS-WEB-1").get_attribute("value"))
    sel.select_option(str(cid))
    page.locator(f"{f} [name=status]").select_option(label="suspended")
    page.locator(f"{f} [name=reasonHash]").fill("audit finding WEB-1: records incomplete")
    sign_and_wait(page, f)
    cert = reg.functions.certification(cid).call()
    assert cert[0] == web.ids["participants"]["weaver"] and cert[3] == 2  # holder, status suspended
    assert "suspended" in page.locator("#certifications tr", has_text="CU-GOTS-WEB-1").inner_text()

    f = "#f-participants-set-capacity"
    form = page.locator(f)
    form.locator("[name=participantId]").select_option(label="Organic Cotton Farm, Gujarat")
    form.locator("[name=material]").select_option(label="seed cotton (g)")
    form.locator("[name=amount]").fill("500")
    form.locator("[name=amount__unit]").select_option(label="t")
    form.locator("[name=validFrom]").fill(day(-1))
    form.locator("[name=validTo]").fill(day(180))
    sign_and_wait(page, f)
    cap = reg.functions.capacity(web.ids["participants"]["farm"], web.ids["materials"]["seed_cotton"]).call()
    assert cap[2] == 500_000_000  # 500 t in grams
    shot(page, "certification-body")


def test_issuer_issues_and_revokes_holder_transfers_and_retires(web, ctx, wallet):
    page = ctx.new_page()
    certs = web.c.certificates
    converter, brand = web.keys["converter"], web.keys["brand"]
    sign_in(page, web, wallet, web.keys["registry"])
    page.goto(web.url + "/app/issuer")

    def issue(to: str, amount: int, evidence: str) -> int:
        f = "#f-certificates-issue"
        form = page.locator(f)
        form.locator("[name=producer]").select_option(label="Polymer Plant Geleen")
        form.locator("[name=to]").select_option(label=to)
        form.locator("[name=amount]").fill(str(amount))
        form.locator("[name=material]").select_option(label="polyethylene (g)")
        form.locator("[name=unitSize]").fill("1")
        form.locator("[name=unitSize__unit]").select_option(label="t")
        form.locator("[name=unitLabel]").fill("1 t bio-circular PE")
        form.locator("[name=characteristic]").select_option(label="bio-circular (ISCC PLUS)")
        form.locator("[name=periodStart]").fill(day(-30))
        form.locator("[name=periodEnd]").fill(day(0))
        form.locator("[name=evidenceHash]").fill(evidence)
        sign_and_wait(page, f)
        return certs.functions.certificateCount().call()

    kept = issue("Film Converter Lyon, Converter Lyon", 10, "verification report WEB-1")
    assert certs.functions.balanceOf(converter.address, kept).call() == 10
    revoked = issue("Film Converter Lyon, Converter Lyon", 5, "verification report WEB-2")
    assert f"#{kept}" in page.inner_text("#issuances")
    f = "#f-certificates-revoke"
    page.locator(f"{f} [name=certificateId]").select_option(str(revoked))
    page.locator(f"{f} [name=reasonHash]").fill("double counted production")
    sign_and_wait(page, f)
    assert certs.functions.issuance(revoked).call()[0][6] is True  # revoked
    assert "revoked" in page.locator("#issuances tr", has_text=f"#{revoked}").inner_text()
    shot(page, "issuer")

    # the holder: transfer 4 units to the brand, retire 3 for a beneficiary
    sign_in(page, web, wallet, converter)
    page.goto(web.url + "/app/certificates")
    assert f"#{kept}" in page.inner_text("#held-certificates")
    f = "#f-certificates-transfer"
    page.locator(f"{f} [name=certificateId]").select_option(str(kept))
    page.locator(f"{f} [name=to]").select_option(label="Fashion Brand Ltd, Brand DC Rotterdam")
    page.locator(f"{f} [name=amount]").fill("4")
    sign_and_wait(page, f)
    assert certs.functions.balanceOf(brand.address, kept).call() == 4
    f = "#f-certificates-retire"
    form = page.locator(f)
    form.locator("[name=certificateId]").select_option(str(kept))
    form.locator("[name=amount]").fill("3")
    form.locator("[name=beneficiary]").fill("Consumer Goods Brand plc")
    form.locator("[name=periodStart]").fill(day(-30))
    form.locator("[name=periodEnd]").fill(day(0))
    form.locator("[name=purposeHash]").fill("claim: 3 t bio-circular PE film, 2026 packaging")
    sign_and_wait(page, f)
    assert certs.functions.issuance(kept).call()[1][2] == 3  # retired units
    assert certs.functions.balanceOf(converter.address, kept).call() == 3
    assert "Consumer Goods Brand plc" in page.inner_text("main")
    shot(page, "certificate-holder")
