"""The layer rules of DESIGN.md, checked on the source: proto/ is sans-IO, only storage/
touches plyvel, only node/ and devnet/ use trio and libp2p."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The stdlib modules proto/ may not use: clock, randomness, IO, concurrency, processes.
FORBIDDEN_IN_PROTO = {
    "time",
    "datetime",
    "random",
    "secrets",
    "uuid",
    "os",
    "io",
    "socket",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "threading",
    "multiprocessing",
    "concurrent",
    "subprocess",
    "signal",
    "pathlib",
    "shutil",
    "tempfile",
    "glob",
    "sqlite3",
    "logging",
    "urllib",
    "http",
    "ftplib",
    "smtplib",
    "pickle",
    "shelve",
    "mmap",
}
# secp256k1; keccak and calldata (EVM)
THIRD_PARTY_IN_PROTO = {"nacl", "msgpack", "coincurve", "Crypto", "eth_abi"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            roots.add("<dynamic __import__>")
    return roots


def sources(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no sources found in {package}/"
    return files


def test_proto_imports_only_stdlib_nacl_msgpack_coincurve_and_no_clock_or_randomness() -> None:
    bad = []
    for path in sources("proto"):
        for root in imported_roots(path):
            allowed = (
                root in {"proto", "__future__"}
                or root in THIRD_PARTY_IN_PROTO
                or (root in sys.stdlib_module_names and root not in FORBIDDEN_IN_PROTO)
            )
            if not allowed:
                bad.append(f"{path.relative_to(ROOT)} imports {root}")
    assert not bad, "\n".join(bad)


def test_only_storage_imports_plyvel() -> None:
    bad = [
        f"{path.relative_to(ROOT)}"
        for package in ("proto", "node", "devnet")
        for path in sources(package)
        if "plyvel" in imported_roots(path)
    ]
    assert not bad, bad


def test_proto_and_storage_use_neither_trio_nor_libp2p_nor_node() -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {root}"
        for package in ("proto", "storage")
        for path in sources(package)
        for root in imported_roots(path) & {"trio", "libp2p", "node", "devnet", "asyncio"}
    ]
    assert not bad, bad


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import time\nfrom random import choice\nimport nacl.signing\n")
    assert imported_roots(sample) == {"time", "random", "nacl"}


def test_every_module_opens_with_a_docstring() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for package in ("proto", "storage", "node", "devnet")
        for path in sources(package)
        if path.read_text().strip() and ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert not missing, missing


def node_imports(path: Path) -> set[str]:
    """The ``node.*`` modules ``path`` imports, at any depth of its code (those under
    ``if TYPE_CHECKING:`` and inside functions included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module:
            if n.module == "node":
                out.update(f"node.{a.name}" for a in n.names)
            elif n.module.startswith("node."):
                out.add(n.module)
        elif isinstance(n, ast.Import):
            out.update(a.name for a in n.names if a.name.startswith("node."))
    return out


def reachable(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_control_api_sees_the_node_only_through_its_facade() -> None:
    """``node.api.control`` is given a ``NodeFacade``: nothing any module of ``node/api/``
    imports, however deep (type checking imports included), leads to the runtime or the
    group's services, and so the runtime and the API do not import each other."""
    graph = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): (
            node_imports(path)
        )
        for path in sources("node")
    }
    api = [m for m in graph if m.startswith("node.api.")]
    assert "node.api.control" in api and "node.api.facade" in api
    for module in api:
        seen = reachable(module, graph)
        assert module not in seen, f"an import loop through {module}"
        assert not seen & {"node.runtime", "node.group"}, (module, sorted(seen))
    assert "node.api.facade" in reachable("node.api.control", graph)
    assert "node.api.control" in graph["node.runtime"]  # the runtime builds the app


def test_the_import_graph_checker_sees_type_checking_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from node.runtime import X\n"
        "def f():\n    import node.group\n"
    )
    assert node_imports(sample) == {"node.runtime", "node.group"}
