"""Several JSON-RPC endpoints (core/rpc.py): a dead endpoint costs one failed connection and the
client moves to the next; a JSON-RPC error is an answer, not a reason to move; the settings take a
list of URLs and the PoA profile fills what is not set explicitly. Real Anvil, real sockets."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from pydantic import ValidationError

from node_api.core.anvil import free_port
from node_api.core.config import PROFILES, Settings
from node_api.core.rpc import ChainUnavailable, Rpc, RpcError, SyncRpc


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused


def test_sync_client_moves_to_the_next_endpoint(anvil) -> None:
    dead = _dead_url()
    with SyncRpc([dead, anvil.url], retries=0) as rpc:
        assert rpc.chain_id() == 31337
        assert rpc.url == anvil.url and rpc.endpoints.failovers == 1
        assert rpc.block_number() >= 0
        assert rpc.endpoints.failovers == 1  # stays on the endpoint that answers
        assert rpc.endpoints.last_failover[1:3] == (dead, anvil.url)


def test_async_client_moves_and_a_jsonrpc_error_does_not(anvil) -> None:
    async def go() -> None:
        rpc = Rpc([_dead_url(), anvil.url])
        try:
            assert int(await rpc.call("eth_chainId"), 16) == 31337
            assert rpc.endpoints.failovers == 1
            with pytest.raises(RpcError):
                await rpc.call_direct("eth_noSuchMethod")
            assert rpc.endpoints.failovers == 1 and rpc.url == anvil.url
            res = await rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])
            assert int(res[0], 16) == 31337
        finally:
            await rpc.aclose()

    asyncio.run(go())


def test_every_endpoint_dead_is_chain_unavailable() -> None:
    async def go() -> None:
        rpc = Rpc([_dead_url(), _dead_url()])
        try:
            with pytest.raises(ChainUnavailable, match="no endpoint answered"):
                await rpc.call_direct("eth_chainId")
        finally:
            await rpc.aclose()

    asyncio.run(go())
    with SyncRpc([_dead_url(), _dead_url()], retries=0) as rpc, pytest.raises(ChainUnavailable):
        rpc.chain_id()


def test_an_endpoint_that_hangs_up_is_left(anvil) -> None:
    """A server that accepts and closes the connection (a process dying mid-request)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                conn.close()
            except OSError:
                pass

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        with SyncRpc([f"http://127.0.0.1:{srv.getsockname()[1]}", anvil.url], retries=0) as rpc:
            assert rpc.chain_id() == 31337 and rpc.endpoints.failovers == 1
    finally:
        stop.set()
        th.join()
        srv.close()


def test_urls_setting_and_profile(monkeypatch) -> None:
    monkeypatch.setenv("COC_RPC_URLS", "http://b:8545, http://c:8545")
    s = Settings(rpc_url="http://a:8545")
    assert s.effective_rpc_urls == ["http://a:8545", "http://b:8545", "http://c:8545"]
    monkeypatch.setenv("COC_RPC_URLS", '["http://b:8545"]')
    assert Settings(rpc_url="http://a:8545").effective_rpc_urls == ["http://a:8545", "http://b:8545"]
    monkeypatch.delenv("COC_RPC_URLS")
    clique = Settings(profile="clique")
    for name, value in PROFILES["clique"].items():
        assert getattr(clique, name) == value, name
    assert clique.evm_version == "paris" and clique.poa_extra_data and clique.index_confirmations == 2
    # an explicit setting wins over the profile
    monkeypatch.setenv("COC_INDEX_CONFIRMATIONS", "6")
    assert Settings(profile="clique").index_confirmations == 6
    assert Settings(profile="qbft").zero_gas_price is True
    with pytest.raises(ValidationError, match="profile"):
        Settings(profile="pow")
