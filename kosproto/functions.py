"""``from_protobuf`` and ``to_protobuf`` for PySpark DataFrames, called as ``pyspark.sql.protobuf.functions``'s.

KOS's own run in the JVM (kosproto/java: Spark user-defined functions made with Spark's public Java API): no
Python worker, whole-stage code generation kept, allowed in real-time mode. Spark's own connector
(``org.apache.spark:spark-protobuf_2.13``) is used instead when the JVM can load it; the Spark setting
``spark.kos.protobuf.implementation`` (``auto``, ``spark`` or ``kos``) forces a side.

Messages are found by name in a ``FileDescriptorSet`` (``descFilePath`` or ``binaryDescriptorSet``): the set
travels with the function as bytes and each JVM parses it once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pyspark.sql import Column, SparkSession
from pyspark.sql import types as T

from kosproto import jvm
from kosproto.errors import ProtobufError

__all__ = ["check_encodable", "connector_available", "from_protobuf", "implementation", "read_descriptor_set",
           "spark_type", "to_protobuf"]

IMPLEMENTATION = "spark.kos.protobuf.implementation"
# The connector's expression: org.apache.spark.sql.protobuf.functions itself ships with Spark's SQL API and
# only calls into the connector, so its presence says nothing.
CONNECTOR_CLASS = "org.apache.spark.sql.protobuf.ProtobufDataToCatalyst"


def implementation(spark: SparkSession | None = None) -> str:
    """``spark`` (Spark's connector) or ``kos``, as ``spark.kos.protobuf.implementation`` and the class path say."""
    spark = spark or SparkSession.getActiveSession()
    wanted = spark.conf.get(IMPLEMENTATION, "auto") if spark is not None else "auto"
    if wanted not in ("auto", "spark", "kos"):
        raise ProtobufError(f"{IMPLEMENTATION} must be auto, spark or kos, not {wanted!r}")
    if wanted == "kos":
        return "kos"
    available = spark is not None and connector_available(spark)
    if wanted == "spark" and not available:
        raise ProtobufError(f"{IMPLEMENTATION}=spark, but Spark's protobuf connector is not on the class path: add "
                            "org.apache.spark:spark-protobuf_2.13 to spark-submit --packages")
    return "spark" if available else "kos"


def connector_available(spark: SparkSession) -> bool:
    """Whether this session's JVM can load Spark's protobuf functions (never on Spark Connect)."""
    from py4j.java_gateway import JavaClass

    context = getattr(spark, "sparkContext", None)
    gateway = getattr(context, "_jvm", None) if context is not None else None
    try:
        return gateway is not None and isinstance(getattr(gateway, CONNECTOR_CLASS), JavaClass)
    except Exception:  # noqa: BLE001 - a session without a JVM cannot have it
        return False


def from_protobuf(data: Column | str, messageName: str, descFilePath: str | None = None,  # noqa: N803
                  options: Mapping[str, str] | None = None, binaryDescriptorSet: bytes | None = None) -> Column:
    """Converts a binary column of protobuf ``messageName`` into its struct: the same schema, options and modes as
    ``pyspark.sql.protobuf.functions.from_protobuf``, whose connector is used when the JVM can load it.

    Parameters
    ----------
    data : Column or str
        The binary column of serialized messages.
    messageName : str
        The message's full name (``kos.v1.ProcessEvent``) or its simple name (the first message so called).
    descFilePath : str, optional
        A ``FileDescriptorSet`` file (``protoc --include_imports --descriptor_set_out``).
    options : dict, optional
        ``mode`` (``FAILFAST``, the default, fails the query on bytes that do not parse; ``PERMISSIVE`` gives
        null), ``emit.default.values``, ``enums.as.ints``, ``upcast.unsigned.ints``, ``recursive.fields.max.depth``
        (-1, the default, refuses recursive fields; 1 to 10 reads them to that depth),
        ``retain.empty.message.types``. Options of the connector that KOS's functions do not implement are
        refused by name.
    binaryDescriptorSet : bytes, optional
        The descriptor set's bytes, instead of ``descFilePath``.

    Returns
    -------
    Column
        A struct of the message's fields (mapping table in docs/protobuf.md).

    Raises
    ------
    ProtobufError
        A message, option or descriptor set it cannot work with, naming it.

    Notes
    -----
    Without presence (proto3 scalars), a zero value (0, "", the first enum value) is null unless
    ``emit.default.values`` is true, as with Spark's connector; a float or double is zero when its bits are
    (``-0.0`` and NaN are values).

    Examples
    --------
    >>> df = spark.createDataFrame([(bytes.fromhex("0a0376616d1207666530312d3432186a"),)], "value binary")
    >>> df.select(from_protobuf("value", "kos.v1.Origin", binaryDescriptorSet=descriptor_set).alias("o")).collect()
    [Row(o=Row(source='vam', file='fe01-42', offset=106))]
    >>> zeros = spark.createDataFrame([(b"\\x18\\x00",)], "value binary")  # offset 0, written out
    >>> zeros.select(from_protobuf("value", "kos.v1.Origin", options={"emit.default.values": "true"},
    ...                            binaryDescriptorSet=descriptor_set).alias("o")).collect()
    [Row(o=Row(source='', file='', offset=0))]
    >>> zeros.select(from_protobuf("value", "kos.v1.Origin", binaryDescriptorSet=descriptor_set).alias("o")).collect()
    [Row(o=Row(source=None, file=None, offset=None))]
    """
    if implementation() == "spark":
        from pyspark.sql.protobuf import functions as connector

        return connector.from_protobuf(data, messageName, descFilePath, dict(options or {}), binaryDescriptorSet)
    return _column("fromProtobuf", data, messageName, _descriptor_set(descFilePath, binaryDescriptorSet), options)


def to_protobuf(data: Column | str, messageName: str, descFilePath: str | None = None,  # noqa: N803
                options: Mapping[str, str] | None = None, binaryDescriptorSet: bytes | None = None) -> Column:
    """Converts a struct column into binary protobuf ``messageName``, struct fields matched to message fields by
    name as ``pyspark.sql.protobuf.functions.to_protobuf`` matches them (its connector is used when the JVM can
    load it).

    Parameters
    ----------
    data : Column or str
        The struct column.
    messageName : str
        The message's full or simple name.
    descFilePath : str, optional
        A ``FileDescriptorSet`` file.
    options : dict, optional
        Checked as ``from_protobuf``'s; none of them changes the encoding.
    binaryDescriptorSet : bytes, optional
        The descriptor set's bytes, instead of ``descFilePath``.

    Returns
    -------
    Column
        The serialized messages; null where the struct is null. A null field is left unset.

    Raises
    ------
    ProtobufError
        A struct field the message lacks, a type that cannot be converted or a required field not given,
        naming the field and the message; an enum name the enum does not have.

    Notes
    -----
    A Java function learns its input type from its first row, so a struct the message cannot take is refused
    then; ``check_encodable`` says so before a query starts. Timestamps keep their microseconds (the connector
    keeps milliseconds).

    Examples
    --------
    >>> df = spark.createDataFrame([(("vam", "fe01-42", 106),)], "o struct<source:string,file:string,offset:bigint>")
    >>> df.select(to_protobuf("o", "kos.v1.Origin", binaryDescriptorSet=descriptor_set).alias("value")).collect()
    [Row(value=b'\\n\\x03vam\\x12\\x07fe01-42\\x18j')]

    The example of ``pyspark.sql.protobuf.functions.to_protobuf``, with its descriptor set as bytes:

    >>> simple = spark.createDataFrame([((2, "Alice", 109200),)], "value struct<age:int,name:string,score:bigint>")
    >>> simple.select(to_protobuf("value", "SimpleMessage", binaryDescriptorSet=simple_message)
    ...               .alias("value")).collect()
    [Row(value=b'\\x08\\x02\\x12\\x05Alice\\x18\\x90\\xd5\\x06')]
    """
    if implementation() == "spark":
        from pyspark.sql.protobuf import functions as connector

        return connector.to_protobuf(data, messageName, descFilePath, dict(options or {}), binaryDescriptorSet)
    return _column("toProtobuf", data, messageName, _descriptor_set(descFilePath, binaryDescriptorSet), options)


def spark_type(messageName: str, descFilePath: str | None = None,  # noqa: N803
               options: Mapping[str, str] | None = None, binaryDescriptorSet: bytes | None = None) -> T.StructType:
    """The Spark schema ``from_protobuf`` gives ``messageName`` with ``options``."""
    found = jvm.call("schema", messageName, _descriptor_set(descFilePath, binaryDescriptorSet), jvm.java_map(options))
    return T.StructType.fromJson(json.loads(found.json()))


def check_encodable(struct: T.StructType, messageName: str, descFilePath: str | None = None,  # noqa: N803
                    binaryDescriptorSet: bytes | None = None) -> None:
    """Raise ProtobufError now, naming field and message, if ``to_protobuf`` could not encode ``struct``.

    Spark's connector says so while the query is analysed; a Java function learns its input type with its first
    row, so the jobs call this on the structs they build before they start a query.
    """
    session = SparkSession.getActiveSession()
    assert session is not None, "check_encodable needs an active SparkSession"
    java_struct = session._jsparkSession.parseDataType(struct.json())  # type: ignore[attr-defined]
    jvm.call("checkEncodable", java_struct, messageName, _descriptor_set(descFilePath, binaryDescriptorSet))


def read_descriptor_set(path: str) -> bytes:
    """The bytes of a descriptor set file; ProtobufError naming it when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ProtobufError(f"cannot read the descriptor set {path}: {exc.strerror}") from None


def _descriptor_set(path: str | None, binary: bytes | None) -> bytes:
    if binary is not None:
        return bytes(binary)
    if path is not None:
        return read_descriptor_set(path)
    raise ProtobufError("KOS's protobuf functions find messages in a descriptor set: give descFilePath or "
                        "binaryDescriptorSet (a message's Java class needs Spark's connector)")


def _column(method: str, data: Column | str, message: str, descriptor_set: bytes,
            options: Mapping[str, str] | None) -> Column:
    from pyspark.sql.classic.column import Column as ClassicColumn
    from pyspark.sql.classic.column import _to_java_column

    return ClassicColumn(jvm.call(method, _to_java_column(data), message, descriptor_set, jvm.java_map(options)))
