package kos.protobuf;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.DayTimeIntervalType;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A message as {@code from_protobuf} sees it: its Spark schema (the same as Spark's protobuf connector gives) and,
 * per field number, how the field is read. Built once per message, options and JVM.
 *
 * <p>Types: int32, sint32 and sfixed32 are {@code int}; uint32 and fixed32 {@code int} (the same bits) or
 * {@code bigint} upcast; 64-bit integers {@code bigint}, uint64 and fixed64 {@code decimal(20,0)} upcast; enums
 * their names ({@code string}) or numbers; Timestamp and Duration {@code timestamp} and {@code interval day to
 * second}; messages structs; repeated fields arrays and maps maps, never holding null. A message without fields is
 * left out (or kept with one null field, {@code retain.empty.message.types}); a recursive field is refused, or
 * read to {@code recursive.fields.max.depth}.
 */
final class MessagePlan {
  static final String EMPTY_FIELD = "__dummy_field_in_empty_struct";

  final Descriptor descriptor;
  final StructType type;
  /** The fields of the struct, in its order. */
  final FieldPlan[] fields;
  final boolean mapEntry;
  /** A message without fields kept as a struct of one null string. */
  final boolean emptyKept;
  final int oneofs;
  private final FieldPlan[] byNumber;
  private final Map<Integer, FieldPlan> large;

  private MessagePlan(Descriptor descriptor, List<FieldPlan> all, StructType type, boolean emptyKept) {
    this.descriptor = descriptor;
    this.type = type;
    this.mapEntry = descriptor.getOptions().getMapEntry();
    this.emptyKept = emptyKept;
    this.oneofs = descriptor.getRealOneofs().size();
    int kept = 0;
    int highest = 0;
    for (FieldPlan f : all) {
      kept += f.index >= 0 ? 1 : 0;
      highest = Math.max(highest, f.number);
    }
    this.fields = new FieldPlan[kept];
    this.byNumber = new FieldPlan[Math.min(highest, 1024) + 1];
    this.large = new HashMap<>();
    for (FieldPlan f : all) {
      if (f.index >= 0) {
        fields[f.index] = f;
      }
      if (f.number < byNumber.length) {
        byNumber[f.number] = f;
      } else {
        large.put(f.number, f);
      }
    }
  }

  FieldPlan field(int number) {
    return number < byNumber.length ? byNumber[number] : large.get(number);
  }

  /** The plan of {@code message}; ProtobufException for a recursive field the options do not read. */
  static MessagePlan of(Descriptor message, Options options) {
    Map<String, Integer> seen = new LinkedHashMap<>();
    seen.put(message.getFullName(), 1);
    MessagePlan plan = build(message, options, seen, message.getFullName());
    if (plan == null) {
      return new MessagePlan(message, List.of(), new StructType(), false);
    }
    return plan;
  }

  static boolean isWellKnown(Descriptor message, String name) {
    List<FieldDescriptor> fields = message.getFields();
    return message.getName().equals(name) && fields.size() == 2 && fields.get(0).getName().equals("seconds")
        && fields.get(1).getName().equals("nanos");
  }

  /** The plan of a message reached by {@code seen} (full name -> times on the path), or null when it has no fields
   *  left (and empty messages are not kept). */
  private static MessagePlan build(Descriptor message, Options options, Map<String, Integer> seen, String path) {
    List<FieldPlan> all = new ArrayList<>();
    List<StructField> struct = new ArrayList<>();
    for (FieldDescriptor field : message.getFields()) {
      Element element = element(field, options, seen, path);
      DataType type = null;
      if (element != null) {
        if (field.isMapField()) {
          type = element.type;
        } else if (field.isRepeated()) {
          type = DataTypes.createArrayType(element.type, false);
        } else {
          type = element.type;
        }
        struct.add(new StructField(field.getName(), type, field.isMapField() || field.isRepeated()
            || !field.isRequired(), org.apache.spark.sql.types.Metadata.empty()));
      }
      int index = element == null ? -1 : struct.size() - 1;
      all.add(new FieldPlan(field, index, type, element == null ? null : element.message, options));
    }
    boolean emptyKept = false;
    if (struct.isEmpty()) {
      if (!options.retainEmptyMessageTypes) {
        return null;
      }
      struct.add(new StructField(EMPTY_FIELD, DataTypes.StringType, true,
          org.apache.spark.sql.types.Metadata.empty()));
      emptyKept = true;
    }
    return new MessagePlan(message, all, new StructType(struct.toArray(new StructField[0])), emptyKept);
  }

  private record Element(DataType type, MessagePlan message) {
  }

  /** A field's element type (a map's map type), or null when the field is left out. */
  private static Element element(FieldDescriptor field, Options options, Map<String, Integer> seen, String path) {
    switch (FieldPlan.kindOf(field)) {
      case INT32, SINT32, SFIXED32 -> {
        return new Element(DataTypes.IntegerType, null);
      }
      case UINT32, FIXED32 -> {
        return new Element(options.upcastUnsignedInts ? DataTypes.LongType : DataTypes.IntegerType, null);
      }
      case INT64, SINT64, SFIXED64 -> {
        return new Element(DataTypes.LongType, null);
      }
      case UINT64, FIXED64 -> {
        return new Element(options.upcastUnsignedInts ? DecimalType.apply(20, 0) : DataTypes.LongType, null);
      }
      case FLOAT -> {
        return new Element(DataTypes.FloatType, null);
      }
      case DOUBLE -> {
        return new Element(DataTypes.DoubleType, null);
      }
      case BOOL -> {
        return new Element(DataTypes.BooleanType, null);
      }
      case STRING -> {
        return new Element(DataTypes.StringType, null);
      }
      case BYTES -> {
        return new Element(DataTypes.BinaryType, null);
      }
      case ENUM -> {
        return new Element(options.enumsAsInts ? DataTypes.IntegerType : DataTypes.StringType, null);
      }
      default -> {
        return messageElement(field, options, seen, path);
      }
    }
  }

  private static Element messageElement(FieldDescriptor field, Options options, Map<String, Integer> seen,
                                        String path) {
    Descriptor message = field.getMessageType();
    if (field.isMapField()) {
      MessagePlan entry = entryPlan(message, options, seen, path);
      if (entry == null) {
        return null;
      }
      return new Element(DataTypes.createMapType(entry.fields[0].type, entry.fields[1].type, false), entry);
    }
    if (field.getType() == FieldDescriptor.Type.MESSAGE && isWellKnown(message, "Timestamp")) {
      return new Element(DataTypes.TimestampType, MessagePlan.plain(message, options));
    }
    if (field.getType() == FieldDescriptor.Type.MESSAGE && isWellKnown(message, "Duration")) {
      return new Element(DayTimeIntervalType.apply(DayTimeIntervalType.DAY(), DayTimeIntervalType.SECOND()),
          MessagePlan.plain(message, options));
    }
    String name = message.getFullName();
    Integer depth = seen.get(name);
    if (depth != null) {
      if (!options.readsRecursion()) {
        String root = seen.keySet().iterator().next();
        throw new ProtobufException(field.getFullName() + " makes " + root + " recursive (" + path + " -> " + name
            + "); option recursive.fields.max.depth from 1 to 10 reads recursive fields to that depth");
      }
      if (depth >= options.recursiveFieldsMaxDepth) {
        return null;
      }
    }
    Map<String, Integer> deeper = new LinkedHashMap<>(seen);
    deeper.put(name, depth == null ? 1 : depth + 1);
    MessagePlan nested = build(message, options, deeper, path + " -> " + name);
    return nested == null ? null : new Element(nested.type, nested);
  }

  /** A map entry: its key and value fields, both kept (or the map is left out). */
  private static MessagePlan entryPlan(Descriptor entry, Options options, Map<String, Integer> seen, String path) {
    List<FieldPlan> all = new ArrayList<>();
    List<StructField> struct = new ArrayList<>();
    for (FieldDescriptor field : entry.getFields()) {
      Element element = element(field, options, seen, path);
      if (element == null) {
        return null;
      }
      struct.add(new StructField(field.getName(), element.type, true, org.apache.spark.sql.types.Metadata.empty()));
      all.add(new FieldPlan(field, struct.size() - 1, element.type, element.message, options));
    }
    return new MessagePlan(entry, all, new StructType(struct.toArray(new StructField[0])), false);
  }

  /** Timestamp and Duration read as their two fields (seconds, nanos), whatever the options. */
  private static MessagePlan plain(Descriptor message, Options options) {
    List<FieldPlan> all = new ArrayList<>();
    List<StructField> struct = new ArrayList<>();
    for (FieldDescriptor field : message.getFields()) {
      DataType type = field.getJavaType() == FieldDescriptor.JavaType.LONG ? DataTypes.LongType
          : DataTypes.IntegerType;
      struct.add(new StructField(field.getName(), type, true, org.apache.spark.sql.types.Metadata.empty()));
      all.add(new FieldPlan(field, struct.size() - 1, type, null, Options.DEFAULTS));
    }
    return new MessagePlan(message, all, new StructType(struct.toArray(new StructField[0])), false);
  }
}
