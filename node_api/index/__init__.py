"""The provenance index: contract events -> SQL tables -> lineage, claims, EPCIS, passports.

Write side (Ponder-style: a schema, one handler per event, a follower):
  schema          the tables (shared with the read side) and ``idx_meta`` access
  store           one handler per contract event: events -> rows, one block range per transaction
  lineage_ingest  what a lineage answer needs about each new batch, stored once (facts, edges)
  follower        the resumable event follower (chain logs -> store)
  abi, rpc        log decoding and raw JSON-RPC for the follower
Shared by both sides: ancestry (the attribution of an ancestry, computed at query time), lineage_fragments (the pre-rendered lineage
JSON), spelling (how enums and addresses are shown).
Read side: the ``read`` package (layered; see its docstring).
service: settings -> a running index (engine + follower) for the node's lifespan.
"""
