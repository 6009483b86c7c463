"""The printable ISCC PLUS sustainability declaration: one self-contained HTML page (no script, no external
CSS or font, A4 print layout) from a declaration's JSON, with the transaction, block and log index of every
figure beside it and, optionally, the product's QR code (an ``<img>`` of ``/products/{id}/qr.svg``)."""

from __future__ import annotations

import html
from typing import Any

from ..index.read.common import fmt_qty
from .template import FIELDS

e = html.escape

CSS = """
@page { size: A4; margin: 14mm; }
body { font: 11px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111; margin: 0 auto; max-width: 190mm; }
h1 { font-size: 18px; margin: 0 0 2px; } h2 { font-size: 13px; margin: 14px 0 4px; border-bottom: 1px solid #999; }
.sub { color: #555; margin-bottom: 10px; }
table { border-collapse: collapse; width: 100%; page-break-inside: avoid; }
th, td { border: 1px solid #bbb; padding: 3px 5px; vertical-align: top; text-align: left; }
th { background: #f0f0f0; width: 30%; font-weight: 600; }
td.ev { font: 9.5px/1.3 ui-monospace, monospace; color: #444; width: 36%; word-break: break-all; }
.head { display: flex; justify-content: space-between; align-items: flex-start; gap: 12px; }
.qr img { width: 30mm; height: 30mm; }
.note { color: #555; font-size: 10px; margin-top: 10px; }
@media print { a { color: inherit; text-decoration: none; } }
"""


def _ev(ev: dict[str, Any] | None) -> str:
    if not ev:
        return "—"
    return (f'{e(ev["event"])} · tx <span class="tx">{e(ev["tx_hash"])}</span> · block {ev["block_number"]} · '
            f'log {ev["log_index"]}')


def _row(label: str, value: str, ev: dict[str, Any] | None) -> str:
    return f"<tr><th>{e(label)}</th><td>{value}</td><td class=\"ev\">{_ev(ev)}</td></tr>"


def _party(p: dict[str, Any], site: dict[str, Any] | None, role: str) -> str:
    c = p.get("certificate") or {}
    rows = [_row(f"{role}", f"{e(p['name'] or '?')} (participant {p['participant_id']}, wallet {e(p['wallet'])})",
                 p.get("evidence")),
            _row(f"{role}: certificate number",
                 f"{e(c.get('certificate_number', 'none'))} ({e(c.get('scheme', ''))}, certification "
                 f"{c.get('certification_id', '?')})", c.get("evidence"))]
    if site:
        rows.append(_row("Address of dispatch" if role == "Supplier" else "Address of receipt",
                         f"{e(site['name'])} (site {site['site_id']}, location reference {e(site['location_ref'])})",
                         site.get("evidence")))
    return "".join(rows)


def _ppm(v: int) -> str:
    return f"{v / 10_000:.4f}".rstrip("0").rstrip(".") + " %"


def render(doc: dict[str, Any], *, qr_src: str | None = None) -> str:
    """The declaration ``doc`` (node_api.iscc.declarations) as a printable HTML page."""
    unit = doc["quantity"]["unit"]
    d = doc["delivery"]
    q, cq = doc["quantity"], doc["certified_quantity"]
    rows = [
        _row("Unique number", e(doc["id"]), d["accepted"]),
        _row("Date of delivery", f"{e(d['date'])} (batch #{d['batch_id']}, transfer {e(d['transfer_id'])})",
             d["accepted"]),
        _party(doc["supplier"], doc["dispatch_address"], "Supplier"),
        _party(doc["recipient"], doc["receipt_address"], "Recipient"),
        _row("Material", f"{e(doc['material']['name'])}" + (" (waste / residue)" if doc["material"]["waste_or_residue"]
                                                           else ""), doc["material"]["evidence"]),
        _row("Quantity", f'<b class="qty">{e(fmt_qty(q["value"], unit))}</b>', q["evidence"]),
        _row("Chain-of-custody method", e(doc["chain_of_custody_method"]["method"]),
             doc["chain_of_custody_method"]["evidence"]),
        _row("Sustainability characteristic", f"{e(doc['sustainability_characteristic']['name'])} "
             f"({e(doc['sustainability_characteristic']['scheme'])})", doc["sustainability_characteristic"]["evidence"]),
    ]
    if doc["certified_share"]:
        rows.append(_row("Certified share", e(_ppm(doc["certified_share"]["ppm"])), doc["certified_share"]["evidence"]))
    if doc["credits_applied"]:
        c = doc["credits_applied"]
        rows.append(_row("Credits applied", f"{e(fmt_qty(c['value'], unit))} (account {e(str(c['account'])[:12])}…, "
                         f"balancing period {c['period']})", c["evidence"]))
    rows.append(_row("Certified quantity", f'<b class="certified">{e(fmt_qty(cq["value"], unit))}</b>', cq["evidence"]))
    for i in doc["input_characteristics"]:
        origins = ", ".join(f"#{o}" for o in i["origins"]) or "—"
        rows.append(_row("Characteristics of the inputs",
                         f"{e(i['name'])} ({e(i['scheme'])}), {e(i['basis'])}; "
                         f"{'waste / residue' if i['waste_or_residue'] else 'not waste / residue'}; origins {origins}",
                         i["evidence"]))
    ext = doc["extent_of_input_compensation"]
    rows.append(_row("Extent of input compensation", f"{e(_ppm(ext['ppm']))} ({'full' if ext['full'] else 'partial'})",
                     ext["evidence"]))
    ms = doc["multi_site_credit_transfer"]
    if not ms["applies"]:
        rows.append(_row("Credit transfer between sites", "does not apply", None))
    for label, x in ([("Credit transfer between sites (applied by the user)", ms["this_delivery"])]
                     if ms["this_delivery"] else []) + [("Credit transfer between sites (applied upstream)", u)
                                                         for u in ms["upstream"]]:
        rows.append(_row(label, f"site {x['from_site_id']} → site {x['to_site_id']}: {e(fmt_qty(x['credits'], unit))} "
                         f"(transfer {e(x['transfer_id'][:12])}…)", x["evidence"]))
    qr = f'<div class="qr"><img alt="product QR code" src="{e(qr_src)}"></div>' if qr_src else ""
    mapping = "".join(f"<li>{e(label)}: <code>{e(path)}</code></li>" for label, path, _ in FIELDS)
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>ISCC PLUS sustainability declaration {e(d['transfer_id'][:12])}</title><style>{CSS}</style></head>"
        f'<body><div class="head"><div><h1>{e(doc["template"]["name"])}</h1>'
        f'<div class="sub">Template version {e(doc["template"]["version"])} · chain {doc["chain_id"]} · ledger '
        f'{e(doc["ledger"])}</div></div>{qr}</div>'
        f'<table id="declaration"><tr><th>Field</th><th>Value</th><th>Evidence (event · transaction · block · log)'
        f'</th></tr>{"".join(rows)}</table>'
        '<p class="note">Every figure is recorded on chain; verify this declaration with '
        f'<code>coc-audit declaration FILE --rpc URL --registry ADDRESS</code>. Field mapping (the exact ISCC template '
        f'sits behind ISCC\'s login): <ul>{mapping}</ul></p></body></html>'
    )
