"""Client of the EU information system for EUDR due-diligence statements (TRACES), over SOAP 1.1 with
WS-Security, as the real system's API is offered: operations submitDds, amendDds, retractDds, getDdsInfo.

Authentication: a WS-Security ``UsernameToken`` with a ``PasswordDigest`` (Base64(SHA-1(nonce + created +
authentication key))), a nonce and a creation time, plus the ``WebServiceClientId`` header TRACES asks for.
The statement travels as XML elements (one per field, lists repeated) with the geolocation as Base64 GeoJSON,
as TRACES carries it. Submitting returns a DDS identifier; the reference and verification numbers are read
with getDdsInfo once TRACES made the statement available (``submit`` does both).

The endpoint, user name, authentication key and client id are settings (``COC_TRACES_*``); the real system
cannot be reached from here, so the tests run ``testkit/traces_standin.py``, a stand-in speaking the same
envelope. Faults come back as :class:`TracesError` with the fault code and text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
                   "#PasswordDigest")
NONCE_ENCODING = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
BASE_NS = "http://ec.europa.eu/sanco/tracesnt/base/v4"
EUDR_NS = "http://ec.europa.eu/tracesnt/certificate/eudr/v1"
OPERATIONS = ("submitDds", "amendDds", "retractDds", "getDdsInfo")


class TracesError(RuntimeError):
    """A SOAP fault or transport failure: ``code`` (e.g. ``soap:Client``, ``unreachable``) and the text."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def password_digest(nonce: bytes, created: str, key: str) -> str:
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + key.encode()).digest()).decode()


def _to_xml(parent: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, list):
        for v in value:
            _to_xml(parent, name, v)
        return
    el = ET.SubElement(parent, f"{{{EUDR_NS}}}{name}")
    if isinstance(value, dict):
        for k, v in value.items():
            if v is not None:
                _to_xml(el, k, v)
    else:
        el.text = str(value)


def statement_xml(dds: dict[str, Any]) -> dict[str, Any]:
    """The statement's fields as TRACES carries them: plain fields, the geolocation as Base64 GeoJSON."""
    out = {k: v for k, v in dds.items() if k != "geolocation" and v is not None}
    out["geometryGeojson"] = base64.b64encode(json.dumps(dds["geolocation"], sort_keys=True).encode()).decode()
    return out


@dataclass
class TracesClient:
    endpoint: str
    username: str
    auth_key: str
    client_id: str = "eudr-test"
    timeout: float = 10.0

    def envelope(self, operation: str, body: dict[str, Any], *, now: datetime | None = None) -> bytes:
        """The SOAP envelope of ``operation`` with ``body``'s fields, signed with a fresh UsernameToken."""
        ET.register_namespace("soapenv", SOAP_NS)
        ET.register_namespace("wsse", WSSE_NS)
        ET.register_namespace("wsu", WSU_NS)
        ET.register_namespace("v4", BASE_NS)
        ET.register_namespace("eudr", EUDR_NS)
        env = ET.Element(f"{{{SOAP_NS}}}Envelope")
        header = ET.SubElement(env, f"{{{SOAP_NS}}}Header")
        sec = ET.SubElement(header, f"{{{WSSE_NS}}}Security", {f"{{{SOAP_NS}}}mustUnderstand": "1"})
        token = ET.SubElement(sec, f"{{{WSSE_NS}}}UsernameToken")
        nonce = secrets.token_bytes(16)
        created = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        ET.SubElement(token, f"{{{WSSE_NS}}}Username").text = self.username
        ET.SubElement(token, f"{{{WSSE_NS}}}Password", {"Type": PASSWORD_DIGEST}).text = password_digest(
            nonce, created, self.auth_key)
        ET.SubElement(token, f"{{{WSSE_NS}}}Nonce", {"EncodingType": NONCE_ENCODING}).text = base64.b64encode(nonce).decode()
        ET.SubElement(token, f"{{{WSU_NS}}}Created").text = created
        ET.SubElement(header, f"{{{BASE_NS}}}WebServiceClientId").text = self.client_id
        body_el = ET.SubElement(env, f"{{{SOAP_NS}}}Body")
        req = ET.SubElement(body_el, f"{{{EUDR_NS}}}{operation}Request")
        for k, v in body.items():
            _to_xml(req, k, v)
        return ET.tostring(env, xml_declaration=True, encoding="utf-8")

    async def _call(self, operation: str, body: dict[str, Any]) -> dict[str, str]:
        data = self.envelope(operation, body)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{EUDR_NS}/{operation}"'}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                resp = await client.post(self.endpoint, content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise TracesError("unreachable", f"TRACES at {self.endpoint} did not answer: {exc}") from None
        try:
            root = ET.fromstring(resp.content)
        except ET.ParseError:
            raise TracesError("protocol", f"TRACES answered HTTP {resp.status_code} without a SOAP envelope",
                              resp.status_code) from None
        fault = root.find(f".//{{{SOAP_NS}}}Fault")
        if fault is not None:
            raise TracesError(fault.findtext("faultcode") or "soap:Server", fault.findtext("faultstring") or "",
                              resp.status_code)
        answer = root.find(f".//{{{EUDR_NS}}}{operation}Response")
        if answer is None:
            raise TracesError("protocol", f"no {operation}Response in TRACES' answer", resp.status_code)
        return {child.tag.split("}")[-1]: (child.text or "") for child in answer}

    # ------------------------------------------------------------------ operations
    async def submit(self, dds: dict[str, Any]) -> dict[str, str]:
        """submitDds, then getDdsInfo: {identifier, status, referenceNumber, verificationNumber}."""
        ident = (await self._call("submitDds", {"operatorType": "OPERATOR", "statement": statement_xml(dds)}))["ddsIdentifier"]
        return await self.info(ident)

    async def amend(self, identifier: str, dds: dict[str, Any]) -> dict[str, str]:
        await self._call("amendDds", {"ddsIdentifier": identifier, "statement": statement_xml(dds)})
        return await self.info(identifier)

    async def retract(self, identifier: str) -> dict[str, str]:
        await self._call("retractDds", {"ddsIdentifier": identifier})
        return await self.info(identifier)

    async def info(self, identifier: str) -> dict[str, str]:
        ans = await self._call("getDdsInfo", {"identifier": identifier})
        return {"identifier": ans.get("identifier", identifier), "status": ans.get("status", ""),
                "referenceNumber": ans.get("referenceNumber", ""), "verificationNumber": ans.get("verificationNumber", "")}
