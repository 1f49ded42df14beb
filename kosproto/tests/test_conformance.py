"""The cases of Spark's protobuf connector tests, asserted against KOS's ``from_protobuf``/``to_protobuf``.

Spark's ``ProtobufFunctionsSuite``, ``ProtobufSerdeSuite`` and ``ProtobufCatalystDataConversionSuite`` and the
examples of ``pyspark.sql.protobuf.functions`` state what the connector gives for each case; every test here
names the case it ports, and its expected values are the connector's (facts restated in KOS's own messages,
kosproto/tests/proto/conformance/suite.proto). Where KOS differs on purpose or refuses, the test says so and
asserts the named error. docs/protobuf.md keeps the table of cases.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from kosproto import ProtobufError, from_protobuf, spark_type, to_protobuf
from kosproto.tests.conftest import descriptor_set


def encode(spark, rows: list[tuple], ddl: str, message: str, desc: str, **kw) -> list[bytes]:
    frame = spark.createDataFrame(rows, ddl)
    return [r.v for r in frame.select(to_protobuf(F.struct(*frame.columns), message, desc, **kw).alias("v"))
            .collect()]


def decode(spark, values: list[bytes | None], message: str, desc: str, options: dict | None = None) -> list:
    frame = spark.createDataFrame([(None if v is None else bytearray(v),) for v in values], "v binary")
    return [r.m for r in frame.select(from_protobuf("v", message, desc, options).alias("m")).collect()]


# -- pyspark.sql.protobuf.functions: the docstring examples ----------------------------------------------------

def test_pyspark_example_to_protobuf_bytes(spark, suite):
    """to_protobuf example: SimpleMessage(age=2, name='Alice', score=109200), and score 13093020."""
    got = encode(spark, [(2, "Alice", 109200), (2, "Alice", 13093020)], "age int, name string, score long",
                 "SimpleMessage", suite)
    assert [v.hex(" ").upper() for v in got] == ["08 02 12 05 41 6C 69 63 65 18 90 D5 06",
                                                 "08 02 12 05 41 6C 69 63 65 18 9C 91 9F 06"]


def test_pyspark_example_from_protobuf_rows(spark, suite):
    """from_protobuf example: the bytes back to Row(age=2, name='Alice', score=109200)."""
    value = bytes.fromhex("08 02 12 05 41 6C 69 63 65 18 90 D5 06")
    assert decode(spark, [value], "SimpleMessage", suite) == [Row(age=2, name="Alice", score=109200)]


def test_pyspark_example_timestamp_message(spark, suite):
    """The Timestamp example: google.protobuf.Timestamp as the message itself is a struct<seconds, nanos>."""
    got = encode(spark, [(1668035962, 2020)], "seconds long, nanos int", "google.protobuf.Timestamp", suite)
    assert got == [bytes.fromhex("08 FA EA B0 9B 06 10 E4 0F")]
    assert decode(spark, got, "google.protobuf.Timestamp", suite) == [Row(seconds=1668035962, nanos=2020)]


# -- ProtobufFunctionsSuite ------------------------------------------------------------------------------------

def test_roundtrip_struct_of_every_scalar_type(spark, suite):
    """'roundtrip in to_protobuf and from_protobuf - struct': ids 1..9 cast to each column's type."""
    ddl = ("int32_value int, uint32_value int, sint32_value int, fixed32_value int, sfixed32_value int, "
           "int64_value long, uint64_value long, sint64_value long, fixed64_value long, sfixed64_value long, "
           "double_value double, float_value float, bool_value boolean, string_value string, bytes_value binary")
    rows = [(i, i, i, i, i, i, i, i, i, i, float(i), 1202.0, True, str(i), b"0") for i in range(1, 10)]
    back = decode(spark, encode(spark, rows, ddl, "Scalars", suite), "Scalars", suite)
    assert [tuple(r) for r in back] == [tuple(bytearray(v) if isinstance(v, bytes) else v for v in r) for r in rows]


def test_roundtrip_repeated_and_maps(spark, suite):
    """'Repeated', 'Repeated Message Once/Twice' and 'Map': from_protobuf, to_protobuf, from_protobuf again."""
    ddl = ("key string, numbers array<long>, words array<string>, "
           "messages array<struct<age:int,name:string,score:long>>, counts map<string,long>, "
           "by_id map<int,struct<age:int,name:string,score:long>>")
    rows = [("k", [0x90000000000, 1], ["a", "b"], [(1, "x", 5), (2, "y", 6)], {"a": 1, "b": 2}, {7: (3, "z", 9)})]
    first = decode(spark, encode(spark, rows, ddl, "Repeated", suite), "Repeated", suite)
    frame = spark.createDataFrame([tuple(first[0])], ddl)
    again = frame.select(to_protobuf(F.struct(*frame.columns), "Repeated", suite).alias("v")) \
        .select(from_protobuf("v", "Repeated", suite).alias("m")).collect()[0].m
    assert again == first[0]
    assert (first[0].numbers, first[0].words, [tuple(m) for m in first[0].messages]) == \
        ([0x90000000000, 1], ["a", "b"], [(1, "x", 5), (2, "y", 6)])
    assert (first[0].counts, {k: tuple(v) for k, v in first[0].by_id.items()}) == ({"a": 1, "b": 2}, {7: (3, "z", 9)})


def test_roundtrip_enum_names_and_numbers(spark, suite):
    """'roundtrip ... - Enum', and 'enums.as.ints': names by default, numbers with the option."""
    value = bytes.fromhex("08 02 12 02 01 00")  # level HIGH, levels [LOW, LEVEL_UNSPECIFIED]
    assert decode(spark, [value], "Enums", suite) == [Row(level="HIGH", levels=["LOW", "LEVEL_UNSPECIFIED"])]
    assert decode(spark, [value], "Enums", suite, {"enums.as.ints": "true"}) == [Row(level=2, levels=[1, 0])]
    assert encode(spark, [("HIGH", ["LOW", "LEVEL_UNSPECIFIED"])], "level string, levels array<string>", "Enums",
                  suite) == [value]
    assert encode(spark, [(2, [1, 0])], "level int, levels array<int>", "Enums", suite) == [value]


def test_unknown_enum_name_or_number_is_refused(spark, suite):
    """'Handle unsupported input of enum type': a name or number the enum lacks, refused naming both."""
    with pytest.raises(Exception, match=r"'MEDIUM' is not a value of kosconf.Enums.Level"):
        encode(spark, [("MEDIUM",)], "level string", "Enums", suite)
    with pytest.raises(Exception, match=r"7 is not a number of kosconf.Enums.Level .*numbers: 0, 1, 2\)"):
        encode(spark, [(7,)], "level int", "Enums", suite)


def test_oneof_fields_are_struct_fields_and_the_last_set_wins(spark, suite):
    """'Verify OneOf field between from_protobuf -> to_protobuf and struct -> from_protobuf': every member of the
    oneof is a field of the struct; the one set arrives, and writing two sets the last (the builder's rule)."""
    assert [f.name for f in spark_type("kosconf.OneOf", suite).fields] == \
        ["key", "number", "text", "simple"]
    one = decode(spark, [bytes.fromhex("0a 01 6b 1a 02 68 69")], "OneOf", suite)[0]
    assert (one.key, one.number, one.text, one.simple) == ("k", None, "hi", None)
    two = encode(spark, [("k", 5, "hi")], "key string, number int, text string", "OneOf", suite)
    assert decode(spark, two, "OneOf", suite)[0].text == "hi" and decode(spark, two, "OneOf", suite)[0].number is None


def test_timestamp_and_duration_fields(spark, suite):
    """'roundtrip in from_protobuf and to_protobuf - Timestamp/Duration' (ProtobufCatalystDataConversionSuite):
    Timestamp to TimestampType, Duration to DayTimeIntervalType(DAY, SECOND), nanoseconds cut to micros."""
    times = spark_type("kosconf.Times", suite)
    assert [f.dataType for f in times.fields] == [T.TimestampType(), T.DayTimeIntervalType(0, 3)]
    value = bytes.fromhex("0a 09 08 fa ea b0 9b 06 10 e4 0f 12 04 08 3c 10 01")  # 1668035962 s 2020 ns; 60 s 1 ns
    row = decode(spark, [value], "Times", suite)[0]
    assert row == Row(at=datetime(2022, 11, 9, 23, 19, 22, 2), took=timedelta(seconds=60))


def test_proto3_zero_values_are_not_written_and_read_as_null_unless_emitted(spark, suite):
    """'Verify emit.default.values' and the SerdeSuite's presence rules: a proto3 zero is never written; reading
    it gives null (a field with presence that was set gives its value) unless emit.default.values."""
    assert encode(spark, [(0, "", 0)], "age int, name string, score long", "SimpleMessage", suite) == [b""]
    assert decode(spark, [b""], "SimpleMessage", suite) == [Row(age=None, name=None, score=None)]
    assert decode(spark, [b""], "SimpleMessage", suite, {"emit.default.values": "true"}) == \
        [Row(age=0, name="", score=0)]
    present = decode(spark, [bytes.fromhex("08 00")], "Presence", suite)[0]  # optional maybe = 0, set
    assert (present.maybe, present.plain, present.nested) == (0, None, None)
    assert decode(spark, [b""], "Repeated", suite)[0].numbers == []  # repeated fields are arrays, empty


def test_unsigned_ints_and_their_upcast(spark, suite):
    """'Handle unsigned int types' (upcast.unsigned.ints): the bits as int/long by default; long and
    decimal(20,0) with the option."""
    value = bytes.fromhex("10 ff ff ff ff 0f 38 ff ff ff ff ff ff ff ff ff 01")  # uint32 and uint64 at their max
    plain = decode(spark, [value], "Scalars", suite)[0]
    assert (plain.uint32_value, plain.uint64_value) == (-1, -1)
    wide = decode(spark, [value], "Scalars", suite, {"upcast.unsigned.ints": "true"})[0]
    assert (wide.uint32_value, wide.uint64_value) == (4294967295, Decimal(18446744073709551615))


def test_any_and_wrapper_types_are_structs(spark, suite):
    """'Verify Any ...' and wrapper types without the unwrap option: Any is struct<type_url, value>, a wrapper is
    struct<value>; a wrapper set to its zero is a struct whose value is null."""
    schema = spark_type("kosconf.WellKnown", suite)
    assert schema.simpleString() == ("struct<detail:struct<type_url:string,value:binary>,count:struct<value:int>,"
                                     "label:struct<value:string>>")
    value = bytes.fromhex("0a 07 0a 01 74 12 02 08 01 12 00")  # detail {type_url "t", value 08 01}, count {}
    row = decode(spark, [value], "WellKnown", suite)[0]
    assert (row["detail"], row["count"], row["label"]) == (
        Row(type_url="t", value=bytearray(b"\x08\x01")), Row(value=None), None)


def test_empty_message_fields_are_left_out(spark, suite):
    """'Empty message' (retain.empty.message.types false, the default): a field of an empty message type is not in
    the schema."""
    assert spark_type("kosconf.WithEmpty", suite).simpleString() == \
        "struct<name:string>"


@pytest.mark.parametrize("message", ["Recursive", "MutualA"])
def test_recursive_messages_are_refused_by_name(spark, suite, message):
    """'Handle recursive fields in Protobuf schema': refused by default (recursive.fields.max.depth -1), naming
    the path."""
    with pytest.raises(ProtobufError, match=rf"makes kosconf.{message} recursive \(kosconf.{message} -> "):
        spark_type(f"kosconf.{message}", suite)
    with pytest.raises(ProtobufError, match=rf"makes kosconf.{message} recursive"):
        spark_type(f"kosconf.{message}", suite, {"recursive.fields.max.depth": "-1"})


def test_struct_fields_match_by_name_missing_ones_allowed_extra_ones_refused(spark, suite):
    """SerdeSuite 'Fail to convert with field type mismatch / missing in Protobuf schema': a struct field the
    message lacks is refused by name; message fields the struct lacks are simply not written; names in any case
    (spark.sql.caseSensitive false)."""
    assert encode(spark, [("Alice",)], "NAME string", "SimpleMessage", suite) == [bytes.fromhex("12 05 41 6c 69 63 65")]
    with pytest.raises(Exception, match="struct field height has no field of that name in kosconf.SimpleMessage"):
        encode(spark, [("Alice", 1)], "name string, height int", "SimpleMessage", suite)
    with pytest.raises(Exception, match=r"cannot write struct field age \(string\) into kosconf.SimpleMessage.age"):
        encode(spark, [("two",)], "age string", "SimpleMessage", suite)


def test_message_names_full_or_short_and_unknown(spark, suite):
    """'Verify that message names can be given in full or short form', and an unknown name refused."""
    value = bytes.fromhex("08 02")
    assert decode(spark, [value], "kosconf.SimpleMessage", suite) == decode(spark, [value], "SimpleMessage", suite)
    with pytest.raises(ProtobufError, match="no message kosconf.Nope in the descriptor set"):
        decode(spark, [value], "kosconf.Nope", suite)


def test_descriptor_files_bad_or_lacking_an_import(spark, suite, tmp_path):
    """'Handle bad descriptor file' and 'missing import': one line naming what is wrong; the same set given as a
    path or as binaryDescriptorSet decodes the same."""
    garbage = tmp_path / "bad.desc"
    garbage.write_bytes(b"\xff\xfe not a descriptor set")
    with pytest.raises(ProtobufError, match="the descriptor set does not parse as a google.protobuf.FileDescriptorSet"):
        decode(spark, [b""], "SimpleMessage", str(garbage))
    alone = descriptor_set(tmp_path / "alone.desc", "conformance/needs_import.proto", include_imports=False)
    with pytest.raises(ProtobufError, match="the descriptor set lacks conformance/suite.proto, imported by "
                                            "conformance/needs_import.proto: build it with --include_imports"):
        decode(spark, [b""], "Holder", str(alone))
    frame = spark.createDataFrame([(bytearray(b"\x08\x02"),)], "v binary")
    by_bytes = frame.select(from_protobuf("v", "SimpleMessage", binaryDescriptorSet=Path(suite).read_bytes())
                            .alias("m")).collect()
    assert by_bytes == frame.select(from_protobuf("v", "SimpleMessage", suite).alias("m")).collect()


def test_malformed_bytes_failfast_and_permissive(spark, suite):
    """'Handle FAILFAST and PERMISSIVE modes' (ProtobufFunctionsSuite 'malformed records'): FAILFAST fails the
    query naming the message; PERMISSIVE gives a null row; null bytes are always a null row."""
    bad = bytes.fromhex("12 05 41")  # a 5-byte string with one byte
    assert decode(spark, [bad, None], "SimpleMessage", suite, {"mode": "PERMISSIVE"}) == [None, None]
    with pytest.raises(Exception, match="malformed kosconf.SimpleMessage record: the bytes do not parse"):
        decode(spark, [bad], "SimpleMessage", suite)
    nulls = spark.createDataFrame([(None,)], "s struct<age:int>")
    assert nulls.select(to_protobuf("s", "SimpleMessage", suite).alias("v")).collect() == [Row(v=None)]
