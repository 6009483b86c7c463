"""``coc``: the supplier's command line. The wallet key stays on this machine: the node sends typed
data, ``coc`` shows it, signs it locally and sends back only the signature.

    coc wallet create [--keystore FILE]        new encrypted keystore (password: prompt or COC_WALLET_PASSWORD)
    coc wallet address                          show the wallet's address
    coc prepare ACTION [k=v ...]                fetch the typed data of an action (prints it)
    coc sign FILE                               sign typed data from a file (or - for stdin), print the signature
    coc submit ACTION --typed FILE --signature 0x..   submit a signed action
    coc do ACTION [k=v ...] [--yes]             prepare + show + sign + submit in one go
    coc transfer BATCH TO QUANTITY [--certified N]    propose a custody transfer
    coc accept TRANSFER_ID / coc reject TRANSFER_ID / coc cancel TRANSFER_ID
    coc bulk FILE                               many actions (JSON lines {"action":..., "params": {...}}), progress bar
    coc batches | coc pending | coc credits | coc certificates   what the wallet holds / awaits
    coc status TX_HASH                          transaction status

ACTION is a path of the node's API without /prepare: batches/create, batches/split, certificates/retire...
Values of k=v are parsed as JSON when they can be (numbers, lists), else taken as text.
Global options: --node URL (COC_NODE_URL, default http://127.0.0.1:8000), --keystore FILE
(COC_KEYSTORE, default ~/.coc/keystore.json), --json (machine-readable output).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import signing
from . import bulk
from .client import NodeClient, NodeError

console = Console()
err_console = Console(stderr=True)
DEFAULT_KEYSTORE = Path(os.environ.get("COC_KEYSTORE", Path.home() / ".coc" / "keystore.json"))


# ---------------------------------------------------------------------------- wallet
def _password(confirm: bool = False) -> str:
    pw = os.environ.get("COC_WALLET_PASSWORD")
    if pw:
        return pw
    pw = getpass.getpass("keystore password: ")
    if confirm and getpass.getpass("repeat password: ") != pw:
        raise SystemExit("passwords differ")
    return pw


def load_wallet(path: Path) -> LocalAccount:
    if not path.exists():
        raise SystemExit(f"no keystore at {path}: run `coc wallet create` first")
    try:
        return Account.from_key(Account.decrypt(json.loads(path.read_text()), _password()))
    except ValueError as exc:
        raise SystemExit(f"cannot decrypt {path}: {exc}") from None


def keystore_address(path: Path) -> str:
    data = json.loads(path.read_text())
    return "0x" + data["address"] if not data["address"].startswith("0x") else data["address"]


# ---------------------------------------------------------------------------- output
def out(args: argparse.Namespace, data: Any, table: Table | None = None) -> None:
    if args.json or table is None:
        print(json.dumps(data, indent=2, default=str))
    else:
        console.print(table)


def _kv(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for p in pairs:
        if "=" not in p:
            raise SystemExit(f"expected key=value, got {p!r}")
        k, v = p.split("=", 1)
        try:
            params[k] = json.loads(v)
        except json.JSONDecodeError:
            params[k] = v
    return params


def _show_typed(typed: dict[str, Any]) -> None:
    t = Table(title=f"{typed['primaryType']} for {typed['domain']['name']} at {typed['domain']['verifyingContract']} "
              f"(chain {typed['domain']['chainId']})")
    t.add_column("field")
    t.add_column("value", overflow="fold")
    for k, v in typed["message"].items():
        t.add_row(k, str(v))
    err_console.print(t)


def _sign(acct: LocalAccount, typed: dict[str, Any]) -> str:
    return "0x" + signing.sign_typed(acct.key, typed).hex()


# ---------------------------------------------------------------------------- commands
def cmd_wallet(args: argparse.Namespace) -> int:
    path: Path = args.keystore
    if args.wallet_cmd == "create":
        if path.exists() and not args.force:
            raise SystemExit(f"{path} exists (use --force to overwrite)")
        acct = Account.create()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(Account.encrypt(acct.key, _password(confirm=True))))
        os.chmod(path, 0o600)
        out(args, {"address": acct.address, "keystore": str(path)}) if args.json else console.print(
            f"wallet [bold]{acct.address}[/] saved to {path}")
    else:
        addr = keystore_address(path)
        out(args, {"address": addr}) if args.json else console.print(addr)
    return 0


def cmd_prepare(args: argparse.Namespace, c: NodeClient) -> int:
    params = _kv(args.params)
    if args.action.startswith("batches/") and args.action.split("/")[1] in ("accept", "reject", "cancel", "transfer",
                                                                            "transfer-with-acceptance"):
        body = params
    else:
        body = {"signer": args.signer or keystore_address(args.keystore), **params}
    print(json.dumps(c.prepare(args.action, body), indent=2))
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    src = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    data = json.loads(src)
    typed = data.get("typedData", data)
    acct = load_wallet(args.keystore)
    _show_typed(typed)
    sig = _sign(acct, typed)
    out(args, {"signature": sig, "signer": acct.address}) if args.json else print(sig)
    return 0


def cmd_submit(args: argparse.Namespace, c: NodeClient) -> int:
    data = json.loads(Path(args.typed).read_text())
    typed = data.get("typedData", data)
    res = c.submit(args.action, {"typedData": typed, "signature": args.signature},
                   idempotency_key=args.idempotency_key or str(uuid.uuid4()))
    _print_outcome(args, res)
    return 0


def _print_outcome(args: argparse.Namespace, res: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(res, indent=2))
        return
    t = Table(title=f"{res.get('action')}: {res.get('status')}")
    t.add_column("field")
    t.add_column("value", overflow="fold")
    t.add_row("transaction", str(res.get("txHash")))
    if res.get("blockNumber") is not None:
        t.add_row("block", str(res["blockNumber"]))
    for k, v in (res.get("result") or {}).items():
        t.add_row(k, str(v))
    console.print(t)


def cmd_do(args: argparse.Namespace, c: NodeClient) -> int:
    acct = load_wallet(args.keystore)
    prep = c.prepare(args.action, {"signer": acct.address, **_kv(args.params)})
    _show_typed(prep["typedData"])
    if not args.yes and input("sign and submit? [y/N] ").strip().lower() not in ("y", "yes"):
        return 1
    res = c.submit(args.action, {"typedData": prep["typedData"], "signature": _sign(acct, prep["typedData"])},
                   idempotency_key=str(uuid.uuid4()))
    _print_outcome(args, res)
    return 0


def cmd_transfer(args: argparse.Namespace, c: NodeClient) -> int:
    acct = load_wallet(args.keystore)
    prep = c.prepare("batches/transfer", {"batchId": args.batch, "from": acct.address, "to": args.to,
                                          "quantity": args.quantity, "certifiedQuantity": args.certified})
    _show_typed(prep["typedData"])
    if not args.yes and input("sign and submit? [y/N] ").strip().lower() not in ("y", "yes"):
        return 1
    res = c.submit("batches/transfer", {"typedData": prep["typedData"], "signature": _sign(acct, prep["typedData"])},
                   idempotency_key=str(uuid.uuid4()))
    res.setdefault("result", {})["transferId"] = prep["transferId"]
    _print_outcome(args, res)
    return 0


def cmd_settle(args: argparse.Namespace, c: NodeClient) -> int:
    acct = load_wallet(args.keystore)
    prep = c.prepare(f"batches/{args.command}", {"transferId": args.transfer_id})
    _show_typed(prep["typedData"])
    if not args.yes and input(f"sign and {args.command}? [y/N] ").strip().lower() not in ("y", "yes"):
        return 1
    res = c.submit(f"batches/{args.command}", {"typedData": prep["typedData"], "signature": _sign(acct, prep["typedData"]),
                                               "transfer": prep["transfer"]}, idempotency_key=str(uuid.uuid4()))
    _print_outcome(args, res)
    return 0


def cmd_bulk(args: argparse.Namespace, c: NodeClient) -> int:
    """Each line: {"action": "batches/split", "params": {...}}. Prepared and signed one by one (with
    consecutive nonces), then submitted in chunks through /bulk with an idempotency key per chunk."""
    acct = load_wallet(args.keystore)
    lines = [json.loads(x) for x in Path(args.file).read_text().splitlines() if x.strip()]
    items: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    fwd_nonce: int | None = None
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console) as progress:
        t_sign = progress.add_task("signing", total=len(lines))
        for line in lines:
            action = line["action"].strip("/")
            params = dict(line.get("params", {}))
            if action == "batches/transfer":
                prep = c.prepare(action, {"from": acct.address, **params})
                items.append({"action": "batches.transfer", "body": {"typedData": prep["typedData"],
                                                                      "signature": _sign(acct, prep["typedData"])}})
            else:
                if fwd_nonce is not None:
                    params["nonce"] = fwd_nonce
                prep = c.prepare(action, {"signer": acct.address, **params})
                fwd_nonce = int(prep["typedData"]["message"]["nonce"]) + 1
                items.append({"action": action.replace("/", "."), "body": {"typedData": prep["typedData"],
                                                                            "signature": _sign(acct, prep["typedData"])}})
            progress.advance(t_sign)
        t_sub = progress.add_task("submitting", total=len(items))
        run_id = str(uuid.uuid4())
        for start in range(0, len(items), args.chunk):
            chunk = items[start:start + args.chunk]
            res = c.post("bulk", {"items": chunk, "wait": True}, idempotency_key=f"{run_id}-{start}")
            results.extend(res["items"])
            progress.advance(t_sub, len(chunk))
    refused = [r for r in results if r["status"] == "refused"]
    if args.json:
        print(json.dumps({"accepted": len(results) - len(refused), "refused": len(refused), "items": results}, indent=2))
    else:
        t = Table(title=f"bulk: {len(results) - len(refused)} accepted, {len(refused)} refused")
        for col in ("#", "status", "transaction / error"):
            t.add_column(col, overflow="fold")
        for r in results:
            t.add_row(str(r["index"]), r["status"], r.get("txHash") or r.get("error", {}).get("message", ""))
        console.print(t)
    return 1 if refused else 0


def _address(args: argparse.Namespace) -> str:
    return args.address or keystore_address(args.keystore)


def cmd_batches(args: argparse.Namespace, c: NodeClient) -> int:
    data = c.get(f"participants/{_address(args)}/batches")
    t = Table(title=f"batches held by {data['address']}")
    for col in ("batch", "quantity", "material", "characteristic", "model", "kind"):
        t.add_column(col)
    for b in data["batches"]:
        t.add_row(str(b["batchId"]), f"{b['quantity']:,}", str(b["material"]), str(b["characteristic"]), b["modelName"],
                  str(b["kind"]))
    out(args, data, t)
    return 0


def cmd_pending(args: argparse.Namespace, c: NodeClient) -> int:
    data = c.get(f"participants/{_address(args)}/transfers")
    t = Table(title=f"transfers waiting for {data['address']} to accept")
    for col in ("transfer", "batch", "from", "quantity", "certified", "deadline"):
        t.add_column(col, overflow="fold")
    for x in data["incoming"]:
        t.add_row(x["transferId"], str(x["batchId"]), x["from"], f"{x['quantity']:,}", f"{x['certifiedQuantity']:,}",
                  str(x["deadline"]))
    out(args, data, t)
    return 0


def cmd_credits(args: argparse.Namespace, c: NodeClient) -> int:
    data = c.get(f"participants/{_address(args)}/credits")
    t = Table(title=f"mass-balance credits of {data['address']}'s site")
    for col in ("account", "material", "characteristic", "balance"):
        t.add_column(col, overflow="fold")
    for a in data["accounts"]:
        t.add_row(a["account"], str(a["material"]), str(a["characteristic"]), f"{a['balance']:,}")
    out(args, data, t)
    return 0


def cmd_certificates(args: argparse.Namespace, c: NodeClient) -> int:
    data = c.get(f"participants/{_address(args)}/certificates")
    t = Table(title=f"certificates held by {data['address']}")
    for col in ("certificate", "amount", "material", "characteristic", "revoked"):
        t.add_column(col)
    for x in data["certificates"]:
        t.add_row(str(x["certificateId"]), str(x["amount"]), str(x["material"]), str(x["characteristic"]), str(x["revoked"]))
    out(args, data, t)
    return 0


def cmd_status(args: argparse.Namespace, c: NodeClient) -> int:
    _print_outcome(args, c.get(f"transactions/{args.tx_hash}"))
    return 0


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="coc", description="Chain-of-custody ledger: the supplier's command line",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--node", default=os.environ.get("COC_NODE_URL", "http://127.0.0.1:8000"))
    ap.add_argument("--keystore", type=Path, default=DEFAULT_KEYSTORE)
    ap.add_argument("--api-key", default=os.environ.get("COC_API_KEY"), help="for nodes that restrict reading")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    sub = ap.add_subparsers(dest="command", required=True)

    w = sub.add_parser("wallet", help="create or show the local wallet")
    w.add_argument("wallet_cmd", choices=["create", "address"])
    w.add_argument("--force", action="store_true")

    p = sub.add_parser("prepare", help="fetch an action's typed data")
    p.add_argument("action")
    p.add_argument("params", nargs="*")
    p.add_argument("--signer")

    s = sub.add_parser("sign", help="sign typed data locally")
    s.add_argument("file")

    sm = sub.add_parser("submit", help="submit a signed action")
    sm.add_argument("action")
    sm.add_argument("--typed", required=True)
    sm.add_argument("--signature", required=True)
    sm.add_argument("--idempotency-key")

    d = sub.add_parser("do", help="prepare, sign and submit an action")
    d.add_argument("action")
    d.add_argument("params", nargs="*")
    d.add_argument("--yes", "-y", action="store_true")

    t = sub.add_parser("transfer", help="propose a custody transfer")
    t.add_argument("batch", type=int)
    t.add_argument("to")
    t.add_argument("quantity", type=int)
    t.add_argument("--certified", type=int, default=0)
    t.add_argument("--yes", "-y", action="store_true")

    for kind in ("accept", "reject", "cancel"):
        k = sub.add_parser(kind, help=f"{kind} a pending transfer")
        k.add_argument("transfer_id")
        k.add_argument("--yes", "-y", action="store_true")

    bulk.add_arguments(sub.add_parser("bulk", help="upload many actions from a JSON-lines file (node_api/cli/bulk.py)"))

    for name in ("batches", "pending", "credits", "certificates"):
        r = sub.add_parser(name, help=f"list {name}")
        r.add_argument("--address", help="another wallet's address (default: this wallet)")

    st = sub.add_parser("status", help="transaction status")
    st.add_argument("tx_hash")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "wallet":
        return cmd_wallet(args)
    if args.command == "sign":
        return cmd_sign(args)
    handlers = {
        "prepare": cmd_prepare, "submit": cmd_submit, "do": cmd_do, "transfer": cmd_transfer,
        "accept": cmd_settle, "reject": cmd_settle, "cancel": cmd_settle, "bulk": lambda a, c: bulk.cmd_bulk(a, c, lambda: load_wallet(a.keystore), err_console),
        "batches": cmd_batches, "pending": cmd_pending, "credits": cmd_credits, "certificates": cmd_certificates,
        "status": cmd_status,
    }
    try:
        with NodeClient(args.node, api_key=args.api_key) as c:
            return handlers[args.command](args, c)
    except NodeError as exc:
        if args.json:
            print(json.dumps({"status": exc.status, **exc.body}, indent=2))
        else:
            err_console.print(f"[red]refused ({exc.status} {exc.error}):[/] {exc.message}")
        return 2
    except Exception as exc:  # noqa: BLE001 - e.g. connection refused
        import httpx

        if isinstance(exc, httpx.HTTPError):
            err_console.print(f"[red]cannot reach the node at {args.node}:[/] {exc}")
            return 3
        raise


if __name__ == "__main__":
    sys.exit(main())
