"""Unit tests: no broker, no database; pure functions and transforms on a local SparkSession without Maven
packages."""

from __future__ import annotations

import pytest

from tests.support.spark import local_session


@pytest.fixture(scope="session")
def spark():
    yield from local_session("kos-unit-tests")
