"""The committed build (``node/evm/contracts.json``) is what the pinned solc makes of the
sources today: a contract edited without rebuilding fails here."""

from __future__ import annotations

from node.evm.contracts import EVM_VERSION, compile_sources, load_build


def test_the_committed_build_is_the_sources_compiled_again() -> None:
    fresh = compile_sources()
    committed = load_build()
    assert fresh["compiler"].startswith("0.8.30+")
    assert fresh["settings"]["evmVersion"] == EVM_VERSION
    assert fresh == committed, "contracts changed: run `python -m node.evm.contracts`"
