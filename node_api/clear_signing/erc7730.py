"""ERC-7730 (v1) clear-signing descriptors for every message a participant signs, so a hardware wallet
shows what the node's describer shows: the ERC-2771 ForwardRequest (its ``data`` as nested calldata of
the contract at ``to``), each contract's participant-signed functions, and the batch ledger's EIP-712
custody messages. Built from the meaning table (``spec``) and the compiled ABIs; published as JSON files
next to this module and served by the node (GET /clear-signing/...) with its deployments filled in.

    python -m node_api.clear_signing.erc7730      # rewrite the JSON files after a change of spec or ABI

tests/node/test_clear_signing.py checks the files against the ABIs and the EIP-712 types, and that every
function a participant signs has a descriptor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import signing
from ..domain import CertificationStatus, ConsumeReason, Model, ParticipantStatus
from .spec import FORWARD_REQUEST, FUNCTIONS, MESSAGES, Field

HERE = Path(__file__).resolve().parent
SCHEMA = "https://eips.ethereum.org/assets/eip-7730/erc7730-v1.schema.json"
OWNER = "Chain-of-custody ledger consortium"
CONTRACTS = ("ParticipantRegistry", "BatchLedger", "MassBalance", "CertificateRegistry")

ENUMS = {
    "model": {str(m.value): m.label for m in Model},
    "participantStatus": {str(m.value): m.label for m in ParticipantStatus},
    "certificationStatus": {str(m.value): m.label for m in CertificationStatus},
    "consumeReason": {str(m.value): m.label for m in ConsumeReason},
}
_ENUM_OF = {"model": "model", "pstatus": "participantStatus", "cstatus": "certificationStatus",
            "reason": "consumeReason"}
#: kinds shown as registry ids (ERC-7730 v1 has no registry look-up: the label says what the number is)
_ID_KINDS = {"participant", "site", "material", "characteristic", "process", "scheme", "certification", "batch",
             "certificate"}


def file_name(subject: str) -> str:
    """``calldata-<Contract>.json`` for a contract's calls, ``eip712-<domain name>.json`` for typed messages."""
    if subject in CONTRACTS:
        return f"calldata-{subject}.json"
    return f"eip712-{subject}.json"


def field_format(f: Field) -> dict[str, Any]:
    """One field as ERC-7730 displays it (path, label, format and its parameters)."""
    out: dict[str, Any] = {"path": f.path, "label": f.label}
    k = f.kind
    if k == "date":
        out.update(format="date", params={"encoding": "timestamp"})
    elif k == "duration":
        out.update(format="duration")
    elif k == "ppm":
        out.update(format="unit", params={"base": "%", "decimals": 4})
    elif k in _ENUM_OF:
        out.update(format="enum", params={"$ref": f"$.metadata.enums.{_ENUM_OF[k]}"})
    elif k == "wallet":
        out.update(format="addressName", params={"types": ["eoa", "wallet"], "sources": ["local"]})
    else:
        out["format"] = "raw"
        if k in _ID_KINDS:
            out["label"] = f"{f.label} (id)"
        elif k == "quantity":
            out["label"] = f"{f.label} (in the material's unit)"
        elif k == "roles":
            out["label"] = f"{f.label} (bits: 1 admin, 2 certifier, 4 supplier, 8 issuer, 16 auditor, 32 brand)"
        elif k == "models":
            out["label"] = f"{f.label} (bits: 2 mass balance, 4 controlled blending, 8 segregated, 16 identity preserved)"
    return out


def _metadata() -> dict[str, Any]:
    return {"owner": OWNER, "enums": ENUMS}


def _named_signature(item: dict[str, Any]) -> str:
    """``name(type name,...)``: the format key, with the parameter names the paths refer to."""
    def typ(p: dict[str, Any]) -> str:
        t = p["type"]
        if t.startswith("tuple"):
            return "(" + ",".join(f"{typ(c)} {c['name']}" for c in p["components"]) + ")" + t[len("tuple"):]
        return t
    return f"{item['name']}(" + ",".join(f"{typ(p)} {p['name']}" for p in item["inputs"]) + ")"


def contract_descriptor(contract: str, abi: list[dict[str, Any]],
                        deployments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    specs = {fn: spec for (c, fn), spec in FUNCTIONS.items() if c == contract}
    items = [i for i in abi if i.get("type") == "function" and i["name"] in specs]
    formats = {}
    for item in sorted(items, key=lambda i: i["name"]):
        spec = specs[item["name"]]
        formats[_named_signature(item)] = {
            "$id": spec.action,
            "intent": spec.intent,
            "fields": [field_format(f) for f in spec.fields],
            "required": [f.path for f in spec.fields],
        }
    return {
        "$schema": SCHEMA,
        "context": {"$id": contract, "contract": {"abi": items, "deployments": deployments or []}},
        "metadata": _metadata(),
        "display": {"formats": formats},
    }


def _eip712(domain_name: str, primaries: dict[str, list[dict[str, str]]], fields: dict[str, list[dict[str, Any]]],
            intents: dict[str, str], deployments: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "context": {"eip712": {
            "deployments": deployments or [],
            "domain": {"name": domain_name, "version": "1"},
            "schemas": [{"primaryType": p, "types": {"EIP712Domain": signing.EIP712_DOMAIN, p: t}}
                        for p, t in primaries.items()],
        }},
        "metadata": _metadata(),
        "display": {"formats": {p: {"intent": intents[p], "fields": fields[p],
                                    "required": [f["path"] for f in fields[p]]} for p in primaries}},
    }


def forwarder_descriptor(deployments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ERC-2771 envelope: its ``data`` is shown as the nested call of the contract at ``to`` (whose own
    descriptor then applies)."""
    fields = []
    for f in FORWARD_REQUEST:
        if f.path == "data":
            fields.append({"path": "data", "label": "Action", "format": "calldata", "params": {"calleePath": "to"}})
        elif f.path == "to":
            fields.append({"path": "to", "label": "Ledger contract", "format": "addressName",
                           "params": {"types": ["contract"], "sources": ["local"]}})
        else:
            fields.append(field_format(f))
    return _eip712(signing.FORWARDER_DOMAIN_NAME, {"ForwardRequest": signing.FORWARD_REQUEST},
                   {"ForwardRequest": fields}, {"ForwardRequest": "Act on the chain-of-custody ledger"}, deployments)


def custody_descriptor(deployments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    types = {"CustodyTransfer": signing.CUSTODY_TRANSFER, "AcceptTransfer": signing.ACCEPT_TRANSFER,
             "RejectTransfer": signing.REJECT_TRANSFER, "CancelTransfer": signing.CANCEL_TRANSFER}
    return _eip712(signing.LEDGER_DOMAIN_NAME, types,
                   {p: [field_format(f) for f in MESSAGES[p].fields] for p in types},
                   {p: MESSAGES[p].intent for p in types}, deployments)


def all_descriptors(abis: dict[str, list[dict[str, Any]]],
                    deployments: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, dict[str, Any]]:
    """File name -> descriptor; ``deployments`` by contract name (the node's own), empty in the published files."""
    d = deployments or {}
    out = {file_name(c): contract_descriptor(c, abis[c], d.get(c)) for c in CONTRACTS}
    out[file_name(signing.FORWARDER_DOMAIN_NAME)] = forwarder_descriptor(d.get("CocForwarder"))
    out[file_name(signing.LEDGER_DOMAIN_NAME)] = custody_descriptor(d.get("BatchLedger"))
    return out


def dumps(descriptor: dict[str, Any]) -> str:
    return json.dumps(descriptor, indent=1) + "\n"


def published() -> dict[str, dict[str, Any]]:
    """The descriptor files shipped in this package."""
    return {p.name: json.loads(p.read_text()) for p in sorted(HERE.glob("*.json"))}


def main() -> int:
    from ..core.artifacts import load_artifacts

    artifacts = load_artifacts()
    for name, desc in all_descriptors({c: artifacts[c]["abi"] for c in CONTRACTS}).items():
        (HERE / name).write_text(dumps(desc))
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
