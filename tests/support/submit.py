"""Run a KOS job the way users do: spark-submit with the connector packages, from the project folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The checked-in descriptor set ([kafka] descriptor_set by default).
CHECKED_IN = PROJECT / "descriptors" / "kos.desc"


def spark_submit(*args: str, master: str = "local[2]", env: dict[str, str] | None = None,
                 timeout: float = 600) -> subprocess.CompletedProcess:
    """spark-submit with KOS's jars (as `kos job` gives them) and ``args`` (``--packages``, the application...)."""
    from jobs.recipes import jars

    environ = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, **(env or {}))
    return subprocess.run([str(BIN / "spark-submit"), "--master", master, "--jars", ",".join(map(str, jars())),
                           *args], cwd=PROJECT, env=environ, capture_output=True, text=True, timeout=timeout)


def kos(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "kos"), *args], cwd=PROJECT, capture_output=True, text=True, timeout=timeout)
