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

The contracts come from the built artifacts (``node_api/artifacts``, :mod:`node_api.core.artifacts`);
nothing here compiles. A node starts with :func:`deployment_for`: the record is checked with the
node's JSON-RPC client, and only a new deployment goes through web3 (its contract objects build the
constructor transactions).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from ..domain import CONTRACTS
from .artifacts import Artifact, load_artifacts, read_manifest
from .chain import connect, send_tx
from .config import Settings
from .rpc import SyncRpc

log = logging.getLogger(__name__)

#: Deployment order (preferred; dependencies may pull one forward).
CONTRACT_ORDER: tuple[str, ...] = (
    "ParticipantRegistry",
    "CocForwarder",
    "MassBalance",
    "BatchLedger",
    "CertificateRegistry",
    "ProductIdentifiers",  # GS1 Digital Link bindings (issue 14): needs the registry, ledger and forwarder
)
#: Contracts deployed after those when their artifact exists (a deployment from artifacts without them
#: still works): the EUDR statement registry (issue 14), whose constructor takes what it needs (no link()).
OPTIONAL_CONTRACTS: tuple[str, ...] = ("DueDiligenceRegistry",)
FORWARDER_NAME = "CocForwarder"  # EIP-712 domain name of the ERC2771Forwarder
#: Contracts whose zero-argument ``link()`` is called after ``linkContracts``, in this order.
LINK_ORDER: tuple[str, ...] = ("MassBalance", "BatchLedger", "CertificateRegistry")

#: Short names used by tests and the node (``deployed.registry`` etc.): the domain table's.
SHORT_NAMES: dict[str, str] = CONTRACTS


class DeployError(RuntimeError):
    pass


# ---------------------------------------------------------------------------- library linking
# A contract that calls an external library function (BatchLedger -> Origins) compiles to
# bytecode with a 40-character placeholder where the library's address goes: "__$" + the first 34
# hex digits of keccak256("<source name>:<library name>") + "$__" (the artifact's linkReferences say
# where). The library is deployed once, just before the first contract that needs it.


def library_placeholder(source_name: str, name: str) -> str:
    """solc's link placeholder for library ``name`` defined in ``source_name``."""
    return "__$" + keccak(text=f"{source_name}:{name}").hex()[:34] + "$__"


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


def link_bytecode(bytecode: str, link_references: Mapping[str, Mapping[str, list[Mapping[str, int]]]],
                  libraries: Mapping[str, str]) -> str:
    """``bytecode`` with each library placeholder (solc's ``__$<hash>$__``) replaced by the library's
    address; ``link_references`` as solc gives them: ``{source: {library: [{start, length}]}}``."""
    code = bytecode[2:] if bytecode.startswith("0x") else bytecode
    for libs in link_references.values():
        for lib, refs in libs.items():
            address = libraries[lib][2:].lower()
            for ref in refs:
                start = 2 * int(ref["start"])
                code = code[:start] + address + code[start + 2 * int(ref["length"]):]
    return "0x" + code


def _deploy_libraries(w3: Web3, deployer: LocalAccount, arts: Mapping[str, Artifact], name: str,
                      libraries: dict[str, str]) -> str:
    """The bytecode of ``name`` linked against its external libraries, deploying each library once
    (and the libraries it links against first). Libraries are not in the deployment record."""
    refs = arts[name].get("linkReferences") or {}
    for lib in sorted({lib for libs in refs.values() for lib in libs}):
        if lib not in libraries:
            if lib not in arts:
                raise DeployError(f"{name} links against library {lib}, which has no artifact")
            code = _deploy_libraries(w3, deployer, arts, lib, libraries)
            receipt = send_tx(w3, w3.eth.contract(abi=arts[lib]["abi"], bytecode=code).constructor(), deployer)
            libraries[lib] = Web3.to_checksum_address(receipt["contractAddress"])
            log.info("deployed library %s at %s", lib, libraries[lib])
    return link_bytecode(arts[name]["bytecode"], refs, libraries)


def deploy_all(
    w3: Web3,
    deployer: LocalAccount,
    artifacts: Mapping[str, Artifact] | None = None,
) -> dict[str, str]:
    """Deploy and wire all ledger contracts; returns ``{contract name: checksum address}``.

    ``artifacts`` default to the built artifacts the node ships with (``load_artifacts()``)."""
    arts = artifacts if artifacts is not None else load_artifacts()
    missing = [n for n in CONTRACT_ORDER if n not in arts or len(arts[n]["bytecode"]) <= 2]
    if missing:
        raise DeployError(f"no deployable artifact for {missing} (compiled: {sorted(arts)})")

    names = [*CONTRACT_ORDER, *(n for n in OPTIONAL_CONTRACTS if n in arts and len(arts[n]["bytecode"]) > 2)]
    ctor_params = {n: _inputs(arts[n]["abi"], "constructor") or [] for n in names}
    addresses: dict[str, str] = {}
    libraries: dict[str, str] = {}
    pending = list(names)
    while pending:
        ready = next((n for n in pending if _needs(ctor_params[n]) <= addresses.keys()), None)
        if ready is None:
            raise DeployError(f"constructor dependency cycle among {pending}")
        pending.remove(ready)
        bytecode = _deploy_libraries(w3, deployer, arts, ready, libraries)
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
    #: the chain instance: hash of its block 0, and of the block at ``block_number`` (a fresh chain
    #: with the same id and the contracts at the same addresses differs in both)
    genesis_hash: str = ""
    block_hash: str = ""
    path: Path | None = field(default=None, compare=False)
    reused: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path")
        d.pop("reused")
        return d


def deployment_file(settings: Settings, chain_id: int) -> Path:
    return settings.deployments_dir / f"{chain_id}.json"


def load_deployment(rpc: SyncRpc, path: Path) -> Deployment | None:
    """The record at ``path`` if it exists and every address has code on ``rpc``'s chain."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    dep = Deployment(
        chain_id=int(data["chain_id"]),
        contracts=dict(data["contracts"]),
        deployer=data["deployer"],
        block_number=int(data["block_number"]),
        sources_hash=data.get("sources_hash", ""),
        genesis_hash=data.get("genesis_hash", ""),
        block_hash=data.get("block_hash", ""),
        path=path,
        reused=True,
    )
    if dep.chain_id != rpc.chain_id():
        return None
    # the deployment block decides where recorded (Anvil restarted from a state file may answer another
    # block 0, never another block 1..n); block 0 only for a record without it
    if not dep.block_hash and dep.genesis_hash and dep.genesis_hash != block_hash(rpc, 0):
        log.warning("deployment record %s belongs to another chain instance (genesis differs): redeploying", path)
        return None
    if dep.block_hash and dep.block_hash != block_hash(rpc, dep.block_number):
        log.warning("deployment record %s: its deployment block is not on this chain: redeploying", path)
        return None
    if any(len(rpc.get_code(Web3.to_checksum_address(a))) == 0 for a in dep.contracts.values()):
        log.warning("deployment record %s has addresses without code (chain reset?): redeploying", path)
        return None
    if set(dep.contracts) - set(OPTIONAL_CONTRACTS) != set(CONTRACT_ORDER):
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
    with SyncRpc(w3.provider.endpoint_uri) as rpc:  # type: ignore[attr-defined]
        existing = load_deployment(rpc, path)
    if existing is not None:
        return _warn_if_stale(existing)

    acct = deployer or Account.from_key(settings.deployer_key)
    start_block = w3.eth.block_number + 1
    addresses = deploy_all(w3, acct, artifacts if artifacts is not None else load_artifacts(settings.evm_version))
    with SyncRpc(w3.provider.endpoint_uri) as rpc:  # type: ignore[attr-defined]
        genesis, first = block_hash(rpc, 0), block_hash(rpc, start_block)
    dep = Deployment(
        chain_id=chain_id,
        contracts=addresses,
        deployer=acct.address,
        block_number=start_block,
        sources_hash=_current_sources_hash(),
        genesis_hash=genesis,
        block_hash=first,
        path=path,
        reused=False,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dep.to_json(), indent=2) + "\n")
    tmp.replace(path)
    return dep


def block_hash(rpc: SyncRpc, number: int) -> str:
    """The hash of block ``number`` on ``rpc``'s chain ("" if the chain has no such block)."""
    block = rpc.call("eth_getBlockByNumber", [hex(number), False])
    return str(block["hash"]) if isinstance(block, dict) else ""


def _current_sources_hash() -> str:
    return str(read_manifest()["sources"]["hash"])


def _warn_if_stale(dep: Deployment) -> Deployment:
    if dep.sources_hash and dep.sources_hash != _current_sources_hash():
        log.warning(
            "contracts changed since the deployment in %s; still reusing it "
            "(delete the file, or `make clean`, to redeploy)", dep.path
        )
    return dep


def deployment_for(settings: Settings, artifacts: Mapping[str, Artifact] | None = None) -> Deployment:
    """The deployment a node runs against (blocking; call it in a thread from async code).

    Reuses ``<data_dir>/deployments/<chainId>.json`` when its contracts have code (read with the
    node's JSON-RPC client, no retries: an unreachable chain raises ``ChainUnavailable`` at once);
    else deploys ``artifacts`` (default: the built artifacts of ``settings.evm_version``) and
    writes the record."""
    with SyncRpc(settings.effective_rpc_urls, retries=0) as rpc:
        existing = load_deployment(rpc, deployment_file(settings, rpc.chain_id()))
    if existing is not None:
        return _warn_if_stale(existing)
    return ensure_deployed(connect(settings), settings, artifacts)
