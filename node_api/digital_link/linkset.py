"""The RFC 9264 linkset a GS1 Digital Link resolver answers for a product token (``application/linkset+json``).

Every target is listed under the GS1 link type that fits it (https://gs1.org/voc/...) and under a precise
extension relation type of this ledger (``urn:coc:rel:...``, RFC 8288 extension types are URIs), so a GS1
client and a client that wants exactly "the DDS" both find it. The default link is the product page."""

from __future__ import annotations

from typing import Any

GS1 = "https://gs1.org/voc/"
REL_DEFAULT = GS1 + "defaultLink"
REL_PIP = GS1 + "pip"
REL_SUSTAINABILITY = GS1 + "sustainabilityInfo"
REL_TRACEABILITY = GS1 + "traceability"
REL_CERTIFICATION = GS1 + "certificationInfo"
REL_PASSPORT = "urn:coc:rel:passport"
REL_EPCIS = "urn:coc:rel:epcis"
REL_CLAIM = "urn:coc:rel:claim"
REL_DDS = "urn:coc:rel:eudr-dds"
REL_DECLARATIONS = "urn:coc:rel:iscc-plus-declarations"
REL_QR = "urn:coc:rel:qr"
LINKSET_TYPE = "application/linkset+json"


def product_page(base: str, token_id: int) -> str:
    return f"{base.rstrip('/')}/app/products/{token_id}"


def targets(base: str, token_id: int) -> dict[str, dict[str, Any]]:
    """What the resolver links to for ``token_id``: {name: link object}."""
    b = base.rstrip("/")
    return {
        "product_page": {"href": product_page(b, token_id), "title": "Product page", "type": "text/html"},
        "passport": {"href": f"{b}/provenance/batches/{token_id}/passport", "title": "Digital product passport",
                     "type": "application/json"},
        "epcis": {"href": f"{b}/provenance/batches/{token_id}/epcis", "title": "EPCIS 2.0 events",
                  "type": "application/ld+json"},
        "claim": {"href": f"{b}/provenance/batches/{token_id}/claim", "title": "Chain-of-custody claim",
                  "type": "application/json"},
        "dds": {"href": f"{b}/products/{token_id}/dds", "title": "EUDR due diligence statement",
                "type": "application/json"},
        "declarations": {"href": f"{b}/products/{token_id}/declarations",
                         "title": "ISCC PLUS sustainability declarations v4.0", "type": "application/json"},
        "qr": {"href": f"{b}/products/{token_id}/qr.svg", "title": "QR code", "type": "image/svg+xml"},
    }


def linkset(anchor: str, base: str, token_id: int) -> dict[str, Any]:
    """The linkset document (RFC 9264 section 4.2) for the product identified by ``anchor``."""
    t = targets(base, token_id)
    return {"linkset": [{
        "anchor": anchor,
        REL_DEFAULT: [t["product_page"]],
        REL_PIP: [t["product_page"]],
        REL_SUSTAINABILITY: [t["passport"], t["declarations"]],
        REL_TRACEABILITY: [t["epcis"]],
        REL_CERTIFICATION: [t["claim"], t["declarations"]],
        REL_PASSPORT: [t["passport"]],
        REL_EPCIS: [t["epcis"]],
        REL_CLAIM: [t["claim"]],
        REL_DDS: [t["dds"]],
        REL_DECLARATIONS: [t["declarations"]],
        REL_QR: [t["qr"]],
    }]}


#: ``?linkType=`` short names (GS1 resolvers accept ``gs1:pip`` style CURIEs) -> relation type
LINK_TYPES: dict[str, str] = {
    "gs1:defaultLink": REL_DEFAULT, "gs1:pip": REL_PIP, "gs1:sustainabilityInfo": REL_SUSTAINABILITY,
    "gs1:traceability": REL_TRACEABILITY, "gs1:certificationInfo": REL_CERTIFICATION,
    "coc:passport": REL_PASSPORT, "coc:epcis": REL_EPCIS, "coc:claim": REL_CLAIM, "coc:dds": REL_DDS,
    "coc:declarations": REL_DECLARATIONS, "coc:qr": REL_QR,
}


def resolve_link_type(name: str) -> str | None:
    """The relation type ``name`` (a CURIE above or a full URI) stands for, or None."""
    return LINK_TYPES.get(name) or (name if name in LINK_TYPES.values() else None)
