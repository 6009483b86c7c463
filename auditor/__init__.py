"""coc-audit: the independent auditor of the chain-of-custody ledger.

A deliberate second implementation of the ledger's rules. It takes a JSON-RPC URL and the
ParticipantRegistry address, discovers the other contracts, replays every event with raw
``eth_getLogs`` and rebuilds the whole state on its own. It imports nothing from ``node_api``.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
