"""The node's services, each a small class built fully wired by the composition root (node_api.node):

- ``contracts``: the deployed contracts (addresses, ABIs, views, logs, simulated calls)
- ``signatures``: EIP-712 digests, domain and signature checks
- ``relaying``: hand a checked action to the relayer; wait for a lane's predecessors
- ``forwarding``: ERC-2771 ForwardRequests (prepare, check, submit)
- ``custody``: the ledger's custody messages (propose, accept / reject / cancel, with acceptance)
- ``outcomes``: receipts and recorded transactions as answers
- ``idempotency``: one execution per Idempotency-Key
- ``accounts``: node-held wallets, API keys, the admin wallet, the relayer key
- ``held_keys``: prepare -> sign with a node-held key -> submit
- ``reads``: contract reads for the resource routes and a wallet's own view
"""
