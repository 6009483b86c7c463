"""A STAND-IN for the EU information system (TRACES) EUDR due-diligence SOAP service, for tests and demos.

The real system cannot be reached from here: this process speaks the same envelope as
``node_api/eudr/traces.py`` sends (SOAP 1.1, WS-Security UsernameToken with PasswordDigest, a
WebServiceClientId header) and answers submitDds, amendDds, retractDds and getDdsInfo from memory. It checks
what a client could get wrong: the digest against its configured user and authentication key, the token's
freshness and nonce reuse, the client id, and the statement's required Annex II fields; each refusal is a SOAP
Fault (HTTP 500) with a code and text. It is not the EU's service and decides nothing about compliance.

    python -m testkit.traces_standin --port 8089 --username operator1 --auth-key secret [--client-id eudr-test]

prints ``TRACES stand-in listening on http://127.0.0.1:<port>/tracesnt/ws/EUDRSubmissionServiceV1`` once ready.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import string
import sys
import threading
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from node_api.eudr.traces import BASE_NS, EUDR_NS, SOAP_NS, WSSE_NS, WSU_NS, password_digest

PATH = "/tracesnt/ws/EUDRSubmissionServiceV1"
REQUIRED = ("operator", "hsCode", "description", "tradeName", "netMassKg", "countriesOfProduction", "geometryGeojson")
MAX_SKEW = timedelta(minutes=5)


class Store:
    def __init__(self, username: str, auth_key: str, client_id: str):
        self.username, self.auth_key, self.client_id = username, auth_key, client_id
        self.statements: dict[str, dict] = {}
        self.nonces: set[str] = set()
        self.lock = threading.Lock()


def _fault(code: str, text: str) -> tuple[int, bytes]:
    return 500, (f'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
                 f"<soapenv:Fault><faultcode>{code}</faultcode><faultstring>{text}</faultstring></soapenv:Fault>"
                 "</soapenv:Body></soapenv:Envelope>").encode()


def _answer(operation: str, fields: dict[str, str]) -> tuple[int, bytes]:
    inner = "".join(f"<eudr:{k}>{v}</eudr:{k}>" for k, v in fields.items())
    return 200, (f'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_NS}" '
                 f'xmlns:eudr="{EUDR_NS}"><soapenv:Body><eudr:{operation}Response>{inner}</eudr:{operation}Response>'
                 "</soapenv:Body></soapenv:Envelope>").encode()


def _authenticate(store: Store, header: ET.Element | None) -> tuple[int, bytes] | None:
    token = None if header is None else header.find(f"{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken")
    if token is None:
        return _fault("soapenv:Client.Authentication", "missing WS-Security UsernameToken")
    user = token.findtext(f"{{{WSSE_NS}}}Username") or ""
    digest = token.findtext(f"{{{WSSE_NS}}}Password") or ""
    nonce = token.findtext(f"{{{WSSE_NS}}}Nonce") or ""
    created = token.findtext(f"{{{WSU_NS}}}Created") or ""
    try:
        when = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=timezone.utc)
    except ValueError:
        return _fault("soapenv:Client.Authentication", "UsernameToken Created is not a UTC time")
    if abs(datetime.now(timezone.utc) - when) > MAX_SKEW:
        return _fault("soapenv:Client.Authentication", "UsernameToken expired (Created more than 5 minutes off)")
    if user != store.username or digest != password_digest(base64.b64decode(nonce), created, store.auth_key):
        return _fault("soapenv:Client.Authentication", "invalid user name or authentication key")
    with store.lock:
        if nonce in store.nonces:
            return _fault("soapenv:Client.Authentication", "UsernameToken nonce already used (replay)")
        store.nonces.add(nonce)
    if header.findtext(f"{{{BASE_NS}}}WebServiceClientId") != store.client_id:
        return _fault("soapenv:Client.Authentication", "unknown WebServiceClientId")
    return None


def _fields(el: ET.Element) -> dict:
    out: dict = {}
    for child in el:
        name = child.tag.split("}")[-1]
        value = _fields(child) if len(child) else (child.text or "")
        if name in out:
            out[name] = out[name] if isinstance(out[name], list) else [out[name]]
            out[name].append(value)
        else:
            out[name] = value
    return out


def _check_statement(st: dict) -> str | None:
    missing = [f for f in REQUIRED if not st.get(f)]
    if missing:
        return f"statement lacks required field(s) {missing}"
    if not isinstance(st["operator"], dict) or not st["operator"].get("eori"):
        return "operator EORI number missing"
    try:
        geo = json.loads(base64.b64decode(st["geometryGeojson"]))
    except ValueError:
        return "geometryGeojson is not Base64 GeoJSON"
    if geo.get("type") != "FeatureCollection" or not geo.get("features"):
        return "geometryGeojson holds no plot"
    return None


def _number(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def handle(store: Store, body: bytes) -> tuple[int, bytes]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return _fault("soapenv:Client", "not XML")
    auth = _authenticate(store, root.find(f"{{{SOAP_NS}}}Header"))
    if auth is not None:
        return auth
    body_el = root.find(f"{{{SOAP_NS}}}Body")
    req = body_el[0] if body_el is not None and len(body_el) else None
    if req is None:
        return _fault("soapenv:Client", "empty SOAP body")
    op = req.tag.split("}")[-1].removesuffix("Request")
    f = _fields(req)
    with store.lock:
        if op == "submitDds":
            problem = _check_statement(f.get("statement") or {})
            if problem:
                return _fault("soapenv:Client.Validation", problem)
            ident = str(uuid.uuid4())
            year = datetime.now(timezone.utc).strftime("%y")
            store.statements[ident] = {
                "statement": f["statement"], "status": "AVAILABLE",
                "referenceNumber": year + _number(string.ascii_uppercase + string.digits, 12),
                "verificationNumber": _number(string.ascii_uppercase, 8),
            }
            return _answer(op, {"ddsIdentifier": ident})
        ident = f.get("ddsIdentifier") or f.get("identifier") or ""
        st = store.statements.get(ident)
        if op not in ("amendDds", "retractDds", "getDdsInfo"):
            return _fault("soapenv:Client", f"unknown operation {op}")
        if st is None:
            return _fault("soapenv:Client.NotFound", f"no statement {ident}")
        if op == "getDdsInfo":
            return _answer(op, {"identifier": ident, "status": st["status"], "referenceNumber": st["referenceNumber"],
                                "verificationNumber": st["verificationNumber"]})
        if st["status"] == "WITHDRAWN":
            return _fault("soapenv:Client.State", f"statement {ident} was retracted")
        if op == "amendDds":
            problem = _check_statement(f.get("statement") or {})
            if problem:
                return _fault("soapenv:Client.Validation", problem)
            st["statement"] = f["statement"]
            return _answer(op, {"status": "AMENDED"})
        st["status"] = "WITHDRAWN"
        return _answer(op, {"status": "WITHDRAWN"})


def make_server(port: int, username: str, auth_key: str, client_id: str = "eudr-test") -> ThreadingHTTPServer:
    store = Store(username, auth_key, client_id)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            if self.path != PATH:
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, out = handle(store, body)
            self.send_response(status)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.store = store  # type: ignore[attr-defined]
    return server


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="STAND-IN for the EU TRACES EUDR SOAP service (tests only)")
    ap.add_argument("--port", type=int, default=8089)
    ap.add_argument("--username", required=True)
    ap.add_argument("--auth-key", required=True)
    ap.add_argument("--client-id", default="eudr-test")
    args = ap.parse_args(argv)
    server = make_server(args.port, args.username, args.auth_key, args.client_id)
    print(f"TRACES stand-in listening on http://127.0.0.1:{server.server_address[1]}{PATH}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
