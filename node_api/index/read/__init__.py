"""The index's read side: provenance answers from the tables the follower writes.

Layers, bottom to top. A module imports only from layers below its own, from the modules the write
side shares (``node_api.index.schema``, ``ancestry``, ``lineage_fragments``, ``spelling``) and from
``node_api.domain``; never from the write side itself (tests/index/test_layers.py checks it):

0. ``common``        how numbers, quantities and facts are shown; the recursive lineage SQL
1. ``reference``     reference data (participants with their sites and wallets, materials,
                     characteristics, schemes, processes), cached per database and reloaded only
                     when the writer stamps a new reference version
2. ``holdings``, ``certifications``, ``custody``, ``credits``, ``transactions``   one kind of record each
3. ``batches``, ``certificates`` (book & claim), ``lineage``   records that use layer-2 records
4. ``participants``, ``claims``, ``epcis``, ``passport``   answers composed of records
5. ``provenance``    the whole answer about a token, and its passport
"""
