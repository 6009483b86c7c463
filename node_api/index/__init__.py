"""The provenance index: contract events -> SQL tables -> lineage, claims, EPCIS, passports.

Modules: abi (fast log decoding), rpc (raw JSON-RPC), schema (tables), store (events -> rows),
follower (the resumable event follower), queries (provenance by token, participant, certificate),
claims (ISO 22095 claim wording), epcis (EPCIS 2.0 export), passport (DPP-style JSON),
service (settings -> running index for the node's lifespan).
"""
