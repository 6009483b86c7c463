"""The relayer: one key pays the gas for every wallet-signed action; the contracts never trust it.

- ``relayer.py``: the sender (local nonce, write-ahead, batched sends, nonce-gap fillers) and the
  receipt watcher (rebroadcast of dropped transactions, re-signing when a nonce was taken).
- ``recovery.py``: on start, the write-ahead log brought in line with the chain.
- ``receipts.py``: a mined transaction's outcome, with the decoded reason of a revert.
- ``lanes.py``: ordering lanes (per signer and nonce sequence) and the in-flight count per lane.
- ``requests.py``: the request, the handle a caller awaits, what a refused send means.
"""

from .lanes import Lane, LaneKind
from .relayer import Relayer
from .requests import RelayError, RelayRequest, TxHandle

__all__ = ["Lane", "LaneKind", "RelayError", "RelayRequest", "Relayer", "TxHandle"]
