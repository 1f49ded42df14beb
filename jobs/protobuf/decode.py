"""Protobuf bytes to Arrow, column by column: what ``from_protobuf`` runs on each batch of rows.

The upb runtime parses each value once; the fields are then read with one pass per field over
the batch's messages (``map`` over an attribute getter), and each column becomes one Arrow array
(timestamps through numpy, never ``datetime`` objects). Readers are built once per message and
Spark type, when the decoder is made.

Null where Spark's connector gives null: a row whose bytes are null or, with PERMISSIVE, do not
parse; a field that is absent (field presence), or a proto3 zero value unless
``emit.default.values``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain
from operator import attrgetter, methodcaller
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_type

from jobs.protobuf.descriptors import ProtobufError
from jobs.protobuf.schema import (
    MESSAGES,
    UNSIGNED_32,
    UNSIGNED_64,
    Options,
    is_duration,
    is_map,
    is_timestamp,
    spark_type,
)

__all__ = ["CHUNK_ROWS", "DURATION_SECONDS", "TIMESTAMP_SECONDS", "Decoder", "in_chunks", "no_gc"]

F = FieldDescriptor

# The range protobuf allows a Timestamp (0001-01-01 to 9999-12-31) and a Duration (about 10,000 years).
TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)
DURATION_SECONDS = 315_576_000_000


# Rows converted at a time: the messages and Python objects of a couple of thousand rows stay in the CPU's
# caches; measured, 2,048 at a time decode a fifth faster than Spark's Arrow batches of 10,000 whole.
CHUNK_ROWS = 2048


def in_chunks(convert: Callable[[pa.Array], pa.Array], data: pa.Array) -> pa.Array:
    """``convert`` applied to slices of ``CHUNK_ROWS`` rows of ``data``, the results joined."""
    if len(data) <= CHUNK_ROWS:
        return convert(data)
    return pa.concat_arrays([convert(data.slice(start, CHUNK_ROWS)) for start in range(0, len(data), CHUNK_ROWS)])


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic collector off while a batch's messages are made: they hold no cycles, and collections
    triggered by their number cost more than the decoding."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Problems:
    """Rows of the batch that cannot be decoded, and the first reason."""

    def __init__(self, rows: int) -> None:
        self.bad = np.zeros(rows, dtype=bool)
        self.first = ""

    def mark(self, rows: np.ndarray, reason: str) -> None:
        if len(rows):
            self.bad[rows] = True
            self.first = self.first or reason


# A reader turns a list of values (scalars or messages) of one field into an Arrow array; ``rows`` maps each
# value to the batch row it belongs to, so a value that cannot be read marks its row.
Reader = Callable[[list[Any], np.ndarray, Problems], pa.Array]


class Decoder:
    """Decodes a binary Arrow array of serialized ``message`` into a struct array of ``spark_type(message)``."""

    def __init__(self, message_class: Any, options: Options) -> None:
        self.message_class = message_class
        self.descriptor: Descriptor = message_class.DESCRIPTOR
        self.options = options
        self.spark_type = spark_type(self.descriptor, options)
        self.arrow_type = to_arrow_type(self.spark_type, timezone="UTC")
        self._children = _fields_reader(self.descriptor, self.spark_type, options)
        self._numbers = frozenset(f.number for f in self.descriptor.fields)

    def __call__(self, data: pa.Array) -> pa.Array:
        return in_chunks(self._decode, data)

    def _decode(self, data: pa.Array) -> pa.Array:
        name = self.descriptor.full_name
        with no_gc():
            values = data.to_pylist()
            problems = Problems(len(values))
            empty = self.message_class()
            try:  # the common case, at C speed: every value there and parsing
                messages = list(map(self.message_class.FromString, values))
            except (DecodeError, TypeError):
                messages = self._parse_one_by_one(values, problems, empty)
            self._check_unknown_fields(data, messages, problems)
            children = self._children(messages, np.arange(len(values)), problems)
        if problems.bad.any() and self.options.mode == "FAILFAST":
            raise ProtobufError(f"malformed {name} record: {problems.first} (mode FAILFAST; "
                                "option mode=PERMISSIVE gives null instead)")
        mask = np.asarray(data.is_null(), dtype=bool) | problems.bad
        return pa.StructArray.from_arrays(children, fields=list(self.arrow_type), mask=pa.array(mask))

    def _parse_one_by_one(self, values: list[bytes | None], problems: Problems, empty: Any) -> list[Any]:
        """Messages for ``values``, the empty message where a value is null or does not parse (a marked row)."""
        parse = self.message_class.FromString
        messages = []
        for row, value in enumerate(values):
            if value is None:
                messages.append(empty)
                continue
            try:
                messages.append(parse(value))
            except DecodeError as exc:
                problems.mark(np.array([row]), f"the bytes do not parse ({exc})")
                messages.append(empty)
        return messages

    def _check_unknown_fields(self, data: pa.Array, messages: list[Any], problems: Problems) -> None:
        """A field number of the schema that arrived with another wire type, at any depth, marks its row (Spark's
        connector refuses those at the top level only); fields of a newer schema are simply skipped.

        Unknown fields are dropped (the readers never look at them) and a row whose message is then smaller than
        its bytes is parsed again and walked (as is, rarely, a value encoded in a non-canonical way)."""
        list(map(_DISCARD_UNKNOWN, messages))
        sizes = np.fromiter(map(_BYTE_SIZE, messages), dtype=np.int64, count=len(messages))
        lengths = np.asarray(pc.fill_null(pc.binary_length(data), 0), dtype=np.int64)
        for row in np.flatnonzero((sizes != lengths) & ~problems.bad):
            clash = _clashing_field(self.message_class.FromString(data[int(row)].as_py()))
            if clash:
                problems.mark(np.array([row]), f"{clash} arrived with another wire type than the schema gives it "
                                               "(written with another schema?)")


_DISCARD_UNKNOWN = methodcaller("DiscardUnknownFields")
_BYTE_SIZE = methodcaller("ByteSize")


def _clashing_field(message: Any) -> str | None:
    """The first field, at any depth of ``message``, that arrived with another wire type than its schema gives
    it (``field number N of <message>``), or None."""
    descriptor = message.DESCRIPTOR
    for unknown in UnknownFieldSet(message):
        if unknown.field_number in descriptor.fields_by_number:
            return f"field number {unknown.field_number} of {descriptor.full_name}"
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if is_map(field):
            if field.message_type.fields_by_name["value"].message_type is None:
                continue
            nested = list(value.values())
        else:
            nested = list(value) if field.is_repeated else [value]
        for child in nested:
            clash = _clashing_field(child)
            if clash:
                return clash
    return None


def _fields_reader(message: Descriptor, struct: T.StructType,
                   options: Options) -> Callable[[list[Any], np.ndarray, Problems], list[pa.Array]]:
    """The children of a struct: one reader per Spark field, over the parent messages."""
    readers = [_field_reader(message.fields_by_name[sf.name], sf.dataType, options) for sf in struct.fields]

    def read(parents: list[Any], rows: np.ndarray, problems: Problems) -> list[pa.Array]:
        return [reader(parents, rows, problems) for reader in readers]

    return read


def _field_reader(field: FieldDescriptor, spark: T.DataType, options: Options) -> Reader:
    """A field of each parent message, with Spark's connector's nulls."""
    get = attrgetter(field.name)
    name = field.name
    arrow = to_arrow_type(spark, timezone="UTC")
    if is_map(field):
        assert isinstance(spark, T.MapType)
        entry = field.message_type
        keys = _values_reader(entry.fields_by_name["key"], spark.keyType, options)
        items = _values_reader(entry.fields_by_name["value"], spark.valueType, options)

        def read_map(parents: list[Any], rows: np.ndarray, problems: Problems) -> pa.Array:
            maps = list(map(get, parents))
            lengths = np.fromiter(map(len, maps), dtype=np.int64, count=len(maps))
            pairs = [pair for m in maps for pair in m.items()]
            element_rows = np.repeat(rows, lengths)
            key_array = keys([k for k, _ in pairs], element_rows, problems)
            item_array = items([v for _, v in pairs], element_rows, problems)
            return pa.MapArray.from_arrays(_offsets(lengths), key_array, item_array, type=arrow)

        return read_map
    if field.is_repeated:
        assert isinstance(spark, T.ArrayType)
        elements = _values_reader(field, spark.elementType, options)

        def read_list(parents: list[Any], rows: np.ndarray, problems: Problems) -> pa.Array:
            lists = list(map(get, parents))
            lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
            flat = list(chain.from_iterable(lists))
            return pa.ListArray.from_arrays(_offsets(lengths), elements(flat, np.repeat(rows, lengths), problems),
                                            type=arrow)

        return read_list
    values = _values_reader(field, spark, options)
    if field.has_presence and not field.has_default_value:  # messages, optional and oneof fields
        has = methodcaller("HasField", name)

        def read_present(parents: list[Any], rows: np.ndarray, problems: Problems) -> pa.Array:
            absent = ~np.fromiter(map(has, parents), dtype=bool, count=len(parents))
            return _with_nulls(values(list(map(get, parents)), rows, problems), absent)

        return read_present
    if field.has_default_value or options.emit_default_values:
        return lambda parents, rows, problems: values(list(map(get, parents)), rows, problems)
    # proto3 without presence: the zero value stands for "not set". Compared in Arrow, on what the reader made.
    zero = _zero_of(field, options)

    def read_implicit(parents: list[Any], rows: np.ndarray, problems: Problems) -> pa.Array:
        array = values(list(map(get, parents)), rows, problems)
        return pc.if_else(pc.equal(array, pa.scalar(zero, array.type)), pa.nulls(len(array), array.type), array)

    return read_implicit


def _zero_of(field: FieldDescriptor, options: Options) -> Any:
    """The zero value of a proto3 scalar as its reader shows it (an enum's first value by name, unless as ints)."""
    if field.type == F.TYPE_ENUM and not options.enums_as_ints:
        return field.enum_type.values_by_number[0].name
    return field.default_value


def _values_reader(field: FieldDescriptor, spark: T.DataType, options: Options) -> Reader:
    """Values of ``field``'s type (never absent) to an Arrow array of ``spark``."""
    arrow = to_arrow_type(spark, timezone="UTC")
    t = field.type
    if t == F.TYPE_ENUM and not options.enums_as_ints:
        enum = field.enum_type
        names = {v.number: v.name for v in enum.values}

        def enum_names(values: list[Any], rows: np.ndarray, problems: Problems) -> pa.Array:
            return pa.array([names.get(v) or f"UNKNOWN_ENUM_VALUE_{enum.name}_{v}" for v in values], pa.string())

        return enum_names
    if t in UNSIGNED_32 and not options.upcast_unsigned_ints:
        return lambda values, rows, problems: pa.array(values, pa.uint32()).view(pa.int32())  # Java's int bits
    if t in UNSIGNED_64 and not options.upcast_unsigned_ints:
        return lambda values, rows, problems: pa.array(values, pa.uint64()).view(pa.int64())
    if t not in MESSAGES:
        return lambda values, rows, problems: pa.array(values, arrow)
    message = field.message_type
    if is_timestamp(message) or is_duration(message):
        return _seconds_nanos_reader(field, is_timestamp(message), arrow)
    assert isinstance(spark, T.StructType)
    children = _fields_reader(message, spark, options)
    fields = list(arrow)

    def struct(values: list[Any], rows: np.ndarray, problems: Problems) -> pa.Array:
        return pa.StructArray.from_arrays(children(values, rows, problems), fields=fields)

    return struct


def _seconds_nanos_reader(field: FieldDescriptor, timestamp: bool, arrow: pa.DataType) -> Reader:
    """google.protobuf.Timestamp / Duration messages to microseconds; nanoseconds below a microsecond are dropped
    (Timestamp: towards the past, as nanos are never negative; Duration: towards zero, as Java does)."""
    seconds_of, nanos_of = attrgetter("seconds"), attrgetter("nanos")
    what = "Timestamp" if timestamp else "Duration"

    def read(values: list[Any], rows: np.ndarray, problems: Problems) -> pa.Array:
        count = len(values)
        seconds = np.fromiter(map(seconds_of, values), dtype=np.int64, count=count)
        nanos = np.fromiter(map(nanos_of, values), dtype=np.int64, count=count)
        if timestamp:
            wrong = (seconds < TIMESTAMP_SECONDS[0]) | (seconds > TIMESTAMP_SECONDS[1]) | (nanos < 0) | \
                    (nanos > 999_999_999)
            micros_part = nanos // 1000
        else:
            wrong = (np.abs(seconds) > DURATION_SECONDS) | (np.abs(nanos) > 999_999_999) | \
                    ((seconds > 0) & (nanos < 0)) | ((seconds < 0) & (nanos > 0))
            micros_part = np.sign(nanos) * (np.abs(nanos) // 1000)
        if wrong.any():
            bad = int(np.argmax(wrong))
            problems.mark(rows[wrong], f"{field.full_name} holds a {what} out of range (seconds {seconds[bad]}, "
                                       f"nanos {nanos[bad]})")
            seconds[wrong] = 0
            micros_part[wrong] = 0
        return pa.array(seconds * 1_000_000 + micros_part, pa.int64()).view(arrow)

    return read


def _offsets(lengths: np.ndarray) -> pa.Array:
    return pa.array(np.concatenate(([0], np.cumsum(lengths))).astype(np.int32))


def _with_nulls(array: pa.Array, null: np.ndarray) -> pa.Array:
    """``array`` with the rows of ``null`` set to null."""
    if not null.any():
        return array
    return pc.if_else(pa.array(null), pa.nulls(len(array), array.type), array)
