"""The protobuf functions' own tests: a local SparkSession without Maven packages (KOS's jar comes from the
project's Spark configuration), and the test protos (kosproto/tests/proto) as descriptor sets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROTOS = Path(__file__).resolve().parent / "proto"


def descriptor_set(out: Path, *files: str, include_imports: bool = True) -> Path:
    """``files`` of kosproto/tests/proto as a descriptor set, built as `make proto` builds KOS's."""
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", f"--descriptor_set_out={out}",
                    *(["--include_imports"] if include_imports else []), *files], check=True)
    return out


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("kosproto-tests").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2").config("spark.sql.session.timeZone", "UTC").getOrCreate())
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def suite(tmp_path_factory) -> str:
    """The conformance messages (proto/conformance/suite.proto)."""
    return str(descriptor_set(tmp_path_factory.mktemp("conf") / "suite.desc", "conformance/suite.proto"))


@pytest.fixture(scope="session")
def test_set(tmp_path_factory) -> Path:
    """Every kind of field the functions map (proto/kostest)."""
    return descriptor_set(tmp_path_factory.mktemp("desc") / "test.desc", "kostest/types.proto", "kostest/legacy.proto")


@pytest.fixture(autouse=True)
def kos_functions(spark):
    """These tests are about KOS's functions; the connector's test is where it is on the class path."""
    spark.conf.set("spark.kos.protobuf.implementation", "kos")
    yield
    spark.conf.unset("spark.kos.protobuf.implementation")
