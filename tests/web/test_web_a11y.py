"""Every page of the web app: each form control has a label (walked in the browser), ids are unique,
Tab reaches every control in order starting with the skip link, the focus is visible, and a form can
be filled, reviewed and cancelled with the keyboard alone."""

from __future__ import annotations

import pytest

from webhelp import shot, sign_in

pytestmark = pytest.mark.chain

UNLABELLED = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea, button')) {
    const name = el.tagName === 'BUTTON' ? el.textContent.trim()
      : [...(el.labels || [])].map((l) => l.textContent.trim()).join(' ') || el.getAttribute('aria-label') || '';
    if (!name) bad.push(el.outerHTML.slice(0, 160));
  }
  const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
  const dup = ids.filter((x, i) => ids.indexOf(x) !== i);
  return { bad, dup, controls: document.querySelectorAll('input:not([type=hidden]), select, textarea').length };
}"""

#: every control a keyboard user must reach: visible, enabled, outside the closed dialog
REACHABLE = """() => [...document.querySelectorAll('a[href], input:not([type=hidden]), select, textarea, button')]
  .filter((e) => !e.disabled && !e.closest('dialog') && e.getClientRects().length > 0).length"""


def pages(web) -> list[str]:
    fabric = web.ids["batches"]["fabric"]
    farm = web.ids["participants"]["farm"]
    return ["/app/", "/app/supplier", "/app/credits", "/app/certifier", "/app/issuer", "/app/certificates",
            "/app/admin", f"/app/admin?participant={farm}", "/app/products", "/app/products?q=cotton",
            f"/app/products/{fabric}", f"/app/products/{fabric}/passport"]


def tab_through(page, limit: int) -> list[str]:
    """Press Tab from the top of a freshly loaded page; what got the focus, in order, until it leaves the page."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        key = page.evaluate("() => { const e = document.activeElement; if (!e || e === document.body) return null; "
                            "if (!e.dataset.tabSeen) e.dataset.tabSeen = e.tagName + ':' + (e.name || e.id || e.textContent.slice(0, 20)) + ':' + Math.random(); return e.dataset.tabSeen; }")
        if seen and key == seen[-1]:
            continue  # moving between the parts of one control (a date input's day, month, year)
        if key is None or key in seen:
            break
        seen.append(key)
    return seen


def test_every_control_is_labelled_and_reached_by_keyboard(web, ctx, wallet):
    page = ctx.new_page()
    sign_in(page, web, wallet, web.keys["polymer"])  # a supplier with holdings, credits and certificates
    for path in pages(web):
        page.goto(web.url + path)
        found = page.evaluate(UNLABELLED)
        assert not found["bad"], f"{path}: unlabelled controls {found['bad']}"
        assert not found["dup"], f"{path}: duplicate ids {found['dup']}"
        want = page.evaluate(REACHABLE)
        seen = tab_through(page, want * 4 + 5)
        assert len(seen) >= want, f"{path}: Tab reached {len(seen)} of {want} controls: {seen}"
        assert seen[0].startswith("A:Skip to content"), (path, seen[:3])
    # the focus is visible (outline) on a control
    page.goto(web.url + "/app/products")
    page.focus("#q")
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"


def test_keyboard_alone_searches_and_reviews_then_cancels(web, ctx, wallet):
    page = ctx.new_page()
    page.goto(web.url + "/app/products")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "q":
            break
    page.keyboard.type("cotton yarn")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results")
    assert "cotton yarn" in page.inner_text("#results")

    from eth_account import Account

    from node_api.core.config import ANVIL_DEFAULT_KEY

    sign_in(page, web, wallet, Account.from_key(ANVIL_DEFAULT_KEY))  # the consortium admin's browser wallet
    page.goto(web.url + "/app/admin")
    signed = len(wallet.signed)
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.name") == "name":
            break
    page.keyboard.type("Keyboard Test Mill")
    page.keyboard.press("Enter")  # submits the form: the node prepares and describes it
    page.locator("#confirm").wait_for(state="visible")
    assert page.evaluate("() => document.activeElement.id") == "confirm-cancel"  # the safe choice has the focus
    shot(page, "onboarding-review", "#confirm")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('#f-participants-register .outcome').textContent"
                           ".includes('Cancelled')")
    assert len(wallet.signed) == signed  # nothing was signed
