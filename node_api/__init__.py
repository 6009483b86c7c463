"""Chain-of-custody ledger node: API, indexer and chain tooling around the Solidity contracts."""
