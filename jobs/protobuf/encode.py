"""Arrow to protobuf bytes, column by column: what ``to_protobuf`` runs on each batch of rows.

Each struct field becomes one list of constructor values (``to_pylist`` per column; timestamps
split into seconds and nanos with numpy, never through ``datetime``); each row is then one
constructor call and one ``SerializeToString`` of the upb runtime. A null row gives null bytes, a
null field is left unset. How the struct's fields map to the message's is worked out once per
struct type (``match_struct``), with errors that name the field and the message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pyspark.sql import types as T
from pyspark.sql.pandas.types import from_arrow_type

from jobs.protobuf.decode import no_gc
from jobs.protobuf.descriptors import ProtobufError
from jobs.protobuf.schema import MESSAGES, UNSIGNED_32, UNSIGNED_64, Match, is_map, match_struct

F = FieldDescriptor

# A writer turns one Arrow column into the list of values the message constructor takes (None: unset).
Writer = Callable[[pa.Array], list[Any]]


class Encoder:
    """Encodes struct arrays into a binary array of serialized ``message``s."""

    def __init__(self, message_class: Any) -> None:
        self.message_class = message_class
        self.descriptor: Descriptor = message_class.DESCRIPTOR
        self._plans: dict[pa.DataType, tuple[tuple[str, ...], list[Writer]]] = {}

    def plan(self, arrow: pa.DataType) -> tuple[tuple[str, ...], list[Writer]]:
        """The message field names and column writers for input of ``arrow`` type, made once per type."""
        if arrow not in self._plans:
            struct = from_arrow_type(arrow)
            if not isinstance(struct, T.StructType):
                raise ProtobufError(f"to_protobuf takes a struct column, not {struct.simpleString()}")
            matches = match_struct(struct, self.descriptor)
            self._plans[arrow] = (tuple(m.field.name for m in matches), [_writer(m) for m in matches])
        return self._plans[arrow]

    def __call__(self, data: pa.Array) -> pa.Array:
        names, writers = self.plan(data.type)
        cls = self.message_class
        with no_gc():
            columns = [write(_child(data, i)) for i, write in enumerate(writers)]
            rows = zip(*columns, strict=True) if columns else ((),) * len(data)
            if data.null_count:
                valid = data.is_valid().to_pylist()
                out = [cls(**dict(zip(names, row, strict=True))).SerializeToString() if ok else None
                       for ok, row in zip(valid, rows, strict=True)]
            else:
                out = [cls(**dict(zip(names, row, strict=True))).SerializeToString() for row in rows]
        return pa.array(out, pa.binary())


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
    if isinstance(spark, T.DateType):
        return lambda column: column.cast(pa.int32()).to_pylist()
    if t in UNSIGNED_32 and not isinstance(spark, T.LongType):
        return lambda column: column.cast(pa.int32()).view(pa.uint32()).to_pylist()  # the int's bits, as Java
    if t in UNSIGNED_64:
        return lambda column: column.cast(pa.int64()).view(pa.uint64()).to_pylist()
    if t not in MESSAGES:
        return lambda column: column.to_pylist()
    if isinstance(spark, T.TimestampType):
        return _seconds_nanos_writer(timestamp=True)
    if isinstance(spark, T.DayTimeIntervalType):
        return _seconds_nanos_writer(timestamp=False)
    matches: list[Match] = inner
    names = [m.field.name for m in matches]
    writers = [_writer(m) for m in matches]

    def write_struct(column: pa.Array) -> list[Any]:
        children = [write(_child(column, i)) for i, write in enumerate(writers)]
        rows = zip(*children, strict=True) if children else ((),) * len(column)
        if column.null_count:
            valid = column.is_valid().to_pylist()
            return [dict(zip(names, row, strict=True)) if ok else None for ok, row in zip(valid, rows, strict=True)]
        return [dict(zip(names, row, strict=True)) for row in rows]

    return write_struct


def _seconds_nanos_writer(timestamp: bool) -> Writer:
    """Microseconds to ``{"seconds", "nanos"}`` (nanos in whole microseconds): Timestamp nanos are never negative,
    Duration nanos carry the sign of the seconds."""
    def write(column: pa.Array) -> list[Any]:
        micros = np.asarray(column.cast(pa.int64()).fill_null(0))
        if timestamp:
            seconds = np.floor_divide(micros, 1_000_000)
        else:
            seconds = np.sign(micros) * (np.abs(micros) // 1_000_000)
        nanos = (micros - seconds * 1_000_000) * 1000
        valid = column.is_valid().to_pylist()
        return [{"seconds": s, "nanos": n} if ok else None
                for ok, s, n in zip(valid, seconds.tolist(), nanos.tolist(), strict=True)]

    return write


def _default(field: FieldDescriptor) -> Any:
    """The value a null map value is written as (what Spark's connector writes: the field's default)."""
    return {} if field.type in MESSAGES else field.default_value
