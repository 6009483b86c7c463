"""Compare a node's provenance answers with the replay (rule ``node.match``).

Pluggable: a :class:`Probe` names an endpoint, the ids to ask it about, and what the replay expects;
only the fields a probe declares are compared, each field separately, so a node may answer more.
The JSON contract the built-in probes expect (camelCase; snake_case aliases accepted; the object may
be wrapped as {"batch": {...}} / {"certificate": {...}} / {"retirement": {...}}):

GET {node}/provenance/batches/{id}
  {"batchId": int, "material": int, "characteristic": int, "model": int|name, "share": int (ppm),
   "creator": int, "origin": int, "kind": int|name, "quantity": int (created),
   "parents": [{"batchId": int, "quantity": int}],
   "holders": {"0xaddress": int},            # current non-zero balances; in transit = the ledger address
   "origins": [int],                          # origin batch ids in the ancestry (or itself), ascending
   "custody": [{"transferId": "0x..", "from": "0x..", "to": "0x..", "quantity": int,
                "certifiedQuantity": int, "status": "Pending|Accepted|Rejected|Cancelled"}]}
GET {node}/provenance/certificates/{id}
  {"certificateId": int, "issuer": int, "producer": int, "amount": int, "unitSize": int, "retired": int,
   "revoked": bool, "evidenceHash": "0x..", "retirements": [int]}
GET {node}/provenance/retirements/{id}
  {"retirementId": int, "certificateId": int, "amount": int, "beneficiary": str, "retiredBy": int,
   "revoked": bool}
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .model import KINDS, MODELS, TRANSFER_STATUS, WARN, Findings
from .replay import Replay


@dataclass
class Probe:
    name: str
    path: Callable[[int], str]
    ids: Callable[[Replay], Iterable[int]]
    expected: Callable[[Replay, int], dict[str, Any]]
    evidence: Callable[[Replay, int], list[dict]]
    wrapper: str = ""


def _batch_expected(r: Replay, bid: int) -> dict[str, Any]:
    b = r.batches[bid]
    anc = [bid] + r.ancestors(bid)
    return {
        "batchId": bid, "material": b["material"], "characteristic": b["characteristic"], "model": b["model"],
        "share": b["share"], "creator": b["creator"], "origin": b["origin"], "kind": b["kind"],
        "quantity": b["quantity"], "parents": [{"batchId": p, "quantity": q} for p, q in b["parents"]],
        "holders": r.holders_of(bid),
        "origins": sorted(x for x in anc if r.batches[x]["kind"] == 0),
        "custody": [{"transferId": t, "from": r.transfers[t]["from"], "to": r.transfers[t]["to"],
                     "quantity": r.transfers[t]["quantity"], "certifiedQuantity": r.transfers[t]["certifiedQuantity"],
                     "status": TRANSFER_STATUS[r.transfers[t]["status"]]} for t in b["transfers"]],
    }


def _cert_expected(r: Replay, cid: int) -> dict[str, Any]:
    i = r.issuances[cid]
    return {"certificateId": cid, "issuer": i["issuer"], "producer": i["producer"], "amount": i["amount"],
            "unitSize": i["unitSize"], "retired": i["retired"], "revoked": i["revoked"],
            "evidenceHash": i["evidenceHash"], "retirements": list(i["retirements"])}


def _ret_expected(r: Replay, rid: int) -> dict[str, Any]:
    x = r.retirements[rid]
    return {"retirementId": rid, "certificateId": x["certificateId"], "amount": x["amount"],
            "beneficiary": x["beneficiary"], "retiredBy": x["retiredBy"],
            "revoked": r.issuances[x["certificateId"]]["revoked"]}


DEFAULT_PROBES = [
    Probe("batch", lambda i: f"/provenance/batches/{i}", lambda r: list(r.batches), _batch_expected,
          lambda r, i: [r.batches[i]["ref"]], "batch"),
    Probe("certificate", lambda i: f"/provenance/certificates/{i}", lambda r: list(r.issuances), _cert_expected,
          lambda r, i: [r.issuances[i]["ref"]], "certificate"),
    Probe("retirement", lambda i: f"/provenance/retirements/{i}", lambda r: list(r.retirements), _ret_expected,
          lambda r, i: [r.retirements[i]["ref"]], "retirement"),
]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _norm(field: str, v: Any) -> Any:
    if isinstance(v, str):
        low = v.strip().lower()
        if field == "model" and low in MODELS:
            return MODELS.index(low)
        if field == "kind":
            for k, name in enumerate(KINDS):
                if low == name.lower():
                    return k
        if field == "status":
            for k, name in enumerate(TRANSFER_STATUS):
                if low == name.lower():
                    return name
        return low
    if isinstance(v, dict):
        return {(k.lower() if isinstance(k, str) and k.startswith("0x") else _pick_key(k)): _norm(k, x)
                for k, x in v.items()}
    if isinstance(v, list):
        return [_norm(field, x) for x in v]
    return v


def _pick_key(k: str) -> str:
    # snake_case from the node -> camelCase of the contract
    if "_" in k:
        head, *rest = k.split("_")
        return head + "".join(x.title() for x in rest)
    return k


class NodeComparator:
    def __init__(self, base_url: str, probes: list[Probe] | None = None, limit: int | None = None,
                 timeout: float = 10.0):
        self.base = base_url.rstrip("/")
        self.probes = probes or DEFAULT_PROBES
        self.limit = limit
        self.timeout = timeout
        self.asked = 0

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=self.timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return 0, str(exc)

    def run(self, r: Replay, f: Findings) -> list[dict[str, Any]]:
        differences: list[dict[str, Any]] = []
        for probe in self.probes:
            ids = list(probe.ids(r))
            if self.limit is not None:
                ids = ids[: self.limit]
            for i in ids:
                self.asked += 1
                status, body = self.get(probe.path(i))
                evidence = probe.evidence(r, i)
                if status == 0:
                    f.add("node.match", f"node unreachable at {self.base}{probe.path(i)}: {body}", evidence)
                    return differences
                if status != 200 or not isinstance(body, dict):
                    d = {"endpoint": probe.path(i), "field": None, "node": f"HTTP {status}", "chain": "exists"}
                    differences.append(d)
                    f.add("node.match", f"node answers HTTP {status} for {probe.path(i)}, which exists on chain",
                          evidence, **d)
                    continue
                if probe.wrapper and isinstance(body.get(probe.wrapper), dict):
                    body = body[probe.wrapper]
                expected = probe.expected(r, i)
                for field, want in expected.items():
                    if field in body:
                        got = body[field]
                    elif _snake(field) in body:
                        got = body[_snake(field)]
                    else:
                        f.add("node.match", f"{probe.path(i)} does not provide {field!r}", evidence, severity=WARN)
                        continue
                    if _norm(field, got) != _norm(field, want):
                        d = {"endpoint": probe.path(i), "field": field, "node": got, "chain": want}
                        differences.append(d)
                        f.add("node.match", f"{probe.path(i)} field {field!r}: node says {_short(got)}, chain says "
                              f"{_short(want)}", evidence, **d)
                    else:
                        f.ok("node.match")
        return differences


def _short(v: Any) -> str:
    s = json.dumps(v, default=str)
    return s if len(s) < 200 else s[:197] + "..."
