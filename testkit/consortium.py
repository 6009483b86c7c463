"""A consortium network on one machine: 4 Clique validators (geth 1.13.15), 2 member nodes, an auditor.

What it builds (``Consortium(root).create()``, then ``start()``):

- **Genesis**: Clique proof of authority, 4 signers, a block every ``period`` seconds (2 s), London
  fee market, nothing after London (Clique refuses Shanghai/Cancun), the signers, the deployer and
  each member's relayer funded. ``extradata`` = 32 zero bytes, the signers, 65 zero bytes.
- **4 validators** on loopback, each its own data directory, signer key (a keystore with a password
  file), node key and ports; static peers from a config file (``[Node.P2P] StaticNodes``; geth
  1.13 ignores static-nodes.json), discovery off.
- **The contracts**, deployed once for the chain's EVM version (the paris build), by the consortium
  admin (the deployer); the deployment record goes into each member's data directory.
- **2 member nodes** (``python -m node_api``), each with its own relayer key, its own data folder
  (node and index databases) and its own list of endpoints: member A uses validator 0, then 1, 2;
  member B uses validator 1, then 2, 3 (``COC_RPC_URL`` + ``COC_RPC_URLS``, ``COC_PROFILE=clique``).
- **The auditor** (``coc-audit``) against any validator, e.g. the third.

Everything lives under ``root``: ``stop()`` and ``start()`` again resume from disk (same chain, same
deployment, same databases). Keys are derived from fixed labels: a throwaway test network, never a
production key (the README's Besu guide says how a real consortium keeps its keys).

``python -m testkit.consortium [--dir D]`` (``make consortium``) builds geth if needed, starts it all,
prints the endpoints and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_keys import keys as eth_keys
from eth_utils import keccak

from node_api.core.anvil import free_port
from node_api.core.config import Settings
from testkit.consortium_ops import ConsortiumOps, block_number, rpc
from testkit.geth import find_geth
from testkit.node_process import start_node, stop_node

CHAIN_ID = 1515
PERIOD = 2
PASSWORD = "consortium-test-network"
FUND_WEI = 10**24  # a million ether each: fees on this network are real (London base fee)


def key(label: str) -> str:
    """A deterministic private key for a test-network role (never a production key)."""
    return "0x" + keccak(text=f"coc-consortium:{label}").hex()


def address(label: str) -> str:
    return Account.from_key(key(label)).address


@dataclass
class Validator:
    index: int
    root: Path
    http_port: int
    p2p_port: int
    auth_port: int
    proc: subprocess.Popen | None = None

    @property
    def label(self) -> str:
        return f"validator-{self.index}"

    @property
    def signer(self) -> str:
        return address(self.label)

    @property
    def datadir(self) -> Path:
        return self.root / self.label

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def node_key(self) -> bytes:
        return keccak(text=f"coc-consortium:nodekey:{self.index}")

    @property
    def enode(self) -> str:
        pub = eth_keys.PrivateKey(self.node_key).public_key.to_bytes().hex()
        return f"enode://{pub}@127.0.0.1:{self.p2p_port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Member:
    name: str
    root: Path
    api_port: int
    urls: list[str]
    proc: subprocess.Popen | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / f"member-{self.name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def relayer_key(self) -> str:
        return key(f"relayer-{self.name}")


@dataclass
class Consortium(ConsortiumOps):
    root: Path
    period: int = PERIOD
    n_validators: int = 4
    geth: Path | None = None
    validators: list[Validator] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    deployment: dict[str, Any] | None = None

    # ------------------------------------------------------------------ layout (kept in root/network.json)
    @property
    def layout_file(self) -> Path:
        return self.root / "network.json"

    @property
    def admin_key(self) -> str:
        """The consortium admin: deploys the contracts and signs administration (the demo's admin)."""
        return key("consortium-admin")

    def create(self) -> "Consortium":
        """Genesis, keys, data directories and ports, or the ones already under ``root``."""
        if self.geth is None:
            path, why = find_geth()
            if path is None:
                raise RuntimeError(why)
            self.geth = path
        if self.layout_file.exists():
            return self._load()
        self.root.mkdir(parents=True, exist_ok=True)
        self.validators = [Validator(i, self.root, free_port(), free_port(), free_port()) for i in range(self.n_validators)]
        urls = [v.url for v in self.validators]
        n = self.n_validators
        self.members = {name: Member(name, self.root, free_port(), [urls[(i + k) % n] for k in range(3)])
                        for i, name in enumerate(("a", "b"))}
        genesis = self.genesis()
        (self.root / "genesis.json").write_text(json.dumps(genesis, indent=2))
        for v in self.validators:
            self._init_validator(v)
        self._save()
        return self

    def genesis(self) -> dict[str, Any]:
        signers = sorted((v.signer for v in self.validators), key=str.lower)
        funded = [*signers, address("consortium-admin"), *(address(f"relayer-{m}") for m in ("a", "b", "bench"))]
        forks = ["homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople", "petersburg",
                 "istanbul", "muirGlacier", "berlin", "london", "arrowGlacier", "grayGlacier"]
        return {
            "config": {"chainId": CHAIN_ID, **{f"{f}Block": 0 for f in forks},
                       "clique": {"period": self.period, "epoch": 30000}},
            "difficulty": "0x1",
            "gasLimit": hex(30_000_000),
            "extradata": "0x" + "00" * 32 + "".join(s[2:].lower() for s in signers) + "00" * 65,
            "alloc": {a: {"balance": hex(FUND_WEI)} for a in funded},
        }

    def _init_validator(self, v: Validator) -> None:
        d = v.datadir
        if d.exists():
            shutil.rmtree(d)
        (d / "keystore").mkdir(parents=True)
        (d / "geth").mkdir()
        (d / "geth" / "nodekey").write_text(v.node_key.hex())
        ks = Account.encrypt(key(v.label), PASSWORD, kdf="scrypt", iterations=2**12)
        (d / "keystore" / f"UTC--signer--{v.signer[2:].lower()}").write_text(json.dumps(ks))
        (d / "password.txt").write_text(PASSWORD)
        peers = ", ".join(f'"{o.enode}"' for o in self.validators if o is not v)
        (d / "config.toml").write_text(f"[Node.P2P]\nStaticNodes = [{peers}]\n")
        out = subprocess.run([str(self.geth), "--datadir", str(d), "init", str(self.root / "genesis.json")],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"geth init failed: {out.stderr[-2000:]}")

    def _save(self) -> None:
        self.layout_file.write_text(json.dumps({
            "period": self.period,
            "validators": [[v.http_port, v.p2p_port, v.auth_port] for v in self.validators],
            "members": {m.name: [m.api_port, m.urls] for m in self.members.values()},
            "deployment": self.deployment,
            "head": self._layout().get("head", 0),
        }, indent=2))

    def _load(self) -> "Consortium":
        data = json.loads(self.layout_file.read_text())
        self.period = data["period"]
        self.validators = [Validator(i, self.root, *ports) for i, ports in enumerate(data["validators"])]
        self.members = {n: Member(n, self.root, p, urls) for n, (p, urls) in data["members"].items()}
        self.deployment = data.get("deployment")
        return self

    # ------------------------------------------------------------------ validators
    def start_validator(self, i: int, *, mine: bool = True, timeout: float = 60.0) -> Validator:
        """Starts validator ``i`` and, with ``mine``, lets it seal once it has caught up with the
        running validators (a signer that seals on a stale head only makes forks)."""
        v = self._spawn(i)
        self._wait_rpc(v, timeout)
        if mine:
            others = [o for o in self.validators if o.alive and o is not v]
            if others:
                self.wait_peers(1, only=[i])
                target = max(block_number(o.url) for o in others)
                deadline = time.monotonic() + timeout
                while block_number(v.url) < target:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{v.label} did not sync to block {target} within {timeout:.0f}s "
                                           f"(head {block_number(v.url)}): {json.dumps(self.status())}")
                    time.sleep(0.2)
                # on the others' head itself, not only as high: a block sealed while it synced is
                # dropped (geth's fetcher drops a block whose parent it lacks) and with under 5 peers
                # the next sync comes only 10 s later; sealing meanwhile, it seals on a stale branch
                # and, the one signer whose turn it is, holds up the others (seen: a 10 s stall)
                while not self.in_step(i):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{v.label} not on the others' head within {timeout:.0f}s: "
                                           f"{json.dumps(self.status())}")
                    time.sleep(0.1)
            rpc(v.url, "miner_start")
        return v

    def _spawn(self, i: int) -> Validator:
        v = self.validators[i]
        if v.alive:
            return v
        log = open(v.datadir / "geth.log", "ab")
        v.proc = subprocess.Popen([
            str(self.geth), "--datadir", str(v.datadir), "--config", str(v.datadir / "config.toml"),
            "--networkid", str(CHAIN_ID), "--port", str(v.p2p_port), "--nat", "none", "--nodiscover",
            "--http", "--http.addr", "127.0.0.1", "--http.port", str(v.http_port),
            "--http.api", "eth,net,web3,txpool,clique,admin,debug,miner", "--http.vhosts", "*",
            "--authrpc.port", str(v.auth_port), "--ipcdisable", "--syncmode", "full", "--cache", "64",
            "--miner.etherbase", v.signer, "--unlock", v.signer,
            "--password", str(v.datadir / "password.txt"), "--allow-insecure-unlock",
            "--miner.gasprice", "1", "--miner.recommit", "1s", "--txpool.pricelimit", "1", "--txpool.accountslots", "4096",
            "--txpool.globalslots", "20000", "--txpool.accountqueue", "4096", "--txpool.globalqueue", "20000",
            "--rpc.gascap", "0", "--rpc.txfeecap", "0", "--verbosity", os.environ.get("COC_GETH_VERBOSITY", "3"),
        ], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return v

    def _wait_rpc(self, v: Validator, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if v.proc.poll() is not None:
                raise RuntimeError(f"{v.label} exited with {v.proc.returncode}; see {v.datadir / 'geth.log'}")
            try:
                block_number(v.url)
                return
            except (httpx.HTTPError, RuntimeError):
                time.sleep(0.2)
        raise RuntimeError(f"{v.label} did not answer within {timeout:.0f}s")

    def _start_all(self) -> None:
        """Every validator, sealing without competing branches.

        geth accepts propagated blocks only after a first sync from a peer ahead of it (and, below
        5 peers, tries that every 10 s); signers started together on a head whose time is past (a
        new genesis, a restart) all seal the next block at once, and Clique can then stall for good
        on the competing branches (each signer "signed recently" on its own; seen here). So: the
        signer due for the next block starts alone and seals it; the others start behind it, sync
        from it, and only then seal."""
        top = int(self._layout().get("head", 0))
        order = sorted(self.validators, key=lambda v: v.signer.lower())
        started: list[Validator] = []
        for k in range(len(order)):
            first = order[(top + 1 + k) % len(order)]  # in turn first; the next if it signed recently
            self._spawn(first.index)
            self._wait_rpc(first, 60.0)
            rpc(first.url, "miner_start")
            started.append(first)
            top = max(top, block_number(first.url))
            deadline = time.monotonic() + 3 * self.period + 3
            while time.monotonic() < deadline and block_number(first.url) <= top:
                time.sleep(0.05)
            if block_number(first.url) > top:
                break
        top = block_number(first.url)
        for v in self.validators:
            self._spawn(v.index)
        for v in self.validators:
            self._wait_rpc(v, 60.0)
        deadline = time.monotonic() + 40
        while min(block_number(v.url) for v in self.validators) < top:
            if time.monotonic() > deadline:
                raise TimeoutError(f"validators did not sync block {top}: {[block_number(v.url) for v in self.validators]}")
            time.sleep(0.2)
        for v in self.validators:
            if v not in started:
                rpc(v.url, "miner_start")
        self.wait_peers()
        self.wait_blocks(1)

    def _layout(self) -> dict[str, Any]:
        return json.loads(self.layout_file.read_text()) if self.layout_file.exists() else {}

    def kill_validator(self, i: int, sig: int = signal.SIGKILL) -> None:
        v = self.validators[i]
        if v.proc is not None and v.proc.poll() is None:
            v.proc.send_signal(sig)
            try:
                v.proc.wait(60)
            except subprocess.TimeoutExpired:
                v.proc.kill()
                v.proc.wait(10)
        v.proc = None

    # ------------------------------------------------------------------ contracts and members
    def settings(self, **extra: Any) -> Settings:
        """The node settings of this network (the clique profile)."""
        return Settings(profile="clique", rpc_url=self.validators[0].url, deployer_key=self.admin_key, **extra)

    def deploy(self) -> dict[str, Any]:
        """The contracts (paris build), deployed once by the consortium admin; the record is kept."""
        if self.deployment is not None:
            return self.deployment
        from node_api.core.chain import connect
        from node_api.core.deploy import ensure_deployed

        s = self.settings(data_dir=self.root / "deployer")
        dep = ensure_deployed(connect(s), s)
        self.deployment = dep.to_json()
        self._save()
        return self.deployment

    def member_env(self, m: Member, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COC_")}
        env.update(COC_PROFILE="clique", COC_RPC_URL=m.urls[0], COC_RPC_URLS=",".join(m.urls[1:]),
                   COC_DATA_DIR=str(m.data_dir), COC_API_PORT=str(m.api_port), COC_RELAYER_KEY=m.relayer_key,
                   COC_DEPLOYER_KEY=self.admin_key, COC_INDEX_POLL_INTERVAL="0.5")
        env.update(extra)
        return env

    def start_member(self, name: str, **extra: str) -> Member:
        m = self.members[name]
        if m.proc is not None and m.proc.poll() is None:
            return m
        dep = self.deploy()
        record = m.data_dir / "deployments" / f"{CHAIN_ID}.json"
        if not record.exists():
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps(dep, indent=2))
        m.proc = start_node(self.member_env(m, **extra), m.url, log=m.data_dir.with_suffix(".log"))
        return m

    def stop_member(self, name: str, sig: int = signal.SIGTERM) -> None:
        m = self.members[name]
        if m.proc is not None:
            if sig == signal.SIGTERM:
                stop_node(m.proc)
            else:
                m.proc.send_signal(sig)
                m.proc.wait(30)
        m.proc = None

    def audit(self, validator: int, *extra: str, timeout: float = 300.0) -> subprocess.CompletedProcess:
        """``coc-audit`` against validator ``validator`` (exit 0: every rule and view holds)."""
        registry = self.deploy()["contracts"]["ParticipantRegistry"]
        return subprocess.run([sys.executable, "-m", "auditor", "--rpc", self.validators[validator].url,
                               "--registry", registry, "--json", *extra],
                              capture_output=True, text=True, timeout=timeout)

    # ------------------------------------------------------------------ all at once
    def start(self, *, members: bool = True) -> "Consortium":
        self.create()
        self._start_all()
        self.deploy()
        if members:
            for name in self.members:
                self.start_member(name)
        return self

    def stop(self) -> None:
        """Members first (SIGTERM: they close their databases), then validators (SIGTERM: geth
        writes its state to disk)."""
        for name in list(self.members):
            self.stop_member(name)
        heads = [block_number(v.url) for v in self.validators if v.alive]
        if heads:  # where the next start begins (the signer due for the next block starts first)
            self.layout_file.write_text(json.dumps({**self._layout(), "head": max(heads)}, indent=2))
        for v in self.validators:
            self.kill_validator(v.index, signal.SIGTERM)

    def endpoints(self) -> dict[str, Any]:
        dep = self.deployment or {}
        return {
            "chainId": CHAIN_ID, "period": self.period,
            "validators": {v.label: {"rpc": v.url, "signer": v.signer, "alive": v.alive} for v in self.validators},
            "members": {f"member-{m.name}": {"api": m.url, "rpcUrls": m.urls, "dataDir": str(m.data_dir)}
                        for m in self.members.values()},
            "contracts": dep.get("contracts"),
            "audit": f"coc-audit --rpc {self.validators[2].url} --registry "
                     f"{(dep.get('contracts') or {}).get('ParticipantRegistry')}",
        }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testkit.consortium", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("data/consortium"), help="where the network lives (resumed if present)")
    ap.add_argument("--period", type=int, default=PERIOD, help="seconds per block (a new network only)")
    ap.add_argument("--fresh", action="store_true", help="delete --dir first")
    args = ap.parse_args(argv)
    if args.fresh and args.dir.exists():
        shutil.rmtree(args.dir)
    net = Consortium(args.dir.resolve(), period=args.period)
    try:
        net.start()
        print(json.dumps(net.endpoints(), indent=2), flush=True)
        print("running; Ctrl-C stops everything (state stays in --dir)", flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        net.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
