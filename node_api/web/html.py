"""HTML building blocks of the web app: escaping, the page layout, names, quantities with units,
dates, tables with empty states, and labelled form controls (every control gets a <label>).

Plain Python string building with ``esc`` on every value that comes from the chain or the user: no
template engine dependency, and nothing here runs in the browser."""

from __future__ import annotations

import html
import itertools
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from ..index.read.common import fmt_qty

_ids = itertools.count(1)

NAV = [("/app/", "Sign in"), ("/app/supplier", "Supplier"), ("/app/credits", "Credits"),
       ("/app/certifier", "Certification body"), ("/app/issuer", "Issuer"), ("/app/certificates", "Certificates"),
       ("/app/admin", "Onboarding"), ("/app/products", "Products")]


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, *, active: str = "", who: str = "") -> str:
    links = "".join(f'<li><a href="{href}"{" aria-current=page" if href == active else ""}>{esc(label)}</a></li>'
                    for href, label in NAV)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · chain-of-custody ledger</title>
<link rel="stylesheet" href="/app/static/app.css">
<script type="module" src="/app/static/app.js"></script></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><nav aria-label="Main"><ul>{links}</ul></nav><p id="who" class="who">{who}</p></header>
<main id="main" tabindex="-1"><h1>{esc(title)}</h1>
<div id="flash" role="status" aria-live="polite"></div>
{body}
</main>
<dialog id="confirm" aria-labelledby="confirm-title"><form method="dialog">
<h2 id="confirm-title">What you are about to sign</h2><div id="confirm-body"></div>
<p class="buttons"><button value="sign" id="confirm-sign">Sign and send</button>
<button value="cancel" id="confirm-cancel" formnovalidate>Cancel</button></p></form></dialog>
</body></html>"""


# ---------------------------------------------------------------------- values
def qty_text(q: int | float, unit: str) -> str:
    return fmt_qty(q, unit or "")


def qty(q: int | float | None, unit: str) -> str:
    """A quantity in the material's registered unit (grams shown as kg or t when large), escaped."""
    return "—" if q is None else esc(fmt_qty(q, unit or ""))


def date_text(ts: int, *, time: bool = True) -> str:
    dt = datetime.fromtimestamp(int(ts), timezone.utc)
    return dt.strftime("%d %b %Y, %H:%M UTC") if time else dt.strftime("%d %b %Y")


def date(ts: int | None, *, time: bool = True) -> str:
    """A unix time as a readable UTC date in a <time> element (never the number itself)."""
    if not ts:
        return "—"
    dt = datetime.fromtimestamp(int(ts), timezone.utc)
    return f'<time datetime="{dt.isoformat()}">{date_text(int(ts), time=time)}</time>'


def org(who: dict[str, Any] | None) -> str:
    """A wallet as its organisation (and site), the address in a tooltip; the address alone only
    when the wallet is not bound to anyone."""
    if not who:
        return "—"
    if who.get("participant"):
        site = f" ({esc(who['site'])})" if who.get("site") else ""
        return f'<span title="{esc(who.get("address"))}">{esc(who["participant"])}{site}</span>'
    return f'<span class="addr">unregistered wallet {esc(who.get("address"))}</span>'


def batch_label(b: dict[str, Any]) -> str:
    """How a batch is named in lists: material, characteristic, model and its token number."""
    char = f" ({b['characteristic']})" if b.get("characteristic") else ""
    return f"{b['material']}{char}, {b['model']}, batch #{b['batch_id']}"


# ---------------------------------------------------------------------- tables
def table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str, *, tid: str = "") -> str:
    """A table of already-escaped cells, or the empty state with its hint."""
    rows = list(rows)
    idattr = f' id="{tid}"' if tid else ""
    if not rows:
        return f'<section{idattr}><h2>{esc(caption)}</h2><p class="empty">{empty}</p></section>'
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (f'<section{idattr}><h2>{esc(caption)}</h2><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></section>")


# ---------------------------------------------------------------------- forms (signed actions)
def form(action: str, title: str, fields: str, *, button: str, flow: str = "forward", fid: str = "",
         extra: str = "", hint: str = "") -> str:
    """A signing form: app.js prepares ``action`` (the node simulates it: a refusal shows before any
    signature), asks the node to describe the typed data, shows it, signs, submits."""
    fid = fid or "f-" + action.replace("/", "-")
    hint_html = f'<p class="hint">{hint}</p>' if hint else ""
    return (f'<section class="action"><h2 id="{fid}-h">{esc(title)}</h2>{hint_html}'
            f'<form id="{fid}" data-action="{esc(action)}" data-flow="{flow}" aria-labelledby="{fid}-h" {extra}>'
            f'{fields}<p><button type="submit">{esc(button)}</button></p>'
            f'<div class="outcome" role="alert" aria-live="assertive"></div></form></section>')


def _cid(name: str) -> str:
    return f"c{next(_ids)}-{name}"


def field(name: str, label: str, *, kind: str = "text", input_type: str = "text", value: Any = "",
          required: bool = True, hint: str = "", attrs: str = "") -> str:
    cid = _cid(name)
    req = " required" if required else ""
    desc = f' aria-describedby="{cid}-d"' if hint else ""
    hint_html = f'<small id="{cid}-d">{esc(hint)}</small>' if hint else ""
    return (f'<p><label for="{cid}">{esc(label)}</label> <input id="{cid}" name="{esc(name)}" type="{input_type}" '
            f'data-kind="{kind}" value="{esc(value)}"{req}{desc} {attrs}>{hint_html}</p>')


def textarea(name: str, label: str, *, kind: str = "text", hint: str = "", required: bool = True) -> str:
    cid = _cid(name)
    desc = f' aria-describedby="{cid}-d"' if hint else ""
    hint_html = f'<small id="{cid}-d">{esc(hint)}</small>' if hint else ""
    return (f'<p><label for="{cid}">{esc(label)}</label><textarea id="{cid}" name="{esc(name)}" data-kind="{kind}" '
            f'rows="4"{" required" if required else ""}{desc}></textarea>{hint_html}</p>')


def select(name: str, label: str, options: Sequence[tuple[Any, str, dict[str, Any]]], *, kind: str = "int",
           empty: str = "", attrs: str = "") -> str:
    """A select of (value, label, data attributes); with no option, ``empty`` says why (and the form
    cannot be sent)."""
    cid = _cid(name)
    if not options:
        return (f'<p><label for="{cid}">{esc(label)}</label> <select id="{cid}" name="{esc(name)}" data-kind="{kind}" '
                f'required disabled {attrs}></select> <small class="empty">{empty}</small></p>')
    opts = "".join(f'<option value="{esc(v)}"' + "".join(f' data-{k}="{esc(x)}"' for k, x in data.items())
                   + f">{esc(text)}</option>" for v, text, data in options)
    return (f'<p><label for="{cid}">{esc(label)}</label> <select id="{cid}" name="{esc(name)}" data-kind="{kind}" '
            f"required {attrs}>{opts}</select></p>")


def qty_field(name: str, label: str, *, unit_from: str = "", unit: str = "", required: bool = True,
              unit_attr: str = "unit") -> str:
    """An amount and its unit: the unit list follows the material of the control named ``unit_from``
    (t, kg or g for a material registered in grams; its own unit otherwise), read from that control's
    chosen option's ``data-<unit_attr>``; app.js converts the decimal amount to whole base units."""
    cid = _cid(name)
    follow = f' data-unit-from="{esc(unit_from)}" data-unit-attr="{esc(unit_attr)}"' if unit_from else ""
    return (f'<p class="qty"><label for="{cid}">{esc(label)}</label> <input id="{cid}" name="{esc(name)}" '
            f'data-kind="qty" inputmode="decimal" pattern="[0-9]+([.][0-9]+)?"{" required" if required else ""}> '
            f'<label for="{cid}-u" class="unit-label">unit</label> <select id="{cid}-u" name="{esc(name)}__unit" '
            f'data-unit="{esc(unit)}"{follow} data-unit-select></select></p>')


def checks(name: str, legend: str, options: Sequence[tuple[Any, str]], *, kind: str = "bits",
           checked: Iterable[Any] = ()) -> str:
    on = set(checked)
    boxes = []
    for v, text in options:
        cid = _cid(name)
        boxes.append(f'<span class="check"><input type="checkbox" id="{cid}" name="{esc(name)}" value="{esc(v)}" '
                     f'data-kind="{kind}"{" checked" if v in on else ""}> <label for="{cid}">{esc(text)}</label></span>')
    return f'<fieldset><legend>{esc(legend)}</legend>{"".join(boxes)}</fieldset>'


def hidden(name: str, value: Any, kind: str = "int") -> str:
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}" data-kind="{kind}">'
