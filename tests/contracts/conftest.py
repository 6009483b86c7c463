"""Contract tests use the `world`, `world_session` and `sb` fixtures of tests/conftest.py: the textile
consortium of testkit.sandbox on the session's deployment, rolled back after every test."""

RELAYER_INDEX = 19  # an unregistered account: the contracts must never trust the relayer
