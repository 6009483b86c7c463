"""web3 connection and transaction helpers: sign locally, send raw, decode reverts.

Used by the deploy step (``deploy.ensure_deployed``), the scripts and the tests; the node's runtime
talks to the chain through :mod:`node_api.core.rpc` only. Why web3 here: its contract objects build
constructor and call transactions from an ABI in one line, which is all the deploy step needs.

Why sign locally (eth-account; coincurve makes it ~10x faster): a permissioned production chain
(Besu/QBFT) holds no keys for us, so we never rely on ``eth_sendTransaction`` / node-managed
accounts, even on Anvil. Why decode reverts ourselves: contracts revert with custom errors, also
bubbled up from called contracts; ``abi.decode_revert`` knows every artifact's errors.
"""

from __future__ import annotations

import re
import time
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import TxReceipt

from .abi import decode_revert
from .config import Settings

#: Per-Web3 options set by connect(); read by send_tx (a Web3 object tolerates extra attributes).
_OPTS_ATTR = "_coc_options"


class ContractRevert(Exception):
    """A call or transaction reverted. ``name`` is the decoded error ("Error", "Panic", a custom
    error name, "" for empty revert data); ``error_args`` the decoded arguments by name;
    ``raw_data`` the revert bytes (b"" if the node gave none)."""

    def __init__(self, name: str, error_args: dict[str, Any], raw_data: bytes, tx_hash: str | None = None):
        super().__init__(name, error_args, raw_data)
        self.name = name
        self.error_args = error_args
        self.raw_data = raw_data
        self.tx_hash = tx_hash

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.error_args.items())
        where = f" (tx {self.tx_hash})" if self.tx_hash else ""
        return f"reverted: {self.name or '<no data>'}({args}){where}"


def connect(settings: Settings | None = None, rpc_url: str | None = None, *, timeout: float = 30.0) -> Web3:
    """HTTP Web3 for ``rpc_url`` (default: ``settings.effective_rpc_url``).

    Adds web3's ExtraDataToPOAMiddleware when ``settings.poa_extra_data`` (clique/QBFT blocks carry
    more than 32 bytes of extraData, which web3 otherwise rejects). Remembers ``zero_gas_price``
    and ``confirmations`` for :func:`send_tx`.
    """
    settings = settings or Settings()
    url = rpc_url or settings.effective_rpc_url
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
    if settings.poa_extra_data:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    setattr(w3, _OPTS_ATTR, {"zero_gas_price": settings.zero_gas_price, "confirmations": settings.confirmations})
    return w3


def _opts(w3: Web3) -> dict[str, Any]:
    return getattr(w3, _OPTS_ATTR, {"zero_gas_price": False, "confirmations": 0})


def revert_data_from_exception(exc: BaseException) -> bytes:
    """Raw revert bytes carried by a web3 ContractLogicError/ContractCustomError/…, else b""."""
    data: Any = getattr(exc, "data", None)
    if isinstance(data, dict):  # some clients nest it: {"data": "0x..."} / {"result": ...}
        data = data.get("data") or data.get("result")
    if not isinstance(data, str):
        return b""
    m = re.search(r"0x[0-9a-fA-F]*", data)
    if not m or len(m.group(0)) < 10:
        return b""
    hexstr = m.group(0)[2:]
    return bytes.fromhex(hexstr if len(hexstr) % 2 == 0 else hexstr[:-1])


def _revert_from_exception(exc: ContractLogicError, tx_hash: str | None = None) -> ContractRevert:
    raw = revert_data_from_exception(exc)
    if raw:
        name, args = decode_revert(raw)
    else:
        # Error(string) reported by some nodes only as text ("execution reverted: reason").
        msg = str(getattr(exc, "message", "") or "")
        reason = msg.split("execution reverted:", 1)[1].strip() if "execution reverted:" in msg else ""
        name, args = ("Error", {"message": reason}) if reason else ("", {})
    return ContractRevert(name, args, raw, tx_hash)


def _tx_params(w3: Web3, account: LocalAccount, overrides: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"from": account.address, "chainId": w3.eth.chain_id}
    if _opts(w3)["zero_gas_price"] and "maxFeePerGas" not in overrides:
        params["gasPrice"] = 0
    params.update(overrides)
    if "nonce" not in params:
        params["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
    return params


def build_signed(w3: Web3, contract_function: Any, account: LocalAccount, **overrides: Any) -> tuple[bytes, dict[str, Any]]:
    """Build (estimating gas unless ``gas`` given) and sign; returns (raw tx, tx dict).

    Raises ContractRevert if gas estimation reverts. Useful for batching raw transactions.
    """
    params = _tx_params(w3, account, overrides)
    try:
        tx = contract_function.build_transaction(params)
    except ContractLogicError as exc:
        raise _revert_from_exception(exc) from None
    signed = account.sign_transaction(tx)
    return bytes(signed.raw_transaction), tx


def send_tx(
    w3: Web3,
    contract_function: Any,
    account: LocalAccount,
    *,
    timeout: float = 120.0,
    **overrides: Any,
) -> TxReceipt:
    """Build, sign locally, send raw, wait for the receipt; raise ContractRevert on revert.

    ``contract_function`` is a bound web3 call (``c.functions.f(x)``) or a constructor
    (``w3.eth.contract(abi=..., bytecode=...).constructor(...)``; the receipt's
    ``contractAddress`` is then the new contract). ``overrides`` go into the transaction
    (``nonce``, ``gas``, ``value``, fees...). With ``gas`` given, estimation is skipped, so a
    revert is detected from the mined receipt (status 0) and decoded by replaying the call.
    """
    raw, tx = build_signed(w3, contract_function, account, **overrides)
    tx_hash = w3.eth.send_raw_transaction(raw)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if receipt["status"] != 1:
        raise _replay_revert(w3, tx, receipt)
    _wait_confirmations(w3, receipt, timeout)
    return receipt


def _replay_revert(w3: Web3, tx: dict[str, Any], receipt: TxReceipt) -> ContractRevert:
    """Re-run a mined-but-reverted tx as eth_call on the state before its block to get the data."""
    call = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
    block = max(int(receipt["blockNumber"]) - 1, 0)
    tx_hash = receipt["transactionHash"].to_0x_hex()
    try:
        w3.eth.call(call, block_identifier=block)
    except ContractLogicError as exc:
        return _revert_from_exception(exc, tx_hash)
    except Exception:  # noqa: BLE001 - replay is best effort (e.g. pruned state)
        pass
    return ContractRevert("", {}, b"", tx_hash)  # out of gas, or state-dependent revert


def _wait_confirmations(w3: Web3, receipt: TxReceipt, timeout: float) -> None:
    confirmations = int(_opts(w3)["confirmations"])
    if confirmations <= 0:
        return
    target = int(receipt["blockNumber"]) + confirmations
    deadline = time.monotonic() + timeout
    while w3.eth.block_number < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{confirmations} confirmations not reached within {timeout}s")
        time.sleep(0.5)


def call_revert(contract_function: Any, sender: LocalAccount | str | None = None, **overrides: Any) -> tuple[str, dict[str, Any]] | None:
    """eth_call the function; return the decoded revert ``(name, args)``, or None if it succeeds."""
    params: dict[str, Any] = dict(overrides)
    if sender is not None:
        params["from"] = sender if isinstance(sender, str) else sender.address
    try:
        contract_function.call(params)
    except ContractLogicError as exc:
        rev = _revert_from_exception(exc)
        return rev.name, rev.error_args
    return None


def deploy_contract(w3: Web3, artifact: dict[str, Any], account: LocalAccount, *args: Any, **overrides: Any) -> Any:
    """Deploy ``artifact`` (from compile_contracts) with constructor ``args``; returns a web3 Contract."""
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = send_tx(w3, factory.constructor(*args), account, **overrides)
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
