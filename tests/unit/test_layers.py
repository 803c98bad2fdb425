"""The layering of README's "Layout", as a test: each rule names the layer, what it must not reach, and why.

Imports are read from the source (ast), relative ones resolved, and followed through `gql_api` itself, so a
layer also breaks its rule through anything of ours it imports. What counts is what runs when a module is
imported: its module-level imports, not those under `if TYPE_CHECKING:` or inside functions (the lazy
`gql_api/__init__.py` and the CLI's sub-commands load on use).
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("strawberry", "aiohttp", "graphql", "resolvers")
DRIVERS = ("bson", "pymongo", "motor", "mongomock_motor")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for package in ("gql_api", "resolvers") for path in (ROOT / package).rglob("*.py")}


@functools.cache
def direct_imports(module: str) -> frozenset[str]:
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _module_level(ast.parse(path.read_text(), str(path)).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules())
    return frozenset(found)


def _module_level(statements: list[ast.stmt]) -> list[ast.stmt]:
    """Statements that run at import time, through if/try blocks but not into functions or classes'
    methods, and not under `if TYPE_CHECKING:`."""
    found: list[ast.stmt] = []
    for statement in statements:
        if isinstance(statement, ast.If):
            if not (isinstance(statement.test, ast.Name) and statement.test.id == "TYPE_CHECKING"):
                found += _module_level(statement.body)
            found += _module_level(statement.orelse)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, *(h.body for h in statement.handlers), statement.orelse, statement.finalbody):
                found += _module_level(block)
        elif not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append(statement)
    return found


def reached(start: str) -> dict[str, str]:
    """Every module `start` imports, directly or through our own modules: {imported: first importer}."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for imported in direct_imports(current):
            if imported in seen:
                continue
            seen[imported] = current
            if imported in modules():
                todo.append(imported)
            parent = imported.rpartition(".")[0]  # importing a.b runs a/__init__ too
            while parent and parent in modules() and parent not in seen:
                seen[parent] = current
                todo.append(parent)
                parent = parent.rpartition(".")[0]
    return seen


def violations(layer: str, forbidden: tuple[str, ...], *, allowed_inside: tuple[str, ...] = ()) -> list[str]:
    found = []
    for module in sorted(m for m in modules() if m == layer or m.startswith(layer + ".")):
        for imported, importer in reached(module).items():
            if imported == "gql_api":
                continue  # the package's face, which loads nothing (test_the_package_face_loads_nothing)
            top = imported.split(".")[0]
            hits = top in forbidden or any(imported == f or imported.startswith(f + ".") for f in forbidden)
            if hits and not any(imported == a or imported.startswith(a + ".") for a in allowed_inside):
                found.append(f"{module} reaches {imported} (imported by {importer})")
    return sorted(set(found))


@pytest.mark.parametrize("layer", ["gql_api.domain", "gql_api.services", "gql_api.store", "gql_api.cronofy"])
def test_the_inner_layers_know_no_web_or_graphql_framework(layer):
    assert violations(layer, FRAMEWORKS) == []


@pytest.mark.parametrize("layer", ["gql_api.domain", "gql_api.services"])
def test_the_domain_and_the_services_know_no_database_driver(layer):
    assert violations(layer, DRIVERS) == []


def test_the_domain_does_no_io_and_needs_nothing_else_of_ours():
    others = ("gql_api", "httpx", "tenacity", "cryptography", "jwt", "prometheus_client")
    assert violations("gql_api.domain", others, allowed_inside=("gql_api.domain",)) == []


def test_only_the_schema_module_imports_the_resolvers():
    importers = sorted(
        m
        for m in modules()
        if not m.startswith("resolvers")
        and any(i == "resolvers" or i.startswith("resolvers.") for i in direct_imports(m))
    )
    assert importers == ["gql_api.graphql.schema"]


def test_the_sandbox_stands_alone():
    assert violations("gql_api.sandbox", ("gql_api",), allowed_inside=("gql_api.sandbox",)) == []


def test_importing_the_services_loads_no_framework():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, gql_api.services; print(' '.join(sorted(sys.modules)))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [name for name in loaded if name.split(".")[0] in (*FRAMEWORKS, *DRIVERS)] == []


def test_the_package_face_loads_nothing():
    assert direct_imports("gql_api") <= {"__future__", "typing"}


def test_the_rules_see_a_violation():
    """The checks above would catch a breach: the GraphQL layer does reach Strawberry."""
    assert violations("gql_api.graphql", ("strawberry",)) != []
    assert violations("gql_api.store", DRIVERS) != []
