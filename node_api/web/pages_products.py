"""The brand's pages: product search (by name, lot or batch), the product page (what it is, the claim
in words, the lineage graph as SVG, custody, the QR code) and the passport. The product page's URL
``/app/products/{token_id}`` is fixed: GS1 Digital Link URIs resolve to it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from ..index.read import provenance as provenance_
from ..index.read.reference import Reference
from . import data
from .html import batch_label, date, esc, org, qty, qty_text, table

#: above this many ancestors the graph is replaced by the list of origins (a page stays readable)
MAX_GRAPH_NODES = 120


def qr(token_id: int) -> str:
    return (f'<figure class="qr"><img src="/products/{token_id}/qr.svg" width="160" height="160" '
            f'alt="QR code linking to this product page (product {token_id})"><figcaption>Scan to open this product '
            "page</figcaption></figure>")


def search(conn: Connection, ref: Reference, q: str) -> str:
    form = (f'<form role="search" method="get" action="/app/products"><p><label for="q">Product name, maker, lot '
            f'or batch number</label> <input id="q" name="q" type="search" value="{esc(q)}"> '
            '<button type="submit">Search</button></p></form>')
    if not q:
        return form + ('<p class="empty">Type a material (e.g. "cotton"), a maker\'s name, a lot (due-diligence '
                       "reference) or a batch number.</p>")
    found = data.search(conn, ref, q)
    rows = ([f'<a href="/app/products/{b["batch_id"]}">{esc(batch_label(b))}</a>', esc(b["creator"] or "—"),
             qty(b["quantity"], b["unit"]), date(b["time"])] for b in found)
    return form + table(f"Products matching “{q}”", ["Product", "Made by", "Quantity made", "Made on"], rows,
                        f"No product matches “{esc(q)}”. Try a material name, a maker or a batch number.",
                        tid="results")


def product(conn: Connection, token_id: int) -> str | None:
    p = provenance_.provenance(conn, token_id)
    if p is None:
        return None
    b, claim, lin = p["batch"], p["claim"], p["lineage"]
    unit = b["unit"]
    holders = ", ".join(f"{org(h)}: {qty(h['quantity'], unit)}" for h in b["holders"]) or "nobody (consumed or in transit)"
    made = (f"transformed by {esc(b['transform']['process'])}" if b.get("transform") else esc(b["kind"]))
    facts = (f'<dl class="facts"><dt>Product</dt><dd id="product-name">{esc(batch_label(b))}</dd>'
             f"<dt>Made by</dt><dd>{esc(b['creator'] or '—')} ({made}) on {date(b['time'])}</dd>"
             f"<dt>Quantity made</dt><dd>{qty(b['quantity'], unit)}</dd><dt>Held by</dt><dd>{holders}</dd>"
             f"<dt>Certified share</dt><dd>{b['share_ppm'] / 10_000:g} %</dd></dl>")
    said = claim["statements"] or [claim["text"]]
    claim_html = ('<section id="claim"><h2>The claim, in words</h2>' + "".join(f"<p>{esc(s)}</p>" for s in said)
                  + "</section>")
    units = {n["batch_id"]: n["unit"] for n in lin["nodes"]}
    links = (f'<p class="links"><a href="/app/products/{token_id}/passport">Product passport</a> · '
             f'<a href="/provenance/batches/{token_id}/epcis">EPCIS 2.0 events (JSON-LD)</a> · '
             f'<a href="/provenance/batches/{token_id}/passport">Passport as JSON</a></p>')
    custody = table("Custody", ["From", "To", "Batch", "Quantity", "Declared certified", "Status", "When"],
                    ([org(x["signer"]), org(x["receiver"]), f"#{x['batch_id']}", qty(x["quantity"], units.get(x["batch_id"], unit)),
                      qty(x["certified_quantity"], units.get(x["batch_id"], unit)) if x["certified_quantity"] else "—",
                      esc(x["status"]),
                      date((x["settled"] or x["proposed"])["time"])] for x in p["custody"]),
                    "No custody transfer: the maker still holds it.", tid="custody")
    return (f'<div class="product-head">{facts}{qr(token_id)}</div>{claim_html}{links}'
            f'<section id="lineage"><h2>Where it comes from</h2>{lineage_svg(lin)}</section>{custody}')


def lineage_svg(lin: dict[str, Any]) -> str:
    """The ancestry as an SVG graph: origins on the left, this product on the right, each arrow labelled
    with the quantity that moved along it."""
    nodes = {n["batch_id"]: n for n in lin["nodes"]}
    origins = "".join(f"<li>{esc(o['producer'])}{', ' + esc(o['site']) if o.get('site') else ''}: "
                      f"{esc(o['material'])}, {esc(o['model'])}, {esc(o['contribution_percent'])} % of this product "
                      f"(origin batch #{o['batch_id']}, produced {date(o.get('production_date'), time=False)})</li>"
                      for o in lin["origins"])
    listing = f'<h3>Origins</h3><ul id="origins">{origins}</ul>'
    if len(nodes) > MAX_GRAPH_NODES:
        return f"<p>{len(nodes)} batches in this product's ancestry: too many to draw; its origins:</p>" + listing
    parents: dict[int, list[int]] = {}
    for e in lin["edges"]:
        parents.setdefault(e["child_id"], []).append(e["parent_id"])
    depth = {lin["batch_id"]: 0}
    order = [lin["batch_id"]]
    for bid in order:  # breadth first from the product; a batch sits at its longest distance
        for par in parents.get(bid, []):
            if depth.get(par, -1) < depth[bid] + 1:
                depth[par] = depth[bid] + 1
                order.append(par)
    levels = max(depth.values())
    cols: dict[int, list[int]] = {}
    for bid in sorted(depth, key=lambda i: (depth[i], i)):
        cols.setdefault(depth[bid], []).append(bid)
    bw, bh, gx, gy = 190, 54, 70, 18
    pos = {bid: (20 + (levels - d) * (bw + gx), 20 + i * (bh + gy)) for d, ids in cols.items() for i, bid in enumerate(ids)}
    width = 40 + (levels + 1) * (bw + gx) - gx
    height = 40 + max(len(ids) for ids in cols.values()) * (bh + gy) - gy
    parts = ['<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"></path></marker></defs>']
    for e in lin["edges"]:
        if e["parent_id"] not in pos or e["child_id"] not in pos:
            continue
        (x1, y1), (x2, y2) = pos[e["parent_id"]], pos[e["child_id"]]
        unit = nodes[e["parent_id"]]["unit"]
        parts.append(f'<line x1="{x1 + bw}" y1="{y1 + bh / 2}" x2="{x2}" y2="{y2 + bh / 2}" marker-end="url(#arrow)">'
                     f"</line><text class=\"edge\" x=\"{(x1 + bw + x2) / 2}\" y=\"{(y1 + y2 + bh) / 2 - 4}\" "
                     f'text-anchor="middle">{esc(qty_text(e["quantity"], unit))}</text>')
    for bid, (x, y) in pos.items():
        n = nodes[bid]
        cls = "node origin" if n["kind"] == "origin" else "node"
        parts.append(f'<g class="{cls}"><title>{esc(batch_label(n))}, {esc(qty_text(n["quantity"], n["unit"]))}, by '
                     f'{esc(n["creator"])}</title><rect x="{x}" y="{y}" width="{bw}" height="{bh}" rx="6"></rect>'
                     f'<text x="{x + 8}" y="{y + 18}">{esc(n["material"])[:28]} #{bid}</text>'
                     f'<text x="{x + 8}" y="{y + 34}">{esc(n["model"])}</text>'
                     f'<text x="{x + 8}" y="{y + 48}">{esc((n["creator"] or "")[:30])}</text></g>')
    label = f"Lineage graph of product {lin['batch_id']}: {len(nodes)} batches, {len(lin['origins'])} origins"
    return (f'<div class="graph"><svg id="lineage-graph" role="img" aria-label="{esc(label)}" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}'
            f"</svg></div>{listing}")


def passport(conn: Connection, token_id: int) -> str | None:
    pp = provenance_.passport(conn, token_id)
    if pp is None:
        return None
    pr = pp["product"]
    unit = pr["unit"]
    head = (f'<div class="product-head"><dl class="facts"><dt>Product</dt><dd>{esc(pr["material"])}'
            f'{", " + esc(pr["characteristic"]) if pr["characteristic"] else ""} (product {token_id})</dd>'
            f"<dt>Chain-of-custody model</dt><dd>{esc(pr['model'])}</dd><dt>Made by</dt><dd>{esc(pr['made_by'])} on "
            f"{date(pr['created']['time'])}</dd><dt>Quantity made</dt><dd>{qty(pr['quantity_created'], unit)}</dd>"
            f"<dt>Identifier</dt><dd><code>{esc(pp['id'])}</code></dd></dl>{qr(token_id)}</div>")
    claims = "".join(f"<p>{esc(c['text'])}</p>" for c in pp["claims"])
    origins = table("Origins", ["Producer", "Site", "Material", "Share of this product", "Produced", "Due diligence",
                                "Certification"],
                    ([esc(o["producer"]), esc(o["site"] or "—"), esc(f"{o['material']}, {o['model']}"),
                      f"{esc(o['contribution_percent'])} %", date(o["production_date"], time=False),
                      esc(o["dds_reference"] or "—"),
                      esc(f"{o['certification']['scheme']} {o['certification']['certificate_number']} "
                          f"({o['certification']['status_at_time']})") if o["certification"] else "uncertified"]
                     for o in pp["origins"]), "No origin recorded.", tid="passport-origins")
    certs = table("Certifications", ["Holder", "Certificate", "Certified by", "Valid", "Status"],
                  ([esc(c["holder"]), esc(f"{c['scheme']} {c['certificate_number']}"), esc(c["certifier"]),
                    f"{date(c['valid_from'], time=False)} – {date(c['valid_to'], time=False)}", esc(c["status_now"])]
                   for c in pp["certifications"]), "No certification in this product's lineage.")
    custody = table("Custody", ["From", "To", "Status", "When"],
                    ([esc(x["from"] or "—"), esc(x["to"] or "—"), esc(x["status"]), date(x["time"])]
                     for x in pp["custody"]), "No custody transfer.")
    return (head + f'<section id="passport-claims"><h2>Claims</h2>{claims}</section>' + origins + certs + custody
            + f'<p class="links"><a href="/app/products/{token_id}">Product page</a> · '
              f'<a href="/provenance/batches/{token_id}/passport">This passport as JSON</a></p>')
