"""KOS's codec against two official protobuf runtimes: the pure-Python one (in a process of its own) and the Java
one (protobuf-java, in the tests' JVM: kosproto/tests/official_java.py). Hypothesis-made messages of every field type
in kosproto/tests/proto/conformance/suite.proto, and malformed bytes.

- KOS's ``to_protobuf`` bytes equal the official runtimes' of the same values (maps aside, whose order on the
  wire no runtime fixes: they are checked through decoding);
- KOS's ``from_protobuf`` of the official bytes gives back the values (``emit.default.values``, so zeros too);
- floats and doubles by the rule protobuf-java and upb follow: a value is a proto3 zero (left out, read as null)
  only when its bits are zero, so -0.0 and NaN are written and read back (the pure-Python runtime leaves -0.0
  out: its bytes are compared without it);
- malformed bytes (truncations, unknown fields of every wire type at every depth, wrong wire types at every
  depth, 11-byte varints, lengths past the end, groups, random bytes): KOS (PERMISSIVE) gives null exactly where
  each runtime refuses them or keeps a field number of the schema as an unknown field (a wrong wire type: the
  connector's rule, which KOS applies at every depth).
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from kosproto import from_protobuf, to_protobuf
from kosproto.tests.official_java import JavaRuntime, text

ORACLE = Path(__file__).with_name("official_python.py")
# Each example is a batch of up to 40 messages: 25 examples compare about 500 messages per test.
EXAMPLES = settings(max_examples=int(os.environ.get("KOS_FUZZ_EXAMPLES", "25")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

I32, I64 = st.integers(-(2**31), 2**31 - 1), st.integers(-(2**63), 2**63 - 1)


def not_negative_zero(x: float) -> bool:
    # The pure-Python runtime leaves -0.0 out as a proto3 zero; upb and Java write it (they test the bits).
    return not (x == 0 and math.copysign(1, x) < 0)


FLOAT = st.floats(width=32, allow_nan=False).filter(not_negative_zero)
DOUBLE = st.floats(allow_nan=False).filter(not_negative_zero)
# Against protobuf-java: every float, -0.0, NaN and the infinities among them (NaN as text gives the one NaN the
# runtime parses it to: other payloads and signs of NaN are bits text cannot say).
ANY_FLOAT = st.floats(width=32, allow_nan=False) | st.sampled_from([-0.0, math.nan, math.inf])
ANY_DOUBLE = st.floats(allow_nan=False) | st.sampled_from([-0.0, math.nan, -math.inf])
SCALARS_DDL = ("int32_value int, uint32_value int, sint32_value int, fixed32_value int, sfixed32_value int, "
               "int64_value long, uint64_value long, sint64_value long, fixed64_value long, sfixed64_value long, "
               "double_value double, float_value float, bool_value boolean, string_value string, bytes_value binary")
SCALARS = st.tuples(I32, I32, I32, I32, I32, I64, I64, I64, I64, I64, DOUBLE, FLOAT, st.booleans(), st.text(),
                    st.binary())
ALL_SCALARS = st.tuples(I32, I32, I32, I32, I32, I64, I64, I64, I64, I64, ANY_DOUBLE, ANY_FLOAT, st.booleans(),
                        st.text(), st.binary())
SIMPLE = st.tuples(I32, st.text(max_size=8), I64)
REPEATED_DDL = ("key string, numbers array<long>, words array<string>, "
                "messages array<struct<age:int,name:string,score:long>>, counts map<string,long>, "
                "by_id map<int,struct<age:int,name:string,score:long>>")
REPEATED = st.tuples(st.text(max_size=8), st.lists(I64, max_size=5), st.lists(st.text(max_size=5), max_size=5),
                     st.lists(SIMPLE, max_size=3), st.dictionaries(st.text(max_size=5), I64, max_size=3),
                     st.dictionaries(I32, SIMPLE, max_size=3))


def official(suite: str, message: str, encode: Sequence[dict] = (), parse: Sequence[bytes] = ()) -> dict:
    done = subprocess.run([sys.executable, str(ORACLE)], capture_output=True, text=True,
                          input=json.dumps({"descriptor_set": suite, "message": message, "encode": list(encode),
                                            "parse": [p.hex() for p in parse]}),
                          env=dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python"))
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    assert answer["implementation"] == "python"
    return answer


def simple(values: tuple) -> dict:
    return dict(zip(("age", "name", "score"), values, strict=True))


def scalars_dict(row: tuple) -> dict:
    names = [c.split()[0] for c in SCALARS_DDL.split(", ")]
    values = dict(zip(names, row, strict=True))
    for name in ("uint32_value", "fixed32_value"):
        values[name] &= 0xFFFFFFFF  # Spark's int holds the unsigned value's bits
    for name in ("uint64_value", "fixed64_value"):
        values[name] &= 0xFFFFFFFFFFFFFFFF
    values["bytes_value"] = values["bytes_value"].hex()
    return values


def repeated_dict(row: tuple, maps: bool = True) -> dict:
    key, numbers, words, messages, counts, by_id = row
    values = {"key": key, "numbers": numbers, "words": words, "messages": [simple(m) for m in messages]}
    if maps:
        values |= {"counts": list(counts.items()), "by_id": [(k, simple(v)) for k, v in by_id.items()]}
    return values


def kos_encode(spark, rows: list[tuple], ddl: str, message: str, suite: str, columns: list[str] | None = None):
    frame = spark.createDataFrame(rows, ddl)
    return [r.v for r in frame.select(to_protobuf(F.struct(*(columns or frame.columns)), message, suite).alias("v"))
            .collect()]


def kos_decode(spark, values: list[bytes], message: str, suite: str, options: dict) -> list:
    frame = spark.createDataFrame([(bytearray(v),) for v in values], "v binary")
    return [r.m for r in frame.select(from_protobuf("v", message, suite, options).alias("m")).collect()]


def as_spark(row: tuple) -> tuple:
    return tuple(bytearray(v) if isinstance(v, bytes) else v for v in row)


@EXAMPLES
@given(rows=st.lists(SCALARS, min_size=1, max_size=40))
def test_scalars_encode_and_decode_as_the_official_runtime(spark, suite, rows):
    answer = official(suite, "kosconf.Scalars", encode=[scalars_dict(r) for r in rows])
    theirs = [bytes.fromhex(h) for h in answer["encoded"]]
    assert kos_encode(spark, rows, SCALARS_DDL, "kosconf.Scalars", suite) == theirs
    back = kos_decode(spark, theirs, "kosconf.Scalars", suite, {"emit.default.values": "true"})
    assert [tuple(r) for r in back] == [as_spark(r) for r in rows]


@EXAMPLES
@given(rows=st.lists(REPEATED, min_size=1, max_size=20))
def test_repeated_and_maps_encode_and_decode_as_the_official_runtime(spark, suite, rows):
    answer = official(suite, "kosconf.Repeated", encode=[repeated_dict(r, maps=False) for r in rows]
                      + [repeated_dict(r) for r in rows])
    without_maps, whole = answer["encoded"][:len(rows)], answer["encoded"][len(rows):]
    assert kos_encode(spark, rows, REPEATED_DDL, "kosconf.Repeated", suite,
                      columns=["key", "numbers", "words", "messages"]) == [bytes.fromhex(h) for h in without_maps]
    back = kos_decode(spark, [bytes.fromhex(h) for h in whole], "kosconf.Repeated", suite,
                      {"emit.default.values": "true"})
    expected = [(k, n, w, [tuple(m) for m in ms], c, {i: tuple(m) for i, m in b.items()})
                for k, n, w, ms, c, b in rows]
    assert [(r.key, r.numbers, r.words, [tuple(m) for m in r.messages], r.counts,
             {i: tuple(m) for i, m in r.by_id.items()}) for r in back] == expected


@pytest.fixture(scope="module")
def java(spark, suite) -> JavaRuntime:
    return JavaRuntime(spark, Path(suite).read_bytes())


def scalars_text(row: tuple) -> str:
    """A Scalars row in protobuf's text format (unsigned values as such, floats exactly)."""
    values = scalars_dict(row)
    values["bytes_value"] = bytes.fromhex(values["bytes_value"])
    return " ".join(f"{name}: {text(value)}" for name, value in values.items())


def same(a: object, b: object) -> bool:
    """Equal, floats by their bits (so that NaN is NaN and -0.0 is not 0.0)."""
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (a != a and b != b)
    return a == b


@EXAMPLES
@given(rows=st.lists(ALL_SCALARS, min_size=1, max_size=40))
def test_scalars_encode_and_decode_as_protobuf_java(spark, suite, java, rows):
    theirs = [java.encode("kosconf.Scalars", scalars_text(r)) for r in rows]
    assert kos_encode(spark, rows, SCALARS_DDL, "kosconf.Scalars", suite) == theirs
    back = kos_decode(spark, theirs, "kosconf.Scalars", suite, {"emit.default.values": "true"})
    for got, row in zip(back, rows, strict=True):
        assert all(same(g, w) for g, w in zip(tuple(got), as_spark(row), strict=True)), (got, row)


def test_negative_zero_and_nan_are_values_and_zero_is_not(spark, suite, java):
    """The documented rule, case by case: a float is a proto3 zero only when its bits are zero."""
    rows = [(0.0, 0.0), (-0.0, -0.0), (math.nan, math.nan), (math.inf, -math.inf)]
    written = kos_encode(spark, rows, "double_value double, float_value float", "kosconf.Scalars", suite)
    assert written[0] == b""
    assert written == [java.encode("kosconf.Scalars", f"double_value: {text(d)} float_value: {text(f)}")
                       for d, f in rows]
    back = kos_decode(spark, written, "kosconf.Scalars", suite, {})
    assert (back[0].double_value, back[0].float_value) == (None, None)
    assert math.copysign(1, back[1].double_value) == -1 and math.copysign(1, back[1].float_value) == -1
    assert math.isnan(back[2].double_value) and math.isnan(back[2].float_value)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def field(number: int, wire: int, payload: bytes = b"") -> bytes:
    return varint(number << 3 | wire) + payload


def length_delimited(number: int, body: bytes) -> bytes:
    return field(number, 2, varint(len(body)) + body)


# Unknown fields of every wire type (number 99, unknown to every message of the suite).
UNKNOWN = [field(99, 0, b"\x05"), field(99, 1, bytes(8)), length_delimited(99, b"xy"), field(99, 5, bytes(4)),
           field(99, 3) + field(1, 0, b"\x01") + field(99, 4)]
# Known field numbers with another wire type than the schema's (age is a varint, name a string).
WRONG = [length_delimited(1, b"\x01"), field(2, 0, b"\x01"), field(1, 5, bytes(4)), field(3, 1, bytes(8)),
         field(1, 3) + field(99, 4)]
MALFORMED = [
    field(1, 0, b"\xff" * 10 + b"\x01"),  # an 11-byte varint
    field(1, 0, b"\xff" * 9 + b"\x7f"),  # a 10-byte varint overflowing 64 bits
    field(2, 2, b"\x05ab"),  # a length past the end
    field(1, 4),  # an end-group without its start
    field(1, 3) + field(2, 4),  # a group ended by another number
    field(0, 0, b"\x01"),  # field number 0
    b"\x80",  # a tag cut short
    length_delimited(2, b"\xff\xfe"),  # a proto3 string that is not UTF-8
]


def wrapped(inner: bytes, depth: int) -> bytes:
    """``inner`` as the bytes of a SimpleMessage ``depth`` levels down a Repeated (messages[0], by_id[1])."""
    if depth == 0:
        return inner
    if depth == 1:
        return length_delimited(4, inner)
    return length_delimited(6, field(1, 0, b"\x01") + length_delimited(2, inner))


def malformed_cases() -> list[bytes]:
    good = length_delimited(1, b"key") + field(2, 0, b"\x07") + length_delimited(4, field(1, 0, b"\x02")
                                                                              + length_delimited(2, b"Al"))
    cases = [good[:cut] for cut in range(len(good) + 1)]  # every truncation
    for depth in (0, 1, 2):
        for piece in UNKNOWN + WRONG + MALFORMED:
            cases.append(wrapped(piece, depth))  # at the top, the numbers are Repeated's own
            cases.append(good + wrapped(piece, depth))
    return cases


def check_like_the_official_parsers(spark, suite: str, java: JavaRuntime, cases: list[bytes]) -> None:
    python = official(suite, "kosconf.Repeated", parse=cases)["parsed"]
    in_java = [java.parse("kosconf.Repeated", c, fields=False) for c in cases]
    ours = kos_decode(spark, cases, "kosconf.Repeated", suite, {"mode": "PERMISSIVE"})
    for runtime, verdicts in (("python", python), ("java", in_java)):
        expected_null = [not v["ok"] or v["clash"] for v in verdicts]
        differing = [(c.hex(" "), e) for c, e, o in zip(cases, expected_null, ours, strict=True) if e != (o is None)]
        assert differing == [], runtime
        assert sum(expected_null) > 0 and not all(expected_null), runtime  # both outcomes are among the cases


def test_malformed_bytes_are_refused_where_the_official_parsers_refuse_them(spark, suite, java):
    check_like_the_official_parsers(spark, suite, java, malformed_cases())


def test_random_bytes_are_refused_where_the_official_parsers_refuse_them(spark, suite, java):
    """1,000 random byte strings (seeded) of up to 24 bytes, each as a Repeated: most do not parse, some do (both
    outcomes are checked to occur, by each runtime)."""
    rng = random.Random(20261206)
    cases = [rng.randbytes(rng.randint(0, 24)) for _ in range(1000)]
    check_like_the_official_parsers(spark, suite, java, cases)
