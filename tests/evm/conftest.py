"""A real anvil per test module (``devnet.anvil``), deploying the committed build, and the
test-only contracts (``contracts/``: tokens of every kind, a re-entrant account) compiled
once per test run with the same solc, in the same run as swapnet's own (``builds``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from devnet.anvil import deploy as deploy_contract
from devnet.anvil import running
from node.evm.contracts import compile_with_ours, contract

TEST_CONTRACTS = Path(__file__).parent / "contracts"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web3]:
    with running(tmp_path_factory.mktemp("anvil") / "anvil.log") as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert w3.is_connected()
        yield w3


def deploy(w3: Web3, name: str, *args: Any) -> Any:
    """``name`` from the committed build, deployed by anvil's first account."""
    return deploy_contract(w3, contract(name), *args)


@pytest.fixture(scope="session")
def builds() -> tuple[dict[str, Any], dict[str, Any]]:
    """One run of solc (half a minute): swapnet's build and the test contracts'."""
    return compile_with_ours(TEST_CONTRACTS, ("TestTokens.sol",))


@pytest.fixture(scope="session")
def built_tests(builds: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return builds[1]["contracts"]


def deploy_built(w3: Web3, built: dict[str, Any], *args: Any) -> Any:
    """A test-only contract from ``built_tests``."""
    return deploy_contract(w3, built, *args)
