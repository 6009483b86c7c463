"""No blind signing in ``coc``: before any signature, the typed data in words (the node's describer,
POST /typed-data/describe), checked here against the typed data itself, so a node cannot describe one
thing and have another signed.

The check needs no chain: the call data is decoded with the ABIs shipped in this package and every
signed value the description shows is compared with it (and the description must cover every field of
the function, from the same meaning table the node uses). Names (which only the chain knows) are the
node's word; ids, quantities, addresses and dates are checked.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rich.console import Console
from rich.table import Table

from ..clear_signing.spec import FUNCTIONS, MESSAGES
from .client import NodeClient, NodeError


class Undescribed(SystemExit):
    """The typed data could not be described or the description does not match it: nothing is signed."""


@lru_cache(maxsize=1)
def _abis() -> Any:
    from ..core.abi import load_abis
    from ..core.artifacts import load_artifacts

    return load_abis(load_artifacts())


def _norm(v: Any) -> Any:
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip()
        if s.isdigit():
            return int(s)
        return s.lower()
    return v


def _at(args: dict[str, Any], path: str) -> Any:
    cur: Any = args
    for part in path.split("."):
        if part != "[]":
            cur = cur[part]
    return cur


def verify(typed: dict[str, Any], desc: dict[str, Any]) -> None:
    """Raises Undescribed when ``desc`` is not a description of ``typed``."""
    def fail(why: str) -> None:
        raise Undescribed(f"refusing to sign: the node's description does not match the typed data ({why})")

    dom, m = typed.get("domain", {}), typed.get("message", {})
    if desc.get("primaryType") != typed.get("primaryType"):
        fail("primary type")
    if _norm(desc.get("verifyingContract")) != _norm(dom.get("verifyingContract")) or desc.get("chainId") != dom.get("chainId"):
        fail("domain")
    signed = {f["path"]: f["raw"] for f in desc.get("fields", []) if f.get("signed", True)}
    if typed["primaryType"] == "ForwardRequest":
        spec = FUNCTIONS.get((desc.get("contract"), desc.get("function")))
        if spec is None:
            fail(f"{desc.get('contract')}.{desc.get('function')} is no function a participant signs")
        abi = _abis().get(desc["contract"])
        data = bytes.fromhex(str(m.get("data", ""))[2:])
        fn = abi.by_selector.get(data[:4]) if abi else None
        if fn is None or fn.name != desc["function"]:
            fail("the call data calls another function")
        values = fn.decode_input(data)
        if _norm(desc.get("signer")) != _norm(m.get("from")):
            fail("signer")
    else:
        spec = MESSAGES.get(typed["primaryType"])
        if spec is None:
            fail("unknown message")
        values = m
    if set(signed) != {f.path for f in spec.fields}:
        fail("fields missing or added")
    for path, raw in signed.items():
        if _norm(raw) != _norm(_at(values, path)):
            fail(f"value of {path}")


def describe(c: NodeClient, typed: dict[str, Any], *, transfer: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"typedData": typed}
    if transfer is not None:
        body["transfer"] = transfer
    try:
        desc = c.post("typed-data/describe", body)
    except NodeError as exc:
        raise Undescribed(f"refusing to sign: the node cannot say what this typed data means "
                          f"({exc.status} {exc.error}: {exc.message})") from None
    verify(typed, desc)
    return desc


def show(desc: dict[str, Any], console: Console) -> None:
    """The description as people read it: the action, the fields, who takes part, the declaration."""
    console.print(f"\n[bold]{desc['summary']}[/]")
    who = desc.get("signerName") or "unregistered wallet"
    console.print(f"signed by [bold]{who}[/] ({desc.get('signer') or 'unknown wallet'})"
                  + (f", valid until {desc['validUntil']}" if desc.get("validUntil") else ""))
    t = Table(show_header=True, header_style="bold")
    t.add_column("field")
    t.add_column("value", overflow="fold")
    for f in desc["fields"]:
        t.add_row(f["label"] + ("" if f.get("signed", True) else " (from the chain)"), f["value"])
    console.print(t)
    if desc.get("organisations"):
        parts = [f"{o['role']}: {o.get('name') or 'unregistered'}" + (f" ({o['site']})" if o.get("site") else "")
                 for o in desc["organisations"]]
        console.print("organisations: " + "; ".join(parts))
    console.print(f"declaration: {desc['declaration']}")
    if desc.get("contract"):
        console.print(f"[dim]call {desc['contract']}.{desc['signature']} through the forwarder, on chain "
                      f"{desc['chainId']}[/]")
    for w in desc.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}")
