"""Deploy the ledger contracts and keep a per-chain deployment record.

Deploy order and wiring (see the contracts' constructors):
  ParticipantRegistry, CocForwarder (OZ ERC2771Forwarder, name "CocForwarder"), MassBalance,
  BatchLedger (after the Origins library it links), CertificateRegistry; then
  ``registry.linkContracts(...)`` from the deployer, then
  ``link()`` on every contract that has one (MassBalance, BatchLedger: each reads the addresses from
  the registry once).

Why constructor/link arguments are resolved from the ABI by parameter *name* (``admin``,
``*forwarder*``, ``registry_``, ``massBalance_``, ...) instead of hard-coded positions: the
contracts evolve in parallel (e.g. whether the registry takes the forwarder in its constructor or
in ``linkContracts``); name-based wiring keeps this module correct across such changes and fails
with a clear message on a parameter it cannot place. A contract is deployed as soon as everything
its constructor needs exists, keeping the order above otherwise.

The record ``<data_dir>/deployments/<chainId>.json`` lets ``make run`` reuse a deployment across
restarts of the (persistent) embedded Anvil, or on an external chain.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from .chain import send_tx
from .compile import Artifact, compile_contracts, find_sources, sources_hash
from .config import Settings

log = logging.getLogger(__name__)

#: Deployment order (preferred; dependencies may pull one forward).
CONTRACT_ORDER: tuple[str, ...] = (
    "ParticipantRegistry",
    "CocForwarder",
    "MassBalance",
    "BatchLedger",
    "CertificateRegistry",
)
FORWARDER_NAME = "CocForwarder"  # EIP-712 domain name of the ERC2771Forwarder
#: Contracts whose zero-argument ``link()`` is called after ``linkContracts``, in this order.
LINK_ORDER: tuple[str, ...] = ("MassBalance", "BatchLedger", "CertificateRegistry")

#: Short names used by tests and the node (``deployed.registry`` etc.).
SHORT_NAMES: dict[str, str] = {
    "ParticipantRegistry": "registry",
    "CocForwarder": "forwarder",
    "MassBalance": "mass_balance",
    "BatchLedger": "ledger",
    "CertificateRegistry": "certificates",
}


class DeployError(RuntimeError):
    pass


# ---------------------------------------------------------------------------- library linking
# A contract that calls an external library function (BatchLedger -> Origins) compiles to
# bytecode with a 40-character placeholder where the library's address goes: "__$" + the first 34
# hex digits of keccak256("<source name>:<library name>") + "$__". The library is deployed once,
# just before the first contract that needs it, and its address replaces the placeholder.
_PLACEHOLDER = re.compile(r"__\$([0-9a-f]{34})\$__")


def library_placeholder(source_name: str, name: str) -> str:
    """solc's link placeholder for library ``name`` defined in ``source_name``."""
    return "__$" + keccak(text=f"{source_name}:{name}").hex()[:34] + "$__"


def _link(
    w3: Web3, deployer: LocalAccount, arts: Mapping[str, Artifact], bytecode: str, libraries: dict[str, str]
) -> str:
    """``bytecode`` with every library placeholder replaced; deploys libraries not in ``libraries``
    (placeholder -> address, filled in as it goes)."""
    for digest in dict.fromkeys(_PLACEHOLDER.findall(bytecode)):
        placeholder = f"__${digest}$__"
        if placeholder not in libraries:
            name = next(
                (n for n, a in arts.items() if library_placeholder(a["sourceName"], n) == placeholder), None
            )
            if name is None:
                raise DeployError(f"no artifact for library placeholder {placeholder}")
            code = _link(w3, deployer, arts, arts[name]["bytecode"], libraries)
            receipt = send_tx(w3, w3.eth.contract(abi=arts[name]["abi"], bytecode=code).constructor(), deployer)
            libraries[placeholder] = Web3.to_checksum_address(receipt["contractAddress"])
            log.info("deployed library %s at %s", name, libraries[placeholder])
        bytecode = bytecode.replace(placeholder, libraries[placeholder][2:].lower())
    return bytecode


def _role_of_param(param: Mapping[str, Any]) -> str:
    """Which value a constructor/linkContracts parameter wants: a contract name, "admin" or "name"."""
    raw = str(param.get("name", ""))
    key = raw.lower().replace("_", "")
    if key.startswith("trusted"):
        key = key[len("trusted"):]
    if key in ("admin", "deployer", "owner", "initialadmin", "initialowner"):
        return "admin"
    if "forwarder" in key:
        return "CocForwarder"
    if "certificate" in key:
        return "CertificateRegistry"
    if "ledger" in key:
        return "BatchLedger"
    if "massbalance" in key:
        return "MassBalance"
    if key in ("registry", "participantregistry", "participants"):
        return "ParticipantRegistry"
    if key == "name" and param.get("type") == "string":
        return "name"
    raise DeployError(f"cannot wire parameter {raw!r} ({param.get('type')}): unknown role")


def _inputs(abi: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]] | None:
    for item in abi:
        if item.get("type") == kind and (name is None or item.get("name") == name):
            return list(item.get("inputs", []))
    return None


def _resolve_args(params: list[dict[str, Any]], deployer: LocalAccount, addresses: Mapping[str, str]) -> list[Any]:
    args: list[Any] = []
    for p in params:
        role = _role_of_param(p)
        if role == "admin":
            args.append(deployer.address)
        elif role == "name":
            args.append(FORWARDER_NAME)
        else:
            args.append(addresses[role])
    return args


def _needs(params: list[dict[str, Any]]) -> set[str]:
    return {r for r in map(_role_of_param, params) if r not in ("admin", "name")}


def deploy_all(
    w3: Web3,
    deployer: LocalAccount,
    artifacts: Mapping[str, Artifact] | None = None,
) -> dict[str, str]:
    """Deploy and wire all ledger contracts; returns ``{contract name: checksum address}``."""
    arts = artifacts if artifacts is not None else compile_contracts()
    missing = [n for n in CONTRACT_ORDER if n not in arts or len(arts[n]["bytecode"]) <= 2]
    if missing:
        raise DeployError(f"no deployable artifact for {missing} (compiled: {sorted(arts)})")

    ctor_params = {n: _inputs(arts[n]["abi"], "constructor") or [] for n in CONTRACT_ORDER}
    addresses: dict[str, str] = {}
    libraries: dict[str, str] = {}
    pending = list(CONTRACT_ORDER)
    while pending:
        ready = next((n for n in pending if _needs(ctor_params[n]) <= addresses.keys()), None)
        if ready is None:
            raise DeployError(f"constructor dependency cycle among {pending}")
        pending.remove(ready)
        bytecode = _link(w3, deployer, arts, arts[ready]["bytecode"], libraries)
        factory = w3.eth.contract(abi=arts[ready]["abi"], bytecode=bytecode)
        args = _resolve_args(ctor_params[ready], deployer, addresses)
        receipt = send_tx(w3, factory.constructor(*args), deployer)
        addresses[ready] = Web3.to_checksum_address(receipt["contractAddress"])
        log.info("deployed %s at %s", ready, addresses[ready])

    registry_abi = arts["ParticipantRegistry"]["abi"]
    link_params = _inputs(registry_abi, "function", "linkContracts")
    if link_params is None:
        raise DeployError("ParticipantRegistry has no linkContracts function")
    registry = w3.eth.contract(address=addresses["ParticipantRegistry"], abi=registry_abi)
    send_tx(w3, registry.functions.linkContracts(*_resolve_args(link_params, deployer, addresses)), deployer)

    for name in LINK_ORDER:
        if _inputs(arts[name]["abi"], "function", "link") == []:
            c = w3.eth.contract(address=addresses[name], abi=arts[name]["abi"])
            send_tx(w3, c.functions.link(), deployer)
    return addresses


@dataclass
class Deployment:
    """A deployment record as stored in ``<data_dir>/deployments/<chainId>.json``."""

    chain_id: int
    contracts: dict[str, str]
    deployer: str
    block_number: int  #: block of the first deployment transaction (indexers start here)
    sources_hash: str = ""
    path: Path | None = field(default=None, compare=False)
    reused: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path")
        d.pop("reused")
        return d


def deployment_file(settings: Settings, chain_id: int) -> Path:
    return settings.deployments_dir / f"{chain_id}.json"


def load_deployment(w3: Web3, path: Path) -> Deployment | None:
    """The record at ``path`` if it exists and every address has code on ``w3``'s chain."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    dep = Deployment(
        chain_id=int(data["chain_id"]),
        contracts=dict(data["contracts"]),
        deployer=data["deployer"],
        block_number=int(data["block_number"]),
        sources_hash=data.get("sources_hash", ""),
        path=path,
        reused=True,
    )
    if dep.chain_id != w3.eth.chain_id:
        return None
    if any(len(w3.eth.get_code(Web3.to_checksum_address(a))) == 0 for a in dep.contracts.values()):
        log.warning("deployment record %s has addresses without code (chain reset?): redeploying", path)
        return None
    if set(dep.contracts) != set(CONTRACT_ORDER):
        log.warning("deployment record %s does not list exactly %s: redeploying", path, CONTRACT_ORDER)
        return None
    return dep


def ensure_deployed(
    w3: Web3,
    settings: Settings,
    artifacts: Mapping[str, Artifact] | None = None,
    deployer: LocalAccount | None = None,
) -> Deployment:
    """Reuse ``<data_dir>/deployments/<chainId>.json`` if all its contracts have code; else deploy
    and write it. ``Deployment.reused`` tells which happened."""
    chain_id = w3.eth.chain_id
    path = deployment_file(settings, chain_id)
    current_hash = sources_hash(find_sources())
    existing = load_deployment(w3, path)
    if existing is not None:
        if existing.sources_hash and existing.sources_hash != current_hash:
            log.warning(
                "contracts changed since the deployment in %s; still reusing it "
                "(delete the file, or `make clean`, to redeploy)", path
            )
        return existing

    acct = deployer or Account.from_key(settings.deployer_key)
    start_block = w3.eth.block_number + 1
    addresses = deploy_all(w3, acct, artifacts)
    dep = Deployment(
        chain_id=chain_id,
        contracts=addresses,
        deployer=acct.address,
        block_number=start_block,
        sources_hash=current_hash,
        path=path,
        reused=False,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dep.to_json(), indent=2) + "\n")
    tmp.replace(path)
    return dep
