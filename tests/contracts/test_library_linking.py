"""BatchLedger calls the external library Origins (origin admission and recording): deploy_all deploys
the library, links its address into BatchLedger and still returns the five named contracts."""

from __future__ import annotations

from node_api.core.deploy import CONTRACT_ORDER, OPTIONAL_CONTRACTS, library_placeholder


def test_deployAll_linksOriginsIntoBatchLedger(deployed, w3) -> None:
    # the library is not one of the named contracts (the optional ones: the EUDR registry, issue 14)
    assert set(deployed.addresses) == set(CONTRACT_ORDER) | set(OPTIONAL_CONTRACTS)
    art = deployed.artifacts["BatchLedger"]
    lib = deployed.artifacts["Origins"]
    placeholder = library_placeholder(lib["sourceName"], "Origins")
    unlinked = art["deployedBytecode"][2:]
    at = unlinked.index(placeholder)  # hex offset of the library address in the runtime code
    code = bytes(w3.eth.get_code(deployed.addresses["BatchLedger"])).hex()
    assert len(code) == len(unlinked) and "__$" not in code
    library = w3.to_checksum_address("0x" + code[at : at + 40])
    assert len(w3.eth.get_code(library)) == (len(lib["deployedBytecode"]) - 2) // 2

