package kos.protobuf;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import org.apache.spark.sql.types.DataType;

/** How one field of a message is read: its wire type, its place in the struct and its values' Java form. */
final class FieldPlan {
  enum Kind {
    INT32, SINT32, SFIXED32, UINT32, FIXED32, INT64, SINT64, SFIXED64, UINT64, FIXED64, FLOAT, DOUBLE, BOOL,
    STRING, BYTES, ENUM, MESSAGE, GROUP
  }

  final FieldDescriptor descriptor;
  final int number;
  final Kind kind;
  /** The field's place in the struct; -1 for a field the schema leaves out (it is still read and checked). */
  final int index;
  /** The struct field's type: the array's or map's for repeated fields and maps. */
  final DataType type;
  final boolean repeated;
  final boolean map;
  /** The message of a message, group or map field (a map's entry), or null. */
  final MessagePlan message;
  /** Timestamp or Duration (by name and shape, as Spark knows them): a value, not a struct. */
  final boolean timestamp;
  final boolean duration;
  /** Null when absent (messages, proto3 optional, oneof members, proto2 optional without a default). */
  final boolean presence;
  /** A proto2 default given in the schema: the value when absent. */
  final boolean explicitDefault;
  /** The oneof it belongs to (index among the message's oneofs), or -1. */
  final int oneof;
  final boolean enumsAsInts;
  final boolean upcast;
  final boolean closedEnum;

  FieldPlan(FieldDescriptor descriptor, int index, DataType type, MessagePlan message, Options options) {
    this.descriptor = descriptor;
    this.number = descriptor.getNumber();
    this.kind = kindOf(descriptor);
    this.index = index;
    this.type = type;
    this.repeated = descriptor.isRepeated();
    this.map = descriptor.isMapField();
    this.message = message;
    this.timestamp = kind == Kind.MESSAGE && MessagePlan.isWellKnown(descriptor.getMessageType(), "Timestamp");
    this.duration = kind == Kind.MESSAGE && MessagePlan.isWellKnown(descriptor.getMessageType(), "Duration");
    this.presence = descriptor.hasPresence();
    this.explicitDefault = descriptor.hasDefaultValue();
    this.oneof = descriptor.getRealContainingOneof() == null ? -1 : descriptor.getRealContainingOneof().getIndex();
    this.enumsAsInts = options.enumsAsInts;
    this.upcast = options.upcastUnsignedInts;
    this.closedEnum = kind == Kind.ENUM && descriptor.getEnumType().isClosed();
  }

  static Kind kindOf(FieldDescriptor field) {
    return switch (field.getType()) {
      case INT32 -> Kind.INT32;
      case SINT32 -> Kind.SINT32;
      case SFIXED32 -> Kind.SFIXED32;
      case UINT32 -> Kind.UINT32;
      case FIXED32 -> Kind.FIXED32;
      case INT64 -> Kind.INT64;
      case SINT64 -> Kind.SINT64;
      case SFIXED64 -> Kind.SFIXED64;
      case UINT64 -> Kind.UINT64;
      case FIXED64 -> Kind.FIXED64;
      case FLOAT -> Kind.FLOAT;
      case DOUBLE -> Kind.DOUBLE;
      case BOOL -> Kind.BOOL;
      case STRING -> Kind.STRING;
      case BYTES -> Kind.BYTES;
      case ENUM -> Kind.ENUM;
      case MESSAGE -> Kind.MESSAGE;
      case GROUP -> Kind.GROUP;
    };
  }

  /** The wire type a value of this kind has. */
  static int wireType(Kind kind) {
    return switch (kind) {
      case FIXED64, SFIXED64, DOUBLE -> WireReader.FIXED64;
      case FIXED32, SFIXED32, FLOAT -> WireReader.FIXED32;
      case STRING, BYTES, MESSAGE -> WireReader.LENGTH_DELIMITED;
      case GROUP -> WireReader.START_GROUP;
      default -> WireReader.VARINT;
    };
  }

  /** Whether a repeated field of this kind may come packed (one length-delimited run of values). */
  static boolean packable(Kind kind) {
    return wireType(kind) != WireReader.LENGTH_DELIMITED && kind != Kind.GROUP;
  }

  /** Whether a value may arrive with {@code wire}: its own wire type, or packed for a repeated number. */
  boolean accepts(int wire) {
    return wire == wireType(kind) || (repeated && !map && wire == WireReader.LENGTH_DELIMITED && packable(kind));
  }

  /** The schema's default value of the field, as the decoder keeps values (raw, before {@link #shown}). */
  Object defaultValue() {
    Object value = descriptor.getDefaultValue();
    if (value instanceof ByteString bytes) {
      return bytes.toByteArray();
    }
    if (value instanceof EnumValueDescriptor e) {
      return e.getNumber();
    }
    return value;
  }

  /** Whether a raw value is its type's zero (float bits zero: -0.0 and NaN are values, as protobuf-java has it). */
  static boolean isZero(Object raw) {
    if (raw instanceof Integer i) {
      return i == 0;
    }
    if (raw instanceof Long l) {
      return l == 0L;
    }
    if (raw instanceof Float f) {
      return Float.floatToRawIntBits(f) == 0;
    }
    if (raw instanceof Double d) {
      return Double.doubleToRawLongBits(d) == 0L;
    }
    if (raw instanceof Boolean b) {
      return !b;
    }
    if (raw instanceof String s) {
      return s.isEmpty();
    }
    if (raw instanceof byte[] b) {
      return b.length == 0;
    }
    return false;
  }

  /** A raw scalar as from_protobuf shows it: enum names, unsigned values upcast where asked. */
  Object shown(Object raw) {
    switch (kind) {
      case ENUM -> {
        if (enumsAsInts) {
          return raw;
        }
        EnumDescriptor e = descriptor.getEnumType();
        EnumValueDescriptor value = e.findValueByNumber((Integer) raw);
        return value != null ? value.getName() : "UNKNOWN_ENUM_VALUE_" + e.getName() + "_" + raw;
      }
      case UINT32, FIXED32 -> {
        return upcast ? (Object) (((Integer) raw) & 0xFFFFFFFFL) : raw;
      }
      case UINT64, FIXED64 -> {
        if (!upcast) {
          return raw;
        }
        long bits = (Long) raw;
        java.math.BigInteger value = java.math.BigInteger.valueOf(bits & Long.MAX_VALUE);
        if (bits < 0) {
          value = value.setBit(63);
        }
        return new java.math.BigDecimal(value);
      }
      default -> {
        return raw;
      }
    }
  }
}
