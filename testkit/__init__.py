"""Development kit: the sandbox consortium and the demo scenario for tests, the demo and benchmarks.

Not part of the product: the ``node_api`` and ``auditor`` packages never import it, and it is not in
their wheel. It is importable from a checkout (pytest puts the repository root on ``sys.path``;
``make run DEMO=1`` runs from the root).
"""
