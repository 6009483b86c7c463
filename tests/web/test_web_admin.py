"""The consortium admin's onboarding wizard in the browser, signed in with the admin key (the node
signs with the admin wallet it holds): organisation -> site -> wallet -> roles, where a wallet cannot
be added before its organisation has a site (the site-0 mistake), checked on chain. Then the new
organisation's back office signs in with an API key bound to a wallet the node holds, and works."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from webhelp import shot, sign_and_wait

pytestmark = pytest.mark.chain


def key_login(page, web, kind: str, key: str) -> None:
    page.goto(web.url + "/app/")
    page.fill("#api-key", key)
    page.select_option("#key-kind", label=kind)
    with page.expect_navigation():
        page.click("#key-login button[type=submit]")
    page.wait_for_selector("#signed-in, #unregistered")


def test_onboarding_wizard_then_api_key_back_office(web, ctx, wallet):
    from webhelp import ADMIN_KEY

    reg, ledger = web.c.registry, web.c.ledger
    admin_headers = {"X-Admin-Key": ADMIN_KEY}
    held = web.api.post("/admin/keystores", headers=admin_headers).json()["address"]  # a wallet the node holds

    page = ctx.new_page()
    key_login(page, web, "consortium admin key", ADMIN_KEY)
    page.goto(web.url + "/app/admin")
    f = "#f-participants-register"
    page.fill(f"{f} [name=name]", "Surat Spinners Co-op")
    shot(page, "onboarding-1-organisation")
    sign_and_wait(page, f)
    assert "participant=" in page.url
    pid = int(page.url.rsplit("=", 1)[1])
    assert "Surat Spinners Co-op" in page.inner_text("#onboarding-org")
    assert tuple(reg.functions.participant(pid).call()) == (4, 1)  # supplier (the default), active

    # no site yet: the wallet step is not there, only why
    assert page.locator("#f-participants-add-wallet").count() == 0
    assert "Add a site first" in page.inner_text("#wallet-needs-site")

    f = "#f-participants-add-site"
    page.fill(f"{f} [name=name]", "Surat mill")
    page.fill(f"{f} [name=locationRef]", "GLN 8901234000017")
    sign_and_wait(page, f)
    assert "Surat mill" in page.inner_text("#sites")

    f = "#f-participants-add-wallet"
    sites = page.locator(f"{f} [name=siteId] option")
    assert sites.count() == 1 and sites.first.inner_text() == "Surat mill" and int(sites.first.get_attribute("value")) > 0
    shot(page, "onboarding-3-wallet")
    # a tampered page offering "site 0" is refused before anything is prepared or signed
    page.evaluate("f => { const s = document.querySelector(f + ' [name=siteId]'); s.add(new Option('none', '0')); "
                  "s.value = '0'; }", f)
    page.fill(f"{f} [name=wallet]", held)
    page.click(f"{f} button[type=submit]")
    assert "choose one of the organisation's sites" in page.inner_text(f"{f} .outcome")
    assert not page.locator("#confirm").is_visible()
    page.locator(f"{f} [name=siteId]").select_option(label="Surat mill")
    sign_and_wait(page, f)
    bound = reg.functions.wallet(held).call()
    assert bound[0] == pid and bound[1] > 0  # bound to the organisation, at its site (never site 0)

    f = "#f-participants-set-roles"
    page.locator(f).get_by_label("brand").check()
    sign_and_wait(page, f)
    assert reg.functions.participant(pid).call()[0] == 4 | 32  # supplier and brand
    shot(page, "onboarding-4-roles")

    # the new organisation's back office: an API key for its node-held wallet; it creates a batch
    api_key = web.api.post("/admin/api-keys", headers=admin_headers, json={"address": held}).json()["apiKey"]
    page2 = ctx.new_page()
    key_login(page2, web, "participant API key", api_key)
    assert "Surat Spinners Co-op" in page2.inner_text("#signed-in")
    page2.goto(web.url + "/app/supplier")
    assert "You hold no batch yet" in page2.inner_text("#holdings")
    f = "#f-batches-create"
    page2.locator(f"{f} [name=material]").select_option(label="cotton lint (g)")
    page2.locator(f"{f} [name=quantity]").fill("1")
    page2.locator(f"{f} [name=quantity__unit]").select_option(label="t")
    page2.fill(f"{f} [name=productionDate]", datetime.now(timezone.utc).strftime("%Y-%m-%d"))
    page2.fill(f"{f} [name=geolocationHash]", '{"type":"Point","coordinates":[72.831234,21.171234]}')
    page2.fill(f"{f} [name=evidenceHash]", "intake record SURAT-1")
    sign_and_wait(page2, f)
    batches = web.api.get(f"/participants/{held}/batches").json()["batches"]
    assert [b["quantity"] for b in batches] == [1_000_000]
    assert ledger.functions.balanceOf(held, batches[0]["batchId"]).call() == 1_000_000
    assert "1 t" in page2.inner_text("#holdings")


def test_an_unregistered_wallet_sees_a_hint(web, ctx, wallet):
    from eth_account import Account

    from webhelp import sign_in

    page = ctx.new_page()
    stranger = Account.create()
    sign_in(page, web, wallet, stranger)
    assert "not registered with any organisation" in page.inner_text("#unregistered")
    for path in ("/app/supplier", "/app/credits", "/app/certificates"):
        page.goto(web.url + path)
        assert stranger.address in page.inner_text("#unregistered")
    ctx.clear_cookies()  # signed out: no wallet
    page2 = ctx.new_page()
    page2.goto(web.url + "/app/supplier")
    assert "not signed in" in page2.inner_text("#not-signed-in")
