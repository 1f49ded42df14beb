"""The packages are floors: kos/ (the ground) and kosproto/ (a library of its own) import none of the others;
shipper/ and storage/ stand on kos/; report/ on storage/; jobs/ on those (never on the shipper, nor the shipper on
the jobs); kosctl/ (the tools) and dags/ stand on top. Every import counts, at module level or inside a function,
so that the tree's picture and the import graph agree, and the executors, which get ``jobs``, ``kos``,
``kosproto``, ``storage`` and ``report``, have all they import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.submit import PROJECT

# What each package may import of the project's own packages.
ALLOWED = {
    "kos": set(),
    "kosproto": set(),
    "shipper": {"kos"},
    "storage": {"kos"},
    "report": {"kos", "storage"},
    "jobs": {"kos", "kosproto", "storage", "report"},
    "kosctl": {"kos", "kosproto", "shipper", "storage", "report", "jobs"},
    "dags": {"kos", "kosctl"},
}


def own_imports(path: Path) -> set[str]:
    """The project packages ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


def arrows(package: str) -> list[str]:
    wrong = []
    for path in sorted((PROJECT / package).rglob("*.py")):
        for target in sorted(own_imports(path) - ALLOWED[package] - {package}):
            wrong.append(f"{path.relative_to(PROJECT)} imports {target}")
    return wrong


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_arrow_runs_back_up(package):
    assert arrows(package) == []


def test_every_package_of_the_tree_is_a_floor():
    folders = {p.parent.name for p in PROJECT.glob("*/*.py")} - {"tests", "bench", "docs"}
    assert folders == set(ALLOWED)


def test_the_check_sees_an_arrow_back_up(tmp_path, monkeypatch):
    """The same check on a ground module that imports the tools: it must complain."""
    ground = tmp_path / "kos"
    ground.mkdir()
    (ground / "bad.py").write_text("def f():\n    from kosctl.stack import kafka\n    return kafka\n")
    monkeypatch.setattr(f"{__name__}.PROJECT", tmp_path)
    assert arrows("kos") == ["kos/bad.py imports kosctl"]
