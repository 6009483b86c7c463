"""A Digital Product Passport style JSON for a product token: identity, origins, claims,
certifications, custody and links to every evidence hash, all from the index."""

from __future__ import annotations

from typing import Any


def passport_of(p: dict[str, Any], ledger: str, generated_at_block: int | None) -> dict[str, Any]:
    """The passport of the token a provenance answer ``p`` is about (node_api.index.read.provenance),
    its identifiers scoped by chain id and ``ledger`` (lowercase address)."""
    batch_id = p["batch"]["batch_id"]
    b, lin, claim = p["batch"], p["lineage"], p["claim"]
    prefix = f"urn:coc:{p['chain_id']}:{ledger}"
    evidence: list[dict[str, Any]] = []
    certifications: dict[int, dict[str, Any]] = {}
    origins = []
    for o in lin["origins"]:
        origins.append({
            "batch_id": o["batch_id"], "producer": o["producer"], "site": o["site"], "material": o["material"],
            "model": o["model"], "characteristic": o["characteristic"], "quantity_taken": o["quantity_taken"],
            "contribution_percent": o["contribution_percent"], "unit": o["unit"],
            "production_date": o.get("production_date"), "geolocation_hash": o.get("geolocation_hash"),
            "dds_reference": o.get("dds_reference"), "evidence_hash": o.get("evidence_hash"),
            "certification": o["certification_at_creation"], "tx_hash": o["tx_hash"],
            "block_number": o["block_number"],
        })
        evidence.append({"type": "geolocation", "hash": o.get("geolocation_hash"), "batch_id": o["batch_id"]})
        evidence.append({"type": "production_record", "hash": o.get("evidence_hash"), "batch_id": o["batch_id"]})
        if o.get("dds_reference"):
            evidence.append({"type": "eudr_due_diligence_statement", "reference": o["dds_reference"], "batch_id": o["batch_id"]})
    for cid, c in lin["certifications"].items():
        certifications[cid] = {**c, "role": "origin producer"}
    for bc in p["book_and_claim"]:
        for c in bc["certificates"]:
            evidence.append({"type": "book_and_claim_issuance_evidence", "hash": c["evidence_hash"],
                             "certificate_id": c["certificate_id"], "tx_hash": c["tx_hash"]})
    return {
        "type": "DigitalProductPassport",
        "id": f"{prefix}:passport:{batch_id}",
        "generated_at_block": generated_at_block,
        "chain_id": p["chain_id"],
        "ledger": ledger,
        "product": {
            "token_id": batch_id, "id": f"{prefix}:batch:{batch_id}", "material": b["material"], "unit": b["unit"],
            "quantity_created": b["quantity"], "kind": b["kind"], "model": b["model"],
            "characteristic": b["characteristic"], "share_ppm": b["share_ppm"], "made_by": b["creator"],
            "holders": b["holders"], "created": {"tx_hash": b["tx_hash"], "block_number": b["block_number"],
                                                 "time": b["time"]}, "transform": b.get("transform"),
        },
        "origins": origins,
        "claims": [{"model": claim["model"], "kind": claim["kind"], "percent": claim["percent"],
                    "characteristic": claim["characteristic"], "scheme": claim["scheme"], "text": claim["text"],
                    "certified_quantity": claim["certified_quantity"], "book_and_claim": claim["book_and_claim"],
                    "evidence_tx": claim["evidence"]}],
        "certifications": list(certifications.values()),
        "custody": [{"transfer_id": x["transfer_id"], "batch_id": x["batch_id"], "status": x["status"],
                     "from": x["signer"]["participant"], "to": x["receiver"]["participant"], "quantity": x["quantity"],
                     "certified_quantity": x["certified_quantity"], "time": (x["settled"] or x["proposed"])["time"],
                     "tx_hash": (x["settled"] or x["proposed"])["tx_hash"]} for x in p["custody"]],
        "evidence": [e for e in evidence if e.get("hash") or e.get("reference")],
        "transactions": p["facts"],
    }
