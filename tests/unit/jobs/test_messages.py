"""The records between the stages: KOS's messages (proto/, descriptors/) as the jobs build and read them."""

from __future__ import annotations

import subprocess
import sys

from pyspark.testing import assertSchemaEqual

from jobs import messages
from kosproto import spark_type
from tests.support.submit import CHECKED_IN, PROJECT


def test_kos_messages_have_the_schema_the_jobs_build(spark):
    kos = CHECKED_IN.read_bytes()
    assertSchemaEqual(spark_type(messages.PROCESS_EVENT, binaryDescriptorSet=kos), messages.PROCESS_EVENT_SCHEMA)
    assertSchemaEqual(spark_type(messages.DEAD_LETTER, binaryDescriptorSet=kos), messages.DEAD_LETTER_SCHEMA)
    assertSchemaEqual(spark_type(messages.RESTART_STORM, binaryDescriptorSet=kos), messages.RESTART_STORM_SCHEMA)


def test_the_checked_in_descriptor_set_is_built_from_proto(tmp_path):
    fresh = tmp_path / "kos.desc"
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROJECT / 'proto'}", "--include_imports",
                    f"--descriptor_set_out={fresh}",
                    *sorted(str(p.relative_to(PROJECT / "proto")) for p in (PROJECT / "proto").rglob("*.proto"))],
                   check=True)
    assert fresh.read_bytes() == CHECKED_IN.read_bytes(), "descriptors/kos.desc is stale: run `make proto`"
