"""The node's core: prepare typed data, check signed actions early, relay them, report outcomes.

No HTTP here (routes call these methods); no rule of the ledger either: every early check is the
exact relayed call simulated with ``eth_call`` against the chain, so the contract decides, and the
node only turns its decision into an answer before any gas is spent. The contract checks again when
the transaction is mined.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from typing import Any, Awaitable, Callable

from eth_utils import to_checksum_address
from web3 import Web3

from . import signing
from .actions import FORWARD_ACTIONS, ForwardAction
from .actions.batches import (
    PrepareSettle,
    PrepareTransfer,
    PrepareTransferWithAcceptance,
    SubmitSettle,
    SubmitTransfer,
    SubmitTransferWithAcceptance,
    Transfer,
)
from .core.abi import ContractABI, decode_revert, load_abis
from .core.artifacts import load_artifacts
from .core.config import Settings
from .core.deploy import SHORT_NAMES, Deployment, deployment_for
from .core.rpc import ChainUnavailable, Rpc, RpcError
from .core.txsign import TxSigner
from .db import Database
from .errors import ApiError, chain_unavailable, contract_error
from .keys import Keystores, KeystoreError
from .relayer import RelayError, Relayer, RelayRequest

log = logging.getLogger(__name__)

ZERO32 = "0x" + "00" * 32

#: Events whose argument is the id a client wants back (result summary of a submit).
RESULT_FIELDS: dict[str, list[str]] = {
    "BatchCreated": ["batchId"],
    "CustodyProposed": ["transferId"],
    "ParticipantRegistered": ["participantId"],
    "SiteAdded": ["siteId"],
    "CertificationRecorded": ["certificationId"],
    "MaterialRegistered": ["material"],
    "SchemeRegistered": ["scheme"],
    "CharacteristicRegistered": ["characteristic"],
    "ProcessRegistered": ["processId"],
    "CertificatesIssued": ["certificateId"],
    "CertificatesRetired": ["retirementId"],
    "AttributesPledged": ["pledgeId", "releasedBatchId"],
}


class Node:
    """One node: chain connection, contracts, relayer, database, node-held keys."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.rpc: Rpc | None = None
        self.relayer: Relayer | None = None
        self.db: Database | None = None
        self.keystores = Keystores(settings.keystores_dir, settings.keystore_password)
        self.deployment: Deployment | None = None
        self.abis: dict[str, ContractABI] = {}
        self.addresses: dict[str, str] = {}
        self.chain_id = settings.chain_id
        self._events: dict[tuple[str, bytes], Any] = {}
        self._ops: dict[str, asyncio.Future] = {}
        self.started = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        artifacts = load_artifacts(s.evm_version)
        self.abis = load_abis(artifacts)
        try:
            dep = await asyncio.to_thread(deployment_for, s, artifacts)
        except ChainUnavailable as exc:
            raise RuntimeError(f"chain unreachable at {s.effective_rpc_url}: {exc}") from None
        self.chain_id = dep.chain_id
        self.deployment = dep
        self.addresses = {k: to_checksum_address(v) for k, v in dep.contracts.items()}
        for name, addr in self.addresses.items():
            for topic, ev in self.abis[name].events.items():
                self._events[(addr.lower(), topic)] = ev
        self.fwd_sep = signing.forwarder_separator(self.chain_id, self.addresses["CocForwarder"])
        self.ledger_sep = signing.ledger_separator(self.chain_id, self.addresses["BatchLedger"])
        self.db = Database(s.effective_database_url)
        self.rpc = Rpc(s.effective_rpc_url, max_batch=s.rpc_batch_size)
        signer = TxSigner(self._relayer_key(), self.chain_id)
        self.relayer = Relayer(
            self.rpc, self.db, signer,
            zero_gas_price=s.zero_gas_price, poll_interval=s.poll_interval, batch_size=s.rpc_batch_size,
            rebroadcast_after=s.rebroadcast_after, confirmations=s.confirmations,
        )
        await self.relayer.start()
        self.started = True

    async def stop(self) -> None:
        if self.relayer:
            await self.relayer.stop()
        if self.rpc:
            await self.rpc.aclose()
        if self.db:
            self.db.close()
        self.started = False

    def _relayer_key(self) -> str:
        s = self.settings
        if s.relayer_keystore:
            from eth_account import Account

            if not s.relayer_keystore_password:
                raise RuntimeError("COC_RELAYER_KEYSTORE_PASSWORD is not set")
            return "0x" + Account.decrypt(json.loads(s.relayer_keystore.read_text()), s.relayer_keystore_password).hex()
        if not s.relayer_key:
            raise RuntimeError("no relayer key: set COC_RELAYER_KEY or COC_RELAYER_KEYSTORE")
        return s.relayer_key

    # ------------------------------------------------------------------ helpers
    @property
    def forwarder(self) -> str:
        return self.addresses["CocForwarder"]

    @property
    def ledger(self) -> str:
        return self.addresses["BatchLedger"]

    def info(self) -> dict[str, Any]:
        assert self.deployment and self.relayer
        return {
            "chainId": self.chain_id,
            "rpcUrl": self.settings.effective_rpc_url,
            "contracts": self.addresses,
            "deployBlock": self.deployment.block_number,
            "relayer": self.relayer.address,
            "domains": {
                "ledger": signing.ledger_domain(self.chain_id, self.ledger),
                "forwarder": signing.domain(signing.FORWARDER_DOMAIN_NAME, signing.FORWARDER_DOMAIN_VERSION,
                                            self.chain_id, self.forwarder),
            },
            "actions": sorted(FORWARD_ACTIONS) + [
                "batches.transfer", "batches.accept", "batches.reject", "batches.cancel",
                "batches.transfer-with-acceptance",
            ],
        }

    async def view(self, contract: str, fn: str, *args: Any, block: str = "latest") -> Any:
        f = self.abis[contract].fn(fn, len(args))
        data = f.encode(*args)
        try:
            res = await self.rpc.call("eth_call", [{"to": self.addresses[contract], "data": "0x" + data.hex()}, block])
        except RpcError as exc:
            name, eargs = decode_revert(exc.revert_data or b"")
            raise contract_error(name, eargs) from None
        return f.decode_output(res)

    async def chain_time(self) -> int:
        block = await self.rpc.call("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    def decode_logs(self, logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for lg in logs:
            topics = [bytes.fromhex(t[2:]) for t in lg["topics"]]
            if not topics:
                continue
            ev = self._events.get((lg["address"].lower(), topics[0]))
            if ev is None:
                continue
            args = ev.decode(topics, bytes.fromhex(lg["data"][2:]))
            item = {"event": ev.name, "contract": ev.contract, "args": args}
            if "blockNumber" in lg:
                item["blockNumber"] = int(lg["blockNumber"], 16)
                item["txHash"] = lg.get("transactionHash")
            out.append(item)
        return out

    @staticmethod
    def summarize(events: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for ev in events:
            for f in RESULT_FIELDS.get(ev["event"], []):
                v = ev["args"].get(f)
                if v in (None, 0) and f == "releasedBatchId":
                    continue
                if f == "batchId" and ev["event"] == "BatchCreated":
                    result.setdefault("batchIds", []).append(v)
                else:
                    result[f] = v
        return result

    async def logs(self, contract: str, event: str, *topics: Any, from_block: int | None = None) -> list[dict[str, Any]]:
        ev = self.abis[contract].events_by_name[event]
        flt = {
            "address": self.addresses[contract],
            "fromBlock": hex(from_block if from_block is not None else self.deployment.block_number),  # type: ignore[union-attr]
            "toBlock": "latest",
            "topics": ["0x" + ev.topic.hex(), *topics],
        }
        raw = await self.rpc.call("eth_getLogs", [flt])
        return self.decode_logs(raw)

    # ------------------------------------------------------------------ forwarded actions
    def _encode(self, action: ForwardAction, params: Any, signer: str) -> bytes:
        args = tuple(signer if a == "$signer" else a for a in action.args(params))
        return self.abis[action.contract].fn(action.function).encode(*args)

    async def prepare_forward(
        self, action: ForwardAction, signer: str, params: Any, *, nonce: int | None = None, deadline: int | None = None
    ) -> dict[str, Any]:
        signer = to_checksum_address(signer)
        to = self.addresses[action.contract]
        data = self._encode(action, params, signer)
        inner = {"from": self.forwarder, "to": to, "data": "0x" + data.hex() + signer[2:].lower()}
        try:
            est_task = self.rpc.call("eth_estimateGas", [inner])
            chain_nonce, now, est = await asyncio.gather(
                self.view("CocForwarder", "nonces", signer), self.chain_time(), est_task
            )
        except RpcError as exc:
            name, eargs = decode_revert(exc.revert_data or b"")
            raise contract_error(name, eargs) from None
        gas = int(est, 16)
        gas = gas + gas * self.settings.forward_gas_margin_ppm // 1_000_000 + self.settings.forward_gas_extra
        if nonce is None:
            nonce = int(chain_nonce) + self.relayer.inflight("fwd:" + signer)  # type: ignore[union-attr]
        if deadline is None:
            deadline = now + self.settings.signature_ttl
        typed = signing.forward_request_typed_data(
            self.chain_id, self.forwarder, sender=signer, to=to, data=data, nonce=nonce, deadline=deadline, gas=gas
        )
        digest = signing.typed_digest(self.fwd_sep, signing.forward_hash(typed["message"]))
        return {"action": action.name, "signer": signer, "typedData": typed, "digest": "0x" + digest.hex()}

    def _forward_message(self, typed: dict[str, Any] | None, message: dict[str, Any] | None) -> dict[str, Any]:
        if typed is not None:
            self._check_domain(typed, "ForwardRequest", signing.FORWARDER_DOMAIN_NAME, self.forwarder)
            message = typed.get("message")
        if not isinstance(message, dict):
            raise ApiError(422, "InvalidRequest", "the ForwardRequest message is missing", {"field": "message"})
        try:
            m = {
                "from": to_checksum_address(message["from"]),
                "to": to_checksum_address(message["to"]),
                "value": int(message.get("value", 0)),
                "gas": int(message["gas"]),
                "nonce": int(message["nonce"]),
                "deadline": int(message["deadline"]),
                "data": message["data"] if isinstance(message["data"], str) else "0x" + bytes(message["data"]).hex(),
            }
            bytes.fromhex(m["data"][2:])
        except (KeyError, ValueError, TypeError) as exc:
            raise ApiError(422, "InvalidRequest", f"malformed ForwardRequest message: {exc}", {"field": "message"}) from None
        if not 0 < m["gas"] <= 15_000_000:
            raise ApiError(422, "InvalidRequest", "request gas must be between 1 and 15,000,000", {"field": "message.gas"})
        if m["deadline"] >= 2**48:
            raise ApiError(422, "InvalidRequest", "deadline must fit in uint48", {"field": "message.deadline"})
        return m

    def _check_domain(self, typed: dict[str, Any], primary: str, name: str, contract: str) -> None:
        dom = typed.get("domain") or {}
        if typed.get("primaryType") != primary:
            raise ApiError(422, "WrongMessageType", f"expected a {primary} message, got {typed.get('primaryType')!r}",
                           {"field": "typedData.primaryType"})
        try:
            ok = (
                dom.get("name") == name
                and int(dom.get("chainId", -1)) == self.chain_id
                and to_checksum_address(dom.get("verifyingContract", "")) == contract
            )
        except (ValueError, TypeError):
            ok = False
        if not ok:
            raise ApiError(
                403, "WrongDomain",
                f"the message is signed for another domain: expected {name} at {contract} on chain {self.chain_id}",
                {"domain": dom},
            )

    @staticmethod
    def _sig(signature: str, field: str = "signature") -> bytes:
        try:
            b = bytes.fromhex(signature[2:] if signature.startswith("0x") else signature)
        except (ValueError, AttributeError):
            raise ApiError(422, "InvalidRequest", f"{field} is not hex", {"field": field}) from None
        if len(b) != 65:
            raise ApiError(422, "InvalidRequest", f"{field} must be 65 bytes, got {len(b)}", {"field": field})
        return b

    def _recover(self, digest: bytes, sig: bytes, expected: str, what: str) -> str:
        try:
            who = signing.recover(digest, sig)
        except signing.BadSignature as exc:
            raise ApiError(403, "InvalidSignature", f"invalid signature: {exc}") from None
        if who != expected:
            raise ApiError(
                403, "SignatureMismatch",
                f"the {what} is signed by {who}, but must be signed by {expected}",
                {"recovered": who, "expected": expected},
            )
        return who

    async def submit_forward(
        self,
        action: ForwardAction | None,
        typed: dict[str, Any] | None,
        message: dict[str, Any] | None,
        signature: str,
        *,
        op_key: str | None = None,
        item: int | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        m = self._forward_message(typed, message)
        data = bytes.fromhex(m["data"][2:])
        targets = {v: k for k, v in self.addresses.items() if k != "CocForwarder"}
        if m["to"] not in targets:
            raise ApiError(403, "UnknownTarget", f"{m['to']} is not a contract of this ledger", {"to": m["to"]})
        fn = self.abis[targets[m["to"]]].by_selector.get(data[:4])
        if fn is None:
            raise ApiError(422, "UnknownFunction", f"the request data calls no function of {targets[m['to']]}",
                           {"field": "message.data"})
        if action is not None and (action.contract != targets[m["to"]] or action.function != fn.name):
            raise ApiError(422, "ActionMismatch",
                           f"this endpoint relays {action.contract}.{action.function}, the request calls "
                           f"{targets[m['to']]}.{fn.name}", {"field": "message.data"})
        if m["value"] != 0:
            raise ApiError(422, "InvalidRequest", "request value must be 0", {"field": "message.value"})
        sig = self._sig(signature)
        digest = signing.typed_digest(self.fwd_sep, signing.forward_hash(m))
        signer = self._recover(digest, sig, m["from"], "request")
        exec_fn = self.abis["CocForwarder"].fn("execute")
        exec_data = exec_fn.encode((m["from"], m["to"], 0, m["gas"], m["deadline"], data, sig))
        outer_gas = m["gas"] + m["gas"] // 63 + 80_000 + 16 * len(data)
        inner = {"from": self.forwarder, "to": m["to"], "data": m["data"] + signer[2:].lower(), "gas": hex(m["gas"])}
        outer = {"from": self.relayer.address, "to": self.forwarder, "data": "0x" + exec_data.hex(), "gas": hex(outer_gas)}  # type: ignore[union-attr]
        lane = "fwd:" + signer
        await self._simulate_forward(m, inner, outer, lane)
        name = action.name if action else f"{targets[m['to']]}.{fn.name}"
        req = RelayRequest(to=self.forwarder, data=exec_data, gas=outer_gas, action=name, signer=signer,
                           op_key=op_key, item=item, replay=inner, lane=lane)
        return await self._relay(req, wait)

    async def _try_call(self, call: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        try:
            await self.rpc.call("eth_call", [call, "latest"])
            return None
        except RpcError as exc:
            return decode_revert(exc.revert_data or b"")

    async def _simulate_forward(self, m: dict[str, Any], inner: dict, outer: dict, lane: str) -> None:
        give_up = time.monotonic() + self.settings.nonce_wait_seconds
        while True:
            r_outer, r_inner, chain_nonce = await asyncio.gather(
                self._try_call(outer), self._try_call(inner), self.view("CocForwarder", "nonces", m["from"])
            )
            chain_nonce = int(chain_nonce)
            if m["nonce"] > chain_nonce:
                if time.monotonic() < give_up:
                    while time.monotonic() < give_up:  # cheap check until the predecessors are mined
                        await self.relayer.wait_progress(lane, 0.5)  # type: ignore[union-attr]
                        if int(await self.view("CocForwarder", "nonces", m["from"])) >= m["nonce"]:
                            break
                    continue
                raise ApiError(409, "NonceAhead",
                               f"request nonce {m['nonce']} is ahead of the signer's next forwarder nonce {chain_nonce}: "
                               "an earlier request of this signer is missing", {"nonce": m["nonce"], "next": chain_nonce})
            if m["nonce"] < chain_nonce:
                raise ApiError(409, "NonceUsed",
                               f"request nonce {m['nonce']} was already used (next forwarder nonce of {m['from']} is "
                               f"{chain_nonce}): this request was executed before or superseded",
                               {"nonce": m["nonce"], "next": chain_nonce})
            if r_outer is None:
                return
            if r_inner is not None:
                raise contract_error(*r_inner)
            raise contract_error(*r_outer)

    # ------------------------------------------------------------------ custody messages
    async def prepare_transfer(self, p: PrepareTransfer | PrepareTransferWithAcceptance) -> dict[str, Any]:
        sender = p.from_
        chain_nonce, now = await asyncio.gather(self.view("BatchLedger", "nonces", sender), self.chain_time())
        nonce = p.nonce if p.nonce is not None else int(chain_nonce) + self.relayer.inflight("ledger:" + sender)  # type: ignore[union-attr]
        deadline = p.deadline if p.deadline is not None else now + self.settings.signature_ttl
        t = signing.CustodyTransfer(p.batchId, sender, p.to, p.quantity, p.certifiedQuantity, nonce, deadline)
        typed = signing.transfer_typed_data(self.chain_id, self.ledger, t)
        out = {
            "action": "batches.transfer",
            "signer": sender,
            "typedData": typed,
            "digest": "0x" + signing.typed_digest(self.ledger_sep, t.transfer_id()).hex(),
            "transferId": "0x" + t.transfer_id().hex(),
        }
        if isinstance(p, PrepareTransferWithAcceptance):
            acc_deadline = p.acceptDeadline if p.acceptDeadline is not None else now + self.settings.signature_ttl
            acc = signing.accept_typed_data(self.chain_id, self.ledger, t, acc_deadline)
            out["action"] = "batches.transfer-with-acceptance"
            out["acceptance"] = {
                "signer": p.to,
                "typedData": acc,
                "digest": "0x" + signing.typed_digest(
                    self.ledger_sep, signing.accept_hash(t.transfer_id(), t.batchId, t.quantity, acc_deadline)).hex(),
            }
        return out

    async def find_transfer(self, transfer_id: str) -> Transfer:
        found = await self.logs("BatchLedger", "CustodyProposed", transfer_id)
        if not found:
            raise ApiError(404, "UnknownTransfer", f"no custody transfer {transfer_id} was proposed on this ledger",
                           {"transferId": transfer_id})
        a = found[0]["args"]
        return Transfer(batchId=a["batchId"], to=a["to"], quantity=a["quantity"], certifiedQuantity=a["certifiedQuantity"],
                        nonce=a["nonce"], deadline=a["deadline"], **{"from": a["from"]})

    async def prepare_settle(self, kind: str, p: PrepareSettle) -> dict[str, Any]:
        t = p.transfer or await self.find_transfer(p.transferId)  # type: ignore[arg-type]
        ct = signing.CustodyTransfer.from_message(t.message())
        tid = "0x" + ct.transfer_id().hex()
        if p.transferId is not None and p.transferId != tid:
            raise ApiError(422, "InvalidRequest", "transferId does not match the transfer", {"field": "transferId"})
        deadline = p.deadline if p.deadline is not None else await self.chain_time() + self.settings.signature_ttl
        builder = {"accept": signing.accept_typed_data, "reject": signing.reject_typed_data,
                   "cancel": signing.cancel_typed_data}[kind]
        typed = builder(self.chain_id, self.ledger, ct, deadline)
        return {
            "action": f"batches.{kind}",
            "signer": ct.from_ if kind == "cancel" else ct.to,
            "typedData": typed,
            "digest": "0x" + self._settle_digest(kind, ct, deadline).hex(),
            "transferId": tid,
            "transfer": t.model_dump(by_alias=True),
        }

    def _settle_digest(self, kind: str, ct: signing.CustodyTransfer, deadline: int) -> bytes:
        tid = ct.transfer_id()
        if kind == "accept":
            sh = signing.accept_hash(tid, ct.batchId, ct.quantity, deadline)
        elif kind == "reject":
            sh = signing.reject_hash(tid, deadline)
        else:
            sh = signing.cancel_hash(tid, deadline)
        return signing.typed_digest(self.ledger_sep, sh)

    def _transfer_from(self, body: SubmitTransfer) -> Transfer:
        if body.typedData is not None:
            self._check_domain(body.typedData, "CustodyTransfer", signing.LEDGER_DOMAIN_NAME, self.ledger)
            try:
                return Transfer.model_validate(body.typedData.get("message") or {})
            except Exception as exc:  # noqa: BLE001 - pydantic ValidationError
                raise ApiError(422, "InvalidRequest", f"typedData.message: {exc}", {"field": "typedData.message"}) from None
        assert body.message is not None
        return body.message

    async def submit_transfer(self, body: SubmitTransfer, *, op_key: str | None = None, item: int | None = None,
                              wait: bool = True) -> dict[str, Any]:
        t = self._transfer_from(body)
        ct = signing.CustodyTransfer.from_message(t.message())
        sig = self._sig(body.signature)
        self._recover(signing.typed_digest(self.ledger_sep, ct.transfer_id()), sig, t.from_, "custody transfer")
        data = self.abis["BatchLedger"].fn("proposeTransfer").encode(t.as_tuple(), sig)
        lane = "ledger:" + t.from_
        await self._simulate_custody(data, lane, t.nonce)
        req = RelayRequest(to=self.ledger, data=data, gas=self.settings.custody_gas, action="batches.transfer",
                           signer=t.from_, op_key=op_key, item=item, lane=lane)
        return await self._relay(req, wait, replay_self=True)

    async def submit_transfer_with_acceptance(self, body: SubmitTransferWithAcceptance, *, op_key: str | None = None,
                                              item: int | None = None, wait: bool = True) -> dict[str, Any]:
        t = body.transfer
        ct = signing.CustodyTransfer.from_message(t.message())
        ssig = self._sig(body.senderSignature, "senderSignature")
        rsig = self._sig(body.receiverSignature, "receiverSignature")
        tid = ct.transfer_id()
        self._recover(signing.typed_digest(self.ledger_sep, tid), ssig, t.from_, "custody transfer")
        self._recover(signing.typed_digest(self.ledger_sep, signing.accept_hash(tid, t.batchId, t.quantity, body.acceptDeadline)),
                      rsig, t.to, "acceptance")
        data = self.abis["BatchLedger"].fn("transferWithAcceptance").encode(t.as_tuple(), ssig, body.acceptDeadline, rsig)
        lane = "ledger:" + t.from_
        await self._simulate_custody(data, lane, t.nonce)
        req = RelayRequest(to=self.ledger, data=data, gas=self.settings.custody_gas,
                           action="batches.transfer-with-acceptance", signer=t.from_, op_key=op_key, item=item, lane=lane)
        return await self._relay(req, wait, replay_self=True)

    async def submit_settle(self, kind: str, body: SubmitSettle, *, op_key: str | None = None, item: int | None = None,
                            wait: bool = True) -> dict[str, Any]:
        primary = {"accept": "AcceptTransfer", "reject": "RejectTransfer", "cancel": "CancelTransfer"}[kind]
        msg = body.message
        if body.typedData is not None:
            self._check_domain(body.typedData, primary, signing.LEDGER_DOMAIN_NAME, self.ledger)
            msg = body.typedData.get("message")
        if not isinstance(msg, dict) or "transferId" not in msg or "deadline" not in msg:
            raise ApiError(422, "InvalidRequest", f"the {primary} message needs transferId and deadline", {"field": "message"})
        tid = str(msg["transferId"]).lower()
        t = body.transfer or await self.find_transfer(tid)
        ct = signing.CustodyTransfer.from_message(t.message())
        if "0x" + ct.transfer_id().hex() != tid:
            raise ApiError(422, "InvalidRequest", "message.transferId does not match the transfer", {"field": "message.transferId"})
        try:
            deadline = int(msg["deadline"])
            if kind == "accept" and (int(msg.get("batchId", -1)) != t.batchId or int(msg.get("quantity", -1)) != t.quantity):
                raise ApiError(422, "InvalidRequest", "message batchId/quantity do not match the transfer", {"field": "message"})
        except (TypeError, ValueError):
            raise ApiError(422, "InvalidRequest", "message.deadline must be an integer", {"field": "message.deadline"}) from None
        sig = self._sig(body.signature)
        signer = t.from_ if kind == "cancel" else t.to
        self._recover(self._settle_digest(kind, ct, deadline), sig, signer, f"{kind} message")
        fn = {"accept": "acceptTransfer", "reject": "rejectTransfer", "cancel": "cancelTransfer"}[kind]
        data = self.abis["BatchLedger"].fn(fn).encode(t.as_tuple(), deadline, sig)
        await self._simulate_custody(data, "ledger:" + t.from_, None, proposal_lane=True)
        req = RelayRequest(to=self.ledger, data=data, gas=self.settings.custody_gas, action=f"batches.{kind}",
                           signer=signer, op_key=op_key, item=item, lane="settle:" + tid)
        return await self._relay(req, wait, replay_self=True)

    async def _simulate_custody(self, data: bytes, lane: str, nonce: int | None, *, proposal_lane: bool = False) -> None:
        call = {"from": self.relayer.address, "to": self.ledger, "data": "0x" + data.hex(),  # type: ignore[union-attr]
                "gas": hex(self.settings.custody_gas)}
        give_up = time.monotonic() + self.settings.nonce_wait_seconds
        signer = lane.split(":", 1)[1]
        while True:
            r = await self._try_call(call)
            if r is None:
                return
            name, args = r
            if name == "InvalidAccountNonce" and nonce is not None and nonce > int(args.get("currentNonce", 0)):
                # Signed ahead of the chain: hold it until its predecessors are mined (cheap check first).
                while time.monotonic() < give_up:
                    await self.relayer.wait_progress(lane, 0.5)  # type: ignore[union-attr]
                    if int(await self.view("BatchLedger", "nonces", signer)) >= nonce:
                        break
                else:
                    raise contract_error(name, args)
                continue
            # accept/reject/cancel of a proposal still on its way to the chain
            if (time.monotonic() < give_up and proposal_lane and name == "BatchTransferNotPending"
                    and int(args.get("status", -1)) == 0 and self.relayer.inflight(lane)):  # type: ignore[union-attr]
                await self.relayer.wait_progress(lane, 0.5)  # type: ignore[union-attr]
                continue
            raise contract_error(name, args)

    # ------------------------------------------------------------------ relaying and outcomes
    async def _relay(self, req: RelayRequest, wait: bool, *, replay_self: bool = False) -> dict[str, Any]:
        if replay_self:
            req.replay = {"from": self.relayer.address, "to": req.to, "data": "0x" + req.data.hex(), "gas": hex(req.gas)}  # type: ignore[union-attr]
        h = self.relayer.submit(req)  # type: ignore[union-attr]
        try:
            tx_hash = await h.sent
        except RelayError as exc:
            if exc.unavailable:
                raise chain_unavailable(str(exc)) from None
            raise ApiError(502, "RelayFailed", str(exc)) from None
        body: dict[str, Any] = {"txHash": tx_hash, "status": "pending", "action": req.action, "signer": req.signer}
        if not wait:
            return body
        try:
            outcome = await asyncio.wait_for(asyncio.shield(h.done), self.settings.wait_timeout)
        except asyncio.TimeoutError:
            return body
        except RelayError as exc:
            raise ApiError(502, "RelayFailed", str(exc), {"txHash": tx_hash}) from None
        return self.outcome_body(outcome)

    def outcome_body(self, outcome: dict[str, Any]) -> dict[str, Any]:
        """The answer for a settled transaction; raises the mapped ApiError if it reverted."""
        events = self.decode_logs(outcome.get("logs") or [])
        if outcome["status"] == "reverted":
            err = outcome.get("error") or {"name": "", "args": {}}
            raise contract_error(err.get("name", ""), err.get("args", {}), tx_hash=outcome["txHash"])
        return {
            "txHash": outcome["txHash"],
            "status": outcome["status"],
            "action": outcome.get("action"),
            "signer": outcome.get("signer"),
            "blockNumber": outcome.get("blockNumber"),
            "gasUsed": outcome.get("gasUsed"),
            "result": self.summarize(events),
            "events": events,
        }

    def tx_status(self, tx_hash: str) -> dict[str, Any]:
        row = self.db.tx(tx_hash)  # type: ignore[union-attr]
        if row is None:
            raise ApiError(404, "UnknownTransaction", f"this node relayed no transaction {tx_hash}", {"txHash": tx_hash})
        return self.row_body(row)

    def row_body(self, row: dict[str, Any]) -> dict[str, Any]:
        """The status of a relayed transaction. One the relayer had to sign again (its nonce was
        taken or the chain refused it) answers with its replacement's status, naming both."""
        original = row["hash"]
        for _ in range(16):
            if row["status"] != "replaced":
                break
            link = json.loads(row["error"] or "{}").get("replacedBy")
            nxt = self.db.tx(link) if link else None  # type: ignore[union-attr]
            if nxt is None:  # being signed again right now
                return {"txHash": original, "status": "pending", "action": row["action"], "signer": row["signer"],
                        "nonce": row["nonce"], "blockNumber": None, "gasUsed": None}
            row = nxt
        body = self._row_body(row)
        if row["hash"] != original:
            body["replaces"] = original
        return body

    def _row_body(self, row: dict[str, Any]) -> dict[str, Any]:
        status = {"signed": "pending", "sent": "pending"}.get(row["status"], row["status"])
        body: dict[str, Any] = {
            "txHash": row["hash"], "status": status, "action": row["action"], "signer": row["signer"],
            "nonce": row["nonce"], "blockNumber": row["block_number"], "gasUsed": row["gas_used"],
        }
        if row["logs"]:
            events = self.decode_logs(json.loads(row["logs"]))
            body["result"] = self.summarize(events)
            body["events"] = events
        if row["error"]:
            err = json.loads(row["error"])
            if row["status"] == "reverted":
                e = contract_error(err.get("name", ""), err.get("args", {}))
                body["error"] = {"error": e.error, "message": e.message, "details": e.details}
            else:
                body["error"] = {"error": err.get("name"), "message": err.get("message")}
        return body

    # ------------------------------------------------------------------ idempotency
    async def idempotent(
        self, key: str | None, request: Any, run: Callable[[str | None], Awaitable[tuple[int, dict[str, Any]]]]
    ) -> tuple[int, dict[str, Any]]:
        """Runs ``run(op_key)`` once per ``Idempotency-Key``; a retry gets the first answer (with the
        transactions' current status), even after a restart."""
        if key is None:
            return await run(None)
        if len(key) > 200:
            raise ApiError(422, "InvalidRequest", "Idempotency-Key is longer than 200 characters", {"field": "Idempotency-Key"})
        req_hash = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
        stored = self.db.operation(key)  # type: ignore[union-attr]
        if stored is not None:
            if stored["request_hash"] != req_hash:
                raise ApiError(409, "IdempotencyKeyReused",
                               "this Idempotency-Key was used for a different request", {"key": key})
            return stored["status_code"], self._refresh(json.loads(stored["response"]), replayed=True)
        running = self._ops.get(key)
        if running is not None:
            status, body = await asyncio.shield(running)
            return status, self._refresh(body, replayed=True)
        # a transaction signed again is represented by its replacement
        rows = [r for r in self.db.txs_for_op(key) if r["status"] != "replaced"]  # type: ignore[union-attr]
        if rows:  # acknowledged (or sent) before a restart, answer not recorded
            bodies = [self.row_body(r) for r in rows]
            body = bodies[0] if len(bodies) == 1 and rows[0]["item"] is None else {"items": bodies}
            body["replayed"] = True
            return 200, body
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._ops[key] = fut
        try:
            status, body = await run(key)
            if status < 300:
                self.db.save_operation(key, req_hash, status, body)  # type: ignore[union-attr]
            fut.set_result((status, body))
            return status, body
        except BaseException as exc:
            fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            raise
        finally:
            self._ops.pop(key, None)

    def _refresh(self, body: dict[str, Any], *, replayed: bool) -> dict[str, Any]:
        def one(b: dict[str, Any]) -> dict[str, Any]:
            if b.get("txHash") and b.get("status") == "pending":
                row = self.db.tx(b["txHash"])  # type: ignore[union-attr]
                if row is not None:
                    nb = self.row_body(row)
                    return {**b, **nb}
            return b
        body = dict(body)
        if "items" in body:
            body["items"] = [one(b) for b in body["items"]]
        else:
            body = one(body)
        body["replayed"] = replayed
        return body

    # ------------------------------------------------------------------ node-held keys
    def node_account(self, address: str):
        try:
            return self.keystores.account(address)
        except KeystoreError as exc:
            raise ApiError(403, "NoNodeKey", str(exc), {"address": address}) from None

    def admin_account(self):
        from eth_account import Account

        return Account.from_key(self.settings.admin_wallet_key or self.settings.deployer_key)

    def create_api_key(self, address: str, label: str | None) -> str:
        key = "coc_" + secrets.token_urlsafe(32)
        self.db.add_api_key(key, to_checksum_address(address), label)  # type: ignore[union-attr]
        return key

    def api_key_address(self, key: str) -> str | None:
        return self.db.api_key_address(key)  # type: ignore[union-attr]


__all__ = ["Node", "SHORT_NAMES", "ZERO32", "Web3", "ChainUnavailable"]
