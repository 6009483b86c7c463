"""deploy_all / ensure_deployed against stand-in contracts with the ledger's constructor shapes.

Why stand-ins: the deploy wiring (order, ABI-name-based argument resolution, linkContracts, link(),
deployment record reuse) is tested independently of the real contracts' state of completion.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node_api.core.compile import compile_contracts
from node_api.core.config import Settings
from node_api.core.deploy import CONTRACT_ORDER, deploy_all, ensure_deployed

STANDINS = r"""
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

contract CocForwarder is ERC2771Forwarder { constructor(string memory name) ERC2771Forwarder(name) {} }

contract ParticipantRegistry {
    address public admin; address public forwarder;
    address public batchLedger; address public massBalance; address public certificateRegistry;
    error NotAdmin(address caller);
    constructor(address admin_, address trustedForwarder) { admin = admin_; forwarder = trustedForwarder; }
    function linkContracts(address batchLedger_, address massBalance_, address certificateRegistry_) external {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        batchLedger = batchLedger_; massBalance = massBalance_; certificateRegistry = certificateRegistry_;
    }
}

contract MassBalance {
    ParticipantRegistry public registry; address public forwarder; address public ledger;
    constructor(ParticipantRegistry registry_, address trustedForwarder) { registry = registry_; forwarder = trustedForwarder; }
    function link() external { require(ledger == address(0), "linked"); ledger = registry.batchLedger(); }
}

contract BatchLedger {
    ParticipantRegistry public registry; address public massBalance; address public forwarder; address public certificates;
    constructor(ParticipantRegistry registry_, address massBalance_, address trustedForwarder) {
        registry = registry_; massBalance = massBalance_; forwarder = trustedForwarder;
    }
    function link() external { require(certificates == address(0), "linked"); certificates = registry.certificateRegistry(); }
}

contract CertificateRegistry {
    address public registry; address public massBalance; address public batchLedger; address public forwarder;
    constructor(address registry_, address massBalance_, address batchLedger_, address trustedForwarder) {
        registry = registry_; massBalance = massBalance_; batchLedger = batchLedger_; forwarder = trustedForwarder;
    }
}

contract ProductIdentifiers {
    address public registry; address public ledger; address public forwarder;
    constructor(address registry_, address ledger_, address trustedForwarder) {
        registry = registry_; ledger = ledger_; forwarder = trustedForwarder;
    }
}
"""


@pytest.fixture(scope="module")
def standin_artifacts(tmp_path_factory: pytest.TempPathFactory):
    src = tmp_path_factory.mktemp("standins") / "Standins.sol"
    src.write_text(STANDINS)
    return compile_contracts(sources=[src], build_dir=src.parent / "build")


def test_deploy_all_wires_everything(w3, accounts, standin_artifacts, chain_snapshot) -> None:
    addrs = deploy_all(w3, accounts[0], standin_artifacts)
    assert list(addrs) == ["CocForwarder", "ParticipantRegistry", "MassBalance", "BatchLedger", "CertificateRegistry",
                           "ProductIdentifiers"]
    c = {n: w3.eth.contract(address=a, abi=standin_artifacts[n]["abi"]) for n, a in addrs.items()}
    reg = c["ParticipantRegistry"].functions
    assert reg.admin().call() == accounts[0].address
    assert reg.forwarder().call() == addrs["CocForwarder"]
    assert reg.batchLedger().call() == addrs["BatchLedger"]
    assert reg.massBalance().call() == addrs["MassBalance"]
    assert reg.certificateRegistry().call() == addrs["CertificateRegistry"]
    assert c["MassBalance"].functions.ledger().call() == addrs["BatchLedger"]
    assert c["BatchLedger"].functions.certificates().call() == addrs["CertificateRegistry"]
    assert c["BatchLedger"].functions.massBalance().call() == addrs["MassBalance"]
    cert = c["CertificateRegistry"].functions
    assert (cert.registry().call(), cert.massBalance().call(), cert.batchLedger().call(), cert.forwarder().call()) == (
        addrs["ParticipantRegistry"], addrs["MassBalance"], addrs["BatchLedger"], addrs["CocForwarder"]
    )
    pi = c["ProductIdentifiers"].functions
    assert (pi.registry().call(), pi.ledger().call(), pi.forwarder().call()) == (
        addrs["ParticipantRegistry"], addrs["BatchLedger"], addrs["CocForwarder"])
    assert c["CocForwarder"].functions.eip712Domain().call()[1] == "CocForwarder"


def test_ensure_deployed_writes_and_reuses_record(w3, accounts, standin_artifacts, chain_snapshot, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, deployer_key=accounts[3].key.hex())
    first = ensure_deployed(w3, settings, standin_artifacts)
    assert not first.reused and first.path == tmp_path / "deployments" / f"{w3.eth.chain_id}.json"
    record = json.loads(first.path.read_text())
    assert record["deployer"] == accounts[3].address
    assert set(record["contracts"]) == set(CONTRACT_ORDER)
    assert 0 < record["block_number"] <= w3.eth.block_number

    second = ensure_deployed(w3, settings, standin_artifacts)
    assert second.reused and second.contracts == first.contracts

    # A record whose addresses have no code (e.g. chain reset) is replaced by a new deployment.
    record["contracts"]["MassBalance"] = "0x" + "11" * 20
    first.path.write_text(json.dumps(record))
    third = ensure_deployed(w3, settings, standin_artifacts)
    assert not third.reused and third.contracts != first.contracts


#: The stand-ins with BatchLedger calling an external library function (a linked library, as a
#: rules library moved out of BatchLedger for size would be).
LINKED = STANDINS.replace(
    """    function link() external { require(certificates == address(0), "linked"); certificates = registry.certificateRegistry(); }
}""",
    """    function link() external { require(certificates == address(0), "linked"); certificates = registry.certificateRegistry(); }
    function rule(uint256 x) external pure returns (uint256) { return Rules.twice(x); }
}

library Rules {
    function twice(uint256 x) external pure returns (uint256) { return 2 * x; }
}""",
)


def test_deploy_all_links_external_libraries(w3, accounts, chain_snapshot, tmp_path_factory) -> None:
    assert LINKED != STANDINS
    src = tmp_path_factory.mktemp("linked") / "Linked.sol"
    src.write_text(LINKED)
    arts = compile_contracts(sources=[src], build_dir=src.parent / "build")
    assert arts["BatchLedger"]["linkReferences"], "the stand-in must need linking"
    addrs = deploy_all(w3, accounts[0], arts)
    assert set(addrs) == set(CONTRACT_ORDER)  # the library is not a contract of the record
    ledger = w3.eth.contract(address=addrs["BatchLedger"], abi=arts["BatchLedger"]["abi"])
    assert ledger.functions.rule(21).call() == 42
