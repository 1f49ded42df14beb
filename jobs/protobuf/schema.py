"""How protobuf types meet Spark types, the same way Spark's protobuf connector has them (the table is in
the README, "The protobuf functions"), and the options both understand.

``spark_type`` is the schema ``from_protobuf`` gives; ``match_struct`` checks a struct to be encoded by
``to_protobuf`` against a message, field by field, by name as Spark does (case-insensitively unless
one name matches exactly), and says what cannot be converted, naming the field and the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pyspark.sql import types as T

from jobs.protobuf.descriptors import ProtobufError

__all__ = ["NOT_SUPPORTED", "Match", "Options", "is_duration", "is_map", "is_timestamp", "match_struct",
           "parse_options", "spark_type"]

F = FieldDescriptor

SIGNED_32 = {F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32}
UNSIGNED_32 = {F.TYPE_UINT32, F.TYPE_FIXED32}
SIGNED_64 = {F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64}
UNSIGNED_64 = {F.TYPE_UINT64, F.TYPE_FIXED64}
MESSAGES = {F.TYPE_MESSAGE, F.TYPE_GROUP}

# Options of Spark's connector that KOS's functions do not implement: refused by name, never ignored.
NOT_SUPPORTED = ("recursive.fields.max.depth", "convert.any.fields.to.json", "unwrap.primitive.wrapper.types",
                 "retain.empty.message.types")


@dataclass(frozen=True)
class Options:
    mode: str = "FAILFAST"  # from_protobuf: FAILFAST raises on bytes that do not parse, PERMISSIVE gives null
    emit_default_values: bool = False  # proto3 zero values (0, "", the first enum value) as values, not null
    enums_as_ints: bool = False  # enums as their numbers, not their names
    upcast_unsigned_ints: bool = False  # uint32 as long, uint64 as decimal(20,0), instead of the same bits signed


def parse_options(options: Mapping[str, str] | None) -> Options:
    """The options as Spark's connector reads them (keys in any case); others are refused by name."""
    given = {str(k).lower(): str(v) for k, v in (options or {}).items()}
    for key in given:
        if key in NOT_SUPPORTED:
            raise ProtobufError(f"option {key} of Spark's protobuf connector is not supported by KOS's protobuf "
                                "functions (use the connector: spark.kos.protobuf.implementation=spark)")
        if key not in ("mode", "emit.default.values", "enums.as.ints", "upcast.unsigned.ints"):
            raise ProtobufError(f"unknown protobuf option {key!r} (known: mode, emit.default.values, enums.as.ints, "
                                "upcast.unsigned.ints)")
    mode = given.get("mode", "FAILFAST").upper()
    if mode not in ("FAILFAST", "PERMISSIVE"):
        raise ProtobufError(f"option mode must be FAILFAST or PERMISSIVE, not {given['mode']!r}")

    def flag(key: str) -> bool:
        value = given.get(key, "false").lower()
        if value not in ("true", "false"):
            raise ProtobufError(f"option {key} must be true or false, not {given[key]!r}")
        return value == "true"

    return Options(mode, flag("emit.default.values"), flag("enums.as.ints"), flag("upcast.unsigned.ints"))


def _well_known(message: Descriptor, name: str) -> bool:
    """Timestamp and Duration are known by name and shape (seconds, nanos), as Spark knows them."""
    fields = message.fields
    return (message.name == name and len(fields) == 2 and fields[0].name == "seconds"
            and fields[1].name == "nanos")


def is_timestamp(message: Descriptor) -> bool:
    return _well_known(message, "Timestamp")


def is_duration(message: Descriptor) -> bool:
    return _well_known(message, "Duration")


def is_map(field: FieldDescriptor) -> bool:
    return field.type in MESSAGES and field.is_repeated and field.message_type.GetOptions().map_entry


def spark_type(message: Descriptor, options: Options = Options()) -> T.StructType:
    """The Spark schema of ``message``: what ``from_protobuf`` returns."""
    return _struct(message, options, (message.full_name,))


def _struct(message: Descriptor, options: Options, path: tuple[str, ...]) -> T.StructType:
    fields = []
    for field in message.fields:
        element = _element_type(field, options, path)
        if element is None:
            continue  # a message without fields: Spark's connector drops it too
        if is_map(field):
            fields.append(T.StructField(field.name, element))
        elif field.is_repeated:
            fields.append(T.StructField(field.name, T.ArrayType(element, containsNull=False)))
        else:
            fields.append(T.StructField(field.name, element, nullable=not field.is_required))
    return T.StructType(fields)


def _element_type(field: FieldDescriptor, options: Options, path: tuple[str, ...]) -> T.DataType | None:
    t = field.type
    if t in SIGNED_32:
        return T.IntegerType()
    if t in UNSIGNED_32:
        return T.LongType() if options.upcast_unsigned_ints else T.IntegerType()
    if t in SIGNED_64:
        return T.LongType()
    if t in UNSIGNED_64:
        return T.DecimalType(20, 0) if options.upcast_unsigned_ints else T.LongType()
    if t == F.TYPE_FLOAT:
        return T.FloatType()
    if t == F.TYPE_DOUBLE:
        return T.DoubleType()
    if t == F.TYPE_BOOL:
        return T.BooleanType()
    if t == F.TYPE_STRING:
        return T.StringType()
    if t == F.TYPE_BYTES:
        return T.BinaryType()
    if t == F.TYPE_ENUM:
        return T.IntegerType() if options.enums_as_ints else T.StringType()
    message = field.message_type
    if is_map(field):
        key, value = message.fields_by_name["key"], message.fields_by_name["value"]
        key_type, value_type = _element_type(key, options, path), _element_type(value, options, path)
        if key_type is None or value_type is None:
            return None
        return T.MapType(key_type, value_type, valueContainsNull=False)
    if is_timestamp(message):
        return T.TimestampType()
    if is_duration(message):
        return T.DayTimeIntervalType(T.DayTimeIntervalType.DAY, T.DayTimeIntervalType.SECOND)
    if message.full_name in path:
        raise ProtobufError(f"{field.full_name} makes {path[0]} recursive ({' -> '.join((*path, message.full_name))}); "
                            "KOS's protobuf functions do not support recursive messages")
    struct = _struct(message, options, (*path, message.full_name))
    return struct if struct.fields else None


# -- to_protobuf: which struct field becomes which message field ----------------------------------------------

@dataclass(frozen=True)
class Match:
    """A struct field (by position) and the message field it is written to."""

    index: int
    name: str  # the struct field's name
    field: FieldDescriptor
    spark: T.DataType
    inner: Any = None  # list[Match] for a struct into a message; the element's plan for arrays and maps


def match_struct(struct: T.StructType, message: Descriptor, where: str = "") -> list[Match]:
    """How each field of ``struct`` is written into ``message``; ProtobufError naming the field and the
    message for a field the message lacks, a type that cannot be converted, or a required field not given."""
    matches = []
    for index, sql in enumerate(struct.fields):
        path = f"{where}{sql.name}"
        field = _field_named(message, sql.name, path)
        matches.append(Match(index, sql.name, field, sql.dataType, _inner(sql.dataType, field, message, path)))
    given = {m.field.name for m in matches}
    for field in message.fields:
        if field.is_required and field.name not in given:
            raise ProtobufError(f"cannot write {message.full_name}: its required field {where}{field.name} is not in "
                                "the struct")
    return matches


def _field_named(message: Descriptor, name: str, path: str) -> FieldDescriptor:
    exact = message.fields_by_name.get(name)
    if exact is not None:
        return exact
    candidates = [f for f in message.fields if f.name.lower() == name.lower()]
    if len(candidates) > 1:
        raise ProtobufError(f"struct field {path} matches several fields of {message.full_name}: "
                            f"{', '.join(f.name for f in candidates)}")
    if not candidates:
        raise ProtobufError(f"struct field {path} has no field of that name in {message.full_name} "
                            f"(its fields: {', '.join(f.name for f in message.fields)})")
    return candidates[0]


def _inner(sql: T.DataType, field: FieldDescriptor, message: Descriptor, path: str) -> Any:
    """The plan below a field, after checking that ``sql`` can be written into it."""
    def refuse() -> ProtobufError:
        kind = "repeated " if field.is_repeated else ""
        return ProtobufError(f"cannot write struct field {path} ({sql.simpleString()}) into {message.full_name}."
                             f"{field.name} ({kind}{_proto_type_name(field)})")

    if is_map(field):
        if not isinstance(sql, T.MapType):
            raise refuse()
        entry = field.message_type
        key = entry.fields_by_name["key"]
        value = entry.fields_by_name["value"]
        return (_scalar_or_message(sql.keyType, key, entry, f"{path}.key", refuse),
                _scalar_or_message(sql.valueType, value, entry, f"{path}.value", refuse))
    if field.is_repeated:
        if not isinstance(sql, T.ArrayType):
            raise refuse()
        return _scalar_or_message(sql.elementType, field, message, f"{path}.element", refuse)
    return _scalar_or_message(sql, field, message, path, refuse)


def _scalar_or_message(sql: T.DataType, field: FieldDescriptor, message: Descriptor, path: str, refuse: Any) -> Any:
    t = field.type
    ok = (
        (isinstance(sql, T.BooleanType) and t == F.TYPE_BOOL)
        or (isinstance(sql, (T.ByteType, T.ShortType, T.IntegerType, T.DateType)) and t in SIGNED_32 | UNSIGNED_32)
        or (isinstance(sql, T.LongType) and t in SIGNED_64 | UNSIGNED_64)
        or (isinstance(sql, T.FloatType) and t == F.TYPE_FLOAT)
        or (isinstance(sql, T.DoubleType) and t == F.TYPE_DOUBLE)
        or (isinstance(sql, T.StringType) and t in (F.TYPE_STRING, F.TYPE_ENUM))
        or (isinstance(sql, T.IntegerType) and t == F.TYPE_ENUM)  # the enum's numbers (enums.as.ints' reading)
        or (isinstance(sql, T.BinaryType) and t == F.TYPE_BYTES)
        or (isinstance(sql, T.NullType))
    )
    if ok:
        return None
    if t in MESSAGES:
        target = field.message_type
        if isinstance(sql, T.TimestampType) and is_timestamp(target):
            return None
        if isinstance(sql, T.DayTimeIntervalType) and is_duration(target):
            return None
        if isinstance(sql, T.StructType) and not (is_timestamp(target) or is_duration(target)):
            return match_struct(sql, target, f"{path}.")
    raise refuse()


def _proto_type_name(field: FieldDescriptor) -> str:
    if field.type in MESSAGES:
        return field.message_type.full_name
    if field.type == F.TYPE_ENUM:
        return field.enum_type.full_name
    names = {getattr(F, n): n[5:].lower() for n in dir(F) if n.startswith("TYPE_")}
    return names[field.type]
