"""Core plumbing shared by the node, scripts and tests.

Runtime: settings (``config``), the JSON-RPC client (``rpc``), the ABI codec (``abi``), the built
contracts (``artifacts``), deployment records (``deploy``), the embedded chain (``anvil``), fast
transaction signing (``txsign``). Build and deploy steps only: the compiler (``compile``,
``toolchain``; ``make artifacts``) and web3 transactions (``chain``).
"""
