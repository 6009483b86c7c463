"""Bad input is a 4xx naming the parameter, never a 5xx (issue 9, finding 8): every path and query
parameter has the on-chain type's range, hex values are hex, addresses are addresses, digits are
ASCII; bodies above ``max_body_bytes`` are refused with 413 before they are read into memory."""

from __future__ import annotations

import socket

import pytest

U256 = 2**256
BAD_PATHS = [
    ("/batches/-1", "batch_id"),
    (f"/batches/{U256}", "batch_id"),
    ("/batches/%D9%A1%D9%A2", "batch_id"),  # Arabic-Indic digits "١٢"
    ("/batches/1/balance/not-an-address", "address"),
    (f"/batches/{U256}/balance/0x0000000000000000000000000000000000000001", "batch_id"),
    ("/batches/transfers/0xzz", "transfer_id"),
    ("/batches/transfers/" + "0x" + "g" * 64, "transfer_id"),
    ("/participants/-3", "participant_id"),
    (f"/participants/{2**32}", "participant_id"),
    (f"/participants/certifications/{2**64}", "certification_id"),
    ("/participants/wallets/0x123", "address"),
    ("/participants/0x12/batches", "address"),
    ("/certificates/-1", "certificate_id"),
    (f"/certificates/pledges/{2**64}", "pledge_id"),
    (f"/certificates/retirements/{U256}", "retirement_id"),
    (f"/processes/{2**32}", "process_id"),
    ("/processes/materials/-1", "material_id"),
    ("/processes/characteristics/%EF%BC%91", "characteristic_id"),  # fullwidth digit one
    ("/mass-balance/accounts/not-hex", "account"),
    ("/mass-balance/accounts/" + "0x" + "ab" * 32 + "/statements/-1", "period"),
    ("/mass-balance/account-key?participantId=-1&siteId=0&material=0&characteristic=0", "participantId"),
    (f"/mass-balance/account-key?participantId=1&siteId={2**32}&material=0&characteristic=0", "siteId"),
    ("/mass-balance/account-key?participantId=%D9%A1&siteId=0&material=0&characteristic=0", "participantId"),
    ("/transactions/0x1234", "tx_hash"),
]


@pytest.mark.parametrize(("path", "field"), BAD_PATHS)
def test_bad_parameter_is_422_naming_it(api, path, field):
    r = api.get(path)
    assert r.status_code == 422, (path, r.status_code, r.text)
    body = r.json()
    assert body["error"] == "InvalidRequest"
    assert field in {e["field"] for e in body["details"]["errors"]}, body


def test_good_parameters_still_work(api, demo):
    assert api.get(f"/batches/{demo.batches['lint']}").status_code == 200
    assert api.get(f"/participants/{demo.participants['farm']}").status_code == 200
    assert api.get("/batches/transfers/" + demo.transfers["farm_ginner"].upper().replace("0X", "0x")).status_code == 200
    assert api.get("/transactions/0x" + "00" * 32).status_code == 404


def test_non_hex_transfer_id_in_a_settlement_is_422(api, demo):
    r = api.post("/batches/accept/submit", json={"message": {"transferId": "0xnothex", "deadline": 1},
                                                 "signature": "0x" + "11" * 65})
    assert r.status_code == 422 and "transferId" in r.text, r.text


def test_body_above_the_limit_is_413_on_content_length(api, server):
    limit = server.node.settings.max_body_bytes
    r = api.post("/bulk", content=b"{" + b" " * (limit + 1) + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "BodyTooLarge" and r.json()["details"]["maxBytes"] == limit


def test_streamed_body_above_the_limit_is_413(api, server):
    """Chunked (no Content-Length): counted while it streams, refused when it passes the limit."""
    limit = server.node.settings.max_body_bytes

    def chunks():
        yield b'{"items": ['
        sent = 0
        while sent <= limit:
            yield b" " * 65536
            sent += 65536
        yield b"]}"

    r = api.post("/bulk", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "BodyTooLarge"


def test_bad_content_length_is_400(server):
    host, port = "127.0.0.1", server.port
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"POST /bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\nContent-Type: application/json\r\n\r\n{}")
        head = s.recv(4096).split(b"\r\n", 1)[0]
    assert head.split()[1] in (b"400",), head


def test_unknown_route_has_the_error_shape(api):
    r = api.get("/no-such-thing")
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
