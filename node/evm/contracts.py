"""Building swapnet's Solidity contracts with the pinned solc, and the committed build.

``contracts.json`` holds, per contract, its ABI and its creation bytecode, with the compiler
version and settings that made them; it is committed so that a node needs no compiler, and
``tests/evm/test_contracts_build.py`` compiles the sources again and compares. After
editing a ``.sol`` file: ``python -m node.evm.contracts`` (needs ``make evm-tools``).

Invariant: the build is deterministic (no metadata hash, fixed settings), so the same
sources and compiler give the same bytes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCES = ("FrostSecp256k1.sol", "GroupWallet.sol", "DevnetToken.sol")
BUILD = HERE / "contracts.json"
SOLCJS = HERE / "node_modules" / "solc" / "solc.js"
ANVIL = HERE / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
EVM_VERSION = "prague"
"""The hardfork the contracts are built for, and that anvil runs (``--hardfork``)."""
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": EVM_VERSION,
    "metadata": {"bytecodeHash": "none", "appendCBOR": False},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}


class BuildError(Exception):
    pass


def compile_sources(directory: Path = HERE, sources: tuple[str, ...] = SOURCES) -> dict[str, Any]:
    """Compile ``sources`` (files of ``directory``; by default swapnet's contracts) with the
    pinned solc-js; the build as ``contracts.json`` holds it. Imports resolve in
    ``directory`` first, then in the npm packages (OpenZeppelin)."""
    return compile_with_ours(directory, sources)[1]


def compile_with_ours(
    directory: Path, sources: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the build of swapnet's contracts, the build of ``sources``), from one run of solc:
    test contracts may import ours, so ours are compiled with them anyway (the build has no
    metadata hash, so a contract's bytes do not depend on what else was compiled)."""
    node = shutil.which("node")
    if node is None or not SOLCJS.exists():
        raise BuildError("solc is not installed: run `make evm-tools` (node and npm needed)")
    files = {name: (HERE / name).read_text() for name in SOURCES}
    files.update({name: (directory / name).read_text() for name in sources})
    request = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in files.items()},
        "settings": SETTINGS,
    }
    modules = json.dumps(str(HERE / "node_modules"))
    script = (  # solc-js's own API: standard JSON in, standard JSON out; imports from npm
        f"const solc = require({json.dumps(str(SOLCJS.parent))});"
        "const fs = require('fs'), path = require('path');"
        "const find = p => { try { return {contents: fs.readFileSync("
        f"path.join({modules}, p), 'utf8')}}; }} catch (e) {{ return {{error: String(e)}}; }} }};"
        "let input = ''; process.stdin.on('data', d => input += d);"
        "process.stdin.on('end', () => process.stdout.write(solc.compile(input, {import: find})));"
    )
    done = subprocess.run(
        [node, "-e", script],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise BuildError(f"solc failed: {done.stderr.strip()}")
    output = json.loads(done.stdout)
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise BuildError("\n".join(e["formattedMessage"] for e in errors))
    version = subprocess.run(
        [node, "-e", f"console.log(require({json.dumps(str(SOLCJS.parent))}).version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    def build(names: tuple[str, ...]) -> dict[str, Any]:
        contracts = {
            name: {"abi": item["abi"], "bytecode": "0x" + item["evm"]["bytecode"]["object"]}
            for source in names
            for name, item in sorted(output["contracts"][source].items())
            if item["abi"]  # a library of internal functions only is part of its users
        }
        return {"compiler": version, "settings": SETTINGS, "contracts": contracts}

    return build(SOURCES), build(sources)


def load_build() -> dict[str, Any]:
    """The committed build."""
    build: dict[str, Any] = json.loads(BUILD.read_text())
    return build


def contract(name: str) -> dict[str, Any]:
    """One contract's ``abi`` and ``bytecode`` from the committed build."""
    found: dict[str, Any] = load_build()["contracts"][name]
    return found


def main() -> int:
    try:
        build = compile_sources()
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    BUILD.write_text(json.dumps(build, indent=1, sort_keys=True) + "\n")
    print(f"wrote {BUILD} ({', '.join(build['contracts'])}; solc {build['compiler']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
