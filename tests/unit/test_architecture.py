"""The house rules of the code base, read from the source: who may import whom.

Every ``import`` of every module of `legajo`, `ui`, `indexer` and `htr` is parsed, those
inside functions and ``TYPE_CHECKING`` blocks included, and checked against the rules:

- dependencies flow ``legajo -> ui -> indexer -> htr`` and never back; nothing imports
  `legajo`, the front door;
- SQLAlchemy and Alembic only in `indexer.store`; faiss and sentence-transformers only in
  `indexer.search`; Streamlit only in `ui`;
- no import circle between our modules, lazy imports included.
"""

from __future__ import annotations

import ast
import graphlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("legajo", "ui", "indexer", "htr")
ALLOWED: dict[str, frozenset[str]] = {
    "htr": frozenset({"htr"}),
    "indexer": frozenset({"indexer", "htr"}),
    "ui": frozenset({"ui", "indexer", "htr"}),
    "legajo": frozenset({"legajo", "ui", "indexer", "htr"}),
}
"""The packages of ours each package may import."""
CONFINED: dict[str, str] = {
    "sqlalchemy": "indexer.store",
    "alembic": "indexer.store",
    "faiss": "indexer.search",
    "sentence_transformers": "indexer.search",
    "streamlit": "ui",
}
"""Third-party packages that only one room of ours may import."""


@dataclass(frozen=True, slots=True)
class Import:
    """One imported module name, where it is imported."""

    importer: str
    imported: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    """Our Python files: not what npm installs beside the bundled viewers (node_modules)."""
    found = []
    for package in PACKAGES:
        for folder, folders, files in os.walk(REPO / package):
            folders[:] = [f for f in folders if f not in ("node_modules", "__pycache__")]
            found += [Path(folder, name) for name in files if name.endswith(".py")]
    return sorted(found)


def known_modules() -> set[str]:
    return {module_name(path) for path in source_files()}


def imports_of(path: Path) -> Iterator[Import]:
    source = path.read_text(encoding="utf-8")
    yield from imports_in(source, module_name(path), is_package=path.name == "__init__.py")


def imports_in(source: str, importer: str, *, is_package: bool = False) -> Iterator[Import]:
    package = importer if is_package else importer.rpartition(".")[0]
    modules = known_modules()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(importer, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield Import(importer, submodule if submodule in modules else target, node.lineno)


def all_imports() -> list[Import]:
    return [found for path in source_files() for found in imports_of(path)]


def top(name: str) -> str:
    return name.split(".")[0]


def test_the_rules_see_every_package() -> None:
    found = {top(module_name(path)) for path in source_files()}
    assert found == set(PACKAGES)
    assert len(all_imports()) > 500


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_flow_one_way(package: str) -> None:
    wrong = [
        f"{found.importer}:{found.line} imports {found.imported}"
        for found in all_imports()
        if top(found.importer) == package
        and top(found.imported) in PACKAGES
        and top(found.imported) not in ALLOWED[package]
    ]
    assert not wrong, "back-edges:\n" + "\n".join(wrong)


@pytest.mark.parametrize("library", sorted(CONFINED))
def test_libraries_stay_in_their_room(library: str) -> None:
    room = CONFINED[library]
    wrong = [
        f"{found.importer}:{found.line} imports {found.imported}"
        for found in all_imports()
        if top(found.imported) == library
        and not (found.importer == room or found.importer.startswith(room + "."))
    ]
    assert not wrong, f"{library} outside {room}:\n" + "\n".join(wrong)


def test_no_import_circle() -> None:
    modules = known_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for found in all_imports():
        if found.imported in modules and found.imported != found.importer:
            graph[found.importer].add(found.imported)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import circle: {' -> '.join(error.args[1])}")


def test_the_rules_catch_a_back_edge_and_a_circle() -> None:
    """The checks above can fail: a planted back-edge and circle are found."""
    graph = {"htr.a": {"htr.b"}, "htr.b": {"htr.a"}}
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(graph).prepare()
    source = "def f():\n    from indexer.store import db\n    from . import images\n"
    found = list(imports_in(source, "htr.planted"))
    assert found == [
        Import("htr.planted", "indexer.store.db", 2),
        Import("htr.planted", "htr.images", 3),
    ]
    assert top(found[0].imported) not in ALLOWED["htr"]
