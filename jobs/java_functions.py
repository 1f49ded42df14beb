"""The jobs' own functions that run in the JVM (jobs/java, built into build/kos-spark.jar by ``make setup``), as
Columns: the hot path of the transform starts no Python worker.
"""

from __future__ import annotations

from pyspark.sql import Column

from kosproto.jvm import jvm

__all__ = ["candidate_lines"]


def candidate_lines(value: Column) -> Column:
    """``kos.parsing.CandidateLines`` of a binary column: ``array<struct<at: bigint, line: binary>>``, each line
    (newline excluded) holding ``Started `` or ``Successfully activated`` with its byte position in the value."""
    from pyspark.sql.classic.column import Column as ClassicColumn
    from pyspark.sql.classic.column import _to_java_column

    return ClassicColumn(jvm().kos.parsing.CandidateLines.of(_to_java_column(value)))
