"""The fault suite's parts: the chain as its own Anvil process with a state file (SIGKILL, SIGSTOP,
restart from the state file, or fresh), keys of our own (no published development key), a small world
set up through the node, a load of signed ``batches/create`` actions, and the checks that follow every
fault (imported as ``faulthelp``)."""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import create_engine, select

from node_api.cli.client import NodeClient, NodeError
from node_api.core.anvil import EmbeddedAnvil, free_port, rpc_call
from node_api.core.artifacts import load_artifacts
from node_api.core.chain import connect
from node_api.core.config import Settings
from node_api.core.rpc import SyncRpc
from node_api.domain import CONTRACTS
from node_api.index import schema
from node_api.index.follower import Follower

ADMIN_KEY = "fault-admin-key"
SUPPLIER = 4
#: the seed of every random choice of the suite (kill points); printed, and set with COC_FAULT_SEED
SEED = int(os.environ.get("COC_FAULT_SEED") or time.time_ns() % 2**31)


def rng(name: str) -> random.Random:
    print(f"fault suite seed: COC_FAULT_SEED={SEED} ({name})", flush=True)
    return random.Random(f"{SEED}:{name}")


def fresh_key() -> LocalAccount:
    return Account.create()


class Chain:
    """Anvil as its own process, its state kept by ``EmbeddedAnvil``'s state keeper (a consistent
    generation every ``state_interval`` seconds, loaded at a restart)."""

    def __init__(self, folder: Path, *, state_interval: int = 1, block_time: float | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.settings = Settings(data_dir=folder, anvil_port=free_port(), rpc_url=None,
                                 anvil_state_interval=state_interval, anvil_block_time=block_time)
        self.state = folder / "anvil-state.json"
        self.anvil: EmbeddedAnvil | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.anvil_port}"

    def start(self) -> "Chain":
        self.anvil = EmbeddedAnvil(self.settings, state_file=self.state, log_file=self.folder / "anvil.log").start()
        return self

    @property
    def pid(self) -> int:
        assert self.anvil is not None and self.anvil.proc is not None
        return self.anvil.proc.pid

    def kill(self) -> None:
        """SIGKILL: no state dump; what came after the last consistent generation is gone."""
        assert self.anvil is not None and self.anvil.proc is not None
        self.anvil.kill()
        self.anvil = None

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def reset(self) -> None:
        """A fresh chain on the same port: the state file is gone."""
        if self.anvil is not None:
            self.kill()
        self.state.unlink(missing_ok=True)
        shutil.rmtree(self.state.with_suffix(""), ignore_errors=True)
        self.start()

    def stop(self) -> None:
        if self.anvil is not None:
            try:
                self.resume()
            except (OSError, AssertionError):
                pass
            self.anvil.stop()
            self.anvil = None

    def head(self) -> int:
        return int(str(rpc_call(self.url, "eth_blockNumber")), 16)

    def wait_dump(self, timeout: float = 15.0) -> None:
        """Returns after a consistent generation at or above the head now was written (what is on
        chain now survives a SIGKILL)."""
        assert self.anvil is not None and self.anvil.keeper is not None
        keeper, head = self.anvil.keeper, self.head()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if keeper.last_best is not None and keeper.last_best >= head:
                return
            time.sleep(0.05)
        raise AssertionError(f"no consistent state dump reached block {head} ({keeper.inconsistent} inconsistent)")

    def fund(self, *addresses: str) -> None:
        for a in addresses:
            rpc_call(self.url, "anvil_setBalance", [a, hex(10**22)])


@dataclass
class Keys:
    deployer: LocalAccount = field(default_factory=fresh_key)
    relayer: LocalAccount = field(default_factory=fresh_key)
    suppliers: list[LocalAccount] = field(default_factory=lambda: [fresh_key() for _ in range(3)])

    def env(self) -> dict[str, str]:
        return {"COC_DEPLOYER_KEY": "0x" + self.deployer.key.hex(), "COC_RELAYER_KEY": "0x" + self.relayer.key.hex()}


def node_settings_env(chain: Chain, data: Path, port: int, keys: Keys) -> dict[str, str]:
    from testkit.node_process import node_env

    return node_env(chain.url, data, port, "0x" + keys.relayer.key.hex(), COC_DEPLOYER_KEY="0x" + keys.deployer.key.hex(),
                    COC_ADMIN_API_KEY=ADMIN_KEY, COC_KEYSTORE_PASSWORD="fault-keystore-pw",
                    COC_CHAIN_GUARD_INTERVAL="0.2", COC_WAIT_TIMEOUT="20", COC_NONCE_WAIT_SECONDS="30",
                    COC_INDEX_POLL_INTERVAL="0.2")


def setup_world(url: str, keys: Keys) -> int:
    """Registers the suppliers (admin-signed, through the node) and a material; returns the material."""
    with NodeClient(url, admin_key=ADMIN_KEY) as c:
        tag = str(time.time_ns())
        for i, acct in enumerate(keys.suppliers):
            pid = c.act(keys.deployer, "participants/register", name=f"supplier {i} {tag}", roles=SUPPLIER)["result"]["participantId"]
            site = c.act(keys.deployer, "participants/add-site", participantId=pid, name=f"site {i}",
                         locationRef=f"site:{tag}:{i}")["result"]["siteId"]
            c.act(keys.deployer, "participants/add-wallet", wallet=acct.address, participantId=pid, siteId=site)
        return int(c.act(keys.deployer, "processes/register-material", name=f"yarn {tag}", unit="g",
                         group=int(tag) % 100_000 + 7, waste=False)["result"]["material"])


@dataclass
class Ack:
    quantity: int
    signer: str
    batch_id: int
    tx_hash: str
    key: str
    body: dict[str, Any]
    block: int = -1


def health(url: str, timeout: float = 30.0) -> dict[str, Any]:
    """``GET /health``, with the reason codes as a set under ``codes``."""
    answer = httpx.get(f"{url}/health", timeout=timeout).json()
    answer["codes"] = {r["code"] for r in answer.get("reasons", [])}
    return answer


class HealthLog:
    """Polls ``/health`` every ``every`` seconds in a thread and keeps (time, status, codes)."""

    def __init__(self, url: str, every: float = 0.05):
        self.url, self.every = url, every
        self.samples: list[tuple[float, str, frozenset[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "HealthLog":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(40)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                h = health(self.url, timeout=10)
            except (httpx.HTTPError, ValueError):
                continue  # the node itself down or stopped: no answer is no claim
            self.samples.append((time.monotonic(), h["status"], frozenset(h["codes"])))

    def said(self, code: str, since: float = 0.0) -> bool:
        return any(code in codes for t, _, codes in self.samples if t >= since)

    def wait_for(self, code: str, timeout: float, since: float | None = None) -> None:
        since = time.monotonic() if since is None else since
        wait_until(lambda: self.said(code, since), timeout, f"/health to say {code}", every=0.05)


def wait_healthy(url: str, timeout: float = 60.0) -> dict[str, Any]:
    """Until ``/health`` says ok (asserting it does within ``timeout``); its answer."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = health(url, timeout=10)
        if last["status"] == "ok":
            return last
        time.sleep(0.2)
    raise AssertionError(f"/health did not say ok within {timeout:g}s: {last}")


def best_block(state_file: Path | None) -> int:
    """The best block of a state dump (-1: a fresh chain)."""
    if state_file is None:
        return -1
    return int(str(json.loads(state_file.read_bytes())["best_block_number"]), 0)


class Load:
    """Threads sending signed ``batches/create`` actions, one signer each. Every action has its own
    quantity (so an action is recognisable on chain) and Idempotency-Key. An action answered
    ``mined`` is acknowledged; the rest (errors while the chain or node is down) are not."""

    def __init__(self, url: str, keys: Keys, material: int):
        self.url, self.keys, self.material = url, keys, material
        self.acked: list[Ack] = []
        self.not_acked = 0
        self.last_error = ""
        self._q = itertools.count(1_000_001)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "Load":
        self._stop.clear()
        self._threads = [threading.Thread(target=self._run, args=(a,), daemon=True) for a in self.keys.suppliers]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(90)

    def wait_acked(self, n: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < n:
            assert time.monotonic() < deadline, f"only {len(self.acked)} actions acknowledged ({self.not_acked} not: {self.last_error})"
            time.sleep(0.05)

    def _run(self, who: LocalAccount) -> None:
        from node_api import signing

        with NodeClient(self.url, timeout=30) as c:
            while not self._stop.is_set():
                with self._lock:
                    q = next(self._q)
                key = f"fault-{SEED}-{q}"
                try:
                    prep = c.prepare("batches/create", {"signer": who.address, "material": self.material, "quantity": q,
                                                        "geolocationHash": f"geo:{q}", "evidenceHash": f"ev:{q}",
                                                        "productionDate": 1})
                    body = {"typedData": prep["typedData"],
                            "signature": "0x" + signing.sign_typed(who.key, prep["typedData"]).hex()}
                    out = c.submit("batches/create", body, idempotency_key=key)
                except (NodeError, httpx.HTTPError) as exc:
                    self.last_error = repr(exc)
                    self.not_acked += 1
                    time.sleep(0.1)
                    continue
                if out.get("status") == "mined":
                    with self._lock:
                        self.acked.append(Ack(q, who.address, int(out["result"]["batchIds"][0]), out["txHash"], key, body,
                                              int(out.get("blockNumber") or -1)))
                else:
                    self.not_acked += 1


def deployment(data: Path) -> dict[str, Any]:
    (f,) = list((data / "deployments").glob("*.json"))
    return json.loads(f.read_text())


def wait_until(cond, timeout: float, what: str, every: float = 0.2) -> Any:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def check_acknowledged(chain: Chain, url: str, data: Path, acked: list[Ack], *, timeout: float = 60.0) -> None:
    """Every acknowledged action is on chain exactly once, with the id it was answered; the node and
    the idempotency key answer the truth; no id stands for two things."""
    dep = deployment(data)
    w3 = connect(Settings(), rpc_url=chain.url)
    arts = load_artifacts()
    ledger = w3.eth.contract(address=dep["contracts"]["BatchLedger"], abi=arts["BatchLedger"]["abi"])
    ids = [a.batch_id for a in acked]
    assert len(set(ids)) == len(ids), "one batch id was answered for two actions"

    def all_mined() -> bool:
        with httpx.Client(base_url=url, timeout=10) as c:
            for a in acked:
                st = c.get(f"/transactions/{a.tx_hash}").json()
                if st.get("status") != "mined":
                    return False
        return True

    wait_until(all_mined, timeout, "every acknowledged action mined again")
    created = ledger.events.BatchCreated.get_logs(from_block=int(dep["block_number"]))
    by_quantity: dict[int, list[Any]] = {}
    for ev in created:
        by_quantity.setdefault(int(ev["args"]["quantity"]), []).append(ev)
    with NodeClient(url) as c:
        for a in acked:
            evs = by_quantity.get(a.quantity, [])
            assert len(evs) == 1, f"action {a.key} is on chain {len(evs)} times"
            assert evs[0]["args"]["batchId"] == a.batch_id, f"action {a.key} got batch {evs[0]['args']['batchId']}, answered {a.batch_id}"
            assert evs[0]["transactionHash"].to_0x_hex() == a.tx_hash
            rcpt = w3.eth.get_transaction_receipt(a.tx_hash)
            assert rcpt["status"] == 1
            st = c.get(f"transactions/{a.tx_hash}")
            assert st["status"] == "mined" and st["blockNumber"] == rcpt["blockNumber"], st
            again = c.submit("batches/create", a.body, idempotency_key=a.key)
            assert again["status"] == "mined" and again["result"]["batchIds"] == [a.batch_id], again
            # the id stands for this action: its signer holds exactly this action's quantity of it
            assert ledger.functions.balanceOf(a.signer, a.batch_id).call() == a.quantity


# ------------------------------------------------------------------ index == rebuild
_SKIP_TABLES = {"idx_meta"}


def index_tables(engine) -> dict[str, list[tuple]]:  # noqa: ANN001
    out = {}
    with engine.connect() as conn:
        for name, table in schema.metadata.tables.items():
            if name in _SKIP_TABLES:
                continue
            rows = conn.execute(select(table)).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def check_index(chain: Chain, data: Path, tmp: Path, timeout: float = 60.0) -> None:
    """The node's index (``<data>/index.db``) equals one rebuilt from the chain now."""
    dep = deployment(data)
    contracts = {CONTRACTS[k]: v for k, v in dep["contracts"].items() if k in CONTRACTS}
    head = chain.head()
    node_engine = create_engine(schema.sqlite_url(str(data / "index.db")))

    def caught_up() -> bool:
        with node_engine.connect() as conn:
            meta = schema.read_meta(conn)
        return int(meta.get("last_block", -1)) >= head

    wait_until(caught_up, timeout, "the node's index to reach the head")
    fresh = create_engine(schema.sqlite_url(str(tmp / f"rebuild-{time.time_ns()}.db")))
    with SyncRpc(chain.url) as rpc:
        f = Follower(fresh, rpc, contracts, int(dep["block_number"]))
        f.sync_once(until=head)
    mine, rebuilt = index_tables(node_engine), index_tables(fresh)
    for name in rebuilt:
        assert mine[name] == rebuilt[name], f"index table {name} differs from a rebuild from the chain"
    node_engine.dispose()
    fresh.dispose()
