"""Arrow to protobuf bytes, column by column: what ``to_protobuf`` runs on each batch of rows.

Each struct field becomes one list of constructor values (``to_pylist`` per column; timestamps
split into seconds and nanos with numpy, never through ``datetime``); each row is then one
constructor call and one ``SerializeToString`` of the upb runtime. A null row gives null bytes, a
null field is left unset. How the struct's fields map to the message's is worked out once per
struct type (``match_struct``), with errors that name the field and the message.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pyspark.sql import types as T
from pyspark.sql.pandas.types import from_arrow_type

from jobs.protobuf.decode import DURATION_SECONDS, TIMESTAMP_SECONDS, in_chunks, no_gc
from jobs.protobuf.descriptors import ProtobufError
from jobs.protobuf.schema import MESSAGES, UNSIGNED_32, UNSIGNED_64, Match, is_map, match_struct

__all__ = ["Encoder", "rows_encoder"]

F = FieldDescriptor

# A writer turns one Arrow column into the list of values the message constructor takes (None: unset).
Writer = Callable[[pa.Array], list[Any]]


class Encoder:
    """Encodes struct arrays into a binary array of serialized ``message``s."""

    def __init__(self, message_class: Any) -> None:
        self.message_class = message_class
        self.descriptor: Descriptor = message_class.DESCRIPTOR
        self._plans: dict[pa.DataType, tuple[list[Writer], RowsEncoder]] = {}

    def plan(self, arrow: pa.DataType) -> tuple[list[Writer], RowsEncoder]:
        """The column writers and the row encoder for input of ``arrow`` type, made once per type."""
        if arrow not in self._plans:
            struct = from_arrow_type(arrow)
            if not isinstance(struct, T.StructType):
                raise ProtobufError(f"to_protobuf takes a struct column, not {struct.simpleString()}")
            matches = match_struct(struct, self.descriptor)
            self._plans[arrow] = ([_writer(m) for m in matches],
                                  rows_encoder(self.message_class, [m.field.name for m in matches]))
        return self._plans[arrow]

    def __call__(self, data: pa.Array) -> pa.Array:
        return in_chunks(self._encode, data)

    def _encode(self, data: pa.Array) -> pa.Array:
        writers, encode = self.plan(data.type)
        valid = data.filter(data.is_valid()) if data.null_count else data  # a null struct is null bytes
        with no_gc():
            encoded: list[bytes | None] = list(encode([write(_child(valid, i)) for i, write in enumerate(writers)],
                                                      len(valid)))
            if data.null_count:
                rows = iter(encoded)
                encoded = [next(rows) if ok else None for ok in data.is_valid().to_pylist()]
        return pa.array(encoded, pa.binary())


# Encodes the rows given as one list of constructor values per message field.
RowsEncoder = Callable[[list[list[Any]], int], list[bytes]]


def _dicts_maker(names: list[str]) -> Callable[[list[list[Any]], int], list[dict[str, Any]]]:
    """Columns of a nested message's fields to one constructor ``dict`` per row (a literal, made as source)."""
    if not names:
        return lambda columns, count: [{} for _ in range(count)]
    values = ", ".join(f"v{i}" for i in range(len(names)))
    items = ", ".join(f"{name!r}: v{i}" for i, name in enumerate(names))
    source = (f"def make(columns, count):\n"
              f"    return [{{{items}}} for ({values},) in zip(*columns, strict=True)]\n")
    namespace: dict[str, Any] = {}
    exec(compile(source, "<to_protobuf nested message>", "exec"), namespace)  # noqa: S102
    return namespace["make"]  # type: ignore[no-any-return]


def rows_encoder(message_class: Any, names: list[str]) -> RowsEncoder:
    """One constructor call and ``SerializeToString`` per row.

    Made as source for the message's field names, as ``collections.namedtuple`` makes its classes:
    keyword arguments written out cost a sixth less per row than a ``dict`` built and unpacked for
    each. Names that are Python keywords take the ``dict`` way.
    """
    if not names:
        return lambda columns, count: [message_class().SerializeToString()] * count
    if any(not name.isidentifier() or keyword.iskeyword(name) for name in names):
        def encode_by_dict(columns: list[list[Any]], count: int) -> list[bytes]:
            return [message_class(**dict(zip(names, row, strict=True))).SerializeToString()
                    for row in zip(*columns, strict=True)]

        return encode_by_dict
    values = ", ".join(f"v{i}" for i in range(len(names)))
    arguments = ", ".join(f"{name}=v{i}" for i, name in enumerate(names))
    source = (f"def encode(columns, count):\n"
              f"    return [cls({arguments}).SerializeToString() for ({values},) in zip(*columns, strict=True)]\n")
    namespace: dict[str, Any] = {"cls": message_class}
    exec(compile(source, f"<to_protobuf {message_class.DESCRIPTOR.full_name}>", "exec"), namespace)  # noqa: S102
    return namespace["encode"]  # type: ignore[no-any-return]


def _child(struct: pa.Array, index: int) -> pa.Array:
    return struct.field(index)


def _writer(match: Match) -> Writer:
    field, spark = match.field, match.spark
    where = f"{match.field.containing_type.full_name}.{field.name}"
    if is_map(field):
        assert isinstance(spark, T.MapType)
        entry = field.message_type
        keys = _values_writer(entry.fields_by_name["key"], spark.keyType, match.inner[0], where)
        items = _values_writer(entry.fields_by_name["value"], spark.valueType, match.inner[1], where)
        default = _default(entry.fields_by_name["value"])

        def write_map(column: pa.Array) -> list[Any]:
            offsets = column.offsets.to_pylist()
            start = offsets[0]
            entries = column.values.slice(start, offsets[-1] - start)
            key_values = keys(entries.field(0))
            item_values = [default if v is None else v for v in items(entries.field(1))]
            valid = column.is_valid().to_pylist()
            return [dict(zip(key_values[a - start:b - start], item_values[a - start:b - start], strict=True))
                    if ok else None for ok, a, b in zip(valid, offsets[:-1], offsets[1:], strict=True)]

        return write_map
    if field.is_repeated:
        assert isinstance(spark, T.ArrayType)
        elements = _values_writer(field, spark.elementType, match.inner, where)

        def write_list(column: pa.Array) -> list[Any]:
            offsets = column.offsets.to_pylist()
            flat = column.values.slice(offsets[0], offsets[-1] - offsets[0])
            values = elements(flat)
            if flat.null_count:
                raise ProtobufError(f"a repeated field cannot hold null: {where} got an array with a null element")
            start = offsets[0]
            valid = column.is_valid().to_pylist()
            return [values[a - start:b - start] if ok else None
                    for ok, a, b in zip(valid, offsets[:-1], offsets[1:], strict=True)]

        return write_list
    return _values_writer(field, spark, match.inner, where)


def _values_writer(field: FieldDescriptor, spark: T.DataType, inner: Any, where: str) -> Writer:
    """One column of ``spark`` values to constructor values of ``field``'s type (None where null)."""
    t = field.type
    if isinstance(spark, T.NullType):
        return lambda column: [None] * len(column)
    if isinstance(spark, T.StringType) and t == F.TYPE_ENUM:
        names = [v.name for v in field.enum_type.values]
        known = pa.array(names, pa.string())

        def enum_names(column: pa.Array) -> list[Any]:
            unknown = pc.and_(column.is_valid(), pc.invert(pc.is_in(column, value_set=known)))
            if pc.any(unknown).as_py():
                value = column.filter(unknown)[0].as_py()
                raise ProtobufError(f"{value!r} is not a value of {field.enum_type.full_name} (field {where}; "
                                    f"values: {', '.join(names)})")
            return column.to_pylist()

        return enum_names
    if isinstance(spark, T.IntegerType) and t == F.TYPE_ENUM:
        numbers = sorted({v.number for v in field.enum_type.values})
        known_numbers = pa.array(numbers, pa.int32())

        def enum_numbers(column: pa.Array) -> list[Any]:
            unknown = pc.and_(column.is_valid(), pc.invert(pc.is_in(column, value_set=known_numbers)))
            if pc.any(unknown).as_py():
                value = column.filter(unknown)[0].as_py()
                raise ProtobufError(f"{value} is not a number of {field.enum_type.full_name} (field {where}; "
                                    f"numbers: {', '.join(map(str, numbers))})")
            return column.to_pylist()

        return enum_numbers
    if isinstance(spark, T.DateType):
        return lambda column: column.cast(pa.int32()).to_pylist()
    if t in UNSIGNED_32 and not isinstance(spark, T.LongType):
        return lambda column: column.cast(pa.int32()).view(pa.uint32()).to_pylist()  # the int's bits, as Java
    if t in UNSIGNED_64:
        return lambda column: column.cast(pa.int64()).view(pa.uint64()).to_pylist()
    if t not in MESSAGES:
        return lambda column: column.to_pylist()
    if isinstance(spark, T.TimestampType):
        return _seconds_nanos_writer(timestamp=True, where=where)
    if isinstance(spark, T.DayTimeIntervalType):
        return _seconds_nanos_writer(timestamp=False, where=where)
    matches: list[Match] = inner
    names = [m.field.name for m in matches]
    writers = [_writer(m) for m in matches]

    as_dicts = _dicts_maker(names)

    def write_struct(column: pa.Array) -> list[Any]:
        dicts = as_dicts([write(_child(column, i)) for i, write in enumerate(writers)], len(column))
        if column.null_count:
            return [d if ok else None for ok, d in zip(column.is_valid().to_pylist(), dicts, strict=True)]
        return dicts

    return write_struct


def _seconds_nanos_writer(timestamp: bool, where: str) -> Writer:
    """Microseconds to ``{"seconds", "nanos"}`` (nanos in whole microseconds): Timestamp nanos are never negative,
    Duration nanos carry the sign of the seconds. A value beyond protobuf's range (a Timestamp outside years 1 to
    9999, a Duration over 10,000 years) is refused, naming the field: its own reader would refuse the bytes."""
    what = "Timestamp" if timestamp else "Duration"
    low, high = (TIMESTAMP_SECONDS if timestamp else (-DURATION_SECONDS, DURATION_SECONDS))

    def write(column: pa.Array) -> list[Any]:
        micros = np.asarray(column.cast(pa.int64()).fill_null(0))
        if timestamp:
            seconds = np.floor_divide(micros, 1_000_000)
        else:
            seconds = np.sign(micros) * (np.abs(micros) // 1_000_000)
        wrong = (seconds < low) | (seconds > high)
        if wrong.any():
            bad = int(micros[int(np.argmax(wrong))])
            shown = f"{np.datetime64(bad, 'us')}Z" if timestamp else f"a duration of {bad} microseconds"
            raise ProtobufError(f"{where} cannot hold {shown}: a google.protobuf.{what} holds seconds from {low} "
                                f"to {high}")
        nanos = (micros - seconds * 1_000_000) * 1000
        valid = column.is_valid().to_pylist()
        return [{"seconds": s, "nanos": n} if ok else None
                for ok, s, n in zip(valid, seconds.tolist(), nanos.tolist(), strict=True)]

    return write


def _default(field: FieldDescriptor) -> Any:
    """The value a null map value is written as (what Spark's connector writes: the field's default)."""
    return {} if field.type in MESSAGES else field.default_value
