"""What every test folder shares: the project's configuration. Unit tests (tests/unit, kosproto/tests) and
integration tests (tests/integration) run in separate pytest processes (`make test` runs both): each folder's
SparkSession is its process's only one, with the packages that folder needs (tests/*/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kos import config as kos_config

# Every Spark JVM the tests start (the session's own, each spark-submit, the jobs `kos run` and Airflow start: they
# inherit this environment) lives seconds to minutes over a few thousand rows, so most of its CPU goes to compiling
# code it will not run long. C1 alone compiles what it runs, and the serial collector does for such heaps; a start-up
# then costs far less CPU, which is what the suite is short of on 2 cores. The jobs KOS ships keep the JVM's
# defaults. A SPARK_SUBMIT_OPTS set beforehand wins.
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")


@pytest.fixture(scope="session")
def cfg() -> kos_config.Config:
    return kos_config.load()


@pytest.fixture
def airflow_env(cfg: kos_config.Config, tmp_path: Path) -> dict[str, str]:
    """The environment `make airflow` gives Airflow, with its home and the reports in a fresh folder."""
    from kosctl.airflow import environment

    env = environment(cfg)
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), KOS_AIRFLOW_REPORTS_DIR=str(tmp_path / "reports"))
    return env
