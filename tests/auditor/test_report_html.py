"""The audit report an ISCC / ISO 22095 auditor accepts, rendered in Chromium (Playwright with Debian's
chromium, as tests/index/test_explorer.py does): every section is there, quantities are in the material's
unit (kg, t; never grams), certificate numbers per account, conversions link their in and out legs with
process and factor, credits in transit at the end of the period, the book & claim register, physical stock
beside booked credits, claims as tables, one statement per site covering all its materials. A screenshot is
kept under the test's tmp dir."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.units import qty
from testkit.sandbox import MASS_BALANCE

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_quantities_are_shown_in_the_materials_unit():
    assert qty(90_000, "kg") == "90,000 kg"  # a 90,000 kg declaration is 90,000 kg, not "90 kg"
    assert qty(12_500, "g") == "12.5 kg" and qty(3_400_000, "g") == "3.4 t" and qty(5, "t") == "5 t"
    assert qty(7, "MWh") == "7 MWh"


def test_audit_report_in_chromium(env, capsys, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download needed)")
    sb, w = env.sb, env.world
    # a declared delivery still in transit at the end of the period: 0.2 t of lint with 0.1 t of credits
    mb = sb.create_origin(w.farm, w.raw_cotton, 400_000, characteristic=w.organic, model=MASS_BALANCE)
    sb.propose(w.farm, w.ginner, mb, 200_000, certified=100_000)
    page_file = tmp_path / "audit.html"
    json_file = tmp_path / "audit.json"
    rc = main(["--rpc", env.rpc, "--registry", env.registry, "--json", "--no-views", "--report-html", str(page_file),
               "--report-json", str(json_file), "--claim-text", "contains 25 % organic cotton", "--token",
               str(env.ids["yarn"])])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0, [f["message"] for f in res["findings"]]
    sites = res["report"]["sites"]
    farm = next(s for s in sites if s["participantName"] == w.farm.name)
    assert len({(s["participant"], s["site"]) for s in sites}) == len(sites)  # one statement per site
    raw = next(m for m in farm["materials"] if m["material"] == w.raw_cotton)
    assert raw["inTransitOut"] == 200_000 and raw["inTransitOutText"] == "200 kg"
    organic = next(c for c in raw["credits"] if c["characteristic"] == w.organic)
    assert organic["inTransitOut"] == 100_000 and organic["certificates"][0]["number"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            external = []
            page.on("request", lambda r: external.append(r.url) if not r.url.startswith("file:") else None)
            page.goto(page_file.as_uri())
            for section in ("rules", "findings", "claims", "sites", "mass-balance", "book-and-claim"):
                assert page.locator(f"h2#{section}").count() == 1, section
            assert "All rules hold" in page.locator("h1").inner_text()
            # one statement per site, covering all its materials, stock beside credits
            assert page.locator("section.site").count() == len(sites)
            farm_section = page.locator("section.site", has_text=f"{w.farm.name} · site")
            assert farm_section.count() >= 1
            stock = farm_section.first.locator("table.stock").inner_text()
            assert "physical stock" in stock and "booked credits" in stock and "200 kg" in stock and "100 kg" in stock
            assert organic["certificates"][0]["number"] in stock
            # conversions: process, factor, the input and output legs, the credit legs of the same transaction
            conv = page.locator("table.conversions").all_inner_texts()
            ginning = next(t for t in conv if "ConvertedOut" in t)
            assert "ConvertedIn" in ginning and "0.35" in ginning and " t" in ginning
            # the claim as a table
            claim = page.locator("table.kv").first.inner_text()
            assert "SUPPORTED" in claim and "contains 25 % organic cotton" in claim
            # book & claim: issuances, retirements per beneficiary and period, revocations
            assert "Brand Ltd FW25 collection" in page.locator("table.retirements").inner_text()
            revoked = page.locator("table.revocations").inner_text()
            assert str(env.ids["cert_revoked"]) in revoked
            assert page.locator("table.issuances tr").count() == 1 + len(res["report"]["bookAndClaim"]["issuances"])
            # mass-balance statements with units and charts
            assert page.locator("table.statement").count() == len(res["massBalance"]) and page.locator("svg").count()
            # every figure in a quantity table carries its unit, and no quantity is shown in grams
            text = page.locator("body").inner_text()
            assert not re.search(r"\d g\b", text)
            for cell in page.locator("table.stock td:nth-child(2), table.statement td:nth-child(3)").all_inner_texts():
                assert re.fullmatch(r"-?[\d,.]+ (kg|t)", cell.strip()), cell
            assert external == []
            page.screenshot(path=str(tmp_path / "audit-report.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "audit-report.png").stat().st_size > 10_000
