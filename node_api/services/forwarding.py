"""Actions relayed as ERC-2771 ForwardRequests: prepare the typed data, check a signed request, relay it.

Every check before relaying is the exact relayed call simulated with ``eth_call`` (the contract
decides; the node turns its decision into an answer before any gas is spent). A request whose nonce
is ahead of the chain waits for its predecessors in the signer's forwarder lane.
"""

from __future__ import annotations

import asyncio
from typing import Any

from eth_utils import to_checksum_address

from .. import signing
from ..actions import ForwardAction
from ..core.rpc import RpcError
from ..errors import ApiError, contract_error
from ..relayer import Lane, RelayRequest
from ..core.abi import decode_revert
from .admission import Admission
from .pipeline import Pipeline
from .contracts import FORWARDER, Contracts, revert_of
from .relaying import Relaying
from .signatures import Digests, check_domain, require_signer, signature_bytes

#: Most gas a ForwardRequest may ask for.
MAX_REQUEST_GAS = 15_000_000
#: Outer-call gas on top of the request's: the forwarder's own work (signature, nonce, call set-up).
FORWARDER_OVERHEAD = 80_000


class Forwarding:
    def __init__(self, contracts: Contracts, relaying: Relaying, digests: Digests, *, signature_ttl: int,
                 gas_margin_ppm: int, gas_extra: int, admission: Admission, pipeline: Pipeline | None = None):
        self.contracts = contracts
        self.relaying = relaying
        self.digests = digests
        self.signature_ttl = signature_ttl
        self.gas_margin_ppm = gas_margin_ppm
        self.gas_extra = gas_extra
        self.admission = admission
        #: the signer's queue checked at chain speed (pipeline.py); None: each waits for its predecessor
        self.pipeline = pipeline

    def _encode(self, action: ForwardAction, params: Any, signer: str) -> bytes:
        args = tuple(signer if a == "$signer" else a for a in action.args(params))
        return self.contracts.encode(action.contract, action.function, *args)

    async def prepare(self, action: ForwardAction, signer: str, params: Any, *, nonce: int | None = None,
                      deadline: int | None = None) -> dict[str, Any]:
        c = self.contracts
        signer = to_checksum_address(signer)
        to = c.addresses[action.contract]
        data = self._encode(action, params, signer)
        inner = {"from": c.forwarder, "to": to, "data": "0x" + data.hex() + signer[2:].lower()}
        try:
            est_task = c.rpc.call("eth_estimateGas", [inner])
            chain_nonce, now, est = await asyncio.gather(c.view(FORWARDER, "nonces", signer), c.chain_time(), est_task)
        except RpcError as exc:
            raise contract_error(*revert_of(exc)) from None
        gas = int(est, 16)
        gas = gas + gas * self.gas_margin_ppm // 1_000_000 + self.gas_extra
        if nonce is None:
            nonce = self.relaying.next_nonce(Lane.forwarder(signer), int(chain_nonce))
        if deadline is None:
            deadline = now + self.signature_ttl
        typed = signing.forward_request_typed_data(
            c.chain_id, c.forwarder, sender=signer, to=to, data=data, nonce=nonce, deadline=deadline, gas=gas
        )
        digest = self.digests.forward(typed["message"])
        return {"action": action.name, "signer": signer, "typedData": typed, "digest": "0x" + digest.hex()}

    def _message(self, typed: dict[str, Any] | None, message: dict[str, Any] | None) -> dict[str, Any]:
        if typed is not None:
            check_domain(typed, "ForwardRequest", signing.FORWARDER_DOMAIN_NAME, self.contracts.forwarder,
                         self.contracts.chain_id)
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
        if not 0 < m["gas"] <= MAX_REQUEST_GAS:
            raise ApiError(422, "InvalidRequest", "request gas must be between 1 and 15,000,000", {"field": "message.gas"})
        if m["deadline"] >= 2**48:
            raise ApiError(422, "InvalidRequest", "deadline must fit in uint48", {"field": "message.deadline"})
        return m

    def signer_of(self, typed: dict[str, Any] | None, message: dict[str, Any] | None, signature: str) -> str:
        """The wallet that signed the request (refused when the signature is not ``message.from``'s)."""
        m = self._message(typed, message)
        return require_signer(self.digests.forward(m), signature_bytes(signature), m["from"], "request")

    async def submit(self, action: ForwardAction | None, typed: dict[str, Any] | None, message: dict[str, Any] | None,
                     signature: str, *, op_key: str | None = None, item: int | None = None,
                     wait: bool = True) -> dict[str, Any]:
        c = self.contracts
        m = self._message(typed, message)
        data = bytes.fromhex(m["data"][2:])
        targets = {v: k for k, v in c.addresses.items() if k != FORWARDER}
        if m["to"] not in targets:
            raise ApiError(403, "UnknownTarget", f"{m['to']} is not a contract of this ledger", {"to": m["to"]})
        target = targets[m["to"]]
        fn = c.abis[target].by_selector.get(data[:4])
        if fn is None:
            raise ApiError(422, "UnknownFunction", f"the request data calls no function of {target}",
                           {"field": "message.data"})
        if action is not None and (action.contract != target or action.function != fn.name):
            raise ApiError(422, "ActionMismatch",
                           f"this endpoint relays {action.contract}.{action.function}, the request calls "
                           f"{target}.{fn.name}", {"field": "message.data"})
        if m["value"] != 0:
            raise ApiError(422, "InvalidRequest", "request value must be 0", {"field": "message.value"})
        sig = signature_bytes(signature)
        signer = require_signer(self.digests.forward(m), sig, m["from"], "request")
        exec_data = c.encode(FORWARDER, "execute", (m["from"], m["to"], 0, m["gas"], m["deadline"], data, sig))
        outer_gas = m["gas"] + m["gas"] // 63 + FORWARDER_OVERHEAD + 16 * len(data)
        inner = {"from": c.forwarder, "to": m["to"], "data": m["data"] + signer[2:].lower(), "gas": hex(m["gas"])}
        outer = {"from": self.relaying.address, "to": c.forwarder, "data": "0x" + exec_data.hex(),
                 "gas": hex(outer_gas)}
        lane = Lane.forwarder(signer)
        name = action.name if action else f"{target}.{fn.name}"
        if self.pipeline is not None:  # checked after its predecessors, not after they are mined
            req = RelayRequest(to=c.forwarder, data=exec_data, gas=outer_gas, action=name, signer=signer,
                               op_key=op_key, item=item, replay=inner, lane=lane, batchable=True)

            async def explain(reason: bytes) -> ApiError:
                name_, args = decode_revert(reason)
                if name_ in ("", "FailedCall"):  # the forwarder only says the call failed: the call says why
                    r_inner = await c.try_call(inner)
                    if r_inner is not None:
                        return contract_error(*r_inner)
                return contract_error(name_, args)

            async def used(chain_nonce: int) -> ApiError:
                return ApiError(409, "NonceUsed",
                                f"request nonce {m['nonce']} was already used (next forwarder nonce of {m['from']} is "
                                f"{chain_nonce}): this request was executed before or superseded",
                                {"nonce": m["nonce"], "next": chain_nonce})

            h = await self.pipeline.submit(lane, m["nonce"], exec_data, req, explain=explain, used=used)
            return await self.relaying.answer(h, req, wait)
        await self._simulate(m, inner, outer, lane)
        await self.admission.admit(signer)  # members only, per-signer rate (after the contract's own answer)
        req = RelayRequest(to=c.forwarder, data=exec_data, gas=outer_gas, action=name, signer=signer,
                           op_key=op_key, item=item, replay=inner, lane=lane)
        return await self.relaying.relay(req, wait)

    async def _simulate(self, m: dict[str, Any], inner: dict, outer: dict, lane: Lane) -> None:
        c = self.contracts
        give_up = self.relaying.give_up_at()
        while True:
            r_outer, r_inner, chain_nonce = await asyncio.gather(
                c.try_call(outer), c.try_call(inner), self.relaying.nonce(lane)
            )
            if m["nonce"] > chain_nonce:
                if self.relaying.before(give_up):
                    await self.relaying.await_nonce(lane, m["nonce"], give_up)
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
