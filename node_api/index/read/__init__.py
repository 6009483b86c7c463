"""The index's read side: provenance answers from the tables the follower writes.

Layers (a module imports only from layers below it, and from ``node_api.index.schema``,
``ancestry``, ``lineage_fragments`` and ``spelling``, which the write side shares; never from the
write side itself; ``tests/index/test_layers.py`` checks it):

0. ``common``        formatting helpers and the recursive ancestry/descendant SQL
1. ``reference``     reference data (participants and their sites and wallets, materials,
                     characteristics, schemes, processes), cached per database and reloaded only
                     when the follower stamps a new reference version
2. ``batches``, ``custody``, ``certifications``, ``certificates``, ``credits``, ``transactions``,
   ``lineage``       one kind of record each
3. ``participants``, ``claims``, ``epcis``, ``passport``   answers composed of layer-2 records
4. ``provenance``    the whole answer about a token (and its passport)
"""
