"""KOS's from_protobuf / to_protobuf on a local SparkSession: the schema of the mapping table, bytes equal to
protoc's, round trips over awkward values, other schema versions, malformed bytes, and refusals by name."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F
from pyspark.sql import types as T

from kosproto import ProtobufError, check_encodable, from_protobuf, spark_type, to_protobuf

PROPS = settings(max_examples=int(os.environ.get("KOS_FUZZ_EXAMPLES", "30")), deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


INNER = T.StructType([T.StructField("name", T.StringType()), T.StructField("count", T.LongType())])
INTERVAL = T.DayTimeIntervalType(T.DayTimeIntervalType.DAY, T.DayTimeIntervalType.SECOND)


def all_types_schema(u32: T.DataType | None = None, u64: T.DataType | None = None,
                     colour: T.DataType | None = None) -> T.StructType:
    """The mapping table of the README, for kostest.AllTypes (unsigned as int and long, enums as names by default)."""
    u32, u64, colour = u32 or T.IntegerType(), u64 or T.LongType(), colour or T.StringType()
    def f(name: str, t: T.DataType, nullable: bool = True) -> T.StructField:
        return T.StructField(name, t, nullable)

    return T.StructType([
        f("i32", T.IntegerType()), f("i64", T.LongType()), f("u32", u32), f("u64", u64), f("s32", T.IntegerType()),
        f("s64", T.LongType()), f("f32", u32), f("f64", u64), f("sf32", T.IntegerType()), f("sf64", T.LongType()),
        f("fl", T.FloatType()), f("db", T.DoubleType()), f("flag", T.BooleanType()), f("text", T.StringType()),
        f("data", T.BinaryType()), f("colour", colour), f("inner", INNER),
        f("numbers", T.ArrayType(T.LongType(), False)), f("words", T.ArrayType(T.StringType(), False)),
        f("inners", T.ArrayType(INNER, False)), f("counts", T.MapType(T.StringType(), T.LongType(), False)),
        f("by_id", T.MapType(T.IntegerType(), INNER, False)), f("at", T.TimestampType()), f("took", INTERVAL),
        f("maybe", T.IntegerType()), f("label", T.StringType()), f("number", T.LongType()),
        f("colours", T.ArrayType(colour, False)), f("times", T.ArrayType(T.TimestampType(), False)),
    ])


def test_the_spark_schema_is_the_mapping_table(spark, test_set):
    assert spark_type("kostest.AllTypes", str(test_set)) == all_types_schema()
    assert spark_type("kostest.AllTypes", str(test_set), {"upcast.unsigned.ints": "true", "enums.as.ints": "true"}) \
        == all_types_schema(T.LongType(), T.DecimalType(20, 0), T.IntegerType())
    assert spark_type("kostest.Legacy", str(test_set)) == T.StructType([
        T.StructField("id", T.StringType(), False), T.StructField("level", T.IntegerType()),
        T.StructField("note", T.StringType())])


AWKWARD = "h\u00e9llo \U0001f600 \u202eevil\u200b \u0000nul"
AWKWARD_OCTAL = "".join(f"\\{b:03o}" for b in AWKWARD.encode())  # as protoc's text format takes any bytes
SAMPLE_TEXT = f"""
i32: -5 i64: 9223372036854775807 u32: 4294967295 u64: 18446744073709551615 s32: -2147483648
s64: -9223372036854775808 f32: 7 f64: 8 sf32: -9 sf64: -10 fl: 1.5 db: -2.25 flag: true
text: "{AWKWARD_OCTAL}" data: "\\001\\377\\000" colour: GREEN
inner {{ name: "n" count: 3 }} numbers: [1, -2] words: ["a", ""] inners {{ name: "x" }} inners {{ count: 4 }}
counts {{ key: "k" value: 1 }} by_id {{ key: 1 value {{ name: "z" }} }}
at {{ seconds: -1 nanos: 999999000 }} took {{ seconds: -2 nanos: -500000000 }} maybe: 0 number: 42
colours: [RED, GREEN] times {{ seconds: 253402300799 nanos: 999999000 }}
"""
SAMPLE_ROW = (-5, 2**63 - 1, -1, -1, -2**31, -2**63, 7, 8, -9, -10, 1.5, -2.25, True, AWKWARD, b"\x01\xff\x00",
              "GREEN", ("n", 3), [1, -2], ["a", ""], [("x", None), (None, 4)], {"k": 1}, {1: ("z", None)},
              datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), timedelta(seconds=-2.5), 0, None, 42,
              ["RED", "GREEN"], [datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)])


@pytest.mark.skipif(shutil.which("protoc") is None, reason="protoc (Debian's protobuf-compiler) is not installed")
def test_bytes_equal_protoc_encode_and_read_back(spark, test_set):
    expected = subprocess.run(["protoc", f"--descriptor_set_in={test_set}", "--encode=kostest.AllTypes"],
                              input=SAMPLE_TEXT.encode(), capture_output=True, check=True).stdout
    rows = spark.createDataFrame([SAMPLE_ROW], all_types_schema())
    encoded = rows.select(to_protobuf(F.struct(*rows.columns), "kostest.AllTypes", str(test_set)).alias("v"))
    assert bytes(encoded.collect()[0].v) == expected
    decoded = encoded.select(from_protobuf("v", "kostest.AllTypes", str(test_set)).alias("m")).collect()[0].m
    assert decoded.asDict(recursive=True) == {
        **dict(zip(all_types_schema().names, SAMPLE_ROW, strict=True)),
        "inner": {"name": "n", "count": 3}, "inners": [{"name": "x", "count": None}, {"name": None, "count": 4}],
        "by_id": {1: {"name": "z", "count": None}}, "data": bytearray(b"\x01\xff\x00"),
        "at": datetime(1969, 12, 31, 23, 59, 59, 999999), "times": [datetime(9999, 12, 31, 23, 59, 59, 999999)],
        "words": ["a", ""],  # repeated values are all kept
        "maybe": 0,  # proto3 optional: present, so 0 and not null
    }


def test_zero_values_are_null_unless_emitted(spark, test_set):
    rows = spark.createDataFrame([(0, "", False, "COLOUR_UNSPECIFIED", None)],
                                 "i32 int, text string, flag boolean, colour string, maybe int")
    encoded = rows.select(to_protobuf(F.struct(*rows.columns), "kostest.AllTypes", str(test_set)).alias("v"))
    assert bytes(encoded.collect()[0].v) == b""  # nothing set on the wire

    def read(options):
        return encoded.select(from_protobuf("v", "kostest.AllTypes", str(test_set), options).alias("m")) \
            .select("m.i32", "m.text", "m.flag", "m.colour", "m.maybe", "m.inner", "m.numbers").collect()[0]

    assert tuple(read(None)) == (None, None, None, None, None, None, [])
    assert tuple(read({"emit.default.values": "true"})) == (0, "", False, "COLOUR_UNSPECIFIED", None, None, [])
    assert tuple(read({"enums.as.ints": "true", "emit.default.values": "true"}))[3] == 0


def test_unsigned_values_upcast(spark, test_set):
    rows = spark.createDataFrame([(-1, -1)], "u32 int, u64 long")
    encoded = rows.select(to_protobuf(F.struct("u32", "u64"), "kostest.AllTypes", str(test_set)).alias("v"))
    up = encoded.select(from_protobuf("v", "kostest.AllTypes", str(test_set), {"upcast.unsigned.ints": "true"})
                        .alias("m")).select("m.u32", "m.u64").collect()[0]
    assert tuple(up) == (2**32 - 1, Decimal(2**64 - 1))


def test_other_schema_versions_decode(spark, test_set):
    newer = spark.createDataFrame([(1, 2, "new")], "i32 int, i64 long, added string")
    written_newer = newer.select(to_protobuf(F.struct(*newer.columns), "kostest.AllTypesNewer", str(test_set))
                                 .alias("v"))
    by_older = written_newer.select(from_protobuf("v", "kostest.AllTypes", str(test_set)).alias("m")).collect()[0].m
    assert (by_older.i32, by_older.i64, by_older.text) == (1, 2, None)  # the unknown field is skipped
    older = spark.createDataFrame([(3, 4, "old text")], "i32 int, i64 long, text string")
    written_older = older.select(to_protobuf(F.struct(*older.columns), "kostest.AllTypes", str(test_set)).alias("v"))
    by_newer = written_older.select(from_protobuf("v", "kostest.AllTypesNewer", str(test_set)).alias("m")).collect()
    assert tuple(by_newer[0].m) == (3, 4, None)  # the field the writer did not know is null


@pytest.mark.parametrize(("value", "why"), [
    (b"\x0a\x05ab", "the bytes do not parse"),  # truncated: a 5-byte field with 2 bytes
    (b"\xff\xff\xff\xff", "the bytes do not parse"),
    (b"\x70\x05", "field number 14 of kostest.AllTypes arrived with another wire type"),  # text as a varint
    (b"\xba\x01\x0b\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "kostest.AllTypes.at holds a Timestamp out of range"),
    # The same rule at every depth: inner.name, inners[0].count, by_id[1].name and at.seconds with the wrong type.
    (b"\x8a\x01\x02\x08\x05", "field number 1 of kostest.Inner arrived with another wire type"),
    (b"\xa2\x01\x03\x12\x01x", "field number 2 of kostest.Inner arrived with another wire type"),
    (b"\xb2\x01\x06\x08\x01\x12\x02\x08\x05", "field number 1 of kostest.Inner arrived with another wire type"),
    (b"\xba\x01\x03\x0a\x01\x00", "field number 1 of google.protobuf.Timestamp arrived with another wire type"),
])
def test_malformed_bytes_fail_fast_or_give_null(spark, test_set, value, why):
    data = spark.createDataFrame([(bytearray(value),), (None,)], "v binary")
    permissive = data.select(from_protobuf("v", "kostest.AllTypes", str(test_set), {"mode": "PERMISSIVE"})
                             .alias("m")).collect()
    assert [r.m for r in permissive] == [None, None]
    with pytest.raises(Exception, match=f"malformed kostest.AllTypes record: {why}"):
        data.select(from_protobuf("v", "kostest.AllTypes", str(test_set))).collect()


def test_fields_of_a_newer_schema_are_skipped_at_every_depth(spark, test_set):
    # inner { name: "a", field 9: 5 } then field 40: "x", both unknown to this schema.
    value = b"\x8a\x01\x05\x0a\x01a\x48\x05\xc2\x02\x01x"
    data = spark.createDataFrame([(bytearray(value),)], "v binary")
    row = data.select(from_protobuf("v", "kostest.AllTypes", str(test_set)).alias("m")).collect()[0].m
    assert (row.inner["name"], row.inner["count"], row.text) == ("a", None, None)


@pytest.mark.parametrize(("columns", "message"), [
    ("i32 int, nope string", "struct field nope has no field of that name in kostest.AllTypes"),
    ("i32 string", "cannot write struct field i32 (string) into kostest.AllTypes.i32 (int32)"),
    ("inner struct<name:string, size:long>", "struct field inner.size has no field of that name in kostest.Inner"),
    ("numbers long", "cannot write struct field numbers (bigint) into kostest.AllTypes.numbers (repeated int64)"),
    ("at string", "cannot write struct field at (string) into kostest.AllTypes.at (google.protobuf.Timestamp)"),
])
def test_a_struct_the_message_cannot_take_is_refused_naming_field_and_message(spark, test_set, columns, message):
    struct = spark.createDataFrame([], columns).schema
    with pytest.raises(ProtobufError, match=f"^{re.escape(message)}"):
        check_encodable(struct, "kostest.AllTypes", str(test_set))
    rows = spark.createDataFrame([tuple([None] * len(struct))], struct)
    with pytest.raises(Exception, match=re.escape(message)):
        rows.select(to_protobuf(F.struct(*rows.columns), "kostest.AllTypes", str(test_set))).collect()


def test_fields_match_by_name_in_any_case_and_enum_names_are_checked(spark, test_set):
    rows = spark.createDataFrame([(5, "RED")], "I32 int, Colour string")
    encoded = rows.select(to_protobuf(F.struct(*rows.columns), "kostest.AllTypes", str(test_set)).alias("v"))
    decoded = encoded.select(from_protobuf("v", "kostest.AllTypes", str(test_set)).alias("m"))
    assert tuple(decoded.select("m.i32", "m.colour").collect()[0]) == (5, "RED")
    wrong = spark.createDataFrame([("PURPLE",)], "colour string")
    with pytest.raises(Exception, match="'PURPLE' is not a value of kostest.AllTypes.Colour"):
        wrong.select(to_protobuf(F.struct("colour"), "kostest.AllTypes", str(test_set))).collect()


def test_enums_may_be_written_as_their_numbers_known_ones_only(spark, test_set):
    rows = spark.createDataFrame([(2,)], "colour int")
    encoded = rows.select(to_protobuf(F.struct("colour"), "kostest.AllTypes", str(test_set)).alias("v"))
    assert encoded.collect()[0].v == b"\x80\x01\x02"  # field 16, varint 2
    assert encoded.select(from_protobuf("v", "kostest.AllTypes", str(test_set)).alias("m")).collect()[0].m.colour \
        == "GREEN"
    wrong = spark.createDataFrame([(7,)], "colour int")
    with pytest.raises(Exception, match=re.escape("7 is not a number of kostest.AllTypes.Colour (field "
                                                  "kostest.AllTypes.colour; numbers: 0, 1, 2)")):
        wrong.select(to_protobuf(F.struct("colour"), "kostest.AllTypes", str(test_set))).collect()


@pytest.mark.parametrize(("column", "message"), [
    # 9999-12-31T23:59:59-12:00, the last second of protobuf's range plus 12 hours
    ("timestamp_micros(253402300799000000 + 43200000000) AS at",
     "kostest.AllTypes.at cannot hold 10000-01-01T11:59:59.000000Z: a google.protobuf.Timestamp holds seconds "
     "from -62135596800 to 253402300799"),
    ("timestamp_micros(-62135596800000001) AS at", "kostest.AllTypes.at cannot hold "
     "0000-12-31T23:59:59.999999Z"),
    ("INTERVAL '3660000' DAY AS took", "kostest.AllTypes.took cannot hold a duration of "
     "316224000000000000 microseconds: a google.protobuf.Duration holds seconds from -315576000000 to 315576000000"),
])
def test_times_beyond_protobufs_range_are_refused_naming_the_field(spark, test_set, column, message):
    rows = spark.range(1).selectExpr(column)
    with pytest.raises(Exception, match=re.escape(message)):
        rows.select(to_protobuf(F.struct(*rows.columns), "kostest.AllTypes", str(test_set))).collect()
    last = spark.range(1).select(F.timestamp_micros(F.lit(253_402_300_799_999_999)).alias("at"))
    back = last.select(to_protobuf(F.struct("at"), "kostest.AllTypes", str(test_set)).alias("v")) \
        .select(from_protobuf("v", "kostest.AllTypes", str(test_set)).alias("m")).collect()[0].m.at
    assert back == datetime(9999, 12, 31, 23, 59, 59, 999999)


def test_proto2_defaults_and_required_fields(spark, test_set):
    rows = spark.createDataFrame([("a", None, None)], "id string, level int, note string")
    encoded = rows.select(to_protobuf(F.struct(*rows.columns), "kostest.Legacy", str(test_set)).alias("v"))
    decoded = encoded.select(from_protobuf("v", "kostest.Legacy", str(test_set)).alias("m")).collect()[0].m
    assert tuple(decoded) == ("a", 7, None)  # an explicit default is a value; an absent optional is null
    with pytest.raises(ProtobufError, match="its required field id is not in the struct"):
        check_encodable(T.StructType([T.StructField("note", T.StringType())]), "kostest.Legacy", str(test_set))


@pytest.mark.parametrize(("options", "message"), [
    ({"convert.any.fields.to.json": "true"}, "option convert.any.fields.to.json of Spark's protobuf connector is "
                                             "not supported by KOS's protobuf functions"),
    ({"recursive.fields.max.depth": "two"}, "option recursive.fields.max.depth must be a whole number"),
    ({"emit.defaults": "true"}, "unknown protobuf option 'emit.defaults'"),
    ({"mode": "DROPMALFORMED"}, "option mode must be FAILFAST or PERMISSIVE, not 'DROPMALFORMED'"),
])
def test_options_not_understood_are_refused_by_name(spark, test_set, options, message):
    with pytest.raises(ProtobufError, match=f"^{re.escape(message)}"):
        from_protobuf("v", "kostest.AllTypes", str(test_set), options)


def test_recursive_messages_and_unknown_names_are_refused_when_the_column_is_made(spark, test_set):
    with pytest.raises(ProtobufError, match="kostest.Recursive.child makes kostest.Recursive recursive"):
        from_protobuf("v", "kostest.Recursive", str(test_set))
    with pytest.raises(ProtobufError, match="no message kostest.Nope in the descriptor set"):
        from_protobuf("v", "kostest.Nope", str(test_set))
    with pytest.raises(ProtobufError, match="give descFilePath or binaryDescriptorSet"):
        from_protobuf("v", "com.example.Java")


# -- round trips over generated rows ------------------------------------------------------------------------------

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12) | st.sampled_from(
    ["", "\U0001f600\U0001f4a9", "\u202e\u2066rtl\u2069", "zero\u200bwidth", "\x00"])
moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999),
                       timezones=st.just(UTC))
row = st.tuples(
    st.none() | texts, st.none() | st.binary(max_size=10), st.none() | st.integers(-2**63, 2**63 - 1),
    st.none() | st.integers(-2**63, 2**63 - 1), st.none() | st.integers(-2**31, 2**31 - 1), st.none() | st.booleans(),
    st.none() | st.floats(allow_nan=False), st.none() | moments, st.none() | st.integers(-2**31, 2**31 - 1),
    st.none() | st.tuples(st.none() | texts, st.none() | st.integers(-2**63, 2**63 - 1)),
    st.none() | st.lists(texts, max_size=3), st.none() | st.sampled_from(["COLOUR_UNSPECIFIED", "RED", "GREEN"]),
)
ROW_SCHEMA = ("text string, data binary, i64 long, u64 long, i32 int, flag boolean, db double, at timestamp, "
              "maybe int, inner struct<name:string,count:bigint>, words array<string>, colour string")


@PROPS
@given(st.lists(row, min_size=1, max_size=20))
def test_rows_round_trip(spark, test_set, rows):
    """What to_protobuf writes, from_protobuf (emitting defaults) reads back: values as they were, nulls of
    fields without presence as their zero value (proto3 cannot tell them apart), nulls of the others as null."""
    frame = spark.createDataFrame(rows, ROW_SCHEMA)
    encoded = frame.select(to_protobuf(F.struct(*frame.columns), "kostest.AllTypes", str(test_set)).alias("v"))
    decoded = encoded.select(from_protobuf("v", "kostest.AllTypes", str(test_set), {"emit.default.values": "true"})
                             .alias("m")).select(*(f"m.{c}" for c in frame.columns if c != "at"),
                                                 F.unix_micros("m.at").alias("at")).collect()
    zero = ["", bytearray(), 0, 0, 0, False, 0.0]
    for got, given_row in zip(decoded, rows, strict=True):
        text, data, i64, u64, i32, flag, db, at, maybe, inner, words, colour = given_row
        expected = [v if v is not None else z for v, z in zip(given_row[:7], zero, strict=True)]
        expected[1] = bytearray(expected[1])
        assert list(got[:7]) == expected
        # As microseconds: PySpark itself cannot turn year 1 into a datetime on collect.
        assert got.at == (None if at is None else (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1))
        assert got.maybe == maybe
        assert got.inner == (None if inner is None else (inner[0] or "", inner[1] or 0))
        assert got.words == (words or [])
        assert got.colour == (colour or "COLOUR_UNSPECIFIED")


# -- Spark's connector, where it can be had --------------------------------------------------------------------------

CONNECTOR_JAR = Path.home() / ".m2/repository/org/apache/spark/spark-protobuf_2.13/4.2.0/spark-protobuf_2.13-4.2.0.jar"


@pytest.mark.skipif(not CONNECTOR_JAR.exists(), reason="org.apache.spark:spark-protobuf_2.13:4.2.0 is not in ~/.m2 "
                                                       "(the Maven registry here does not serve it)")
def test_the_connector_reads_what_kos_writes_and_the_other_way_round(test_set):  # pragma: no cover - not served
    script = f"""
import sys
from pyspark.sql import SparkSession, functions as F
from kosproto import from_protobuf, to_protobuf, implementation
spark = SparkSession.builder.master("local[1]").config("spark.jars", {str(CONNECTOR_JAR)!r}).getOrCreate()
assert implementation(spark) == "spark"
rows = spark.createDataFrame([(5, "RED", "x")], "i32 int, colour string, text string")
spark.conf.set("spark.kos.protobuf.implementation", "kos")
ours = rows.select(to_protobuf(F.struct(*rows.columns), "kostest.AllTypes", {str(test_set)!r}).alias("v")).collect()
spark.conf.set("spark.kos.protobuf.implementation", "spark")
back = spark.createDataFrame(ours).select(from_protobuf("v", "kostest.AllTypes", {str(test_set)!r}).alias("m"))
assert tuple(back.select("m.i32", "m.colour", "m.text").collect()[0]) == (5, "RED", "x")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
