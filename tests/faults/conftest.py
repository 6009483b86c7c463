"""The fault suite: real Anvil and node processes, real signals (see faulthelp.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faulthelp import SEED, Chain, Keys


def pytest_report_header(config: pytest.Config) -> str:  # noqa: ARG001
    return f"fault suite seed: COC_FAULT_SEED={SEED}"


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    c = Chain(tmp_path / "chain", state_interval=1).start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def keys(chain: Chain) -> Keys:
    k = Keys()
    chain.fund(k.deployer.address, k.relayer.address)
    return k
