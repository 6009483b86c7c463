"""The comparison itself: asks the node, walks its answer against the expected one leaf by leaf and turns
every difference into a `node.match` finding."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any

from ..model import WARN, Findings
from ..replay import Replay
from .values import ABSENT, Approx, EVIDENCE, Keyed, Percent, Valid, node_document
from .facts import Facts
from .probes import DEFAULT_PROBES, Probe


# ---------------------------------------------------------------------------------------------- comparison
def _norm(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return "0x" + v.hex()
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("0x") or s.startswith("0X"):
            return s.lower()
        if s.isdigit():
            return int(s)
        return s
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _key_of(item: Any, key: tuple[str, ...]) -> Any:
    if not key:
        return _norm(item)
    if not isinstance(item, dict):
        return ("<not an object>", json.dumps(item, default=str)[:80])
    return tuple(_norm(item.get(k)) for k in key)


def _key_text(key: tuple[str, ...], value: Any) -> str:
    if not key:
        return f"[{value}]"
    return "[" + ",".join(f"{k}={v}" for k, v in zip(key, value)) + "]"


class NodeComparator:
    def __init__(self, base_url: str, probes: list[Probe] | None = None, limit: int | None = None,
                 timeout: float = 20.0, api_key: str | None = None):
        self.base = base_url.rstrip("/")
        self.probes = probes or DEFAULT_PROBES
        self.limit = limit
        self.timeout = timeout
        self.api_key = api_key
        self.asked = 0

    def get(self, path: str) -> tuple[int, Any]:
        req = urllib.request.Request(self.base + path, headers={"Accept": "application/json"})
        if self.api_key:
            req.add_header("X-API-Key", self.api_key)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return 0, str(exc)

    def run(self, r: Replay, f: Findings, head: int | None = None) -> list[dict[str, Any]]:
        differences: list[dict[str, Any]] = []
        if not self._status(r, f, head, differences):
            return differences
        fx = Facts(r)
        for probe in self.probes:
            ids = list(probe.ids(r))
            if self.limit is not None:
                ids = ids[: self.limit]
            for i in ids:
                self.asked += 1
                path = probe.path(i)
                status, body = self.get(path)
                expected = probe.expected(fx, i, body) if probe.uses_answer else probe.expected(fx, i)
                evidence = [e for e in expected.get(EVIDENCE, []) if e]
                if status == 0:
                    f.add("node.match", f"node unreachable at {self.base}{path}: {body}", evidence)
                    return differences
                if status != 200 or not isinstance(body, dict):
                    d = {"endpoint": path, "field": None, "node": f"HTTP {status}", "chain": "exists"}
                    differences.append(d)
                    f.add("node.match", f"node answers HTTP {status} for {path}, which exists on chain", evidence, **d)
                    continue
                _Diff(path, f, differences).walk("", expected, body, evidence, body)
        return differences

    def _status(self, r: Replay, f: Findings, head: int | None, differences: list) -> bool:
        status, body = self.get("/provenance/status")
        if status == 0:
            f.add("node.match", f"node unreachable at {self.base}/provenance/status: {body}", [])
            return False
        if status != 200 or not isinstance(body, dict):
            f.add("node.match", f"node answers HTTP {status} for /provenance/status", [], severity=WARN)
            return True
        chain_id = body.get("chain_id")
        if chain_id is not None and _norm(chain_id) != r.chain_id:
            d = {"endpoint": "/provenance/status", "field": "chain_id", "node": chain_id, "chain": r.chain_id}
            differences.append(d)
            f.add("node.match", f"the node follows chain {chain_id}, the audited chain is {r.chain_id}", [], **d)
            return False
        last = body.get("last_indexed_block")
        if head is not None and last is not None and last != head:
            f.add("node.match", f"the node's index stands at block {last}, the audit at block {head}: its answers "
                  "may differ by what happened in between", [], severity=WARN, node_block=last, audit_block=head)
        else:
            f.ok("node.match")
        return True


class _Diff:
    def __init__(self, endpoint: str, f: Findings, out: list[dict[str, Any]]):
        self.endpoint, self.f, self.out = endpoint, f, out

    def differ(self, field: str, got: Any, want: Any, evidence: list, what: str = "") -> None:
        chain = node_document(want) if want is not ABSENT else None
        d = {"endpoint": self.endpoint, "field": field, "node": got, "chain": chain}
        self.out.append(d)
        msg = what or f"node says {_short(got)}, chain says {_short(chain)}"
        self.f.add("node.match", f"GET {self.endpoint}: {field or '(answer)'}: {msg}", evidence, **d)

    def walk(self, field: str, want: Any, got: Any, evidence: list, parent: Any) -> None:
        if isinstance(want, dict) and EVIDENCE in want:
            evidence = [e for e in want[EVIDENCE] if e] or evidence
        if want is ABSENT:
            if got is not None:
                self.differ(field, got, None, evidence, f"node says {_short(got)}, the chain has no such fact")
            else:
                self.f.ok("node.match")
        elif isinstance(want, Valid):
            if want.check(got, parent if isinstance(parent, dict) else {}):
                self.f.ok("node.match")
            else:
                self.differ(field, got, want, evidence, f"node says {_short(got)}, which is not {want.describe} "
                            f"(e.g. {_short(node_document(want.example))})")
        elif isinstance(want, dict):
            if not isinstance(got, dict):
                self.differ(field, got, want, evidence)
                return
            for k, w in want.items():
                if k == EVIDENCE:
                    continue
                sub = f"{field}.{k}" if field else k
                if k not in got:
                    if w is ABSENT or w is None:
                        self.f.ok("node.match")
                    else:
                        self.differ(sub, None, w, evidence, f"the node does not answer it, chain says "
                                    f"{_short(node_document(w))}")
                    continue
                self.walk(sub, w, got[k], evidence, got)
        elif isinstance(want, Keyed):
            self.walk_keyed(field, want, got, evidence)
        elif isinstance(want, list):
            if not isinstance(got, list) or len(got) != len(want):
                self.differ(field, got, want, evidence)
                return
            for n, (w, g) in enumerate(zip(want, got)):
                self.walk(f"{field}[{n}]", w, g, evidence, got)
        elif isinstance(want, (Approx, Percent)):
            if want.matches(got):
                self.f.ok("node.match")
            else:
                self.differ(field, got, want, evidence, f"node says {_short(got)}, chain says {_short(want)} "
                            f"(exactly {_short(str(want.exact))})")
        else:
            g, w = _norm(got), _norm(want)
            if isinstance(g, bool) or isinstance(w, bool):
                equal = isinstance(g, bool) and isinstance(w, bool) and g == w
            else:
                equal = g == w
            if equal:
                self.f.ok("node.match")
            else:
                self.differ(field, got, want, evidence)

    def walk_keyed(self, field: str, want: Keyed, got: Any, evidence: list) -> None:
        if not isinstance(got, list):
            self.differ(field, got, want, evidence)
            return
        key = want.key
        seen: dict[Any, int] = defaultdict(int)
        got_items: dict[Any, Any] = {}
        for item in got:
            k = _key_of(item, key)
            seen[k] += 1
            got_items[(k, seen[k])] = item
        counts: dict[Any, int] = defaultdict(int)
        for w in want:
            k = _key_of(w, key)
            counts[k] += 1
            label = f"{field}{_key_text(key, k)}" + (f"#{counts[k]}" if counts[k] > 1 else "")
            ev = [e for e in w[EVIDENCE] if e] if isinstance(w, dict) and w.get(EVIDENCE) else evidence
            g = got_items.pop((k, counts[k]), None)
            if g is None:
                self.differ(label, None, w, ev, f"missing from the node's answer; chain says "
                            f"{_short(node_document(w))}")
            elif key:
                self.walk(label, w, g, ev, got)
            else:
                self.f.ok("node.match")
        for (k, n), g in got_items.items():
            if want.extra is not None and want.extra(g):
                continue
            label = f"{field}{_key_text(key, k)}" + (f"#{n}" if n > 1 else "")
            self.differ(label, g, None, evidence, f"node says {_short(g)}, the chain has no such item")


def _short(v: Any) -> str:
    s = json.dumps(v, default=str)
    return s if len(s) < 200 else s[:197] + "..."
