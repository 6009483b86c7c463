"""Typed data in words: what a participant is about to sign, decoded from the EIP-712 typed data alone.

The web app and ``coc`` show this before every signature (no blind signing): the action ("Register
participant Weaver Ltd as supplier"), every field with its name and its value in words (quantities in
the material's registered unit, organisations by name, dates not timestamps), the organisations
involved and what the signer declares. A ForwardRequest's ``data`` is decoded with the contracts' ABIs;
the batch ledger's custody messages are read field by field. The meaning of each field comes from one
table (``node_api.clear_signing.spec``), the same the ERC-7730 descriptors are built from.

Only this ledger's messages are described: typed data for another chain or contract, another type
layout, or a function no participant signs is refused (422 naming the rule), never guessed at.
"""

from __future__ import annotations

import re
from typing import Any

from eth_utils import is_address, to_checksum_address

from .. import signing
from ..clear_signing.spec import FORWARD_REQUEST, FUNCTIONS, MESSAGES, Field, Spec
from ..core.abi import signature as abi_signature
from ..clear_signing.words import (enum_words, date_words, duration_words, models_words, ppm_words, quantity_words,
                                   roles_words)
from ..domain import CertificationStatus, ConsumeReason, Model, ParticipantStatus
from ..errors import ApiError
from .contracts import FORWARDER, LEDGER, Contracts
from .names import Names

REGISTRY = "ParticipantRegistry"
CERTIFICATES = "CertificateRegistry"
_TYPES = {"ForwardRequest": signing.FORWARD_REQUEST, "CustodyTransfer": signing.CUSTODY_TRANSFER,
          "AcceptTransfer": signing.ACCEPT_TRANSFER, "RejectTransfer": signing.REJECT_TRANSFER,
          "CancelTransfer": signing.CANCEL_TRANSFER}


def refuse(error: str, message: str, field: str, **details: Any) -> ApiError:
    return ApiError(422, error, message, {"field": field, **details})


def values_at(args: dict[str, Any], path: str) -> Any:
    """The value at an ERC-7730 path (``p.materials.[]`` -> the list)."""
    cur: Any = args
    for part in path.split("."):
        if part == "[]":
            continue
        cur = cur[part]
    return cur


def decode_forward(typed: dict[str, Any], contracts: Contracts) -> tuple[str, Any, dict[str, Any], Spec]:
    """(contract, ABI function, decoded arguments, spec) of a ForwardRequest's call; 422 for anything
    that is not a function a participant signs on one of this ledger's contracts."""
    m = typed["message"]
    to = m.get("to")
    if not isinstance(to, str) or not is_address(to):
        raise refuse("UnknownContract", "message.to is not an address", "message.to")
    targets = {v: k for k, v in contracts.addresses.items() if k != FORWARDER}
    target = targets.get(to_checksum_address(to))
    if target is None:
        raise refuse("UnknownContract", f"{to} is not a contract of this ledger: only calls to its contracts "
                     f"({', '.join(sorted(targets.values()))}) are described", "message.to", to=to)
    data = m.get("data")
    try:
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    except (AttributeError, ValueError):
        raise refuse("MalformedCalldata", "message.data is not 0x-hex", "message.data") from None
    fn = contracts.abis[target].by_selector.get(raw[:4])
    if fn is None:
        raise refuse("UnknownFunction", f"the call data's selector 0x{raw[:4].hex()} is no function of {target}",
                     "message.data", contract=target)
    spec = FUNCTIONS.get((target, fn.name))
    if spec is None:
        raise refuse("UnknownFunction", f"{target}.{fn.name} is not a function a participant signs: only those "
                     "are described (and relayed)", "message.data", contract=target, function=fn.name)
    try:
        args = fn.decode_input(raw)
    except Exception as exc:  # noqa: BLE001 - eth_abi raises several decoding errors
        raise refuse("MalformedCalldata", f"the call data does not decode as {fn.name}: {exc}", "message.data") from None
    return target, fn, args, spec


def check_typed(typed: Any, contracts: Contracts) -> str:
    """The primary type of ``typed`` once it is this ledger's own typed data (422 otherwise)."""
    if not isinstance(typed, dict):
        raise refuse("InvalidRequest", "typed data must be an object", "typedData")
    for key in ("domain", "types", "primaryType", "message"):
        if key not in typed:
            raise refuse("InvalidRequest", f"typed data has no {key}", key)
    primary, dom = typed["primaryType"], typed["domain"]
    if primary not in _TYPES:
        raise refuse("UnknownMessage", f"primaryType {primary!r} is none of this ledger's messages "
                     f"({', '.join(_TYPES)})", "primaryType")
    if not isinstance(dom, dict) or not isinstance(typed["message"], dict) or not isinstance(typed["types"], dict):
        raise refuse("InvalidRequest", "domain, types and message must be objects", "typedData")
    if dom.get("chainId") != contracts.chain_id:
        raise refuse("UnknownContract", f"typed data for chain {dom.get('chainId')}: this ledger is on chain "
                     f"{contracts.chain_id}", "domain.chainId")
    forward = primary == "ForwardRequest"
    name, version, contract = ((signing.FORWARDER_DOMAIN_NAME, signing.FORWARDER_DOMAIN_VERSION, contracts.forwarder)
                               if forward else (signing.LEDGER_DOMAIN_NAME, signing.LEDGER_DOMAIN_VERSION, contracts.ledger))
    vc = dom.get("verifyingContract")
    if not isinstance(vc, str) or not is_address(vc) or to_checksum_address(vc) != contract:
        raise refuse("UnknownContract", f"{primary} must be verified by this ledger's "
                     f"{'forwarder' if forward else 'batch ledger'} {contract}, not {vc}", "domain.verifyingContract")
    if (dom.get("name"), dom.get("version")) != (name, version):
        raise refuse("UnknownContract", f"domain must be {name} version {version}", "domain.name")
    if typed["types"].get(primary) != _TYPES[primary] or typed["types"].get("EIP712Domain", signing.EIP712_DOMAIN) \
            != signing.EIP712_DOMAIN:
        raise refuse("TypesMismatch", f"the types of {primary} differ from this ledger's: a wallet would sign a "
                     "different message than the one described", f"types.{primary}")
    return primary


def check_message(primary: str, m: dict[str, Any]) -> dict[str, Any]:
    """The message's values checked against its EIP-712 types (numbers as ints, addresses checksummed)."""
    out: dict[str, Any] = {}
    for f in _TYPES[primary]:
        name, t = f["name"], f["type"]
        if name not in m:
            raise refuse("InvalidRequest", f"message has no {name}", f"message.{name}")
        v = m[name]
        try:
            if t.startswith("uint"):
                if isinstance(v, bool) or not isinstance(v, (int, str)):
                    raise ValueError
                iv = int(v, 0) if isinstance(v, str) else v
                if not 0 <= iv < 2 ** int(t[4:]):
                    raise ValueError
                out[name] = iv
            elif t == "address":
                if not isinstance(v, str) or not is_address(v):
                    raise ValueError
                out[name] = to_checksum_address(v)
            else:  # bytes32 / bytes
                if not isinstance(v, str) or not v.startswith("0x") or (t == "bytes32" and len(v) != 66):
                    raise ValueError
                bytes.fromhex(v[2:])
                out[name] = v.lower()
        except ValueError:
            raise refuse("InvalidRequest", f"message.{name} is not a valid {t}", f"message.{name}") from None
    return out


class Describer:
    def __init__(self, contracts: Contracts, names: Names):
        self.contracts = contracts
        self.names = names

    async def describe(self, typed: Any, transfer: dict[str, Any] | None = None) -> dict[str, Any]:
        primary = check_typed(typed, self.contracts)
        ctx = _Context(self, check_message(primary, typed["message"]))
        if primary == "ForwardRequest":
            return await ctx.forward(typed)
        return await ctx.custody(primary, typed, transfer)


class _Context:
    """One description: the values, batch/wallet look-ups made once, the organisations met."""

    def __init__(self, describer: Describer, message: dict[str, Any]):
        self.c = describer.contracts
        self.names = describer.names
        self.message = message
        self.batches: dict[int, dict[str, Any] | None] = {}
        self.orgs: list[dict[str, Any]] = []
        self.warnings: list[str] = []

    # ------------------------------------------------------------------ look-ups
    async def batch(self, batch_id: int) -> dict[str, Any] | None:
        if batch_id not in self.batches:
            b = await self.c.view(LEDGER, "batch", int(batch_id)) if 0 < int(batch_id) < 2**64 else None
            self.batches[batch_id] = b if b and b["createdAt"] else None
        return self.batches[batch_id]

    async def wallet(self, address: str) -> tuple[int, int, str | None, str | None]:
        w = await self.c.view(REGISTRY, "wallet", to_checksum_address(address))
        pid, sid = w["participantId"], w["siteId"]
        name = await self.names.participant(pid) if pid else None
        site = await self.names.site(sid) if sid else None
        return pid, sid, name, site.name if site else None

    async def material_of(self, spec_ref: str, args: dict[str, Any], index: int | None) -> int | None:
        kind, _, path = spec_ref.rpartition(":")
        ref = values_at(args, path)
        if isinstance(ref, list):
            if not ref:
                return None
            ref = ref[index if index is not None and index < len(ref) else 0]
        if kind == "batch":
            b = await self.batch(int(ref))
            return b["material"] if b else None
        if kind == "process":
            p = await self.names.process(int(ref))
            return p[2] if p else None
        return int(ref)

    async def org(self, role: str, *, pid: int | None = None, wallet: str | None = None) -> str:
        """Records an organisation taking part; returns its name for the sentences."""
        site = None
        if wallet is not None:
            pid, _, name, site = await self.wallet(wallet)
        else:
            name = await self.names.participant(pid) if pid else None
        if not pid:
            self.warnings.append(f"{wallet or pid} is not a registered participant")
        entry = {"role": role, "participantId": pid or None, "name": name, "wallet": wallet, "site": site}
        if entry not in self.orgs:
            self.orgs.append(entry)
        return name or (f"unregistered wallet {wallet}" if wallet else f"participant {pid}")

    # ------------------------------------------------------------------ one value
    async def words(self, f: Field, v: Any, args: dict[str, Any], index: int | None = None) -> tuple[str, str]:
        """(value in words, short form for sentences)."""
        k = f.kind
        if isinstance(v, list):
            parts = [await self.words(f, x, args, i) for i, x in enumerate(v)]
            return ", ".join(p[0] for p in parts) or "none", ", ".join(p[1] for p in parts) or "none"
        if k == "participant":
            name = await self.names.participant(v) if v else None
            return (f"{name} (participant {v})", name) if name else (f"participant {v} (not registered)", f"participant {v}")
        if k == "site":
            if not v:
                return "no site (site 0)", "no site"
            s = await self.names.site(v)
            if s is None:
                return f"site {v} (not registered)", f"site {v}"
            owner = await self.names.participant(s.participant_id)
            return f"{s.name} (site {v} of {owner})", f"site {s.name}"
        if k == "material":
            m = await self.names.material(v)
            return (f"{m.name} (material {v}, in {m.unit})", m.name) if m else (f"material {v} (not registered)", f"material {v}")
        if k == "characteristic":
            if not v:
                return "none (uncertified)", "uncertified"
            ch = await self.names.characteristic(v)
            if ch is None:
                return f"characteristic {v} (not registered)", f"characteristic {v}"
            scheme = await self.names.scheme(ch[1])
            return f"{ch[0]} ({scheme}, characteristic {v})", ch[0]
        if k == "scheme":
            s = await self.names.scheme(v)
            return (f"{s} (scheme {v})", s) if s else (f"scheme {v} (not registered)", f"scheme {v}")
        if k == "process":
            p = await self.names.process(v)
            return (f"{p[0]} (process {v})", p[0]) if p else (f"process {v} (not registered)", f"process {v}")
        if k == "batch":
            b = await self.batch(v)
            if b is None:
                return f"batch {v} (unknown)", f"batch {v}"
            m = await self.names.material(b["material"])
            return f"batch {v} of {m.name if m else 'material ' + str(b['material'])}, {Model(b['model']).label}", f"batch {v}"
        if k == "certificate":
            iss = await self.c.view(CERTIFICATES, "issuance", int(v)) if int(v) < 2**256 else None
            if not iss or not iss["out1"]["amount"]:
                return f"certificate {v} (unknown)", f"certificate {v}"
            m = await self.names.material(iss["out0"]["material"])
            unit = quantity_words(iss["out1"]["unitSize"], m.unit if m else None)
            return (f"certificate {v}: units of {unit} of {m.name if m else 'material ' + str(iss['out0']['material'])}",
                    f"certificate {v}")
        if k == "certification":
            cert = await self.c.view(REGISTRY, "certification", int(v))
            if not cert["holder"]:
                return f"certification {v} (unknown)", f"certification {v}"
            holder = await self.names.participant(cert["holder"])
            return f"certification {v} of {holder}", f"certification {v}"
        if k == "quantity":
            mat = await self.material_of(f.unit_of or "", args, index)
            m = await self.names.material(mat) if mat is not None else None
            text = quantity_words(int(v), m.unit if m else None)
            return text, text
        if k == "amount":
            label = values_at(args, f.unit_of) if f.unit_of else None
            text = f"{int(v):,} units" + (f" of {label}" if label else "")
            return text, text
        if k == "wallet":
            pid, _, name, site = await self.wallet(v)
            if not pid:
                return f"{v} (not registered)", v
            return f"{v} ({name}{', ' + site if site else ', no site'})", name or v
        simple = {
            "date": date_words, "duration": duration_words, "ppm": ppm_words, "models": models_words,
            "roles": roles_words, "model": lambda x: enum_words(Model, x),
            "pstatus": lambda x: enum_words(ParticipantStatus, x),
            "cstatus": lambda x: enum_words(CertificationStatus, x),
            "reason": lambda x: enum_words(ConsumeReason, x),
            "bool": lambda x: "yes" if x else "no", "text": lambda x: x if x else "(empty)",
            "account": lambda x: f"credit account {x}",
        }
        if k in simple:
            text = simple[k](v)
            return text, text
        return str(v), str(v)

    async def fields(self, spec_fields: tuple[Field, ...], args: dict[str, Any], *, signed: bool = True,
                     prefix: str = "") -> tuple[list[dict[str, Any]], dict[str, str]]:
        out, short = [], {}
        for f in spec_fields:
            v = values_at(args, f.path)
            value, brief = await self.words(f, v, args)
            key = prefix + f.path.replace(".[]", "")
            out.append({"path": prefix + f.path, "label": f.label, "value": value, "raw": v, "signed": signed})
            short[key] = brief
        return out, short

    # ------------------------------------------------------------------ whole messages
    async def forward(self, typed: dict[str, Any]) -> dict[str, Any]:
        m = self.message
        target, fn, args, spec = decode_forward({"message": m}, self.c)
        signer = m["from"]
        signer_name = await self.org("signer", wallet=signer)
        for path, role in spec.parties:
            v = values_at(args, path)
            await (self.org(role, wallet=v) if isinstance(v, str) else self.org(role, pid=int(v)))
        fields, short = await self.fields(spec.fields, args)
        envelope = {**m, "to": f"{target} at {m['to']}", "data": f"{abi_signature(_item(fn))}"}
        env_fields, _ = await self.fields(FORWARD_REQUEST, envelope, prefix="")
        for ef, raw in zip(env_fields, (m.get(f.path) for f in FORWARD_REQUEST)):
            ef["raw"] = raw
        return self._answer(spec, typed, short, fields, signer, signer_name, contract=target, function=fn.name,
                            sig=abi_signature(_item(fn)), envelope=env_fields, deadline=m.get("deadline"))

    async def custody(self, primary: str, typed: dict[str, Any], transfer: dict[str, Any] | None) -> dict[str, Any]:
        spec = MESSAGES[primary]
        m = self.message
        args = dict(m)
        fields, short = await self.fields(spec.fields, args)
        if primary == "CustodyTransfer":
            signer = to_checksum_address(args["from"])
            signer_name = await self.org("sender", wallet=signer)
            await self.org("receiver", wallet=args["to"])
            short["signer"] = signer_name
            return self._answer(spec, typed, short, fields, signer, signer_name, deadline=args["deadline"])
        t = await self._transfer(str(args["transferId"]), transfer)
        signer = signer_name = None
        if t is None:
            self.warnings.append(f"transfer {args['transferId']} is not on chain and was not given: its sender, "
                                 "receiver and declaration are unknown")
            for k in ("transfer.from", "transfer.certifiedQuantity"):
                short[k] = "(unknown)"
        else:
            sender = await self.org("sender", wallet=t["from"])
            receiver = await self.org("receiver", wallet=t["to"])
            signer = to_checksum_address(t["from"] if primary == "CancelTransfer" else t["to"])
            signer_name = sender if primary == "CancelTransfer" else receiver
            targs = {"batchId": t["batchId"], "from": t["from"], "to": t["to"], "quantity": t["quantity"],
                     "certifiedQuantity": t["certifiedQuantity"], "deadline": t["deadline"]}
            tspec = [f for f in MESSAGES["CustodyTransfer"].fields if f.path in targs]
            extra, tshort = await self.fields(tuple(tspec), targs, signed=False, prefix="transfer.")
            fields += extra
            short.update(tshort)
            if "quantity" in args and int(args["quantity"]) != int(t["quantity"]):
                self.warnings.append(f"the acceptance names quantity {args['quantity']}, the transfer {t['quantity']}")
        return self._answer(spec, typed, short, fields, signer, signer_name, deadline=args["deadline"])

    async def _transfer(self, transfer_id: str, given: dict[str, Any] | None) -> dict[str, Any] | None:
        if given is not None:
            try:
                t = signing.CustodyTransfer.from_message(given)
            except (KeyError, ValueError, TypeError) as exc:
                raise refuse("InvalidRequest", f"malformed transfer: {exc}", "transfer") from None
            if "0x" + t.transfer_id().hex() != transfer_id.lower():
                raise refuse("TransferMismatch", "the transfer given is not the one the message names (its EIP-712 "
                             "hash differs from message.transferId)", "transfer")
            return {**t.message()}
        if not (transfer_id.startswith("0x") and len(transfer_id) == 66):
            raise refuse("InvalidRequest", "transferId must be 0x + 64 hex digits", "message.transferId")
        logs = await self.c.logs(LEDGER, "CustodyProposed", transfer_id.lower())
        return logs[0]["args"] if logs else None

    def _answer(self, spec: Spec, typed: dict[str, Any], short: dict[str, str], fields: list[dict[str, Any]],
                signer: str | None, signer_name: str | None, *, contract: str | None = None, function: str | None = None,
                sig: str | None = None, envelope: list[dict[str, Any]] | None = None, deadline: Any = None) -> dict[str, Any]:
        short.setdefault("signer", signer_name or "the signer")
        return {
            "action": spec.action, "intent": spec.intent,
            "summary": _fill(spec.summary, short), "declaration": _fill(spec.declaration, short),
            "primaryType": typed["primaryType"], "chainId": typed["domain"]["chainId"],
            "verifyingContract": to_checksum_address(typed["domain"]["verifyingContract"]),
            "contract": contract, "function": function, "signature": sig,
            "signer": signer, "signerName": signer_name,
            "validUntil": date_words(int(deadline)) if deadline is not None else None,
            "fields": fields, "envelope": envelope or [], "organisations": self.orgs, "warnings": self.warnings,
        }


def _item(fn: Any) -> dict[str, Any]:
    return {"name": fn.name, "inputs": fn.inputs}


def _fill(template: str, short: dict[str, str]) -> str:
    return re.sub(r"\{([\w.]+)\}", lambda mt: short.get(mt.group(1), mt.group(0)), template)
