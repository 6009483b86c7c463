"""``coc``: the supplier's command line. The wallet key stays on this machine: the node sends typed
data, ``coc`` shows it, signs it locally and sends back only the signature.

    coc wallet create [--keystore FILE]        new encrypted keystore (password: prompt or COC_WALLET_PASSWORD)
    coc wallet import [--from-keystore FILE]    an existing key: typed at the prompt (or piped on stdin), or an
                                                existing keystore file (its password: prompt or COC_IMPORT_PASSWORD)
    coc wallet address                          show the wallet's address
    coc prepare ACTION [k=v ...]                fetch the typed data of an action (prints it)
    coc sign FILE                               sign typed data from a file (or - for stdin), print the signature
    coc submit ACTION --typed FILE --signature 0x..   submit a signed action
    coc do ACTION [k=v ...] [--yes]             prepare + show + sign + submit in one go
    coc transfer BATCH TO QUANTITY [--certified N]    propose a custody transfer
    coc accept TRANSFER_ID / coc reject TRANSFER_ID / coc cancel TRANSFER_ID
    coc bulk FILE [--yes]                       many actions (JSON lines {"action":..., "params": {...}}), shown in
                                                words and confirmed once before signing, progress bar
    coc batches | coc pending | coc credits | coc certificates   what the wallet holds / awaits
    coc status TX_HASH                          transaction status

Nothing is signed blind: before every signature coc shows the action and its fields in words (the node's
POST /typed-data/describe, checked here against the typed data: ids, quantities, addresses, dates) and
refuses to sign what cannot be described.

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
from rich.table import Table

from .. import signing
from . import bulk, views
from .clear import describe, show
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
    if not path.exists():
        raise SystemExit(f"no keystore at {path}: run `coc wallet create` or `coc wallet import` first")
    try:
        data = json.loads(path.read_text())
        addr = data["address"]
    except (ValueError, KeyError, TypeError):
        raise SystemExit(f"{path} is not a keystore file (JSON with an address)") from None
    return "0x" + addr if not addr.startswith("0x") else addr


def _save_keystore(path: Path, key: bytes, force: bool) -> LocalAccount:
    if path.exists() and not force:
        raise SystemExit(f"{path} exists (use --force to overwrite)")
    acct = Account.from_key(key)
    encrypted = Account.encrypt(acct.key, _password(confirm=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(encrypted))
    os.chmod(path, 0o600)
    return acct


def _imported_key(args: argparse.Namespace) -> bytes:
    """The key to import: from an existing keystore file (decrypted with its own password), else typed at a
    hidden prompt or piped on stdin (0x + 64 hex digits)."""
    if args.from_keystore:
        src = Path(args.from_keystore)
        try:
            data = json.loads(src.read_text())
        except FileNotFoundError:
            raise SystemExit(f"no keystore at {src}") from None
        except ValueError:
            raise SystemExit(f"{src} is not a keystore file (not JSON)") from None
        pw = os.environ.get("COC_IMPORT_PASSWORD") or getpass.getpass(f"password of {src}: ")
        try:
            return bytes(Account.decrypt(data, pw))
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"cannot decrypt {src}: {exc or 'not a keystore'}") from None
    raw = getpass.getpass("private key (0x + 64 hex digits): ") if sys.stdin.isatty() else sys.stdin.readline()
    raw = raw.strip()
    hexpart = raw[2:] if raw.startswith("0x") else raw
    if len(hexpart) != 64:
        raise SystemExit("a private key is 32 bytes: 0x followed by 64 hex digits")
    try:
        key = bytes.fromhex(hexpart)
        Account.from_key(key)
    except ValueError:
        raise SystemExit("not a private key: expected 0x followed by 64 hex digits (and not zero)") from None
    return key


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


def _confirm(c: NodeClient, typed: dict[str, Any], yes: bool, *, transfer: dict[str, Any] | None = None,
             question: str = "sign and submit?") -> bool:
    """Shows what is about to be signed, in words (never blind: Undescribed when it cannot be described)."""
    show(describe(c, typed, transfer=transfer), err_console)
    if yes:
        return True
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _sign(acct: LocalAccount, typed: dict[str, Any]) -> str:
    return "0x" + signing.sign_typed(acct.key, typed).hex()


# ---------------------------------------------------------------------------- commands
def cmd_wallet(args: argparse.Namespace) -> int:
    path: Path = args.keystore
    if args.wallet_cmd in ("create", "import"):
        key = Account.create().key if args.wallet_cmd == "create" else _imported_key(args)
        acct = _save_keystore(path, key, args.force)
        verb = "saved" if args.wallet_cmd == "create" else "imported into"
        out(args, {"address": acct.address, "keystore": str(path)}) if args.json else console.print(
            f"wallet [bold]{acct.address}[/] {verb} {path}")
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


def _typed_from(file: str) -> dict[str, Any]:
    """Typed data from a file (or - for stdin): the typed data itself or a prepare answer holding it."""
    try:
        src = sys.stdin.read() if file == "-" else Path(file).read_text()
    except FileNotFoundError:
        raise SystemExit(f"no such file: {file}") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise SystemExit(f"cannot read {file}: {exc}") from None
    if not src.strip():
        raise SystemExit(f"{file} is empty: expected the typed data a prepare call returned (coc prepare ACTION > FILE)")
    try:
        data = json.loads(src)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{file} is not JSON ({exc.msg} at line {exc.lineno}): expected typed data") from None
    typed = data.get("typedData", data) if isinstance(data, dict) else None
    missing = [k for k in ("domain", "types", "primaryType", "message") if not isinstance(typed, dict) or k not in typed]
    if missing:
        raise SystemExit(f"{file} is not EIP-712 typed data: missing {', '.join(missing)}")
    return typed


def cmd_sign(args: argparse.Namespace, c: NodeClient) -> int:
    typed = _typed_from(args.file)
    acct = load_wallet(args.keystore)
    if not _confirm(c, typed, args.yes, question="sign?"):
        return 1
    try:
        sig = _sign(acct, typed)
    except Exception as exc:  # noqa: BLE001 - eth-account raises many kinds for malformed typed data
        raise SystemExit(f"cannot sign this typed data: {exc}") from None
    out(args, {"signature": sig, "signer": acct.address}) if args.json else print(sig)
    return 0


def cmd_submit(args: argparse.Namespace, c: NodeClient) -> int:
    typed = _typed_from(args.typed)
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
    if not _confirm(c, prep["typedData"], args.yes):
        return 1
    res = c.submit(args.action, {"typedData": prep["typedData"], "signature": _sign(acct, prep["typedData"])},
                   idempotency_key=str(uuid.uuid4()))
    _print_outcome(args, res)
    return 0


def cmd_transfer(args: argparse.Namespace, c: NodeClient) -> int:
    acct = load_wallet(args.keystore)
    prep = c.prepare("batches/transfer", {"batchId": args.batch, "from": acct.address, "to": args.to,
                                          "quantity": args.quantity, "certifiedQuantity": args.certified})
    if not _confirm(c, prep["typedData"], args.yes):
        return 1
    res = c.submit("batches/transfer", {"typedData": prep["typedData"], "signature": _sign(acct, prep["typedData"])},
                   idempotency_key=str(uuid.uuid4()))
    res.setdefault("result", {})["transferId"] = prep["transferId"]
    _print_outcome(args, res)
    return 0


def cmd_settle(args: argparse.Namespace, c: NodeClient) -> int:
    acct = load_wallet(args.keystore)
    prep = c.prepare(f"batches/{args.command}", {"transferId": args.transfer_id})
    if not _confirm(c, prep["typedData"], args.yes, transfer=prep.get("transfer"), question=f"sign and {args.command}?"):
        return 1
    res = c.submit(f"batches/{args.command}", {"typedData": prep["typedData"], "signature": _sign(acct, prep["typedData"]),
                                               "transfer": prep["transfer"]}, idempotency_key=str(uuid.uuid4()))
    _print_outcome(args, res)
    return 0


def _address(args: argparse.Namespace) -> str:
    return args.address or keystore_address(args.keystore)


def cmd_batches(args: argparse.Namespace, c: NodeClient) -> int:
    return views.cmd_batches(args, c, _address(args))


def cmd_pending(args: argparse.Namespace, c: NodeClient) -> int:
    return views.cmd_pending(args, c, _address(args))


def cmd_credits(args: argparse.Namespace, c: NodeClient) -> int:
    return views.cmd_credits(args, c, _address(args))


def cmd_certificates(args: argparse.Namespace, c: NodeClient) -> int:
    return views.cmd_certificates(args, c, _address(args))


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

    w = sub.add_parser("wallet", help="create, import or show the local wallet")
    w.add_argument("wallet_cmd", choices=["create", "import", "address"])
    w.add_argument("--force", action="store_true")
    w.add_argument("--from-keystore", help="import: an existing keystore file (else the key at a prompt or on stdin)")

    p = sub.add_parser("prepare", help="fetch an action's typed data")
    p.add_argument("action")
    p.add_argument("params", nargs="*")
    p.add_argument("--signer")

    s = sub.add_parser("sign", help="sign typed data locally, after showing it in words")
    s.add_argument("file")
    s.add_argument("--yes", "-y", action="store_true")

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
    handlers = {
        "sign": cmd_sign,
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
