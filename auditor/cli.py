"""coc-audit: verify every rule and every claim of the ledger from the chain alone.

    coc-audit --rpc URL --registry ADDR [--from-block N] [--json] [--no-views]
              [--claim FILE | --claim-text "contains 40 % organic cotton" --token ID [--model NAME]]
              [--retirement ID] [--node URL [--node-limit N] [--node-api-key KEY]]
              [--report-html FILE] [--report-json FILE]
    coc-audit declaration FILE --rpc URL --registry ADDR [--json]   (auditor/declaration.py)
    coc-audit identifiers --rpc URL --registry ADDR --contract ADDR [--json]   (auditor/identifiers.py)

Exit status: 0 when everything holds, 1 when any finding fails (a rule broken, a view or the node
disagreeing with the replay, a claim not supported, a retirement of a revoked issuance), 2 on usage or
connection errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from . import __version__
from .audit import AuditError, Stats, discover, replay
from .claims import ClaimError, claim_refs, explain_retirement, parse_claim_text, verify_claim
from .declaration import main as declaration_main
from .identifiers import main as identifiers_main
from .eudr_statements import audit_statements
from .model import FAIL, jsonable
from .nodecompare import NodeComparator
from .report import book_and_claim_report, mass_balance_report, site_statements
from .report_html import render_html
from .rpc import Rpc, RpcError
from .views import ViewCheck


def run_audit(rpc_url: str, registry: str, *, from_block: int | None = None, views: bool = True,
              claim: dict | None = None, claim_text: str | None = None, token: int | None = None,
              model: str | None = None, retirement: int | None = None, node: str | None = None,
              node_limit: int | None = None, node_api_key: str | None = None,
              progress: Any = None, dds_registry: str | None = None) -> dict[str, Any]:
    """The whole audit as a JSON-able dict (what `--json` prints)."""
    rpc = Rpc(rpc_url)
    stats = Stats()
    d = discover(rpc, registry, from_block)
    t0 = time.perf_counter()
    r = replay(rpc, d, progress=progress.replay if progress else None, stats=stats)
    t_total = time.perf_counter() - t0
    n_views = 0
    if views:
        t1 = time.perf_counter()
        vc = ViewCheck(rpc, r, d.addresses(), d.head, d.head_ts)
        n_views = vc.run(r.f, progress=progress.views if progress else None)
        stats.seconds_views = time.perf_counter() - t1
    out: dict[str, Any] = {"claim": None, "retirement": None, "node": None}
    if claim is not None or claim_text is not None:
        try:
            c = claim if claim is not None else parse_claim_text(r, claim_text or "", int(token or 0), model)
            res = verify_claim(r, c)
        except (ClaimError, KeyError, ValueError) as exc:
            res = {"verdict": "not supported", "reason": f"invalid claim: {exc}", "claim": claim or claim_text}
        if res["verdict"] != "supported":
            r.f.add("claims", f"claim not supported: {res.get('reason')}", claim_refs(r, res),
                    supported=res.get("supported"), evidenceTxs=res.get("evidenceTxs", []))
        else:
            r.f.ok("claims")
        out["claim"] = res
    if retirement is not None:
        res = explain_retirement(r, int(retirement))
        if res.get("verdict") != "valid":
            x = r.retirements.get(int(retirement))
            iss = r.issuances.get(x["certificateId"]) if x else None
            r.f.add("claims", f"retirement {retirement}: {res.get('verdict')}",
                    [x["ref"] if x else None, iss["revokedRef"] if iss else None])
        else:
            r.f.ok("claims")
        out["retirement"] = res
    if dds_registry:  # EUDR statements (issue 14): the registry is not discovered, its address is given
        out["eudrStatements"] = audit_statements(rpc, dds_registry, d.deploy_block, d.head, r)
    if node:
        cmp = NodeComparator(node, limit=node_limit, api_key=node_api_key)
        diffs = cmp.run(r, r.f, head=d.head)
        out["node"] = {"url": node, "asked": cmp.asked, "differences": diffs}
    failures = r.f.failures
    summary = {
        "ok": not failures, "failures": len(failures), "warnings": sum(1 for f in r.f.items if f.severity != FAIL),
        "chainId": d.chain_id, "registry": d.registry, "contracts": d.addresses(), "fromBlock": d.deploy_block,
        "toBlock": d.head, "headTimestamp": d.head_ts, "events": r.events, "operations": r.operations,
        "signatures": r.signatures_checked, "views": n_views, "logs": stats.logs, "getLogsCalls": stats.get_logs_calls,
        "secondsFetch": round(stats.seconds_fetch, 3), "secondsReplay": round(stats.seconds_replay, 3),
        "secondsTotal": round(t_total, 3), "secondsViews": round(stats.seconds_views, 3),
        "unverifiableSignatures": r.unverifiable,
    }
    out.update({
        "auditor": f"coc-audit {__version__}",
        "summary": summary,
        "rules": r.f.by_rule(),
        "findings": [f.to_json() for f in r.f.items],
        "massBalance": mass_balance_report(r, d.head_ts),
        "report": {"sites": site_statements(r, d.head_ts), "bookAndClaim": book_and_claim_report(r)},
        "pendingTransfers": [{"transferId": t["id"], "batchId": t["batchId"], "from": t["from"], "to": t["to"],
                              "quantity": t["quantity"], "tx": t["proposed"]["tx"]}
                             for t in r.transfers.values() if t["status"] == 1],
    })
    out["_replay"] = r
    return out


class _Progress:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._p = None
        self._task = None
        self._vtask = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                               console=Console(stderr=True), transient=False)
            self._p.start()

    def replay(self, done: int, total: int, events: int) -> None:
        if self._p is None:
            return
        if self._task is None:
            self._task = self._p.add_task("replaying blocks", total=total, info="")
        self._p.update(self._task, completed=done, info=f"{events:,} logs")

    def views(self, done: int, total: int) -> None:
        if self._p is None:
            return
        if self._vtask is None:
            self._vtask = self._p.add_task("comparing views", total=total, info="")
        self._p.update(self._vtask, completed=done)

    def stop(self) -> None:
        if self._p is not None:
            self._p.stop()


def _summary_text(res: dict[str, Any]) -> str:
    s = res["summary"]
    lines = [f"coc-audit: registry {s['registry']} chain {s['chainId']} blocks {s['fromBlock']}..{s['toBlock']}",
             f"  {s['events']:,} events, {s['operations']:,} transactions, {s['signatures']:,} signatures recovered, "
             f"{s['views']:,} views compared ({s['secondsTotal']:.2f} s replay, {s['secondsViews']:.2f} s views)"]
    for rule, c in res["rules"].items():
        if c["checks"]:
            mark = "FAIL" if c["failures"] else ("warn" if c["warnings"] else " ok ")
            lines.append(f"  [{mark}] {rule:32s} {c['checks']:>7,} checks  {c['failures']} failed")
    for f in res["findings"]:
        ev = ", ".join(f"{x.get('event')}@{x.get('tx', '')[:12]}..#{x.get('logIndex')}" for x in f["evidence"][:4])
        lines.append(f"  {f['severity'].upper():4s} {f['rule']}: {f['message']}" + (f"  [{ev}]" if ev else ""))
    if res.get("claim"):
        c = res["claim"]
        lines.append(f"  claim on token {c.get('tokenId')}: {c['verdict'].upper()} - {c.get('reason')}")
        if c.get("evidenceTxs"):
            lines.append(f"    evidence: {', '.join(c['evidenceTxs'])}")
    if res.get("retirement"):
        x = res["retirement"]
        if x.get("found"):
            lines.append(f"  retirement {x['retirementId']}: {x['units']} units ({x['quantity']} base units) of "
                         f"certificate {x['certificateId']} retired by {x['retiredByName']} for '{x['beneficiary']}', "
                         f"period {x['periodStart']}..{x['periodEnd']}, tx {x['tx']}")
            iss = x["issuance"]
            lines.append(f"    issued by {iss['issuerName']} to producer {iss['producerName']} in tx {iss['tx']}, "
                         f"evidence {iss['evidenceHash']}, pledge {iss['pledge']}")
        lines.append(f"    verdict: {x['verdict']}")
    if res.get("node"):
        lines.append(f"  node {res['node']['url']}: {res['node']['asked']} answers compared, "
                     f"{len(res['node']['differences'])} differences")
    lines.append("RESULT: " + ("everything holds" if s["ok"] else f"{s['failures']} failing finding(s)"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["declaration"]:  # coc-audit declaration FILE ...: an ISCC PLUS declaration against the chain
        return declaration_main(argv[1:])
    if argv[:1] == ["identifiers"]:  # coc-audit identifiers --contract ADDR ...: GS1 bindings against the chain
        return identifiers_main(argv[1:])
    ap = argparse.ArgumentParser(prog="coc-audit", description=__doc__.split("\n")[0])
    ap.add_argument("--rpc", required=True, help="JSON-RPC URL of any node of the chain")
    ap.add_argument("--registry", required=True, help="ParticipantRegistry address (everything else is discovered)")
    ap.add_argument("--from-block", type=int, default=None, help="start block (default: the registry's deployment)")
    ap.add_argument("--json", action="store_true", help="print the full result as JSON on stdout")
    ap.add_argument("--no-views", action="store_true", help="skip the comparison with the contracts' view functions")
    ap.add_argument("--claim", help="JSON claim file")
    ap.add_argument("--claim-text", help='a claim phrase, e.g. "contains 40 %% organic cotton" (needs --token)')
    ap.add_argument("--token", type=int, help="product token (batch) id, or certificate id for book & claim")
    ap.add_argument("--model", help="chain-of-custody model the claim is made under (default: the batch's)")
    ap.add_argument("--retirement", type=int, help="explain a certificate retirement id")
    ap.add_argument("--node", help="base URL of a node whose provenance answers are compared with the replay")
    ap.add_argument("--node-limit", type=int, default=None, help="ask the node about at most N ids per endpoint")
    ap.add_argument("--node-api-key", default=os.environ.get("COC_AUDIT_NODE_API_KEY"),
                    help="X-API-Key for a node whose reads need a key (default: $COC_AUDIT_NODE_API_KEY)")
    ap.add_argument("--dds-registry", help="DueDiligenceRegistry address: check and list the EUDR statements")
    ap.add_argument("--report-html", help="write the HTML report here")
    ap.add_argument("--report-json", help="write the JSON report here")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.claim_text and args.token is None:
        ap.error("--claim-text needs --token")
    claim = None
    if args.claim:
        with open(args.claim) as fh:
            claim = json.load(fh)
    progress = _Progress(not args.quiet and not args.json)
    try:
        res = run_audit(args.rpc, args.registry, from_block=args.from_block, views=not args.no_views, claim=claim,
                        claim_text=args.claim_text, token=args.token, model=args.model, retirement=args.retirement,
                        node=args.node, node_limit=args.node_limit, node_api_key=args.node_api_key,
                        progress=progress, dds_registry=args.dds_registry)
    except (AuditError, RpcError, OSError) as exc:
        progress.stop()
        print(f"coc-audit: {exc}", file=sys.stderr)
        return 2
    progress.stop()
    res.pop("_replay", None)
    doc = jsonable(res)
    if args.report_json:
        with open(args.report_json, "w") as fh:
            json.dump(doc, fh, indent=2)
    if args.report_html:
        with open(args.report_html, "w") as fh:
            fh.write(render_html(doc))
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(_summary_text(doc))
    return 0 if res["summary"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
