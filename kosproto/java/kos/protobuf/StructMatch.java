package kos.protobuf;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.BooleanType;
import org.apache.spark.sql.types.ByteType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.DayTimeIntervalType;
import org.apache.spark.sql.types.DoubleType;
import org.apache.spark.sql.types.FloatType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.LongType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.NullType;
import org.apache.spark.sql.types.ShortType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.TimestampType;

/**
 * Which field of a struct is written into which field of a message, as {@code to_protobuf} matches them: by name,
 * case-insensitively unless one name matches exactly. A struct field the message lacks, a type that cannot be
 * converted and a required field not given are refused, naming the field and the message.
 */
final class StructMatch {
  /** One struct field and the message field it is written to. */
  record Field(int index, String name, FieldDescriptor field, DataType type, List<Field> nested, Element element,
               Element key, Element value) {
  }

  /** What the values of a repeated field or a map's keys or values are written as. */
  record Element(DataType type, FieldDescriptor field, List<Field> nested) {
  }

  private StructMatch() {
  }

  /** The matches of {@code struct}'s fields, in the message's field-number order. */
  static List<Field> match(StructType struct, Descriptor message) {
    return match(struct, message, "");
  }

  private static List<Field> match(StructType struct, Descriptor message, String where) {
    List<Field> matches = new ArrayList<>();
    StructField[] fields = struct.fields();
    boolean emptyKept = message.getFields().isEmpty();
    for (int index = 0; index < fields.length; index++) {
      StructField sql = fields[index];
      if (emptyKept && sql.name().equals(MessagePlan.EMPTY_FIELD)) {
        continue;  // retain.empty.message.types' stand-in for a message without fields
      }
      String path = where + sql.name();
      FieldDescriptor field = named(message, sql.name(), path);
      matches.add(inner(index, sql.name(), sql.dataType(), field, message, path));
    }
    for (FieldDescriptor field : message.getFields()) {
      if (field.isRequired() && matches.stream().noneMatch(m -> m.field == field)) {
        throw new ProtobufException("cannot write " + message.getFullName() + ": its required field " + where
            + field.getName() + " is not in the struct");
      }
    }
    // In field-number order, as the runtimes write fields.
    matches.sort(java.util.Comparator.comparingInt((Field m) -> m.field.getNumber()).thenComparingInt(Field::index));
    return matches;
  }

  private static FieldDescriptor named(Descriptor message, String name, String path) {
    FieldDescriptor exact = message.findFieldByName(name);
    if (exact != null) {
      return exact;
    }
    List<FieldDescriptor> candidates = new ArrayList<>();
    for (FieldDescriptor f : message.getFields()) {
      if (f.getName().equalsIgnoreCase(name)) {
        candidates.add(f);
      }
    }
    if (candidates.size() > 1) {
      throw new ProtobufException("struct field " + path + " matches several fields of " + message.getFullName()
          + ": " + String.join(", ", candidates.stream().map(FieldDescriptor::getName).toList()));
    }
    if (candidates.isEmpty()) {
      throw new ProtobufException("struct field " + path + " has no field of that name in " + message.getFullName()
          + " (its fields: " + String.join(", ", message.getFields().stream().map(FieldDescriptor::getName).toList())
          + ")");
    }
    return candidates.get(0);
  }

  private static Field inner(int index, String name, DataType sql, FieldDescriptor field, Descriptor message,
                             String path) {
    ProtobufException refused = new ProtobufException("cannot write struct field " + path + " ("
        + sql.simpleString() + ") into " + message.getFullName() + "." + field.getName() + " ("
        + (field.isRepeated() ? "repeated " : "") + protoTypeName(field) + ")");
    if (field.isMapField()) {
      if (!(sql instanceof MapType map)) {
        throw refused;
      }
      Descriptor entry = field.getMessageType();
      Element key = element(map.keyType(), entry.findFieldByName("key"), path + ".key", refused);
      Element value = element(map.valueType(), entry.findFieldByName("value"), path + ".value", refused);
      return new Field(index, name, field, sql, null, null, key, value);
    }
    if (field.isRepeated()) {
      if (!(sql instanceof ArrayType array)) {
        throw refused;
      }
      Element element = element(array.elementType(), field, path + ".element", refused);
      return new Field(index, name, field, sql, null, element, null, null);
    }
    Element single = element(sql, field, path, refused);
    return new Field(index, name, field, sql, single.nested, null, null, null);
  }

  private static Element element(DataType sql, FieldDescriptor field, String path, ProtobufException refused) {
    if (accepts(sql, field)) {
      return new Element(sql, field, null);
    }
    FieldDescriptor.Type t = field.getType();
    if (t == FieldDescriptor.Type.MESSAGE || t == FieldDescriptor.Type.GROUP) {
      Descriptor target = field.getMessageType();
      boolean timestamp = MessagePlan.isWellKnown(target, "Timestamp");
      boolean duration = MessagePlan.isWellKnown(target, "Duration");
      if (sql instanceof TimestampType && timestamp || sql instanceof DayTimeIntervalType && duration) {
        return new Element(sql, field, null);
      }
      if (sql instanceof StructType struct && !timestamp && !duration) {
        return new Element(sql, field, match(struct, target, path + "."));
      }
    }
    throw refused;
  }

  private static boolean accepts(DataType sql, FieldDescriptor field) {
    FieldDescriptor.Type t = field.getType();
    boolean int32 = switch (t) {
      case INT32, SINT32, SFIXED32, UINT32, FIXED32 -> true;
      default -> false;
    };
    boolean int64 = switch (t) {
      case INT64, SINT64, SFIXED64, UINT64, FIXED64 -> true;
      default -> false;
    };
    return (sql instanceof BooleanType && t == FieldDescriptor.Type.BOOL)
        || ((sql instanceof ByteType || sql instanceof ShortType || sql instanceof IntegerType
            || sql instanceof DateType) && int32)
        || (sql instanceof LongType && int64)
        || (sql instanceof FloatType && t == FieldDescriptor.Type.FLOAT)
        || (sql instanceof DoubleType && t == FieldDescriptor.Type.DOUBLE)
        || (sql instanceof StringType && (t == FieldDescriptor.Type.STRING || t == FieldDescriptor.Type.ENUM))
        || (sql instanceof IntegerType && t == FieldDescriptor.Type.ENUM)
        || (sql instanceof BinaryType && t == FieldDescriptor.Type.BYTES)
        || sql instanceof NullType;
  }

  static String protoTypeName(FieldDescriptor field) {
    return switch (field.getType()) {
      case MESSAGE, GROUP -> field.getMessageType().getFullName();
      case ENUM -> field.getEnumType().getFullName();
      default -> field.getType().name().toLowerCase(java.util.Locale.ROOT);
    };
  }
}
