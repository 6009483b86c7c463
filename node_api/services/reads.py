"""Reads for a participant's own view and for the resource routes, from contract views and events
(eth_getLogs). The rich provenance index lives in node_api/index/; these exist so the supplier's CLI
works against any node, index or not."""

from __future__ import annotations

import asyncio
from typing import Any

from eth_utils import to_checksum_address

from .. import signing
from ..actions import FORWARD_ACTIONS
from ..actions.batches import CUSTODY_ACTIONS
from ..domain import BatchKind, Model, TransferStatus
from ..errors import ApiError, contract_error
from .contracts import LEDGER, Contracts

REGISTRY = "ParticipantRegistry"
MASS_BALANCE = "MassBalance"
CERTIFICATES = "CertificateRegistry"


def _topic_address(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def node_info(contracts: Contracts, rpc_url: str, relayer: str) -> dict[str, object]:
    """Chain id, contract addresses, EIP-712 domains, relayer, actions (GET /info)."""
    return {
        "chainId": contracts.chain_id,
        "rpcUrl": rpc_url,
        "contracts": contracts.addresses,
        "deployBlock": contracts.deploy_block,
        "relayer": relayer,
        "domains": {
            "ledger": signing.ledger_domain(contracts.chain_id, contracts.ledger),
            "forwarder": signing.domain(signing.FORWARDER_DOMAIN_NAME, signing.FORWARDER_DOMAIN_VERSION,
                                        contracts.chain_id, contracts.forwarder),
        },
        "actions": sorted(FORWARD_ACTIONS) + list(CUSTODY_ACTIONS),
    }


class Reads:
    def __init__(self, contracts: Contracts):
        self.contracts = contracts

    # ------------------------------------------------------------------ a wallet's own view
    async def held_batches(self, address: str) -> list[dict[str, Any]]:
        c = self.contracts
        address = to_checksum_address(address)
        logs = await c.logs(LEDGER, "TransferSingle", None, None, _topic_address(address))
        ids = sorted({lg["args"]["id"] for lg in logs})
        if not ids:
            return []
        balances = await c.view(LEDGER, "balanceOfBatch", [address] * len(ids), ids)
        held = [(i, b) for i, b in zip(ids, balances) if b > 0]
        infos = await asyncio.gather(*(c.view(LEDGER, "batch", i) for i, _ in held))
        return [{"batchId": i, "quantity": bal, **b, "modelName": Model(b["model"]).label}
                for (i, bal), b in zip(held, infos)]

    async def transfers(self, address: str) -> dict[str, list[dict[str, Any]]]:
        """Pending custody transfers waiting for ``address`` (incoming) or sent by it (outgoing)."""
        c = self.contracts
        address = to_checksum_address(address)
        proposed = await c.logs(LEDGER, "CustodyProposed")
        mine = [p for p in proposed if address in (p["args"]["to"], p["args"]["from"])]
        statuses = await asyncio.gather(*(c.view(LEDGER, "transferStatus", p["args"]["transferId"]) for p in mine))
        incoming, outgoing = [], []
        for p, st in zip(mine, statuses):
            if st != TransferStatus.PENDING:
                continue
            a = p["args"]
            item = {k: a[k] for k in ("transferId", "batchId", "from", "to", "quantity", "certifiedQuantity", "nonce", "deadline")}
            item["status"] = TransferStatus(st).label
            (incoming if a["to"] == address else outgoing).append(item)
        return {"incoming": incoming, "outgoing": outgoing}

    async def credits(self, address: str) -> list[dict[str, Any]]:
        c = self.contracts
        address = to_checksum_address(address)
        w = await c.view(REGISTRY, "wallet", address)
        if not w["participantId"]:
            return []
        opened = await c.logs(MASS_BALANCE, "AccountOpened", None, "0x" + int(w["participantId"]).to_bytes(32, "big").hex())
        accounts = [o["args"] for o in opened if o["args"]["siteId"] == w["siteId"]]
        balances = await asyncio.gather(*(c.view(MASS_BALANCE, "balanceOf", a["account"]) for a in accounts))
        return [
            {"account": a["account"], "siteId": a["siteId"], "material": a["material"], "characteristic": a["characteristic"],
             "scheme": a["scheme"], "balance": bal}
            for a, bal in zip(accounts, balances)
        ]

    async def certificates_held(self, address: str) -> list[dict[str, Any]]:
        c = self.contracts
        address = to_checksum_address(address)
        logs = await c.logs(CERTIFICATES, "TransferSingle", None, None, _topic_address(address))
        ids = sorted({lg["args"]["id"] for lg in logs})
        if not ids:
            return []
        balances = await c.view(CERTIFICATES, "balanceOfBatch", [address] * len(ids), ids)
        out = []
        for i, bal in zip(ids, balances):
            if bal > 0:
                iss = await c.view(CERTIFICATES, "issuance", i)
                out.append({"certificateId": i, **iss["out0"], **{k: v for k, v in iss["out1"].items() if k != "amount"},
                            "issued": iss["out1"]["amount"], "amount": bal})
        return out

    # ------------------------------------------------------------------ batches
    async def batch(self, batch_id: int) -> dict[str, Any]:
        c = self.contracts
        b, parents, origin, supply = await asyncio.gather(
            c.view(LEDGER, "batch", batch_id),
            c.view(LEDGER, "parents", batch_id),
            c.view(LEDGER, "origin", batch_id),
            c.view(LEDGER, "totalSupply", batch_id),
        )
        if not b["createdAt"]:
            raise contract_error("BatchUnknown", {"batchId": batch_id})
        return {"batchId": batch_id, **b, "modelName": Model(b["model"]).label, "supply": supply, "parents": parents,
                "origin": origin if b["kind"] == BatchKind.ORIGIN else None}

    async def balance(self, batch_id: int, address: str) -> dict[str, Any]:
        return {"batchId": batch_id, "address": address,
                "quantity": await self.contracts.view(LEDGER, "balanceOf", address, batch_id)}

    async def transfer_status(self, transfer_id: str) -> dict[str, Any]:
        st = await self.contracts.view(LEDGER, "transferStatus", transfer_id)
        return {"transferId": transfer_id, "status": TransferStatus(st).label}

    # ------------------------------------------------------------------ participants
    async def participant(self, participant_id: int) -> dict[str, Any]:
        p = await self.contracts.view(REGISTRY, "participant", participant_id)
        if p["status"] == 0:
            raise contract_error("RegistryUnknownParticipant", {"participantId": participant_id})
        return {"participantId": participant_id, **p}

    async def wallet(self, address: str) -> dict[str, Any]:
        w = await self.contracts.view(REGISTRY, "wallet", address)
        if not w["participantId"]:
            raise contract_error("RegistryUnknownWallet", {"wallet": address})
        p = await self.contracts.view(REGISTRY, "participant", w["participantId"])
        return {"wallet": address, **w, **p}

    async def certification(self, certification_id: int) -> dict[str, Any]:
        return {"certificationId": certification_id,
                **await self.contracts.view(REGISTRY, "certification", certification_id)}

    # ------------------------------------------------------------------ processes and reference data
    async def material(self, material_id: int) -> dict[str, Any]:
        m = await self.contracts.view(REGISTRY, "material", material_id)
        if not m["exists"]:
            raise contract_error("RegistryUnknownMaterial", {"material": material_id})
        return {"material": material_id, **m}

    async def characteristic(self, characteristic_id: int) -> dict[str, Any]:
        return {"characteristic": characteristic_id, **await self.contracts.view(REGISTRY, "schemeOf", characteristic_id)}

    async def process(self, process_id: int) -> dict[str, Any]:
        p = await self.contracts.view(REGISTRY, "process", process_id)
        if not p["exists"]:
            raise contract_error("RegistryUnknownProcess", {"processId": process_id})
        return {"processId": process_id, **p}

    # ------------------------------------------------------------------ mass balance
    async def account_key(self, participant_id: int, site_id: int, material: int, characteristic: int) -> dict[str, Any]:
        return {"account": await self.contracts.view(MASS_BALANCE, "accountKey", participant_id, site_id, material,
                                                     characteristic)}

    async def account(self, account: str) -> dict[str, Any]:
        c = self.contracts
        a = await c.view(MASS_BALANCE, "account", account)
        if not a["open"]:  # never opened: its period arithmetic would divide by zero on chain
            raise ApiError(404, "UnknownAccount", f"credit account {account} was never opened", {"account": account})
        bal, period = await c.view(MASS_BALANCE, "balanceOf", account), await c.view(MASS_BALANCE, "currentPeriod", account)
        return {"account": account, **a, "balanceNow": bal, "currentPeriod": period}

    async def statement(self, account: str, period: int) -> dict[str, Any]:
        return {"account": account, "period": period, **await self.contracts.view(MASS_BALANCE, "statement", account, period)}

    # ------------------------------------------------------------------ certificates
    async def retirement(self, retirement_id: int) -> dict[str, Any]:
        return {"retirementId": retirement_id, **await self.contracts.view(CERTIFICATES, "retirement", retirement_id)}

    async def pledge(self, pledge_id: int) -> dict[str, Any]:
        return {"pledgeId": pledge_id, **await self.contracts.view(CERTIFICATES, "pledge", pledge_id)}

    async def issuance(self, certificate_id: int) -> dict[str, Any]:
        r = await self.contracts.view(CERTIFICATES, "issuance", certificate_id)
        iss, amounts = r["out0"], r["out1"]
        if not amounts["amount"]:
            raise contract_error("CertificateUnknown", {"certificateId": certificate_id})
        return {"certificateId": certificate_id, **iss, **amounts}
