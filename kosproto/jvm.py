"""The Java side of the protobuf functions (``kos.protobuf.ProtobufFunctions`` in kosproto/java), reached from
Python through the session's JVM; its refusals raised here as ``ProtobufError``.

The classes come from KOS's jar (``make setup`` builds ``build/kos-spark.jar``) and protobuf-java, which the
project's Spark configuration puts on every Spark process's class path (conf/spark/spark-env.sh) and the jobs
ship with ``spark-submit --jars`` (``JARS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kosproto.errors import ProtobufError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["BUILD", "JARS", "call", "jvm"]

# What `make jar` builds: KOS's JVM side, and the protobuf runtime it needs (no Spark jar carries one).
BUILD = Path(__file__).resolve().parent.parent / "build"
# com.google.protobuf:protobuf-java, the official Java runtime (the Makefile reads the version from here).
PROTOBUF_JAVA_VERSION = "4.36.2"
PROTOBUF_JAVA = f"protobuf-java-{PROTOBUF_JAVA_VERSION}.jar"
JARS = (BUILD / "kos-spark.jar", BUILD / "lib" / PROTOBUF_JAVA)
FUNCTIONS = "kos.protobuf.ProtobufFunctions"
REFUSAL = "kos.protobuf.ProtobufException"


def jvm(spark: SparkSession | None = None) -> Any:
    """The JVM of the active (or given) classic session; ProtobufError when there is none."""
    from pyspark.sql import SparkSession

    spark = spark or SparkSession.getActiveSession()
    context = getattr(spark, "sparkContext", None) if spark is not None else None
    if context is None or getattr(context, "_jvm", None) is None:
        raise ProtobufError("KOS's protobuf functions run in the session's JVM: start a SparkSession first "
                            "(Spark Connect has no JVM to run them in)")
    return context._jvm


def call(method: str, *args: Any, spark: SparkSession | None = None) -> Any:
    """``ProtobufFunctions.<method>(*args)``; a refusal of the Java side as ProtobufError with its message."""
    from py4j.protocol import Py4JJavaError

    functions = getattr(jvm(spark), FUNCTIONS)
    try:
        return getattr(functions, method)(*args)
    except TypeError as exc:
        if "JavaPackage" in str(exc):
            raise ProtobufError(f"{FUNCTIONS} is not on Spark's class path: build {JARS[0]} (make setup) and give "
                                f"Spark it and {PROTOBUF_JAVA} (spark-submit --jars, or the project's "
                                "conf/spark)") from None
        raise
    except Py4JJavaError as exc:
        error = exc.java_exception
        if error.getClass().getName() == REFUSAL:
            raise ProtobufError(str(error.getMessage())) from None
        raise


def java_map(options: Mapping[str, str] | None) -> dict[str, str]:
    """Options as py4j hands a ``java.util.Map`` over: keys and values as text."""
    return {str(k): str(v) for k, v in (options or {}).items()}
