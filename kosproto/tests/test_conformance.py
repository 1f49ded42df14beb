"""The cases of Spark's protobuf connector tests, asserted against KOS's ``from_protobuf``/``to_protobuf``.

Each test is registered (``@case``) under the exact name Spark gives it and the suite file it is in
(``connector/protobuf/src/test/scala/org/apache/spark/sql/protobuf/<Suite>.scala``, or pyspark's docstring
examples), with what KOS does:

- ``ported``: Spark's inputs (in KOS's own messages of the same shape, proto/conformance/spark*.proto) and the
  connector's outcome;
- ``adapted``: the connector's outcome for inputs of KOS's (the test says what differs and why);
- ``refused``: KOS refuses what the case asks for, by name (an option or a Java class that needs the connector);
- ``differs``: KOS differs from the connector on purpose, and the test asserts KOS's behaviour.

Bytes that a case takes as given are made by the official Java runtime (protobuf-java, through
kosproto/tests/official_java.py), never by KOS's own encoder. The README's and docs/protobuf.md's counts come
from ``CASES`` (``test_the_documents_count_these_cases``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F

from kosproto import ProtobufError, from_protobuf, spark_type, to_protobuf
from kosproto.tests.conftest import descriptor_set
from kosproto.tests.official_java import JavaRuntime

PROJECT = Path(__file__).resolve().parents[2]
SPARK_TESTS = "connector/protobuf/src/test/scala/org/apache/spark/sql/protobuf/"
FUNCTIONS = SPARK_TESTS + "ProtobufFunctionsSuite.scala"
SERDE = SPARK_TESTS + "ProtobufSerdeSuite.scala"
CATALYST = SPARK_TESTS + "ProtobufCatalystDataConversionSuite.scala"
PYSPARK = "python/pyspark/sql/protobuf/functions.py"
KINDS = ("ported", "adapted", "refused", "differs")


@dataclass(frozen=True)
class Case:
    suite: str
    name: str
    kind: str
    test: str


CASES: list[Case] = []


def case(suite: str, name: str, kind: str):  # noqa: ANN201 - a decorator
    """Register the decorated test as the port of Spark's case ``name`` in ``suite``."""
    assert kind in KINDS

    def mark(test):  # noqa: ANN001, ANN202
        CASES.append(Case(suite, name, kind, test.__name__))
        return test

    return mark


@pytest.fixture(scope="module")
def sdesc(tmp_path_factory) -> str:
    """Spark's test messages, written for KOS (proto/conformance/spark.proto, spark_proto2.proto)."""
    return str(descriptor_set(tmp_path_factory.mktemp("spark") / "spark.desc", "conformance/spark.proto",
                              "conformance/spark_proto2.proto"))


@pytest.fixture(scope="module")
def java(spark, sdesc) -> JavaRuntime:
    return JavaRuntime(spark, Path(sdesc).read_bytes())


def encode(spark, rows: list[tuple], ddl: str, message: str, desc: str, **kw) -> list[bytes]:
    frame = spark.createDataFrame(rows, ddl)
    return [r.v for r in frame.select(to_protobuf(F.struct(*frame.columns), message, desc, **kw).alias("v"))
            .collect()]


def decode(spark, values: list[bytes | None], message: str, desc: str, options: dict | None = None) -> list:
    frame = spark.createDataFrame([(None if v is None else bytearray(v),) for v in values], "v binary")
    return [r.m for r in frame.select(from_protobuf("v", message, desc, options).alias("m")).collect()]


def round_trip(spark, value: bytes, message: str, desc: str, options: dict | None = None) -> tuple[Row, Row]:
    """from_protobuf, to_protobuf, from_protobuf again: the first and the last struct (Spark's roundtrip check)."""
    frame = spark.createDataFrame([(bytearray(value),)], "v binary")
    first = frame.select(from_protobuf("v", message, desc, options).alias("m"))
    again = first.select(to_protobuf("m", message, desc).alias("v")).select(
        from_protobuf("v", message, desc, options).alias("m"))
    return first.collect()[0].m, again.collect()[0].m


# -- pyspark.sql.protobuf.functions: the docstring examples ----------------------------------------------------

@case(PYSPARK, "to_protobuf example", "ported")
def test_pyspark_example_to_protobuf_bytes(spark, suite):
    """SimpleMessage(age=2, name='Alice', score=109200), and score 13093020: the example's bytes."""
    got = encode(spark, [(2, "Alice", 109200), (2, "Alice", 13093020)], "age int, name string, score long",
                 "SimpleMessage", suite)
    assert [v.hex(" ").upper() for v in got] == ["08 02 12 05 41 6C 69 63 65 18 90 D5 06",
                                                 "08 02 12 05 41 6C 69 63 65 18 9C 91 9F 06"]


@case(PYSPARK, "from_protobuf example", "ported")
def test_pyspark_example_from_protobuf_rows(spark, suite):
    value = bytes.fromhex("08 02 12 05 41 6C 69 63 65 18 90 D5 06")
    assert decode(spark, [value], "SimpleMessage", suite) == [Row(age=2, name="Alice", score=109200)]


@case(PYSPARK, "to_protobuf example with binaryDescriptorSet", "ported")
def test_pyspark_example_with_the_descriptor_set_as_bytes(spark, suite):
    frame = spark.createDataFrame([((2, "Alice", 109200),)], "value struct<age:int,name:string,score:bigint>")
    got = frame.select(to_protobuf("value", "SimpleMessage", binaryDescriptorSet=Path(suite).read_bytes())
                       .alias("v")).collect()
    assert [bytes(r.v) for r in got] == [bytes.fromhex("08 02 12 05 41 6C 69 63 65 18 90 D5 06")]


@case(PYSPARK, "from_protobuf example of google.protobuf.Timestamp", "ported")
def test_pyspark_example_timestamp_message(spark, suite):
    """The Timestamp message itself (not a field of one) is a struct<seconds, nanos>."""
    got = encode(spark, [(1668035962, 2020)], "seconds long, nanos int", "google.protobuf.Timestamp", suite)
    assert got == [bytes.fromhex("08 FA EA B0 9B 06 10 E4 0F")]
    assert decode(spark, got, "google.protobuf.Timestamp", suite) == [Row(seconds=1668035962, nanos=2020)]


# -- ProtobufFunctionsSuite ------------------------------------------------------------------------------------

@case(FUNCTIONS, "roundtrip in to_protobuf and from_protobuf - struct", "ported")
def test_roundtrip_struct(spark, sdesc):
    frame = spark.range(1, 10).select(F.struct(
        "id", F.col("id").cast("string").alias("string_value"),
        *(F.col("id").cast("int").alias(n) for n in ("int32_value", "uint32_value", "sint32_value", "fixed32_value",
                                                   "sfixed32_value")),
        *(F.col("id").cast("long").alias(n) for n in ("int64_value", "uint64_value", "sint64_value", "fixed64_value",
                                                    "sfixed64_value")),
        F.col("id").cast("double").alias("double_value"), F.lit(1202.00).cast("float").alias("float_value"),
        F.lit(True).alias("bool_value"), F.lit(b"0").alias("bytes_value")).alias("m"))
    back = frame.select(to_protobuf("m", "kosspark.SimpleMessage", sdesc).alias("p")).select(
        from_protobuf("p", "kosspark.SimpleMessage", sdesc).alias("m"))
    assert back.select("m.*").collect() == frame.select("m.*").collect()


@case(FUNCTIONS, "roundtrip in from_protobuf and to_protobuf - Repeated", "ported")
def test_roundtrip_repeated(spark, sdesc, java):
    value = java.encode("kosspark.SimpleMessageRepeated", 'key: "key" value: "value" rbool_value: [false, true] '
                        "rdouble_value: [1092092.654, 1092093.654] rfloat_value: [10903.0, 10902.0] "
                        "rnested_enum: [NESTED_NOTHING, NESTED_FIRST]")
    for options in ({}, {"enums.as.ints": "false"}, {"enums.as.ints": "true"}):
        first, again = round_trip(spark, value, "kosspark.SimpleMessageRepeated", sdesc, options)
        assert first == again
    assert (first.rbool_value, first.rdouble_value, first.rnested_enum) == ([False, True], [1092092.654, 1092093.654],
                                                                             [0, 1])


def _basic(java, **values) -> str:
    fields = {"id": 1111, "string_value": '"value"', "int32_value": 12345, "int64_value": 0x90000000000,
              "double_value": "10000000000.0", "float_value": "10902.0", "bool_value": "true",
              "bytes_value": '"ProtobufDeserializer"', **values}
    return "basic_message { " + " ".join(f"{k}: {v}" for k, v in fields.items()) + " }"


@case(FUNCTIONS, "roundtrip in from_protobuf and to_protobuf - Repeated Message Once", "ported")
def test_roundtrip_repeated_message_once(spark, sdesc, java):
    value = java.encode("kosspark.RepeatedMessage", _basic(java))
    first, again = round_trip(spark, value, "kosspark.RepeatedMessage", sdesc)
    assert first == again and [m.string_value for m in first.basic_message] == ["value"]


@case(FUNCTIONS, "roundtrip in from_protobuf and to_protobuf - Repeated Message Twice", "ported")
def test_roundtrip_repeated_message_twice(spark, sdesc, java):
    value = java.encode("kosspark.RepeatedMessage", _basic(java, string_value='"value1"') + " " + _basic(
        java, id=1112, string_value='"value2"', int32_value=12346, float_value="10903.0", bool_value="false",
        bytes_value='"ProtobufDeserializer2"'))
    first, again = round_trip(spark, value, "kosspark.RepeatedMessage", sdesc)
    assert first == again and [(m.id, m.string_value) for m in first.basic_message] == [(1111, "value1"),
                                                                                        (1112, "value2")]


@case(FUNCTIONS, "roundtrip in from_protobuf and to_protobuf - Map", "ported")
def test_roundtrip_map(spark, sdesc, java):
    """A duplicate key ("string_key" twice: the last entry wins), int32, int64, float and double values, bool keys
    and values; the bytes made by protobuf-java."""
    value = java.encode("kosspark.SimpleMessageMap", 'key: "key" value: "value" '
                        'string_mapdata { key: "string_key" value: "value1" } '
                        'string_mapdata { key: "string_key" value: "value2" } '
                        f"int64_mapdata {{ key: {0x90000000000} value: {0x90000000001} }} "
                        "int32_mapdata { key: 12345 value: 54321 } "
                        'float_mapdata { key: "float_key" value: 109202.234 } '
                        'double_mapdata { key: "double_key" value: 109202.12 } '
                        "bool_mapdata { key: true value: false }")
    first, again = round_trip(spark, value, "kosspark.SimpleMessageMap", sdesc)
    assert first == again
    assert (first.string_mapdata, first.int32_mapdata, first.int64_mapdata, first.double_mapdata,
            first.bool_mapdata) == ({"string_key": "value2"}, {12345: 54321}, {0x90000000000: 0x90000000001},
                                    {"double_key": 109202.12}, {True: False})
    assert first.float_mapdata["float_key"] == pytest.approx(109202.234, rel=1e-7)


@case(FUNCTIONS, "roundtrip in from_protobuf and to_protobuf - Enum", "ported")
def test_roundtrip_enum(spark, sdesc, java):
    value = java.encode("kosspark.SimpleMessageEnum", 'key: "key" value: "value" nested_enum: NESTED_FIRST '
                        "basic_enum: NOTHING")
    for options in ({}, {"enums.as.ints": "false"}, {"enums.as.ints": "true"}):
        first, again = round_trip(spark, value, "kosspark.SimpleMessageEnum", sdesc, options)
        assert first == again


@case(FUNCTIONS, "round trip in from_protobuf and to_protobuf - Multiple Message", "ported")
def test_roundtrip_multiple_message(spark, sdesc, java):
    value = java.encode("kosspark.MultipleExample", 'included_example { included: "included value" other { '
                        'other: "other value" } }')
    first, again = round_trip(spark, value, "kosspark.MultipleExample", sdesc)
    assert first == again == Row(included_example=Row(included="included value", other=Row(other="other value")))
    with pytest.raises(ProtobufError, match="kosspark.recursiveA.messageB makes kosspark.recursiveB recursive"):
        spark_type("kosspark.recursiveB", sdesc)


@case(FUNCTIONS, "Recursive fields in Protobuf should result in an error, C->D->Array(C)", "ported")
def test_recursion_through_an_array_is_refused(spark, sdesc):
    with pytest.raises(ProtobufError, match=r"makes kosspark.recursiveD recursive \(kosspark.recursiveD -> "
                                            r"kosspark.recursiveC -> kosspark.recursiveD\)"):
        spark_type("kosspark.recursiveD", sdesc)


@case(FUNCTIONS, "Setting depth to 0 or -1 should trigger error on recursive fields (B -> A -> B)", "ported")
def test_depth_0_or_minus_1_refuses_recursion(spark, sdesc):
    for depth in ("0", "-1"):
        with pytest.raises(ProtobufError, match="makes kosspark.recursiveB recursive"):
            spark_type("kosspark.recursiveB", sdesc, {"recursive.fields.max.depth": depth})


@case(FUNCTIONS, "Verify recursive.fields.max.depth Levels 1,2, and 3 with Simple Schema", "ported")
def test_recursion_depths_1_2_3(spark, sdesc, java):
    value = java.encode("kosspark.EventPerson", 'name: "person0" bff { name: "person1" bff { name: "person2" bff { '
                        'name: "person3" } } }')
    expected = {"1": Row(name="person0"), "2": Row(name="person0", bff=Row(name="person1")),
                "3": Row(name="person0", bff=Row(name="person1", bff=Row(name="person2")))}
    for depth, row in expected.items():
        assert decode(spark, [value], "kosspark.EventPerson", sdesc, {"recursive.fields.max.depth": depth}) == [row]
    assert spark_type("kosspark.EventPerson", sdesc, {"recursive.fields.max.depth": "2"}).simpleString() == \
        "struct<name:string,bff:struct<name:string>>"
    wrapper = java.encode("kosspark.EventPersonWrapper", 'person { name: "person0" bff { name: "person1" bff { '
                          'name: "person2" } } }')
    assert decode(spark, [wrapper], "kosspark.EventPersonWrapper", sdesc, {"recursive.fields.max.depth": "2"}) == [
        Row(person=Row(name="person0", bff=Row(name="person1")))]


@case(FUNCTIONS, "Recursive fields in arrays and maps", "ported")
def test_recursion_depth_in_arrays_and_maps(spark, sdesc):
    options = {"recursive.fields.max.depth": "3"}
    assert spark_type("kosspark.PersonWithRecursiveArray", sdesc, options).simpleString() == (
        "struct<name:string,friends:array<struct<name:string,friends:array<struct<name:string>>>>>")
    assert spark_type("kosspark.PersonWithRecursiveMap", sdesc, options).simpleString() == (
        "struct<name:string,groups:map<string,struct<name:string,groups:map<string,struct<name:string>>>>>")


@case(FUNCTIONS, "Retain empty proto fields when retain.empty.message.types=true", "ported")
def test_retain_empty_message_types(spark, sdesc):
    options = {"retain.empty.message.types": "true"}
    assert spark_type("kosspark.EmptyProto", sdesc, options).simpleString() == \
        "struct<__dummy_field_in_empty_struct:string>"
    assert spark_type("kosspark.EmptyProtoWrapper", sdesc, options).simpleString() == \
        "struct<name:string,empty_proto:struct<__dummy_field_in_empty_struct:string>>"
    assert spark_type("kosspark.EmptyProtoWrapper", sdesc).simpleString() == "struct<name:string>"


@case(FUNCTIONS, "Write empty proto to parquet when retain.empty.message.types=true", "ported")
def test_retained_empty_message_writes_to_parquet(spark, sdesc, java, tmp_path):
    value = java.encode("kosspark.EmptyProtoWrapper", 'name: "my_name"')
    frame = spark.createDataFrame([(bytearray(value),)], "v binary").select(
        from_protobuf("v", "kosspark.EmptyProtoWrapper", sdesc, {"retain.empty.message.types": "true"})
        .alias("wrapper"))
    frame.write.parquet(str(tmp_path / "wrapper"))
    assert spark.read.parquet(str(tmp_path / "wrapper")).collect() == [Row(wrapper=Row(name="my_name",
                                                                                       empty_proto=None))]


@case(FUNCTIONS, "Corner case: empty recursive proto fields should be dropped by default", "ported")
def test_empty_recursive_messages_are_dropped(spark, sdesc):
    options = {"recursive.fields.max.depth": "4"}
    assert spark_type("kosspark.EmptyRecursiveProto", sdesc, options).simpleString() == "struct<>"
    assert spark_type("kosspark.EmptyRecursiveProtoWrapper", sdesc, options).simpleString() == "struct<name:string>"


@case(FUNCTIONS, "Handle extra fields : oldProducer -> newConsumer", "ported")
def test_extra_fields_old_producer_new_consumer(spark, sdesc, java):
    value = java.encode("kosspark.oldProducer", 'key: "key"')
    first, again = round_trip(spark, value, "kosspark.newConsumer", sdesc)
    assert first == again == Row(key="key", value=None, actual=None)


@case(FUNCTIONS, "Handle extra fields : newProducer -> oldConsumer", "ported")
def test_extra_fields_new_producer_old_consumer(spark, sdesc, java):
    value = java.encode("kosspark.newProducer", 'key: "key" value: 1')
    assert decode(spark, [value], "kosspark.oldConsumer", sdesc) == [Row(key="key")]


@case(FUNCTIONS, "roundtrip in to_protobuf and from_protobuf - with nulls", "ported")
def test_roundtrip_with_nulls(spark, sdesc, java):
    frame = spark.createDataFrame([(("key1", None, "value2", None),)],
                                  "m struct<key:string,col_1:int,col_2:string,col_3:int>")
    written = frame.select(to_protobuf("m", "kosspark.requiredMsg", sdesc).alias("p")).collect()[0].p
    assert java.parse("kosspark.requiredMsg", written)["fields"] == {"key": "key1", "col_2": "value2"}  # 0s unset
    assert decode(spark, [written], "kosspark.requiredMsg", sdesc) == [Row(key="key1", col_1=None, col_2="value2",
                                                                           col_3=None)]


@case(FUNCTIONS, "from_protobuf filter to_protobuf", "ported")
def test_filter_between_the_functions(spark, sdesc, java):
    value = java.encode("kosspark.RepeatedMessage", _basic(java, string_value='"slam"'))
    frame = spark.createDataFrame([(bytearray(value),)], "v binary").select(
        F.explode(from_protobuf("v", "kosspark.RepeatedMessage", sdesc)["basic_message"]).alias("sample"))
    kept = frame.where("sample.string_value == 'slam'")
    again = kept.select(to_protobuf("sample", "kosspark.BasicMessage", sdesc).alias("v")).select(
        from_protobuf("v", "kosspark.BasicMessage", sdesc).alias("sample")).where("sample.string_value == 'slam'")
    assert kept.exceptAll(again).count() == 0 and again.count() == 1


@case(FUNCTIONS, "Handle TimestampType between to_protobuf and from_protobuf", "ported")
def test_timestamp_round_trip_through_to_protobuf(spark, sdesc):
    stamp = datetime(2016, 5, 9, 10, 12, 43, 999000)
    frame = spark.createDataFrame([(("key1", stamp),)], "m struct<key:string,stmp:timestamp>")
    back = frame.select(to_protobuf("m", "kosspark.timeStampMsg", sdesc).alias("p")).select(
        from_protobuf("p", "kosspark.timeStampMsg", sdesc).alias("m"))
    assert back.schema == frame.schema
    assert back.collect() == [Row(m=Row(key="key1", stmp=stamp))]


@case(FUNCTIONS, "Handle DayTimeIntervalType between to_protobuf and from_protobuf", "ported")
def test_duration_round_trip_through_to_protobuf(spark, sdesc):
    took = timedelta(days=1, hours=2, minutes=3, seconds=4)
    frame = spark.createDataFrame([(("key1", took),)], "m struct<key:string,duration:interval day to second>")
    back = frame.select(to_protobuf("m", "kosspark.durationMsg", sdesc).alias("p")).select(
        from_protobuf("p", "kosspark.durationMsg", sdesc).alias("m"))
    assert back.schema == frame.schema
    assert back.collect() == [Row(m=Row(key="key1", duration=took))]


@case(FUNCTIONS, "raise protobuf descriptor error", "ported")
def test_a_descriptor_set_without_its_imports(spark, tmp_path):
    alone = descriptor_set(tmp_path / "alone.desc", "conformance/needs_import.proto", include_imports=False)
    with pytest.raises(ProtobufError, match="the descriptor set lacks conformance/suite.proto, imported by "
                                            "conformance/needs_import.proto: build it with --include_imports"):
        decode(spark, [b""], "Holder", str(alone))


@case(FUNCTIONS, "Verify OneOf field between from_protobuf -> to_protobuf and struct -> from_protobuf", "ported")
def test_oneof(spark, sdesc, java):
    """Every member of the oneof is a field of the struct; set one after another, the last set wins; a struct with
    two members set writes the last of the struct's (col_3 after col_2)."""
    value = java.encode("kosspark.OneOfEvent", 'key: "key" col_1: 123 col_3: 109202 col_2: "col2value" '
                        'col_4: "col4value"')
    first, again = round_trip(spark, value, "kosspark.OneOfEvent", sdesc)
    assert first == again == Row(key="key", col_1=None, col_2="col2value", col_3=None, col_4=["col4value"])
    frame = spark.createDataFrame([(("key", 123, "col2value", 109202, ["col4value"]),), (("key2", None, None, None,
                                                                                         None),)],
                                  "m struct<key:string,col_1:int,col_2:string,col_3:bigint,col_4:array<string>>")
    written = [r.p for r in frame.select(to_protobuf("m", "kosspark.OneOfEvent", sdesc).alias("p")).collect()]
    assert java.parse("kosspark.OneOfEvent", written[0])["fields"] == {"key": "key", "col_3": 109202,
                                                                       "col_4": ["col4value"]}
    assert java.parse("kosspark.OneOfEvent", written[1])["fields"] == {"key": "key2"}


@case(FUNCTIONS, "Verify exceptions are correctly propagated with errors", "ported")
def test_a_descriptor_path_that_does_not_exist(spark):
    with pytest.raises(ProtobufError, match="^cannot read the descriptor set /non/existent/path.desc: No such file "
                                            "or directory$"):
        from_protobuf("value", "SomeMessage", "/non/existent/path.desc")


@case(FUNCTIONS, "Converting Any fields to JSON", "refused")
def test_any_fields_to_json_is_refused_and_any_is_a_struct(spark, sdesc):
    """The default (Any as struct<type_url, value>) holds; convert.any.fields.to.json=true needs the connector."""
    assert spark_type("kosspark.ProtoWithAny", sdesc).simpleString() == (
        "struct<event_name:string,details:struct<type_url:string,value:binary>>")
    with pytest.raises(ProtobufError, match="option convert.any.fields.to.json of Spark's protobuf connector is not "
                                            "supported"):
        spark_type("kosspark.ProtoWithAny", sdesc, {"convert.any.fields.to.json": "true"})


PROTO3_ALL = ("int", "text", "enum_val", "message", "optional_int", "optional_text", "optional_enum_val",
              "optional_message", "repeated_num", "repeated_message", "option_a", "option_b", "map")


@case(FUNCTIONS, "test explicitly set zero values - proto3", "ported")
def test_explicit_zero_values_proto3(spark, sdesc, java):
    value = java.encode("kosspark.Proto3AllTypes", 'int: 0 text: "" enum_val: NOTHING optional_int: 0 '
                        'optional_text: "" optional_enum_val: NOTHING option_a: 0')
    assert decode(spark, [value], "kosspark.Proto3AllTypes", sdesc) == [Row(**dict(zip(PROTO3_ALL, (
        None, None, None, None, 0, "", "NOTHING", None, [], [], 0, None, {}), strict=True)))]
    assert decode(spark, [value], "kosspark.Proto3AllTypes", sdesc, {"emit.default.values": "true"}) == [
        Row(**dict(zip(PROTO3_ALL, (0, "", "NOTHING", None, 0, "", "NOTHING", None, [], [], 0, None, {}),
                       strict=True)))]


@case(FUNCTIONS, "test unset values - proto3", "ported")
def test_unset_values_proto3(spark, sdesc):
    assert decode(spark, [b""], "kosspark.Proto3AllTypes", sdesc) == [Row(**dict(zip(PROTO3_ALL, (
        None, None, None, None, None, None, None, None, [], [], None, None, {}), strict=True)))]
    assert decode(spark, [b""], "kosspark.Proto3AllTypes", sdesc, {"emit.default.values": "true"}) == [
        Row(**dict(zip(PROTO3_ALL, (0, "", "NOTHING", None, None, None, None, None, [], [], None, None, {}),
                       strict=True)))]


PROTO2_ALL = ("int", "text", "enum_val", "message", "repeated_num", "repeated_message", "option_a", "option_b",
              "map")


@case(FUNCTIONS, "test explicitly set zero values - proto2", "ported")
def test_explicit_zero_values_proto2(spark, sdesc, java):
    value = java.encode("kosspark2.Proto2AllTypes", 'int: 0 text: "" enum_val: NOTHING option_a: 0')
    expected = Row(**dict(zip(PROTO2_ALL, (0, "", "NOTHING", None, [], [], 0, None, {}), strict=True)))
    for options in (None, {"emit.default.values": "true"}):
        assert decode(spark, [value], "kosspark2.Proto2AllTypes", sdesc, options) == [expected]


@case(FUNCTIONS, "test unset fields - proto2 types", "ported")
def test_unset_fields_proto2(spark, sdesc):
    expected = Row(**dict(zip(PROTO2_ALL, (None, None, None, None, [], [], None, None, {}), strict=True)))
    for options in (None, {"emit.default.values": "true"}):
        assert decode(spark, [b""], "kosspark2.Proto2AllTypes", sdesc, options) == [expected]


@case(FUNCTIONS, "test enum deserialization", "ported")
def test_enum_deserialization(spark, sdesc, java):
    value = java.encode("kosspark.SimpleMessageEnum", 'key: "key" value: "value" basic_enum: FIRST '
                        "nested_enum: NESTED_SECOND repeated_enum: FIRST")
    for options in (None, {"enums.as.ints": "false"}):
        assert decode(spark, [value], "kosspark.SimpleMessageEnum", sdesc, options) == [
            Row(key="key", value="value", basic_enum="FIRST", nested_enum="NESTED_SECOND", repeated_enum=["FIRST"])]
    assert decode(spark, [value], "kosspark.SimpleMessageEnum", sdesc, {"enums.as.ints": "true"}) == [
        Row(key="key", value="value", basic_enum=1, nested_enum=2, repeated_enum=[1])]


@case(FUNCTIONS, "raise enum serialization error", "ported")
def test_enum_serialization_errors(spark, sdesc):
    """Spark's error class is CANNOT_CONVERT_SQL_VALUE_TO_PROTOBUF_ENUM_TYPE; KOS's message names the same value,
    field and enum values (or numbers)."""
    with pytest.raises(Exception, match=r"'INVALID_VALUE' is not a value of kosspark.BasicEnumMessage.BasicEnum "
                                        r"\(field kosspark.SimpleMessageEnum.basic_enum; values: NOTHING, FIRST, "
                                        r"SECOND\)"):
        encode(spark, [("INVALID_VALUE",)], "basic_enum string", "kosspark.SimpleMessageEnum", sdesc)
    with pytest.raises(Exception, match=r"9999 is not a number of kosspark.BasicEnumMessage.BasicEnum \(field "
                                        r"kosspark.SimpleMessageEnum.basic_enum; numbers: 0, 1, 2\)"):
        encode(spark, [(9999,)], "basic_enum int", "kosspark.SimpleMessageEnum", sdesc)


@case(FUNCTIONS, "test unsigned integer types", "ported")
def test_unsigned_integer_types(spark, sdesc, java):
    value = java.encode("kosspark.SimpleMessage", f"uint32_value: {2**31} uint64_value: {2**63}")
    for options in (None, {"upcast.unsigned.ints": "false"}):
        row = decode(spark, [value], "kosspark.SimpleMessage", sdesc, options)[0]
        assert (row.uint32_value, row.uint64_value) == (-(2**31), -(2**63))
    row = decode(spark, [value], "kosspark.SimpleMessage", sdesc, {"upcast.unsigned.ints": "true"})[0]
    assert (row.uint32_value, row.uint64_value) == (2**31, Decimal(2**63))


WRAPPERS = ('bool_val { value: true } int32_val { value: 100 } uint32_val { value: 200 } int64_val { value: 300 } '
            'uint64_val { value: 400 } string_val { value: "string" } bytes_val { value: "bytes" } '
            'float_val { value: 1.23 } double_val { value: 4.56 } int32_list { value: 1 } int32_list { value: 2 } '
            'wkt_map { key: 1 value { value: "mapval" } }')


@case(FUNCTIONS, "well known types deserialization and round trip", "adapted")
def test_well_known_wrappers_as_structs(spark, sdesc, java):
    """Adapted: the wrappers as structs (unwrap.primitive.wrapper.types false, given or not) as Spark has them;
    unwrapping them (true) needs the connector and is refused by name."""
    value = java.encode("kosspark.WellKnownWrapperTypes", WRAPPERS)
    for options in ({}, {"unwrap.primitive.wrapper.types": "false"}):
        first, again = round_trip(spark, value, "kosspark.WellKnownWrapperTypes", sdesc, options)
        assert first == again
    assert (first.bool_val, first.int64_val, first.bytes_val, first.int32_list, first.wkt_map) == (
        Row(value=True), Row(value=300), Row(value=bytearray(b"bytes")), [Row(value=1), Row(value=2)],
        {1: Row(value="mapval")})
    with pytest.raises(ProtobufError, match="option unwrap.primitive.wrapper.types of Spark's protobuf connector"):
        spark_type("kosspark.WellKnownWrapperTypes", sdesc, {"unwrap.primitive.wrapper.types": "true"})


@case(FUNCTIONS, "test well known wrappers with emit defaults", "adapted")
def test_well_known_wrappers_with_emit_defaults(spark, sdesc, java):
    """Adapted: the struct half (unwrap false) of Spark's four combinations: unset is null whatever the options; a
    wrapper set to zero is a struct whose value is null, or 0 with emit.default.values; nonzero is its value."""
    unset, zero, nonzero = b"", java.encode("kosspark.WellKnownWrapperTypes", "int32_val { value: 0 }"), java.encode(
        "kosspark.WellKnownWrapperTypes", "int32_val { value: 100 }")
    for emit, zero_value in (("false", None), ("true", 0)):
        options = {"unwrap.primitive.wrapper.types": "false", "emit.default.values": emit}
        got = [r.int32_val for r in decode(spark, [unset, zero, nonzero], "kosspark.WellKnownWrapperTypes", sdesc,
                                           options)]
        assert got == [None, Row(value=zero_value), Row(value=100)]


@case(FUNCTIONS, "test well known wrappers with upcast ints", "adapted")
def test_well_known_wrappers_with_upcast_ints(spark, sdesc, java):
    """Adapted: the struct half (unwrap false) of Spark's combinations, both ways of upcast.unsigned.ints."""
    value = java.encode("kosspark.WellKnownWrapperTypes", f"uint32_val {{ value: {2**31 + 4} }} "
                                                          f"uint64_val {{ value: {2**63 + 4} }}")
    plain = decode(spark, [value], "kosspark.WellKnownWrapperTypes", sdesc, {"upcast.unsigned.ints": "false"})[0]
    assert (plain.uint32_val, plain.uint64_val) == (Row(value=-(2**31) + 4), Row(value=-(2**63) + 4))
    wide = decode(spark, [value], "kosspark.WellKnownWrapperTypes", sdesc, {"upcast.unsigned.ints": "true"})[0]
    assert (wide.uint32_val, wide.uint64_val) == (Row(value=2**31 + 4), Row(value=Decimal(2**63 + 4)))


@case(FUNCTIONS, "SPARK-49121: from_protobuf and to_protobuf SQL functions", "refused")
def test_sql_functions_are_the_connectors():
    """KOS's are Column functions (Python and Java); the SQL functions from_protobuf/to_protobuf are the
    connector's, registered by it."""
    from kosproto import functions

    assert not hasattr(functions, "register_sql_functions")


# -- ProtobufSerdeSuite ----------------------------------------------------------------------------------------

@case(SERDE, "Test basic conversion", "ported")
def test_serde_basic_conversion(spark, sdesc, java):
    value = java.encode("kosspark.SerdeBasicMessage", "foo { bar: 10902 }")
    first, again = round_trip(spark, value, "kosspark.SerdeBasicMessage", sdesc)
    assert first == again == Row(foo=Row(bar=10902))


@case(SERDE, "Optional fields can be dropped from input SQL schema for the serializer", "ported")
def test_serde_optional_fields_may_be_left_out(spark, sdesc, java):
    written = encode(spark, [(22,)], "bar int", "kosspark2.FoobarWithRequiredFieldBar", sdesc)[0]
    assert java.parse("kosspark2.FoobarWithRequiredFieldBar", written)["fields"] == {"bar": 22}


@case(SERDE, "Fail to convert with field type mismatch", "adapted")
def test_serde_field_type_mismatch(spark, sdesc):
    """Adapted: the serializer's half (from_protobuf's schema comes from the message, so it cannot mismatch); KOS's
    message names the field and both types."""
    with pytest.raises(Exception, match=r"cannot write struct field foo \(struct<bar:int>\) into "
                                        r"kosspark.MissMatchTypeInRoot.foo \(int64\)"):
        encode(spark, [((1,),)], "foo struct<bar:int>", "kosspark.MissMatchTypeInRoot", sdesc)


@case(SERDE, "Fail to convert with missing nested Protobuf fields for serializer", "ported")
def test_serde_missing_nested_protobuf_field(spark, sdesc):
    for ddl in ("foo struct<bar:int>", "foo struct<bar:int not null>"):
        with pytest.raises(Exception, match="struct field foo.bar has no field of that name in kosspark.MissingField"):
            encode(spark, [((1,),)], ddl, "kosspark.FieldMissingInProto", sdesc)


@case(SERDE, "Fail to convert with deeply nested field type mismatch", "ported")
def test_serde_deeply_nested_type_mismatch(spark, sdesc):
    with pytest.raises(Exception, match=r"cannot write struct field top.foo.bar \(string\) into kosspark.TypeMiss.bar "
                                        r"\(int64\)"):
        encode(spark, [((("x",),),)], "top struct<foo:struct<bar:string>>", "kosspark.MissMatchTypeInDeepNested",
               sdesc)


@case(SERDE, "Fail to convert with missing Catalyst fields", "ported")
def test_serde_missing_required_fields(spark, sdesc, java):
    with pytest.raises(Exception, match="cannot write kosspark2.FoobarWithRequiredFieldBar: its required field "
                                            "bar is not in the struct"):
        encode(spark, [("x",)], "foo string", "kosspark2.FoobarWithRequiredFieldBar", sdesc)
    with pytest.raises(Exception, match="cannot write kosspark2.FoobarWithRequiredFieldBar: its required field "
                                            "nested_foobar.bar is not in the struct"):
        encode(spark, [(("x",),)], "nested_foobar struct<foo:string>", "kosspark2.NestedFoobarWithRequiredFieldBar",
               sdesc)
    # Reading works whatever the struct lacks: the schema is the message's.
    value = java.encode("kosspark2.NestedFoobarWithRequiredFieldBar", 'nested_foobar { foo: "x" bar: 1 }')
    assert decode(spark, [value], "kosspark2.NestedFoobarWithRequiredFieldBar", sdesc) == [
        Row(nested_foobar=Row(foo="x", bar=1))]


@case(SERDE, "raise cannot parse and construct protobuf descriptor error", "ported")
def test_serde_bad_descriptor_files(spark, tmp_path):
    garbage = tmp_path / "log4j2.properties"
    garbage.write_bytes(b"rootLogger.level = info\n")
    with pytest.raises(ProtobufError, match="the descriptor set does not parse as a google.protobuf.FileDescriptorSet"):
        decode(spark, [b""], "SerdeBasicMessage", str(garbage))
    alone = descriptor_set(tmp_path / "alone.desc", "conformance/needs_import.proto", include_imports=False)
    with pytest.raises(ProtobufError, match="the descriptor set lacks conformance/suite.proto"):
        decode(spark, [b""], "Holder", str(alone))


# -- ProtobufCatalystDataConversionSuite -----------------------------------------------------------------------

SINGLE_TYPES = [("IntegerMsg", "int32_type", "int", "IntegerType", lambda r: r.randint(-(2**31), 2**31 - 1) or 1),
                ("DoubleMsg", "double_type", "double", "DoubleType", lambda r: r.uniform(-1e300, 1e300) or 1.5),
                ("FloatMsg", "float_type", "float", "FloatType", lambda r: float(r.randint(-(2**24), 2**24) or 3) / 4),
                ("BytesMsg", "bytes_type", "binary", "BinaryType", lambda r: bytearray(r.randbytes(r.randint(1, 40)))),
                ("StringMsg", "string_type", "string", "StringType",
                 lambda r: "".join(chr(r.randint(32, 0x2FFF)) for _ in range(r.randint(1, 20))))]
for _message, _field, _sql, _spark, _ in SINGLE_TYPES:
    CASES.append(Case(CATALYST, f"single StructType(StructField({_field},{_spark},true)) with seed <seed>", "ported",
                      "test_single_types_round_trip"))


@pytest.mark.parametrize(("message", "field", "sql", "spark_type_name", "draw"), SINGLE_TYPES,
                         ids=[m for m, *_ in SINGLE_TYPES])
def test_single_types_round_trip(spark, sdesc, message, field, sql, spark_type_name, draw):
    """'single <type> with seed <seed>': a random value (not the type's zero, which reads back as null in proto3)
    through to_protobuf and from_protobuf; the seed is Spark's own choice each run, here a fixed one per type."""
    rng = random.Random(f"kos-{message}")
    values = [draw(rng) for _ in range(20)]
    written = encode(spark, [(v,) for v in values], f"{field} {sql}", f"kosspark.{message}", sdesc)
    assert [getattr(r, field) for r in decode(spark, written, f"kosspark.{message}", sdesc)] == values


@case(CATALYST, "Handle unsupported input of message type", "differs")
def test_bytes_of_another_message(spark, sdesc):
    """An Actual read as Bad (fields of other wire types): FAILFAST fails, as the connector; PERMISSIVE gives a null
    struct where the connector gives a struct of nulls, on purpose: a record that did not decode is then told from
    one whose fields are all unset (the load's dead letters need that)."""
    written = encode(spark, [("a", 1, 1.5, True, 2.5)], "col_0 string, col_1 int, col_2 float, col_3 boolean, "
                                                         "col_4 double", "kosspark.Actual", sdesc)
    with pytest.raises(Exception, match="malformed kosspark.Bad record: field number 2 of kosspark.Bad arrived with "
                                        "another wire type"):
        decode(spark, written, "kosspark.Bad", sdesc)
    assert decode(spark, written, "kosspark.Bad", sdesc, {"mode": "PERMISSIVE"}) == [None]


@case(CATALYST, "ProtobufDeserializer with binary type", "ported")
def test_binary_type(spark, sdesc, java):
    value = java.encode("kosspark.BytesMsg", 'bytes_type: "a05"')
    assert decode(spark, [value], "kosspark.BytesMsg", sdesc) == [Row(bytes_type=bytearray(b"a05"))]


@case(CATALYST, "Full names for message using descriptor file", "ported")
def test_full_and_short_names(spark, sdesc):
    assert spark_type("BytesMsg", sdesc) == spark_type("kosspark.BytesMsg", sdesc)
    with pytest.raises(ProtobufError, match="no message kosspark.Nope in the descriptor set"):
        spark_type("kosspark.Nope", sdesc)


@case(CATALYST, "filter push-down to Protobuf deserializer", "refused")
def test_filter_push_down_is_sparks_own():
    """The case drives the connector's ProtobufDeserializer with Spark's StructFilters (internal API); KOS's functions
    are user-defined functions, to which Spark pushes no filter."""
    from kosproto import functions

    assert not hasattr(functions, "StructFilters")


# -- The count of cases, as the README and docs/protobuf.md give it ---------------------------------------------

def counts() -> dict[str, int]:
    return {kind: sum(1 for c in CASES if c.kind == kind) for kind in KINDS}


def test_every_case_is_a_test_of_this_file():
    names = {n for n in globals() if n.startswith("test_")}
    assert {c.test for c in CASES} <= names
    assert len({(c.suite, c.name) for c in CASES}) == len(CASES)


def test_the_documents_count_these_cases():
    from kosproto.tests import test_differential

    differential = sum(1 for n in dir(test_differential) if n.startswith("test_"))
    expected = {**counts(), "differential": differential}
    for document in (PROJECT / "README.md", PROJECT / "docs" / "protobuf.md"):
        found = dict(re.findall(r"^\| [^|]*\((ported|adapted|refused|differs|differential)\) \| (\d+) \|$",
                                document.read_text(), re.MULTILINE))
        assert {k: int(v) for k, v in found.items()} == expected, document
