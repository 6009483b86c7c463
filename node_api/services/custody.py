"""Custody transfers: the batch ledger's own EIP-712 messages (CustodyTransfer, AcceptTransfer,
RejectTransfer, CancelTransfer), in four variants: propose, settle (accept / reject / cancel), and
transfer with acceptance (both signatures, one transaction).

Like forwarding, every check before relaying is the relayed call simulated against the chain. A
proposal signed ahead of the chain waits for its predecessors in the sender's ledger lane; a
settlement of a proposal the node has accepted but the chain has not mined yet is checked on the state
that proposal leaves and relayed at once (settle_ahead.py); without the pipeline it waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .. import signing
from ..actions.batches import (
    PrepareSettle,
    PrepareTransfer,
    PrepareTransferWithAcceptance,
    SubmitSettle,
    SubmitTransfer,
    SubmitTransferWithAcceptance,
    Transfer,
)
from ..domain import TransferStatus
from ..errors import ApiError, contract_error
from ..relayer import Lane, RelayRequest
from ..core.abi import decode_revert
from .admission import Admission
from .pipeline import Pipeline
from ..core.rpc import RpcError
from .contracts import LEDGER, Contracts, revert_of
from .relaying import Relaying
from .settle_ahead import SettleAhead
from .signatures import Digests, Settle, check_domain, require_signer, signature_bytes

log = logging.getLogger(__name__)

#: Stands in for a signature in a prepare-time dry run (the wallets' stand-in code accepts it).
UNSIGNED = b"\x00" * 65
#: EVM code answering every call with its own 4-byte selector: the magic value of ERC-1271
#: isValidSignature and of the ERC-1155 receiver hooks, so a dry run passes every signature check.
SIGNS_EVERYTHING = "0x600035" + "63ffffffff" + "60e01b" + "16" + "600052" + "60206000f3"

PRIMARY_TYPE: dict[Settle, str] = {"accept": "AcceptTransfer", "reject": "RejectTransfer", "cancel": "CancelTransfer"}
LEDGER_FUNCTION: dict[Settle, str] = {"accept": "acceptTransfer", "reject": "rejectTransfer", "cancel": "cancelTransfer"}
TYPED_DATA = {"accept": signing.accept_typed_data, "reject": signing.reject_typed_data,
              "cancel": signing.cancel_typed_data}


def _is_bytes32(v: str) -> bool:
    if len(v) != 66 or not v.startswith("0x"):
        return False
    try:
        bytes.fromhex(v[2:])
    except ValueError:
        return False
    return True


def settlement_signer(kind: Settle, t: signing.CustodyTransfer | Transfer) -> str:
    """The sender cancels; the receiver accepts or rejects."""
    return t.from_ if kind == "cancel" else t.to


class Custody:
    def __init__(self, contracts: Contracts, relaying: Relaying, digests: Digests, *, signature_ttl: int,
                 custody_gas: int, admission: Admission, pipeline: Pipeline | None = None):
        self.contracts = contracts
        self.relaying = relaying
        self.digests = digests
        self.signature_ttl = signature_ttl
        self.custody_gas = custody_gas
        self.admission = admission
        #: the signer's queue checked at chain speed (pipeline.py); None: each waits for its predecessor
        self.pipeline = pipeline
        #: settlements of proposals accepted and not mined yet, checked and relayed at chain speed
        self.settling = SettleAhead(contracts, relaying, pipeline, custody_gas) if pipeline is not None else None

    # ------------------------------------------------------------------ prepare
    async def prepare_transfer(self, p: PrepareTransfer | PrepareTransferWithAcceptance) -> dict[str, Any]:
        c = self.contracts
        sender = p.from_
        chain_nonce, now = await asyncio.gather(c.view(LEDGER, "nonces", sender), c.chain_time())
        nonce = p.nonce if p.nonce is not None else self.relaying.next_nonce(Lane.ledger(sender), int(chain_nonce))
        deadline = p.deadline if p.deadline is not None else now + self.signature_ttl
        t = signing.CustodyTransfer(p.batchId, sender, p.to, p.quantity, p.certifiedQuantity, nonce, deadline)
        tid = t.transfer_id()
        out = {
            "action": "batches.transfer",
            "signer": sender,
            "typedData": signing.transfer_typed_data(c.chain_id, c.ledger, t),
            "digest": "0x" + self.digests.transfer(tid).hex(),
            "transferId": "0x" + tid.hex(),
        }
        # the call run now as it will be relayed (the chain's next nonce: one of a proposal in flight is ahead)
        sim = signing.CustodyTransfer(p.batchId, sender, p.to, p.quantity, p.certifiedQuantity, int(chain_nonce), deadline)
        if isinstance(p, PrepareTransferWithAcceptance):
            acc_deadline = p.acceptDeadline if p.acceptDeadline is not None else now + self.signature_ttl
            out["action"] = "batches.transfer-with-acceptance"
            out["acceptance"] = {
                "signer": p.to,
                "typedData": signing.accept_typed_data(c.chain_id, c.ledger, t, acc_deadline),
                "digest": "0x" + self.digests.acceptance(tid, t, acc_deadline).hex(),
            }
            data = c.encode(LEDGER, "transferWithAcceptance", sim.as_tuple(), UNSIGNED, acc_deadline, UNSIGNED)
        else:
            data = c.encode(LEDGER, "proposeTransfer", sim.as_tuple(), UNSIGNED)
        await self._dry_run(data, sender, p.to)
        return out

    async def find_transfer(self, transfer_id: str) -> Transfer:
        found = await self.contracts.logs(LEDGER, "CustodyProposed", transfer_id)
        if not found:
            raise ApiError(404, "UnknownTransfer", f"no custody transfer {transfer_id} was proposed on this ledger",
                           {"transferId": transfer_id})
        a = found[0]["args"]
        return Transfer(batchId=a["batchId"], to=a["to"], quantity=a["quantity"], certifiedQuantity=a["certifiedQuantity"],
                        nonce=a["nonce"], deadline=a["deadline"], **{"from": a["from"]})

    async def prepare_settle(self, kind: Settle, p: PrepareSettle) -> dict[str, Any]:
        c = self.contracts
        if p.transfer is not None:
            t = p.transfer
        else:
            assert p.transferId is not None  # PrepareSettle requires one of the two
            t = await self.find_transfer(p.transferId)
        ct = signing.CustodyTransfer.from_message(t.message())
        tid_bytes = ct.transfer_id()
        tid = "0x" + tid_bytes.hex()
        if p.transferId is not None and p.transferId != tid:
            raise ApiError(422, "InvalidRequest", "transferId does not match the transfer", {"field": "transferId"})
        deadline = p.deadline if p.deadline is not None else await c.chain_time() + self.signature_ttl
        data = c.encode(LEDGER, LEDGER_FUNCTION[kind], t.as_tuple(), deadline, UNSIGNED)
        # a settlement of a proposal still on its way to the chain is checked at submit
        in_flight = p.transfer is not None and self.relaying.inflight(Lane.ledger(t.from_)) > 0
        await self._dry_run(data, t.from_, t.to, tolerate_unproposed=in_flight)
        return {
            "action": f"batches.{kind}",
            "signer": settlement_signer(kind, ct),
            "typedData": TYPED_DATA[kind](c.chain_id, c.ledger, ct, deadline),
            "digest": "0x" + self.digests.settlement(kind, tid_bytes, ct, deadline).hex(),
            "transferId": tid,
            "transfer": t.model_dump(by_alias=True),
        }

    # ------------------------------------------------------------------ submit
    def _check_ledger_domain(self, typed: dict[str, Any], primary: str) -> None:
        check_domain(typed, primary, signing.LEDGER_DOMAIN_NAME, self.contracts.ledger, self.contracts.chain_id)

    def _transfer_from(self, body: SubmitTransfer) -> Transfer:
        if body.typedData is not None:
            self._check_ledger_domain(body.typedData, "CustodyTransfer")
            try:
                return Transfer.model_validate(body.typedData.get("message") or {})
            except Exception as exc:  # noqa: BLE001 - pydantic ValidationError
                raise ApiError(422, "InvalidRequest", f"typedData.message: {exc}", {"field": "typedData.message"}) from None
        assert body.message is not None  # SubmitTransfer requires one of the two
        return body.message

    def _verified_transfer(self, body: SubmitTransfer) -> tuple[Transfer, bytes]:
        t = self._transfer_from(body)
        ct = signing.CustodyTransfer.from_message(t.message())
        sig = signature_bytes(body.signature)
        require_signer(self.digests.transfer(ct.transfer_id()), sig, t.from_, "custody transfer")
        return t, sig

    def _verified_twa(self, body: SubmitTransferWithAcceptance) -> tuple[bytes, bytes]:
        t = body.transfer
        ct = signing.CustodyTransfer.from_message(t.message())
        ssig = signature_bytes(body.senderSignature, "senderSignature")
        rsig = signature_bytes(body.receiverSignature, "receiverSignature")
        tid = ct.transfer_id()
        require_signer(self.digests.transfer(tid), ssig, t.from_, "custody transfer")
        require_signer(self.digests.acceptance(tid, ct, body.acceptDeadline), rsig, t.to, "acceptance")
        return ssig, rsig

    async def _verified_settle(self, kind: Settle, body: SubmitSettle) -> tuple[Transfer, str, int, bytes, str]:
        primary = PRIMARY_TYPE[kind]
        msg = body.message
        if body.typedData is not None:
            self._check_ledger_domain(body.typedData, primary)
            msg = body.typedData.get("message")
        if not isinstance(msg, dict) or "transferId" not in msg or "deadline" not in msg:
            raise ApiError(422, "InvalidRequest", f"the {primary} message needs transferId and deadline", {"field": "message"})
        tid = str(msg["transferId"]).lower()
        if not _is_bytes32(tid):
            raise ApiError(422, "InvalidRequest", "message.transferId must be 0x + 64 hex digits",
                           {"field": "message.transferId"})
        t = body.transfer or await self.find_transfer(tid)
        ct = signing.CustodyTransfer.from_message(t.message())
        tid_bytes = ct.transfer_id()
        if "0x" + tid_bytes.hex() != tid:
            raise ApiError(422, "InvalidRequest", "message.transferId does not match the transfer", {"field": "message.transferId"})
        try:
            deadline = int(msg["deadline"])
            if kind == "accept" and (int(msg.get("batchId", -1)) != t.batchId or int(msg.get("quantity", -1)) != t.quantity):
                raise ApiError(422, "InvalidRequest", "message batchId/quantity do not match the transfer", {"field": "message"})
        except (TypeError, ValueError):
            raise ApiError(422, "InvalidRequest", "message.deadline must be an integer", {"field": "message.deadline"}) from None
        if not 0 <= deadline < 2**256:
            raise ApiError(422, "InvalidRequest", "message.deadline must be a uint256", {"field": "message.deadline"})
        sig = signature_bytes(body.signature)
        signer = settlement_signer(kind, t)
        require_signer(self.digests.settlement(kind, tid_bytes, ct, deadline), sig, signer, f"{kind} message")
        return t, tid, deadline, sig, signer

    # the wallet whose signature the node relays (the caller an Idempotency-Key is scoped to)
    async def signer_of(self, kind: str, body: Any) -> str:
        if kind == "transfer":
            return self._verified_transfer(body)[0].from_
        if kind == "transfer-with-acceptance":
            self._verified_twa(body)
            return body.transfer.from_
        return (await self._verified_settle(kind, body))[4]  # type: ignore[arg-type]

    async def submit_transfer(self, body: SubmitTransfer, *, op_key: str | None = None, item: int | None = None,
                              wait: bool = True) -> dict[str, Any]:
        t, sig = self._verified_transfer(body)
        data = self.contracts.encode(LEDGER, "proposeTransfer", t.as_tuple(), sig)
        lane = Lane.ledger(t.from_)
        if self.pipeline is not None:
            return await self._pipelined(data, "batches.transfer", t.from_, lane, t.nonce, op_key, item, wait)
        await self._simulate(data, lane, t.nonce)
        return await self._relay(data, "batches.transfer", t.from_, lane, op_key, item, wait)

    async def submit_transfer_with_acceptance(self, body: SubmitTransferWithAcceptance, *, op_key: str | None = None,
                                              item: int | None = None, wait: bool = True) -> dict[str, Any]:
        t = body.transfer
        ssig, rsig = self._verified_twa(body)
        data = self.contracts.encode(LEDGER, "transferWithAcceptance", t.as_tuple(), ssig, body.acceptDeadline, rsig)
        lane = Lane.ledger(t.from_)
        if self.pipeline is not None:
            return await self._pipelined(data, "batches.transfer-with-acceptance", t.from_, lane, t.nonce, op_key,
                                         item, wait)
        await self._simulate(data, lane, t.nonce)
        return await self._relay(data, "batches.transfer-with-acceptance", t.from_, lane, op_key, item, wait)

    async def submit_settle(self, kind: Settle, body: SubmitSettle, *, op_key: str | None = None,
                            item: int | None = None, wait: bool = True) -> dict[str, Any]:
        t, tid, deadline, sig, signer = await self._verified_settle(kind, body)
        data = self.contracts.encode(LEDGER, LEDGER_FUNCTION[kind], t.as_tuple(), deadline, sig)
        if self.pipeline is None:
            await self._simulate(data, Lane.ledger(t.from_), None, proposal_lane=True)
            return await self._relay(data, f"batches.{kind}", signer, Lane.settlement(tid), op_key, item, wait)
        assert self.settling is not None
        ahead = await self.settling.check(data, t)
        if not ahead:
            return await self._relay(data, f"batches.{kind}", signer, Lane.settlement(tid), op_key, item, wait)
        await self.admission.admit(signer)
        req = RelayRequest(to=self.contracts.ledger, data=data, gas=self.custody_gas, action=f"batches.{kind}",
                           signer=signer, op_key=op_key, item=item, lane=Lane.settlement(tid), batchable=True)
        self.relaying.self_replay(req)
        return await self.settling.relay_ahead(req, t, wait)

    # ------------------------------------------------------------------ checks and relaying
    async def _dry_run(self, data: bytes, *wallets: str, tolerate_unproposed: bool = False) -> None:
        """Runs the ledger call a prepared message will be relayed as, before anything is signed: the
        signatures are the only part not checked (the signing wallets answer the ERC-1271 check for
        the call's duration, through an eth_call state override), every rule of the ledger, the
        registry and the mass balance is. A chain without state overrides skips this check (the
        submit still simulates the signed call)."""
        call = {"from": self.relaying.address, "to": self.contracts.ledger, "data": "0x" + data.hex(),
                "gas": hex(self.custody_gas)}
        overrides = {w: {"code": SIGNS_EVERYTHING} for w in wallets}
        try:
            await self.contracts.rpc.call("eth_call", [call, "latest", overrides])
            return
        except RpcError as exc:
            if exc.revert_data is None and "revert" not in str(exc.message).lower():
                # not a revert: this chain does not take state overrides (the submit still simulates)
                log.warning("custody prepare not simulated: %s", exc)
                return
            name, args = revert_of(exc)
        if name == "BatchTransferNotPending" and int(args.get("status", -1)) == TransferStatus.NONE and tolerate_unproposed:
            return
        raise contract_error(name, args)

    async def _simulate(self, data: bytes, lane: Lane, nonce: int | None, *, proposal_lane: bool = False) -> None:
        """The relayed call simulated until it passes; a message signed ahead of the chain (or a
        settlement of a proposal in ``lane`` still in flight) waits for the lane first."""
        call = {"from": self.relaying.address, "to": self.contracts.ledger, "data": "0x" + data.hex(),
                "gas": hex(self.custody_gas)}
        give_up = self.relaying.give_up_at()
        while True:
            r = await self.contracts.try_call(call)
            if r is None:
                return
            name, args = r
            if name == "InvalidAccountNonce" and nonce is not None and nonce > int(args.get("currentNonce", 0)):
                if not await self.relaying.await_nonce(lane, nonce, give_up):
                    raise contract_error(name, args)
                continue
            # accept/reject/cancel of a proposal still on its way to the chain
            if (self.relaying.before(give_up) and proposal_lane and name == "BatchTransferNotPending"
                    and int(args.get("status", -1)) == TransferStatus.NONE and self.relaying.inflight(lane)):
                await self.relaying.wait_progress(lane)
                continue
            raise contract_error(name, args)

    async def _relay(self, data: bytes, action: str, signer: str, lane: Lane, op_key: str | None, item: int | None,
                     wait: bool) -> dict[str, Any]:
        await self.admission.admit(signer)  # members only, per-signer rate (after the contract's own answer)
        req = RelayRequest(to=self.contracts.ledger, data=data, gas=self.custody_gas, action=action, signer=signer,
                           op_key=op_key, item=item, lane=lane, batchable=self.pipeline is not None)
        self.relaying.self_replay(req)
        return await self.relaying.relay(req, wait)

    async def _pipelined(self, data: bytes, action: str, signer: str, lane: Lane, nonce: int, op_key: str | None,
                         item: int | None, wait: bool) -> dict[str, Any]:
        """A proposal checked after the signer's accepted ones, not after they are mined (pipeline.py)."""
        assert self.pipeline is not None
        req = RelayRequest(to=self.contracts.ledger, data=data, gas=self.custody_gas, action=action, signer=signer,
                           op_key=op_key, item=item, lane=lane, batchable=True)
        self.relaying.self_replay(req)
        call = {"from": self.relaying.address, "to": self.contracts.ledger, "data": "0x" + data.hex(),
                "gas": hex(self.custody_gas)}

        async def explain(reason: bytes) -> ApiError:
            return contract_error(*decode_revert(reason))

        async def used(chain_nonce: int) -> ApiError:
            r = await self.contracts.try_call(call)  # the ledger's own answer (InvalidAccountNonce)
            if r is not None:
                return contract_error(*r)
            return ApiError(409, "NonceUsed", f"nonce {nonce} of {signer} was already used (next {chain_nonce})",
                            {"nonce": nonce, "next": chain_nonce})

        h = await self.pipeline.submit(lane, nonce, data, req, explain=explain, used=used)
        return await self.relaying.answer(h, req, wait)
