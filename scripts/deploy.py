"""Deploy the ledger contracts to any JSON-RPC chain, or from Ape.

  python scripts/deploy.py --rpc-url http://127.0.0.1:8545 [--key 0xHEX]
  ape run deploy [--network ethereum:local:foundry]      (ape's provider; COC_DEPLOYER_KEY or Anvil key 0)

Both paths deploy the built contracts the node ships with (node_api/artifacts, `make artifacts`)
with node_api.core.deploy.deploy_all through web3 with a locally signed key, so the result is the same
as `make run`'s. Prints ``{"chainId": ..., "contracts": {name: address}}`` as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from eth_account import Account

from node_api.core.chain import connect
from node_api.core.config import ANVIL_DEFAULT_KEY, Settings
from node_api.core.deploy import deploy_all


def deploy(rpc_url: str, key: str, *, poa: bool = False, zero_gas_price: bool = False) -> dict[str, object]:
    settings = Settings(rpc_url=rpc_url, poa_extra_data=poa, zero_gas_price=zero_gas_price)
    w3 = connect(settings)
    deployer = Account.from_key(key)
    contracts = deploy_all(w3, deployer)
    return {"chainId": w3.eth.chain_id, "deployer": deployer.address, "contracts": contracts}


def main() -> None:
    """Entry point for `ape run deploy`: deploy through the connected ape provider's RPC URL."""
    from ape import networks

    provider = networks.provider
    uri = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    if not uri:
        raise SystemExit(f"ape provider {provider.name!r} exposes no HTTP RPC URL")
    key = os.environ.get("COC_DEPLOYER_KEY", ANVIL_DEFAULT_KEY)
    print(json.dumps(deploy(uri, key), indent=2))


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rpc-url", required=True, help="JSON-RPC endpoint of the target chain")
    p.add_argument("--key", default=os.environ.get("COC_DEPLOYER_KEY", ANVIL_DEFAULT_KEY),
                   help="deployer private key (hex); default $COC_DEPLOYER_KEY or Anvil's dev key 0")
    p.add_argument("--poa", action="store_true", help="inject the PoA extraData middleware (QBFT/clique)")
    p.add_argument("--zero-gas-price", action="store_true", help="send transactions with gas price 0")
    args = p.parse_args(argv)
    print(json.dumps(deploy(args.rpc_url, args.key, poa=args.poa, zero_gas_price=args.zero_gas_price), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
