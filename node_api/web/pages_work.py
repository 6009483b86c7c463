"""The daily work pages: sign-in, supplier (inbox, holdings, batch actions), credits with period
statements and a chart, certification body, issuer, certificate holder, onboarding wizard.

Each takes the index connection, its reference data and the signed-in wallet's view, and returns the
page body (web.html.page wraps it). Every signing form names a node endpoint; app.js does the rest."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from ..domain import Model, Role
from ..index.read.reference import Reference
from . import data
from .html import (batch_label, checks, date, date_text, esc, field, form, hidden, org, qty, qty_field, qty_text,
                   select, table, textarea)

CERTIFIED_MODELS = [(1 << m.value, m.label) for m in Model if m != Model.UNCERTIFIED]
ROLE_CHOICES = [(r.value, r.name.lower()) for r in Role]
NOT_SIGNED_IN = ('You are not signed in. <a href="/app/">Connect your wallet or sign in with an API key</a> '
                 "to see your work here.")


def unregistered(address: str) -> str:
    return (f'<p class="empty" id="unregistered">This wallet ({esc(address)}) is not registered with any '
            "organisation on this ledger. Ask your consortium admin to onboard it: give them this address; "
            "they add it to one of your organisation's sites.</p>")


def signin(me: dict[str, Any] | None) -> str:
    state = ""
    if me and me["participant"]:
        state = (f'<p id="signed-in">Signed in as <strong>{esc(me["participant"])}</strong>'
                 f'{" at " + esc(me["site"]) if me["site"] else ""} ({esc(", ".join(me["roles"]))}), '
                 f'wallet {esc(me["address"])}.</p>')
    elif me:
        state = unregistered(me["address"])
    return f"""{state}
<section><h2>Browser wallet</h2><p>Your wallet signs every action in your browser; the node only relays it.</p>
<p><button type="button" id="connect">Connect browser wallet</button></p></section>
<section><h2>Back office: a key held by this node</h2>
<form id="key-login"><p><label for="api-key">API key</label> <input id="api-key" type="password" autocomplete="off"
required></p><p><label for="key-kind">Kind of key</label> <select id="key-kind"><option value="X-API-Key">participant
API key</option><option value="X-Admin-Key">consortium admin key</option></select></p>
<p><button type="submit">Sign in with key</button></p><div class="outcome" role="alert"></div></form></section>
<p><button type="button" id="signout">Sign out</button></p>"""


# ---------------------------------------------------------------------- supplier
def _held_options(view: dict[str, Any]) -> list[tuple[Any, str, dict[str, Any]]]:
    return [(b["batch_id"], f"{batch_label(b)}: {qty_text(b['quantity'], b['unit'])}", {"unit": b["unit"]})
            for b in view["batches_held"]]


def supplier(conn: Connection, ref: Reference, view: dict[str, Any]) -> str:
    inbox = table("Inbox: transfers awaiting your acceptance",
                  ["From", "Material", "Quantity", "Model", "Declared certified quantity", "Offered", "Decision"],
                  (_inbox_row(conn, ref, x) for x in view["incoming"]),
                  "Nothing is waiting for you. Transfers other organisations send you appear here.", tid="inbox")
    held = table("Holdings", ["Batch", "Quantity", "Model", "Certified share"],
                 ([esc(batch_label(b)), qty(b["quantity"], b["unit"]), esc(b["model"]),
                   f"{b['share_ppm'] / 10_000:g} %"] for b in view["batches_held"]),
                 "You hold no batch yet. Create an origin below, or accept a transfer from your inbox.", tid="holdings")
    out = table("Sent, not yet accepted", ["To", "Batch", "Quantity", "Declared certified", "Sent", "Offer"],
                ([org(x["receiver"]), f"#{x['batch_id']}", _tq(conn, ref, x, "quantity"),
                  _tq(conn, ref, x, "certified_quantity"), date(x["proposed"]["time"]),
                  f'<button type="button" data-settle="cancel" data-transfer="{esc(x["transfer_id"])}">Cancel offer'
                  "</button>"] for x in view["outgoing"]),
                "No transfer of yours is waiting for its receiver.", tid="outgoing")
    return inbox + held + out + _supplier_forms(conn, ref, view)


def _tq(conn: Connection, ref: Reference, x: dict[str, Any], key: str) -> str:
    b = data.batch_facts(conn, ref, x["batch_id"])
    return qty(x[key], b["unit"] if b else "")


def _inbox_row(conn: Connection, ref: Reference, x: dict[str, Any]) -> list[str]:
    b = data.batch_facts(conn, ref, x["batch_id"]) or {"material": "?", "unit": "", "model": "?", "batch_id": x["batch_id"],
                                                         "characteristic": None}
    declared = qty(x["certified_quantity"], b["unit"]) if x["certified_quantity"] else "none declared"
    tid = esc(x["transfer_id"])
    buttons = (f'<button type="button" data-settle="accept" data-transfer="{tid}">Accept</button> '
               f'<button type="button" data-settle="reject" data-transfer="{tid}">Reject</button>')
    return [org(x["signer"]), esc(batch_label(b)), qty(x["quantity"], b["unit"]), esc(b["model"]), declared,
            date(x["proposed"]["time"]), buttons]


def _supplier_forms(conn: Connection, ref: Reference, view: dict[str, Any]) -> str:
    held = _held_options(view)
    none_held = "You hold no batch: create an origin first."
    mats = data.materials(ref)
    model_opts = [(m.label, m.label, {}) for m in Model]
    chars = [(0, "none", {})] + data.characteristics(ref)
    create = form("batches/create", "Create an origin batch", "".join([
        select("material", "Material", mats, attrs='data-material', empty="No material is registered yet."),
        select("characteristic", "Sustainability characteristic", chars),
        select("model", "Chain-of-custody model", model_opts, kind="text", attrs="data-sets-share"),
        field("share", "Certified share (%)", kind="percent", input_type="number", value="0",
              attrs='min="0" max="100" step="any"',
              hint="100 for segregated or identity preserved; 0 for mass balance (the credits carry the claim)."),
        qty_field("quantity", "Quantity", unit_from="material"),
        field("productionDate", "Production date", kind="date", input_type="date"),
        textarea("geolocationHash", "Plot geolocation (GeoJSON)", kind="text",
                 hint="The node records the hash of this GeoJSON on chain; keep the file."),
        field("ddsReference", "EUDR due-diligence statement reference", required=False),
        field("evidenceHash", "Evidence (harvest or production record reference)",
              hint="A document reference; its hash is recorded."),
    ]), button="Review and sign", hint="The node checks your certification and capacity before you sign.")
    transfer = form("batches/transfer", "Transfer with declaration", "".join([
        select("batchId", "Batch", held, empty=none_held, attrs='data-material'),
        select("to", "To organisation", data.organisations(ref, exclude=view["participant_id"]), kind="text",
               empty="No other organisation is registered."),
        qty_field("quantity", "Quantity", unit_from="batchId"),
        qty_field("certifiedQuantity", "Declared certified quantity (mass balance)", unit_from="batchId", required=False),
    ]), button="Review and sign", flow="transfer",
        hint="The receiver accepts or rejects; until then the quantity is in transit.")
    split = form("batches/split", "Split a batch", "".join([
        select("batchId", "Batch", held, empty=none_held, attrs='data-material'),
        field("quantities", "Quantities of the new batches, separated by commas", kind="qtylist",
              hint="In the unit chosen next; e.g. 2, 0.975"),
        f'<p><label for="split-unit">unit of the quantities</label> <select id="split-unit" name="quantities__unit" '
        'data-unit-select data-unit-from="batchId"></select></p>',
    ]), button="Review and sign")
    merge = form("batches/merge", "Merge batches of one material", _pick("mg", held, none_held) + select(
        "model", "Model of the merged batch", model_opts, kind="text"), button="Review and sign",
        hint="Tick the batches to merge and give the quantity taken from each.")
    transform = form("batches/transform", "Transform through a registered process", "".join([
        select("processId", "Process", data.processes(conn, ref), empty="No process is registered yet."),
        _pick("tf", held, none_held),
        qty_field("outputQuantity", "Output quantity", unit_from="processId"),
        select("model", "Model of the output", model_opts, kind="text"),
        qty_field("creditsToConvert", "Mass-balance credits of the input to convert", unit_from="processId",
                  unit_attr="in-unit", required=False),
    ]), button="Review and sign")
    consume = form("batches/consume", "Consume (sold or destroyed)", "".join([
        select("batchId", "Batch", held, empty=none_held, attrs='data-material'),
        qty_field("quantity", "Quantity", unit_from="batchId"),
        select("reason", "Reason", [(0, "sold", {}), (1, "destroyed", {})]),
        field("ref", "Reference (sales order, destruction record)", hint="Its hash is recorded."),
    ]), button="Review and sign")
    return create + transfer + split + merge + transform + consume


def _pick(prefix: str, held: list[tuple[Any, str, dict[str, Any]]], none_held: str) -> str:
    """Held batches to choose from, each with the quantity taken from it (registered unit)."""
    rows = "".join(
        f'<tr><td><input type="checkbox" id="{prefix}-{v}" name="batchIds" value="{v}" data-kind="intlist"> '
        f'<label for="{prefix}-{v}">{esc(text)}</label></td><td><label for="{prefix}q-{v}">quantity taken</label> '
        f'<input id="{prefix}q-{v}" name="quantities" data-kind="rowqty" data-row="{v}" inputmode="decimal"> '
        f'<label for="{prefix}u-{v}" class="unit-label">unit</label> <select id="{prefix}u-{v}" '
        f'name="quantities-{v}__unit" data-unit="{esc(d["unit"])}" data-unit-select></select></td></tr>'
        for v, text, d in held)
    return f'<table class="pick"><tbody>{rows}</tbody></table>' if rows else f'<p class="empty">{none_held}</p>'


# ---------------------------------------------------------------------- credits
def credits(view: dict[str, Any]) -> str:
    out = []
    for a in view["credit_accounts"]:
        unit = a["unit"]
        title = f"{a['material']}, {a['characteristic'] or 'no characteristic'} ({a['scheme'] or 'no scheme'})"
        rows = [[esc(_period(a, s["period"])), qty(s["opening"], unit), qty(s["inflow"] + s["converted_in"], unit),
                 qty(s["outflow"] + s["converted_out"], unit), qty(s["lapsed"], unit), qty(s["closing"], unit)]
                for s in a["statements"]]
        out.append(f'<article class="account"><h2>{esc(title)}</h2><p>Balance: <strong>{qty(a["balance"], unit)}'
                   f'</strong> at {esc(a["site"] or "your site")}</p>{chart(a)}'
                   + table("Period statements", ["Period", "Opening", "In", "Out", "Lapsed", "Closing"], rows,
                           "No booking yet in any period.") + "</article>")
    if not out:
        return ('<p class="empty" id="no-credits">Your site has no mass-balance credit account yet. One opens when you '
                "create or receive a mass-balance batch with a characteristic.</p>")
    return "".join(out)


def _period(a: dict[str, Any], period: int) -> str:
    start = a["anchor"] + period * a["period_length"]
    end = start + a["period_length"]
    return f"{date_text(start, time=False)} – {date_text(end, time=False)}"


def chart(a: dict[str, Any]) -> str:
    """The closing balance of each period as an inline SVG bar chart (with a text alternative)."""
    st = a["statements"]
    if not st:
        return ""
    top = max(max(s["closing"], s["inflow"] + s["converted_in"]) for s in st) or 1
    w, h, bar = 60 * len(st) + 40, 160, 36
    bars = []
    for i, s in enumerate(st):
        x = 30 + i * 60
        for v, cls, dx in ((s["inflow"] + s["converted_in"], "in", 0), (s["closing"], "closing", bar // 2)):
            bh = int(120 * v / top)
            bars.append(f'<rect class="{cls}" x="{x + dx}" y="{140 - bh}" width="{bar // 2}" height="{bh}"></rect>')
        bars.append(f'<text x="{x + bar // 2}" y="155" text-anchor="middle">P{s["period"]}</text>')
    label = esc("; ".join(f"period {s['period']}: in {qty_text(s['inflow'] + s['converted_in'], a['unit'])}, "
                          f"closing {qty_text(s['closing'], a['unit'])}" for s in st))
    return (f'<figure><svg class="chart" role="img" aria-label="{label}" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}">{"".join(bars)}</svg><figcaption>Credits in (light) and closing balance (dark) per '
            "balancing period</figcaption></figure>")


# ---------------------------------------------------------------------- certification body
def certifier(conn: Connection, ref: Reference, view: dict[str, Any]) -> str:
    mine = data.certified_by(conn, ref, view["participant_id"])
    rows = [[esc(c["holder"]), esc(f"{c['scheme']} {c['certificate_number']}"), esc(", ".join(c["models"])),
             f"{date(c['valid_from'], time=False)} – {date(c['valid_to'], time=False)}", esc(c["status_now"])]
            for c in mine]
    listing = table("Certifications you recorded", ["Holder", "Certificate", "Models", "Valid", "Status"], rows,
                    "You have recorded no certification yet.", tid="certifications")
    orgs = data.participant_list(ref)
    mats = data.materials(ref)
    record = form("participants/record-certification", "Record a certification", "".join([
        select("holder", "Holder organisation", orgs),
        field("scheme", "Scheme", value="GOTS"),
        field("certificateNumber", "Certificate number"),
        checks("materials", "Materials covered", [(m[0], m[1]) for m in mats], kind="intlist"),
        checks("characteristics", "Characteristics covered", [(c[0], c[1]) for c in data.characteristics(ref)],
               kind="intlist"),
        checks("models", "Chain-of-custody models covered", CERTIFIED_MODELS),
        field("validFrom", "Valid from", kind="date", input_type="date"),
        field("validTo", "Valid to", kind="date", input_type="date"),
    ]), button="Review and sign")
    cert_opts = [(c["certification_id"], f"{c['holder']}: {c['scheme']} {c['certificate_number']} ({c['status_now']})", {})
                 for c in mine]
    status = form("participants/set-certification-status", "Suspend, reinstate or withdraw a certification", "".join([
        select("certificationId", "Certification", cert_opts, empty="You have recorded no certification."),
        select("status", "New status", [("suspended", "suspended", {}), ("withdrawn", "withdrawn", {}),
                                        ("active", "active (reinstate)", {})], kind="text"),
        field("reasonHash", "Reason (audit finding reference)", hint="Its hash is recorded."),
    ]), button="Review and sign")
    capacity = form("participants/set-capacity", "Set certified capacity", "".join([
        select("participantId", "Organisation", orgs),
        select("material", "Material", mats, attrs="data-material"),
        qty_field("amount", "Capacity", unit_from="material"),
        field("validFrom", "From", kind="date", input_type="date"),
        field("validTo", "To", kind="date", input_type="date"),
    ]), button="Review and sign")
    return listing + record + status + capacity


# ---------------------------------------------------------------------- issuer and holder
def issuer(conn: Connection, ref: Reference, view: dict[str, Any]) -> str:
    mine = data.issued_by(conn, ref, view["participant_id"])
    rows = [[f"#{c['certificate_id']}", esc(c["producer"]), org(c["issued_to"]),
             esc(f"{c['amount']} × {c['unit_label']}"), esc(f"{c['material']}, {c['characteristic'] or ''}"),
             "revoked" if c["revoked"] else "valid"] for c in mine]
    listing = table("Issuances", ["Certificate", "Producer", "Issued to", "Units", "Material", "Status"], rows,
                    "You have issued no certificate yet.", tid="issuances")
    issue = form("certificates/issue", "Issue certificates", "".join([
        select("producer", "Producer organisation", data.participant_list(ref)),
        select("to", "Issued to (wallet of)", data.organisations(ref), kind="text"),
        field("amount", "Number of certificate units", kind="int", input_type="number", attrs='min="1"'),
        select("material", "Material", data.materials(ref), attrs="data-material"),
        qty_field("unitSize", "Size of one unit", unit_from="material"),
        field("unitLabel", "Unit label", value="1 t"),
        select("characteristic", "Characteristic", data.characteristics(ref)),
        field("periodStart", "Production period start", kind="date", input_type="date"),
        field("periodEnd", "Production period end", kind="date", input_type="date"),
        field("evidenceHash", "Evidence (verification report reference)", hint="Its hash is recorded."),
        field("pledgeId", "Pledge number (0: verified production, no pledge)", kind="int", input_type="number",
              value="0", attrs='min="0"'),
    ]), button="Review and sign")
    revoke = form("certificates/revoke", "Revoke an issuance", "".join([
        select("certificateId", "Issuance", [(c["certificate_id"], f"#{c['certificate_id']} {c['producer']}, "
                                              f"{c['amount']} × {c['unit_label']}", {}) for c in mine if not c["revoked"]],
               empty="No valid issuance of yours."),
        field("reasonHash", "Reason", hint="Its hash is recorded."),
    ]), button="Review and sign")
    return listing + issue + revoke


def holder(ref: Reference, view: dict[str, Any]) -> str:
    held = [c for c in view["certificates_held"] if c["issuance"]]
    rows = [[f"#{c['certificate_id']}", esc(c["issuance"]["producer"]), esc(c["issuance"]["material"]),
             esc(f"{c['units']} × {c['issuance']['unit_label']}"),
             f"{date(c['issuance']['period_start'], time=False)} – {date(c['issuance']['period_end'], time=False)}"]
            for c in held]
    listing = table("Certificates you hold", ["Certificate", "Producer", "Material", "Units", "Production period"], rows,
                    "You hold no certificate. Issuers issue them to you, or another holder transfers them.",
                    tid="held-certificates")
    opts = [(c["certificate_id"], f"#{c['certificate_id']} {c['issuance']['material']} ({c['units']} units)", {})
            for c in held]
    transfer = form("certificates/transfer", "Transfer certificates", "".join([
        select("certificateId", "Certificate", opts, empty="You hold no certificate."),
        select("to", "To organisation", data.organisations(ref, exclude=view["participant_id"]), kind="text"),
        field("amount", "Units", kind="int", input_type="number", attrs='min="1"'),
    ]), button="Review and sign")
    retire = form("certificates/retire", "Retire for a beneficiary", "".join([
        select("certificateId", "Certificate", opts, empty="You hold no certificate."),
        field("amount", "Units", kind="int", input_type="number", attrs='min="1"'),
        field("beneficiary", "Beneficiary (who makes the claim)"),
        field("periodStart", "Claim period start", kind="date", input_type="date"),
        field("periodEnd", "Claim period end", kind="date", input_type="date"),
        field("purposeHash", "Purpose of the claim", hint="Its hash is recorded."),
    ]), button="Review and sign")
    retired = table("Your retirements", ["Certificate", "Units", "Beneficiary", "Retired"],
                    ([f"#{r['certificate_id']}", esc(r["amount"]), esc(r["beneficiary"]), date(r["time"])]
                     for r in view["retirements"]), "You have retired no certificate.")
    return listing + transfer + retire + retired


# ---------------------------------------------------------------------- onboarding wizard
def onboarding(ref: Reference, participant_id: int | None) -> str:
    """Organisation -> sites -> wallets -> roles. The wallet step lists only the organisation's own
    sites and is shown only once it has one, so a wallet without a site (site 0) cannot be made."""
    steps = ['<ol class="steps">']
    p = ref.participants.get(participant_id) if participant_id else None
    names = ["Organisation", "Sites", "Wallets", "Roles"]
    sites = [s for s in ref.sites.values() if p and s.participant_id == p.participant_id]
    wallets = ref.wallets_of(p.participant_id) if p else []
    current = 0 if p is None else (1 if not sites else (2 if not wallets else 3))
    for i, n in enumerate(names):
        mark = ' aria-current="step"' if i == current else ""
        steps.append(f"<li{mark}>{n}</li>")
    steps.append("</ol>")
    body = "".join(steps)
    if p is None:
        existing = "".join(f'<li><a href="/app/admin?participant={q.participant_id}">{esc(q.name)}</a></li>'
                           for q in ref.participants.values())
        body += form("participants/register", "1. Register the organisation", "".join([
            field("name", "Organisation name"),
            checks("roles", "Roles", ROLE_CHOICES, checked=[Role.SUPPLIER.value]),
        ]), button="Review and sign", extra='data-next="/app/admin?participant={participantId}"')
        body += f'<section><h2>Continue with an organisation</h2><ul id="orgs">{existing}</ul></section>' if existing else ""
        return body
    body += (f'<p id="onboarding-org">Onboarding <strong>{esc(p.name)}</strong> '
             f'(roles: {esc(", ".join(Role.names(p.roles)) or "none")}).</p>')
    body += table("Sites", ["Site", "Location reference"], ([esc(s.name), f'<code>{esc(s.location_ref[:18])}…</code>']
                                                           for s in sites),
                  "No site yet: add the first one. Every wallet acts from a site.", tid="sites")
    body += form("participants/add-site", "2. Add a site", "".join([
        hidden("participantId", p.participant_id), field("name", "Site name"),
        field("locationRef", "Location (GS1 GLN, address or GeoJSON)", hint="Its hash is recorded."),
    ]), button="Review and sign")
    body += table("Wallets", ["Wallet", "Site"], ([esc(ref.who(a)["address"]), esc(ref.who(a)["site"] or "no site")]
                                                   for a in wallets), "No wallet yet.", tid="wallets")
    if sites:
        body += form("participants/add-wallet", "3. Add a wallet at a site", "".join([
            hidden("participantId", p.participant_id),
            field("wallet", "Wallet address", hint="0x followed by 40 hex digits, from the organisation's wallet.",
                  attrs='pattern="0x[0-9a-fA-F]{40}"'),
            select("siteId", "Site", [(s.site_id, s.name, {}) for s in sites], kind="site"),
        ]), button="Review and sign", hint="A wallet always belongs to one of the organisation's sites.")
    else:
        body += ('<section><h2>3. Add a wallet</h2><p class="empty" id="wallet-needs-site">Add a site first: a wallet '
                 "acts from one of the organisation's sites.</p></section>")
    body += form("participants/set-roles", "4. Roles", hidden("participantId", p.participant_id)
                 + checks("roles", "Roles", ROLE_CHOICES, checked=[r.value for r in Role if p.roles & r.value]),
                 button="Review and sign")
    return body
