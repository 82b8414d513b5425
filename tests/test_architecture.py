"""The dependency rules of DESIGN.md, checked over the import graph of the source tree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "protocols", "connectors", "fixtures")
ASSEMBLY = {"hub.app", "hub.cli"}
IO_MODULES = {"httpx", "sqlalchemy", "asyncpg", "aiosqlite", "litestar", "websockets", "socket", "asyncio", "uvicorn"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = _module_name(path)
            found: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    found.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.update(f"{node.module}.{a.name}" for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level:
                    raise AssertionError(f"{name}: use absolute imports")
            graph[name] = found
    return graph


GRAPH = _imports()


def _project(imported: set[str]) -> set[str]:
    return {i for i in imported if i.split(".")[0] in PACKAGES}


def _protocol(name: str) -> str | None:
    """A protocol package (protocols.ocpp), or a version of one (protocols.ocpi.v211): versions are siblings that
    share only their protocol's common modules (protocols.ocpi.transport), never each other."""
    parts = name.split(".")
    if parts[0] != "protocols" or len(parts) < 2:
        return None
    return ".".join(parts[:3]) if len(parts) > 2 and re.fullmatch(r"v\d+", parts[2]) else ".".join(parts[:2])


def _family(name: str) -> str:
    return ".".join(name.split(".")[:2])


def _sibling_versions(a: str | None, b: str | None) -> bool:
    """Two versions of one protocol (the common modules of a protocol may use its versions, not one version another)."""
    return a is not None and b is not None and a != b and _family(a) == _family(b) and a.count(".") == b.count(".") == 2


def test_the_graph_is_not_empty() -> None:
    assert "hub.model" in GRAPH and "hub.core" in GRAPH and "protocols.ocpi.v221.server" in GRAPH


def test_model_imports_nothing_of_the_project() -> None:
    assert _project(GRAPH["hub.model"]) == set()


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("hub") and m not in ASSEMBLY))
def test_core_never_imports_protocols_or_connectors(module: str) -> None:
    bad = {i for i in GRAPH[module] if i.split(".")[0] in ("protocols", "connectors", "fixtures")}
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("protocols.") and _protocol(m)))
def test_a_protocol_imports_no_other_protocol_and_no_connector(module: str) -> None:
    own = _protocol(module)
    bad = {
        i for i in GRAPH[module]
        if i.startswith("connectors") or (i.startswith("protocols.") and _protocol(i) not in (own, None)
                                          and _family(i) != _family(module) or _sibling_versions(own, _protocol(i)))
    }
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_only_the_assembly_imports_connectors(module: str) -> None:
    if module in ASSEMBLY or module.startswith("connectors"):
        return
    bad = {i for i in GRAPH[module] if i.startswith("connectors")}
    assert not bad, f"{module} imports {bad}"


PURE = [m for m in GRAPH if m.startswith("protocols.") and m.rsplit(".", 1)[-1] in ("wire", "mapping", "rules", "codec")]


@pytest.mark.parametrize("module", sorted(PURE))
def test_wire_types_and_mappings_do_no_io(module: str) -> None:
    bad = {i for i in GRAPH[module] if i.split(".")[0] in IO_MODULES}
    assert not bad, f"{module} imports {bad}"
    assert _project(GRAPH[module]) <= {i for i in GRAPH[module] if i.startswith(("hub.model", "protocols."))}
