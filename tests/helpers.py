"""Plain helpers for contract tests (import with ``from helpers import tx, expect_revert, events``).

They wrap node_api.core.chain so tests exercise the same signing/sending/revert-decoding path as
the node. The web3 instance is taken from the bound function (``fn.w3``).
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD
from web3.types import TxReceipt

from node_api.core.chain import ContractRevert, call_revert, send_tx

__all__ = ["tx", "expect_revert", "events", "call_revert", "ContractRevert"]


def tx(fn: Any, sender: LocalAccount, /, **overrides: Any) -> TxReceipt:
    """Send ``fn`` (e.g. ``c.functions.mint(a, 1, 5)`` or a constructor) signed by ``sender``.

    Returns the receipt; raises ContractRevert (``.name``, ``.error_args``, ``.raw_data``) on revert.
    """
    return send_tx(fn.w3, fn, sender, **overrides)


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
