"""``coc bulk FILE``: an ERP upload of many actions, with a progress bar over items and a result file
to reconcile line by line.

Each line of FILE is one action, either to be signed here with the wallet:
    {"action": "batches/transfer", "params": {"batchId": 7, "to": "0x..", "quantity": 5}, "ref": "PO-1"}
or already signed elsewhere (what ``POST /bulk`` takes per item):
    {"action": "batches.transfer-with-acceptance", "body": {...}, "ref": "PO-2"}
``ref`` is optional: the ERP's own reference, copied to the result line.

No blind signing: every line to sign here is prepared and then described and checked through
``clear.describe`` (the node's words checked against the typed data, as for ``coc do``) before anything
is signed. The words are shown (each action when there are at most SHOW_EACH, else a count per action
and the first few in words) and one confirmation ``sign N actions? [y/N]`` is asked unless ``--yes``;
without a terminal and without ``--yes`` nothing is signed (exit 2). A line whose description is
missing or does not match is refused in the result file, nothing is signed for it, the others go on.
Lines already signed elsewhere (``"body"``) are sent as they are.

Signing happens first, with consecutive nonces, and the signed items are kept beside the result
file (``RESULT.signed.jsonl``): a rerun after an interruption sends the very same signed items
under the same Idempotency-Keys (one per chunk, derived from the file), so nothing runs twice and
nothing is lost. Chunks go through ``POST /bulk?stream=true`` (``--parallel`` at a time, waiting for
each item's outcome); the bar advances as each item's answer arrives. A 429 is retried after its
Retry-After. The result file (default FILE.result.jsonl) has one JSON line per input line, in input
order: line, ref, idempotencyKey, index (in its chunk), status (mined / reverted / refused / pending),
txHash, batchIndex, ids (what the action created or moved: transferId, batchIds...), error.
Exit code 0 when every line is mined, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import signing
from . import clear
from .client import NodeClient, NodeError

#: nonce-carrying prepare endpoints signed for the ledger's own lane (the rest: the forwarder's)
LEDGER_LANE = {"batches/transfer"}
#: up to this many actions are each shown in full before signing; beyond it, a summary
SHOW_EACH = 20
SHOW_FIRST = 5


def add_arguments(b: argparse.ArgumentParser) -> None:
    b.add_argument("file")
    b.add_argument("--chunk", type=int, default=200, help="items per /bulk request")
    b.add_argument("--parallel", type=int, default=2, help="requests in flight")
    b.add_argument("--out", help="result file (JSON lines; default FILE.result.jsonl)")
    b.add_argument("--yes", "-y", action="store_true", help="sign without asking (the actions are still shown)")


def read_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for n, text in enumerate(path.read_text().splitlines(), start=1):
        if text.strip():
            try:
                out.append((n, json.loads(text)))
            except ValueError as exc:
                raise SystemExit(f"{path}:{n}: not JSON: {exc}") from None
    return out


def prepare_items(c: NodeClient, lines: list[tuple[int, dict[str, Any]]], wallet: Callable[[], Any],
                  advance: Callable[[], None]) -> list[dict[str, Any]]:
    """Every line prepared and described (nothing signed yet): ``{"action", "typedData", "desc"}`` for a
    line to sign here, ``{"action", "body"}`` for one signed elsewhere, ``{"refused": error}`` for a line
    the node refuses to prepare or whose description is missing or does not match its typed data (no
    nonce spent on it: the next line takes the same nonce)."""
    items: list[dict[str, Any]] = []
    nonces: dict[str, int] = {}
    for _, line in lines:
        try:
            items.append(_prepare_one(c, line, wallet, nonces))
        except NodeError as exc:
            items.append({"refused": {"httpStatus": exc.status, **exc.body}})
        except clear.Undescribed as exc:
            items.append({"refused": {"httpStatus": None, "error": "Undescribed", "message": str(exc)}})
        advance()
    return items


def _prepare_one(c: NodeClient, line: dict[str, Any], wallet: Callable[[], Any], nonces: dict[str, int]
                 ) -> dict[str, Any]:
    action = str(line["action"]).replace(".", "/").strip("/")
    if "body" in line:  # signed elsewhere: sent as it is, never signed by coc
        return {"action": action.replace("/", "."), "body": line["body"]}
    acct = wallet()
    lane = "ledger" if action in LEDGER_LANE else "fwd"
    params = dict(line.get("params", {}))
    if lane in nonces:
        params["nonce"] = nonces[lane]
    who = {"from": acct.address} if lane == "ledger" else {"signer": acct.address}
    prep = c.prepare(action, {**who, **params})
    desc = clear.describe(c, prep["typedData"], transfer=prep.get("transfer"))  # the same check as coc do
    nonces[lane] = int(prep["typedData"]["message"]["nonce"]) + 1
    return {"action": action.replace("/", "."), "typedData": prep["typedData"], "desc": desc}


def sign_items(items: list[dict[str, Any]], wallet: Callable[[], Any], advance: Callable[[], None]
               ) -> list[dict[str, Any]]:
    """The /bulk item of every line: the described typed data signed, the rest as they are."""
    out = []
    for it in items:
        if "typedData" in it:
            sig = "0x" + signing.sign_typed(wallet().key, it["typedData"]).hex()
            it = {"action": it["action"], "body": {"typedData": it["typedData"], "signature": sig}}
        out.append(it)
        advance()
    return out


def show_plan(lines: list[tuple[int, dict[str, Any]]], items: list[dict[str, Any]], console: Any) -> int:
    """What will be signed, in words: each action when there are few, else a count per action and the
    first few in words. Returns how many actions are to be signed here."""
    todo = [(n, it) for (n, _), it in zip(lines, items) if "desc" in it]
    if len(todo) <= SHOW_EACH:
        for n, it in todo:
            console.print(f"\n[dim]line {n}[/]")
            clear.show(it["desc"], console)
    else:
        t = Table(title=f"{len(todo)} actions to sign", show_header=True, header_style="bold")
        t.add_column("action")
        t.add_column("count", justify="right")
        for action, k in Counter(it["action"] for _, it in todo).most_common():
            t.add_row(action, f"{k:,}")
        console.print(t)
        for n, it in todo[:SHOW_FIRST]:
            console.print(f"line {n}: {it['desc']['summary']}")
        console.print(f"... and {len(todo) - SHOW_FIRST:,} more of the same kinds")
    signed_elsewhere = sum(1 for it in items if "body" in it)
    if signed_elsewhere:
        console.print(f"{signed_elsewhere} line(s) already signed elsewhere: sent as they are, not signed here")
    refused = [(n, it["refused"]) for (n, _), it in zip(lines, items) if "refused" in it]
    for n, err in refused[:SHOW_EACH]:
        console.print(f"[yellow]line {n} refused, nothing signed for it:[/] {err.get('message')}")
    if len(refused) > SHOW_EACH:
        console.print(f"[yellow]... and {len(refused) - SHOW_EACH:,} more lines refused[/] (each in the result file)")
    return len(todo)


def confirm(n: int, yes: bool, console: Any) -> bool:
    """One question for the whole file; a run without a terminal needs --yes (it never waits on stdin)."""
    if yes or n == 0:
        return True
    if not sys.stdin.isatty():
        console.print(f"[red]not signing {n} actions: no terminal to confirm at.[/] Read the actions above and "
                      "rerun with --yes to sign them.")
        return False
    return input(f"sign {n} actions? [y/N] ").strip().lower() in ("y", "yes")


def post_chunk(c: NodeClient, chunk: list[dict[str, Any]], key: str, on_item: Callable[[dict[str, Any]], None]
               ) -> dict[int, dict[str, Any]]:
    """One chunk through /bulk?stream=true: index -> item answer (each reported as it arrives)."""
    while True:
        got: dict[int, dict[str, Any]] = {}
        with c.http.stream("POST", "/bulk", params={"stream": "true"}, headers={"Idempotency-Key": key},
                           json={"items": chunk, "wait": True}, timeout=None) as r:
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", "2")))
                continue
            if r.status_code >= 400:
                r.read()
                raise NodeError(r.status_code, r.json())
            for text in r.iter_lines():
                if not text.strip():
                    continue
                msg = json.loads(text)
                if "index" in msg and msg["index"] not in got:
                    got[msg["index"]] = msg
                    on_item(msg)
                elif "error" in msg and "index" not in msg:
                    raise NodeError(int(msg.get("httpStatus", 500)), msg["error"])
        return got


def result_line(n: int, line: dict[str, Any], key: str | None, index: int | None, ans: dict[str, Any] | None
                ) -> dict[str, Any]:
    ans = ans or {"status": "unknown", "error": {"error": "NoAnswer", "message": "the node gave no answer for it"}}
    ids = ans.get("result") or {}
    return {"line": n, "ref": line.get("ref"), "idempotencyKey": key, "index": index, "status": ans.get("status"),
            "txHash": ans.get("txHash"), "batchIndex": ans.get("batchIndex"), "ids": ids,
            "error": ans.get("error")}


def _progress(console: Any) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def cmd_bulk(args: argparse.Namespace, c: NodeClient, wallet: Callable[[], Any], console: Any) -> int:
    src = Path(args.file)
    out = Path(args.out) if args.out else src.with_name(src.name + ".result.jsonl")
    signed_path = out.with_name(out.name + ".signed.jsonl")
    lines = read_lines(src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    items: list[dict[str, Any]] | None = None
    if signed_path.exists():  # a rerun: the very same signed items (same keys, nothing twice)
        saved = [json.loads(x) for x in signed_path.read_text().splitlines() if x.strip()]
        if saved and saved[0].get("source") == digest and len(saved) == len(lines) + 1:
            items = saved[1:]
    planned: list[dict[str, Any]] = []
    if items is None:  # no blind signing: every line prepared and described first, shown, confirmed once
        with _progress(console) as progress:
            t_prep = progress.add_task("preparing and describing", total=len(lines))
            planned = prepare_items(c, lines, wallet, lambda: progress.advance(t_prep))
        if not confirm(show_plan(lines, planned, console), args.yes, console):
            return 2  # nothing signed, nothing written
    with _progress(console) as progress:
        if items is None:
            t_sign = progress.add_task("signing", total=len(planned))
            items = sign_items(planned, wallet, lambda: progress.advance(t_sign))
            signed_path.write_text("\n".join(json.dumps(x) for x in [{"source": digest}, *items]) + "\n")
        send = [k for k, it in enumerate(items) if "refused" not in it]  # line positions sent, in order
        t_items = progress.add_task("items", total=len(send))
        counts = {"mined": 0, "other": 0}

        def on_item(ans: dict[str, Any]) -> None:
            counts["mined" if ans.get("status") == "mined" else "other"] += 1
            progress.update(t_items, advance=1,
                            description=f"items ({counts['mined']} mined, {counts['other']} not)")

        starts = list(range(0, len(send), args.chunk))
        keys = {s: f"coc-bulk-{digest[:24]}-{s}" for s in starts}
        with ThreadPoolExecutor(max(1, args.parallel)) as pool:
            answers = dict(zip(starts, pool.map(
                lambda s: post_chunk(c, [items[k] for k in send[s:s + args.chunk]], keys[s], on_item), starts)))
    results = []
    position = {k: j for j, k in enumerate(send)}
    for k, (n, line) in enumerate(lines):
        if k not in position:  # refused when prepared: never sent
            err = dict(items[k]["refused"])
            results.append(result_line(n, line, None, None, {"status": "refused", "httpStatus": err.pop("httpStatus"),
                                                              "error": err}))
            continue
        j = position[k]
        s = j - j % args.chunk
        results.append(result_line(n, line, keys[s], j - s, answers[s].get(j - s)))
    out.write_text("".join(json.dumps(r) + "\n" for r in results))
    mined = sum(1 for r in results if r["status"] == "mined")
    summary = {"lines": len(results), "mined": mined, "notMined": len(results) - mined, "resultFile": str(out)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        console.print(f"bulk: {mined} of {len(results)} lines mined; results in {out}")
    return 0 if mined == len(results) else 1
