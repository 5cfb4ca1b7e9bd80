"""The committed build (``node/evm/contracts.json``) is what the pinned solc makes of the
sources today: a contract edited without rebuilding fails here."""

from __future__ import annotations

from typing import Any

import pytest

from node.evm.contracts import EVM_VERSION, load_build

pytestmark = pytest.mark.xdist_group("solc")  # beside test_group_wallet: one run of solc


def test_the_committed_build_is_the_sources_compiled_again(
    builds: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    fresh = builds[0]  # compiled in the test contracts' run (the bytes do not depend on it)
    committed = load_build()
    assert fresh["compiler"].startswith("0.8.30+")
    assert fresh["settings"]["evmVersion"] == EVM_VERSION
    assert fresh == committed, "contracts changed: run `python -m node.evm.contracts`"
