"""Reports: per-participant, per-period mass-balance statements (JSON) and a self-contained HTML report
with an inline SVG chart of every credit balance over time (no external JS or CSS)."""

from __future__ import annotations

import datetime as _dt
import html
from typing import Any

from .model import RULES
from .replay import Account, Replay, closing_of

INPUT_REASONS = {"OriginCreated": "origin", "Delivery": "received", "DeliveryReturned": "returned",
                 "Downgrade": "downgraded"}


def _date(ts: int) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%d")


def account_statements(r: Replay, a: Account, now_ts: int) -> list[dict[str, Any]]:
    current = a.period_at(now_ts)
    out = []
    by_period: dict[int, list[dict]] = {}
    for bk in a.bookings:
        by_period.setdefault(bk["period"], []).append(bk)
    last_closing = 0
    for p in range(a.opened_period, max(current, a.period) + 1):
        st = a.statements.get(p)
        if st is None:  # a period without activity carries the last balance
            st = {"opening": last_closing, "inflow": 0, "convertedIn": 0, "outflow": 0, "convertedOut": 0, "lapsed": 0}
        bks = by_period.get(p, [])
        inputs: dict[str, int] = {}
        outputs: dict[str, int] = {}
        for bk in bks:
            if bk["entry"] == "In":
                inputs[INPUT_REASONS.get(bk["reason"], bk["reason"])] = inputs.get(
                    INPUT_REASONS.get(bk["reason"], bk["reason"]), 0) + bk["amount"]
            elif bk["entry"] == "Out":
                name = "delivered" if bk["reason"] == "Delivery" else bk["reason"].lower()
                outputs[name] = outputs.get(name, 0) + bk["amount"]
        closing = closing_of(st)
        final = p < current
        emitted = a.closed.get(p)
        start = a.anchor + p * a.period_length
        out.append({
            "period": p, "start": start, "end": start + a.period_length - 1, "startDate": _date(start),
            "endDate": _date(start + a.period_length - 1), "final": final,
            "opening": st["opening"], "certifiedInputs": st["inflow"], "inputsByCause": inputs,
            "conversionsIn": st["convertedIn"], "conversionsOut": st["convertedOut"],
            "claimedOutputs": st["outflow"], "outputsByCause": outputs, "lapsed": st["lapsed"], "closing": closing,
            "carriedOver": closing if final else None,
            "closedOnChain": None if emitted is None else {"closing": emitted["closing"], "tx": emitted["ref"]["tx"]},
        })
        last_closing = closing
    return out


def mass_balance_report(r: Replay, now_ts: int) -> list[dict[str, Any]]:
    out = []
    for a in r.accounts.values():
        scheme = r.schemes.get(a.scheme, {})
        out.append({
            "account": a.key, "participant": a.participant, "participantName": r.participants.get(a.participant, {}).get("name"),
            "site": a.site, "siteName": r.sites.get(a.site, {}).get("name"), "material": a.material,
            "materialName": r.materials.get(a.material, {}).get("name"), "unit": r.materials.get(a.material, {}).get("unit"),
            "characteristic": a.characteristic, "characteristicName": r.characteristics.get(a.characteristic, {}).get("name"),
            "scheme": scheme.get("name"), "periodLength": a.period_length, "lapseAfterPeriods": a.lapse,
            "rule": "credits carry over" if a.lapse == 0 else f"credits lapse {a.lapse} periods after they came in",
            "balance": a.balance, "statements": account_statements(r, a, now_ts),
            "history": [{"ts": ts, "balance": bal, "tx": ref["tx"]} for ts, bal, ref in a.history],
            "physicalGap": "none: physical quantities are tracked on chain, book and physical stock cannot drift",
        })
    return out


# ---------------------------------------------------------------------------------------------- HTML
def _svg_chart(history: list[dict], end_ts: int, width: int = 640, height: int = 180) -> str:
    if not history:
        return ""
    pts = [(h["ts"], h["balance"]) for h in history]
    t0, t1 = pts[0][0], max(end_ts, pts[-1][0], pts[0][0] + 1)
    vmax = max(1, max(v for _, v in pts))
    pad_l, pad_b, pad_t, pad_r = 70, 24, 10, 10
    w, h = width - pad_l - pad_r, height - pad_b - pad_t

    def x(t: int) -> float:
        return pad_l + (t - t0) / (t1 - t0) * w

    def y(v: int) -> float:
        return pad_t + h - v / vmax * h

    path = [f"M{x(pts[0][0]):.1f},{y(pts[0][1]):.1f}"]
    for (ta, va), (tb, vb) in zip(pts, pts[1:]):
        path.append(f"H{x(tb):.1f}V{y(vb):.1f}")
    path.append(f"H{x(t1):.1f}")
    dots = "".join(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5"><title>{_date(t)}: {v}</title></circle>'
                   for t, v in pts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="credit balance over time">'
        f'<line x1="{pad_l}" y1="{pad_t + h}" x2="{pad_l + w}" y2="{pad_t + h}" stroke="#888"/>'
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + h}" stroke="#888"/>'
        f'<text x="{pad_l - 6}" y="{pad_t + 10}" text-anchor="end" font-size="11">{vmax:,}</text>'
        f'<text x="{pad_l - 6}" y="{pad_t + h}" text-anchor="end" font-size="11">0</text>'
        f'<text x="{pad_l}" y="{height - 6}" font-size="11">{_date(t0)}</text>'
        f'<text x="{pad_l + w}" y="{height - 6}" text-anchor="end" font-size="11">{_date(t1)}</text>'
        f'<path d="{"".join(path)}" fill="none" stroke="#2a7" stroke-width="2"/>'
        f'<g fill="#185">{dots}</g></svg>'
    )


def render_html(result: dict[str, Any]) -> str:
    e = html.escape
    rows = []
    for rule, c in result["rules"].items():
        status = "FAIL" if c["failures"] else ("warn" if c["warnings"] else ("ok" if c["checks"] else "—"))
        rows.append(f'<tr class="{status.lower()}"><td>{e(rule)}</td><td>{e(RULES.get(rule, ""))}</td>'
                    f'<td>{c["checks"]}</td><td>{c["failures"]}</td><td>{status}</td></tr>')
    findings = []
    for f in result["findings"]:
        ev = "<br>".join(f'{e(x.get("event", ""))} tx {e(str(x.get("tx", "")))} block {x.get("block")} log '
                         f'{x.get("logIndex")}' for x in f["evidence"])
        findings.append(f'<tr class="{e(f["severity"])}"><td>{e(f["severity"])}</td><td>{e(f["rule"])}</td>'
                        f'<td>{e(f["message"])}</td><td class="mono">{ev}</td></tr>')
    accounts = []
    for a in result.get("massBalance", []):
        srows = "".join(
            f'<tr><td>{s["period"]}</td><td>{s["startDate"]} – {s["endDate"]}</td><td>{s["opening"]:,}</td>'
            f'<td>{s["certifiedInputs"]:,}<br><small>{e(_fmt(s["inputsByCause"]))}</small></td>'
            f'<td>+{s["conversionsIn"]:,} / −{s["conversionsOut"]:,}</td>'
            f'<td>{s["claimedOutputs"]:,}<br><small>{e(_fmt(s["outputsByCause"]))}</small></td>'
            f'<td>{s["lapsed"]:,}</td><td>{s["closing"]:,}</td>'
            f'<td>{"carried over" if s["final"] else "open"}</td></tr>' for s in a["statements"])
        accounts.append(
            f'<section><h3>{e(str(a["participantName"]))} · {e(str(a["siteName"]))} · {e(str(a["materialName"]))} · '
            f'{e(str(a["characteristicName"]))}</h3><p>Scheme {e(str(a["scheme"]))}, periods of '
            f'{a["periodLength"] // 86400} days, {e(a["rule"])}. Balance now: <b>{a["balance"]:,}</b> {e(str(a["unit"]))}. '
            f'Physical vs booked stock: {e(a["physicalGap"])}.</p>'
            f'{_svg_chart(a["history"], result["summary"]["headTimestamp"])}'
            f'<table><tr><th>period</th><th>dates</th><th>opening</th><th>certified inputs</th><th>conversions</th>'
            f'<th>claimed outputs</th><th>lapsed</th><th>closing</th><th></th></tr>{srows}</table></section>')
    extra = ""
    for key in ("claim", "retirement", "node"):
        if result.get(key) is not None:
            extra += f'<h2>{key.title()}</h2><pre>{e(_pretty(result[key]))}</pre>'
    s = result["summary"]
    verdict = "All rules hold" if s["ok"] else f'{s["failures"]} finding(s) fail'
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Chain-of-custody audit</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:3px 6px;font-size:13px;vertical-align:top}}tr.fail td{{background:#fdd}}
tr.warn td{{background:#ffd}}.mono{{font-family:monospace;font-size:11px}}.ok{{color:#185}}h1 span{{font-size:60%}}
section{{margin:1.5em 0;border-top:1px solid #ddd}}</style></head><body>
<h1>Chain-of-custody audit <span class="{'ok' if s['ok'] else ''}">{e(verdict)}</span></h1>
<p>Registry {e(s['registry'])} on chain {s['chainId']}, blocks {s['fromBlock']}–{s['toBlock']}:
{s['events']:,} events in {s['operations']:,} transactions, {s['signatures']:,} signatures recovered,
{s['views']:,} view calls compared.</p>
<h2>Rules</h2><table><tr><th>rule</th><th>meaning</th><th>checks</th><th>failures</th><th></th></tr>{''.join(rows)}</table>
<h2>Findings</h2><table><tr><th></th><th>rule</th><th>finding</th><th>evidence</th></tr>{''.join(findings) or
'<tr><td colspan=4>none</td></tr>'}</table>
{extra}
<h2>Mass-balance statements</h2>{''.join(accounts) or '<p>No credit accounts.</p>'}
</body></html>"""


def _fmt(d: dict) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in d.items())


def _pretty(v: Any) -> str:
    import json

    return json.dumps(v, indent=2, default=str)
