"""The README and docs/ name only what exists: every setting (``[section] key``), `kos` subcommand, file or folder
of the tree, `make` target, topic and backticked name they mention is in the code. A doc that names something
removed or renamed fails here (the README's demo block is held to a real run by tests/integration/test_pipeline.py).
"""

from __future__ import annotations

import argparse
import re
import subprocess
from functools import cache

import pytest
from pydantic import BaseModel

from kos.config import Config
from kosctl.cli import parser
from tests.support.submit import PROJECT

DOCS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
FOLDERS = ("bench", "conf", "dags", "descriptors", "docs", "jobs", "kos", "kosctl", "kosproto", "proto", "report",
           "shipper", "storage", "tests")


@cache
def tracked() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=PROJECT, capture_output=True, text=True,
                          check=True).stdout.splitlines()


@cache
def code() -> str:
    """The text of every tracked file but the docs themselves."""
    texts = []
    for name in tracked():
        path = PROJECT / name
        if name.endswith(".md") or not path.is_file() or path.suffix in (".desc", ".png", ".jar", ".log"):
            continue
        try:
            texts.append(path.read_text())
        except UnicodeDecodeError:
            continue
    return "\n".join(texts)


def mentions(pattern: str) -> list[tuple[str, str]]:
    """(doc, match) for each match of ``pattern`` in the docs, outside the README's demo block."""
    found = []
    for doc in DOCS:
        text = re.sub(r"<!-- demo -->.*?<!-- /demo -->", "", doc.read_text(), flags=re.S)
        found += [(doc.name, m.group(1)) for m in re.finditer(pattern, text)]
    return found


def test_the_docs_are_checked():
    assert len(DOCS) >= 8 and all(doc.exists() for doc in DOCS)


def test_every_setting_named_is_in_the_config_schema():
    named = mentions(r"\[((?:kafka|stack|mysql|shipper|spark|run|live|alerts|airflow)(?:\.\w+)?\] \w+)")
    assert len(named) > 20
    missing = []
    for doc, setting in named:
        table, key = setting.split("] ")
        model: type[BaseModel] = Config
        for part in table.strip("[").split("."):
            field = model.model_fields.get(part)
            model = field.annotation if field is not None else BaseModel  # type: ignore[assignment]
        if key not in model.model_fields:
            missing.append((doc, setting))
    assert missing == []


def test_every_kos_subcommand_named_exists():
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    named = mentions(r"`kos ([a-z]+)")
    assert len(named) > 10
    assert [(doc, c) for doc, c in named if c not in sub.choices] == []


def test_every_path_named_exists():
    named = mentions(rf"(?<![\w/.~-])((?:{'|'.join(FOLDERS)})/[\w./*<>-]*)")
    assert len(named) > 40
    files = set(tracked())
    missing = []
    for doc, path in named:
        path = path.rstrip(".,:;)")
        if "*" in path or "<" in path:
            continue
        if not ((PROJECT / path).exists() and (path.rstrip("/") in files
                                                or any(f.startswith(path.rstrip("/") + "/") for f in files))):
            missing.append((doc, path))
    assert missing == []


def test_every_make_target_named_exists():
    targets = set(re.findall(r"^([\w-]+):", (PROJECT / "Makefile").read_text(), re.M))
    named = mentions(r"`make ([\w-]+)")
    assert named
    assert [(doc, t) for doc, t in named if t not in targets] == []


@pytest.mark.parametrize("pattern", [
    r"\b(kos-[a-z][\w-]*[a-z])\b",  # topics, programs, applications, units
    r"`([a-z]+_[a-z_]+)`",  # tables, columns, keys, functions
    r"`(KOS_[A-Z_]+)`",  # environment variables
])
def test_every_name_named_is_in_the_code(pattern):
    named = mentions(pattern)
    assert named
    text = code()
    missing = sorted({(doc, name) for doc, name in named
                      if name not in text and not (name.startswith("KOS_") and _is_setting_variable(name))})
    assert missing == []


def _is_setting_variable(name: str) -> bool:
    """``KOS_<SECTION>_<KEY>`` of a setting of the schema."""
    from kos.schema import _keys

    return name in {"_".join(("KOS", *keys)).upper() for keys, _ in _keys(Config)}
