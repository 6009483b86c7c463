"""The TRACES client (node_api/eudr/traces.py) against the stand-in service (testkit/traces_standin.py) run as
a real HTTP process: submit, get info, amend, retract; and each refusal: a wrong authentication key, a replayed
nonce, a missing field, an unknown statement, a retracted one, an unreachable endpoint. No chain."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from node_api.core.anvil import free_port
from node_api.eudr.traces import TracesClient, TracesError

REPO = Path(__file__).resolve().parents[2]
DDS = {"operator": {"name": "Op B.V.", "address": "Street 1, Rotterdam", "eori": "NL123456789"}, "hsCode": "1801",
       "description": "Cocoa beans", "tradeName": "Cocoa", "netMassKg": 7.0, "countriesOfProduction": ["CI"],
       "geolocation": {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                       "geometry": {"type": "Point", "coordinates": [-6.59, 5.787]}}]}}


def start_standin(username: str = "operator1", key: str = "s3cret") -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "testkit.traces_standin", "--port", str(port), "--username", username,
                             "--auth-key", key], cwd=REPO, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert "TRACES stand-in listening on" in line, line
    return proc, line.rsplit(" ", 1)[-1].strip()


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def standin():
    proc, url = start_standin()
    try:
        yield url
    finally:
        stop(proc)


def run(coro):
    return asyncio.run(coro)


def test_eudr_traces_submit_info_amend_retract(standin):
    c = TracesClient(standin, "operator1", "s3cret")
    sub = run(c.submit(DDS))
    assert sub["status"] == "AVAILABLE"
    assert len(sub["referenceNumber"]) == 14 and sub["referenceNumber"][:2].isdigit()
    assert len(sub["verificationNumber"]) == 8 and sub["verificationNumber"].isalpha()
    again = run(c.info(sub["identifier"]))
    assert again == sub
    amended = run(c.amend(sub["identifier"], DDS | {"netMassKg": 6.5}))
    assert amended["referenceNumber"] == sub["referenceNumber"]  # an amendment keeps the numbers
    retracted = run(c.retract(sub["identifier"]))
    assert retracted["status"] == "WITHDRAWN"
    with pytest.raises(TracesError, match="retracted"):
        run(c.amend(sub["identifier"], DDS))


def test_eudr_traces_envelope_has_ws_security_username_token():
    env = TracesClient("http://x", "operator1", "s3cret").envelope("getDdsInfo", {"identifier": "x"}).decode()
    for part in ("wsse:UsernameToken", "#PasswordDigest", "wsse:Nonce", "wsu:Created", "WebServiceClientId",
                 "getDdsInfoRequest"):
        assert part in env
    assert "s3cret" not in env  # the key never travels, only its digest


def test_eudr_traces_wrong_key_refused(standin):
    with pytest.raises(TracesError) as exc:
        run(TracesClient(standin, "operator1", "wrong").submit(DDS))
    assert exc.value.code == "soapenv:Client.Authentication" and exc.value.status == 500


def test_eudr_traces_wrong_client_id_refused(standin):
    with pytest.raises(TracesError, match="WebServiceClientId"):
        run(TracesClient(standin, "operator1", "s3cret", client_id="other").submit(DDS))


def test_eudr_traces_replayed_envelope_refused(standin):
    import httpx
    env = TracesClient(standin, "operator1", "s3cret").envelope("submitDds", {"statement": {"x": "1"}})
    first = httpx.post(standin, content=env, headers={"Content-Type": "text/xml"})
    second = httpx.post(standin, content=env, headers={"Content-Type": "text/xml"})
    assert "Validation" in first.text  # authenticated, then refused for the statement
    assert second.status_code == 500 and "nonce already used" in second.text


def test_eudr_traces_missing_field_refused(standin):
    with pytest.raises(TracesError) as exc:
        run(TracesClient(standin, "operator1", "s3cret").submit({k: v for k, v in DDS.items() if k != "hsCode"}))
    assert exc.value.code == "soapenv:Client.Validation" and "hsCode" in exc.value.message


def test_eudr_traces_unknown_statement_refused(standin):
    with pytest.raises(TracesError, match="no statement"):
        run(TracesClient(standin, "operator1", "s3cret").info("00000000-0000-0000-0000-000000000000"))


def test_eudr_traces_unreachable_endpoint():
    with pytest.raises(TracesError) as exc:
        run(TracesClient(f"http://127.0.0.1:{free_port()}/x", "u", "k", timeout=2).info("x"))
    assert exc.value.code == "unreachable"


# ---------------------------------------------------------------------------------------------- the node's mapping
def test_eudr_node_without_traces_endpoint_answers_503(tmp_path):
    from node_api.errors import ApiError
    from node_api.eudr.service import EudrService

    with pytest.raises(ApiError) as exc:
        EudrService(None, tmp_path, None)._traces()
    assert exc.value.status == 503 and exc.value.error == "TracesNotConfigured"


def test_eudr_node_maps_traces_faults(standin, tmp_path):
    from node_api.errors import ApiError
    from node_api.eudr.service import EudrService

    svc = EudrService(None, tmp_path, TracesClient(standin, "operator1", "wrong"))
    with pytest.raises(ApiError) as exc:  # the operator's own credentials: its mistake, 422
        run(svc._traces_call(svc.traces.submit(DDS)))
    assert exc.value.status == 422 and exc.value.error == "TracesRefused"
    svc = EudrService(None, tmp_path, TracesClient(f"http://127.0.0.1:{free_port()}/x", "u", "k", timeout=2))
    with pytest.raises(ApiError) as exc:  # TRACES down: 502, nothing recorded
        run(svc._traces_call(svc.traces.info("x")))
    assert exc.value.status == 502 and exc.value.error == "TracesUnavailable"
