"""Plain helpers for contract tests (import with ``from helpers import tx, expect_revert, events``).

They wrap node_api.core.chain so tests exercise the same signing/sending/revert-decoding path as
the node. The web3 instance is taken from the bound function (``fn.w3``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import collapse_if_tuple, function_signature_to_4byte_selector
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD
from web3.types import TxReceipt

from node_api.core.chain import ContractRevert, call_revert, send_tx

__all__ = ["tx", "expect_revert", "events", "call_revert", "read_views", "ContractRevert"]


def tx(fn: Any, sender: Any, /, **overrides: Any) -> TxReceipt:
    """Send ``fn`` (e.g. ``c.functions.mint(a, 1, 5)`` or a constructor) signed by ``sender``
    (a LocalAccount, or a sandbox Actor: its account signs).

    Returns the receipt; raises ContractRevert (``.name``, ``.error_args``, ``.raw_data``) on revert.
    """
    return send_tx(fn.w3, fn, getattr(sender, "account", sender), **overrides)


def expect_revert(fn: Any, sender: LocalAccount, error_name: str, /, **expected_args: Any) -> ContractRevert:
    """Assert that sending ``fn`` from ``sender`` reverts with custom error ``error_name``.

    ``expected_args`` are compared by parameter name (a subset is fine); addresses are checksummed
    by the decoder, so pass ``account.address`` / ``contract.address``. Use ``error_name="Error"``
    with ``message=...`` for require-strings, ``"Panic"`` with ``code=...`` for panics.
    Returns the ContractRevert for further checks.
    """
    try:
        receipt = send_tx(fn.w3, fn, sender)
    except ContractRevert as rev:
        assert rev.name == error_name, f"expected revert {error_name}, got {rev}"
        for key, want in expected_args.items():
            assert key in rev.error_args, f"{error_name} has no argument {key!r}: {rev.error_args}"
            got = rev.error_args[key]
            assert got == want, f"{error_name}.{key}: expected {want!r}, got {got!r}"
        return rev
    pytest.fail(f"expected revert {error_name}, but the transaction succeeded (block {receipt['blockNumber']})")


def events(contract: Any, receipt: TxReceipt, event_name: str) -> list[dict[str, Any]]:
    """Decoded ``event_name`` logs emitted by ``contract`` in ``receipt`` (args as plain dicts)."""
    logs = getattr(contract.events, event_name)().process_receipt(receipt, errors=DISCARD)
    return [dict(log["args"]) for log in logs]


@functools.lru_cache(maxsize=None)
def _abi_of(abi_json: str, name: str) -> tuple[bytes, list[str]]:
    """(selector, input types) of function `name` in an ABI (cached: encode_abi is slow per call)."""
    (fn,) = [e for e in json.loads(abi_json) if e.get("type") == "function" and e["name"] == name]
    types = [collapse_if_tuple(i) for i in fn["inputs"]]
    return function_signature_to_4byte_selector(f"{name}({','.join(types)})"), types


def read_views(w3: Any, calls: dict) -> dict:
    """{label: (contract, function name, args)} -> {label: raw eth_call result}, in one JSON-RPC batch
    (a refusal test reads the state twice; one round trip keeps that cheap on a shared machine)."""
    labels = list(calls)
    requests = []
    for c, fn, args in (calls[k] for k in labels):
        selector, types = _abi_of(json.dumps(c.abi), fn)
        data = "0x" + (selector + abi_encode(types, list(args))).hex()
        requests.append(("eth_call", [{"to": c.address, "data": data}, "latest"]))
    answers = w3.provider.make_batch_request(requests)
    return {k: a.get("result", a.get("error")) for k, a in zip(labels, answers)}
