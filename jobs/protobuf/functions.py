"""``from_protobuf`` and ``to_protobuf`` for PySpark DataFrames, called as ``pyspark.sql.protobuf.functions``'s.

Spark's own (``org.apache.spark:spark-protobuf_2.13``) is used when the JVM can load it, that is
when ``spark-submit --packages`` brought it; otherwise KOS's: Arrow-batched Python UDFs over the
upb protobuf runtime, with the same Spark schema and options (README, "The protobuf functions").
The Spark setting ``spark.kos.protobuf.implementation`` (``auto``, ``spark`` or ``kos``) forces a side.

Messages are found by name in a ``FileDescriptorSet`` (``descFilePath`` or ``binaryDescriptorSet``);
the set travels with the function to the executors, which parse it once per Python worker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, SparkSession
from pyspark.sql import types as T
from pyspark.sql.functions import arrow_udf

from jobs.protobuf.decode import Decoder
from jobs.protobuf.descriptors import ProtobufError, message_class, read_descriptor_set
from jobs.protobuf.encode import Encoder
from jobs.protobuf.schema import Options, match_struct, parse_options, spark_type

__all__ = ["check_encodable", "connector_available", "from_protobuf", "implementation", "to_protobuf"]

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

    jvm = getattr(spark.sparkContext, "_jvm", None) if hasattr(spark, "sparkContext") else None
    try:
        return jvm is not None and isinstance(getattr(jvm, CONNECTOR_CLASS), JavaClass)
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
        null), ``emit.default.values``, ``enums.as.ints``, ``upcast.unsigned.ints``. Options of the connector
        that KOS's functions do not implement are refused by name.
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
    ``emit.default.values`` is true, as with Spark's connector.

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
    descriptor_set = _descriptor_set(descFilePath, binaryDescriptorSet)
    parsed = parse_options(options)
    schema = spark_type(message_class(descriptor_set, messageName).DESCRIPTOR, parsed)
    return _udf("from_protobuf", schema, _decode, descriptor_set, messageName, parsed)(data)


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
    A Python UDF learns its input type with its first batch, so a struct the message cannot take is refused
    then; ``check_encodable`` says so before a query starts. Timestamps keep their microseconds (the connector
    keeps milliseconds).

    Examples
    --------
    >>> df = spark.createDataFrame([(("vam", "fe01-42", 106),)], "o struct<source:string,file:string,offset:bigint>")
    >>> df.select(to_protobuf("o", "kos.v1.Origin", binaryDescriptorSet=descriptor_set).alias("value")).collect()
    [Row(value=b'\\n\\x03vam\\x12\\x07fe01-42\\x18j')]
    """
    if implementation() == "spark":
        from pyspark.sql.protobuf import functions as connector

        return connector.to_protobuf(data, messageName, descFilePath, dict(options or {}), binaryDescriptorSet)
    descriptor_set = _descriptor_set(descFilePath, binaryDescriptorSet)
    parse_options(options)  # refuse what is not understood; none of them changes the encoding
    message_class(descriptor_set, messageName)  # the message exists
    return _udf("to_protobuf", T.BinaryType(), _encode, descriptor_set, messageName, Options())(data)


def check_encodable(struct: T.StructType, messageName: str, descFilePath: str | None = None,  # noqa: N803
                    binaryDescriptorSet: bytes | None = None) -> None:
    """Raise ProtobufError now, naming field and message, if ``to_protobuf`` could not encode ``struct``.

    Spark's connector says so while the query is analysed; a Python UDF sees its input type only with its
    first batch, so the jobs call this on the structs they build before they start a query.
    """
    descriptor_set = _descriptor_set(descFilePath, binaryDescriptorSet)
    match_struct(struct, message_class(descriptor_set, messageName).DESCRIPTOR)


def _descriptor_set(path: str | None, binary: bytes | None) -> bytes:
    if binary is not None:
        return bytes(binary)
    if path is not None:
        return read_descriptor_set(path)
    raise ProtobufError("KOS's protobuf functions find messages in a descriptor set: give descFilePath or "
                        "binaryDescriptorSet (a message's Java class needs Spark's connector)")


def _udf(name: str, return_type: T.DataType, converter: Callable[..., Callable[[pa.Array], pa.Array]],
         descriptor_set: bytes, message: str, options: Options) -> Any:
    def convert(data: pa.Array) -> pa.Array:
        return converter(descriptor_set, message, options)(data)

    convert.__name__ = name  # the column is called from_protobuf(value), as with Spark's connector
    return arrow_udf(convert, returnType=return_type)  # type: ignore[call-overload]


@functools.lru_cache(maxsize=32)
def _decode(descriptor_set: bytes, message: str, options: Options) -> Decoder:
    """One decoder per Python worker, message and options."""
    return Decoder(message_class(descriptor_set, message), options)


@functools.lru_cache(maxsize=32)
def _encode(descriptor_set: bytes, message: str, options: Options) -> Encoder:
    return Encoder(message_class(descriptor_set, message))
