"""The examples in the public functions' docstrings run and show what they say, as pyspark's own do."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.support.submit import CHECKED_IN


def run_examples(module: str, **names: object) -> None:
    found = doctest.testmod(importlib.import_module(module), extraglobs=names, optionflags=doctest.ELLIPSIS,
                            report=True)
    assert found.attempted > 0, f"{module} has no examples"
    assert found.failed == 0, f"{found.failed} of {found.attempted} examples of {module} failed (see the output)"


@pytest.mark.parametrize("module", ["jobs.collect", "jobs.parsing", "jobs.streaming", "kosproto.functions"])
def test_examples_run(spark, module, tmp_path):
    from kosproto.tests.test_conformance import descriptor_set

    simple_message = descriptor_set(tmp_path / "suite.desc", "conformance/suite.proto").read_bytes()
    run_examples(module, spark=spark, descriptor_set=CHECKED_IN.read_bytes(), simple_message=simple_message)
