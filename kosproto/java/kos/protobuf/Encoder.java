package kos.protobuf;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ByteType;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.DayTimeIntervalType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.NullType;
import org.apache.spark.sql.types.ShortType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.TimestampType;

/**
 * Rows of one struct type to serialized messages, fields in number order as the official runtimes write them: a
 * null field is left unset, a proto3 zero of a field without presence is not written (float and double by their
 * bits: -0.0 is written), repeated numbers are packed where the schema packs them, a map entry holds its key and
 * value. Enums are taken by name or number, unknown ones refused; Timestamp and Duration keep microseconds and are
 * refused beyond protobuf's range, naming the field.
 */
final class Encoder {
  private static final long MICROS = 1_000_000L;

  private final Descriptor message;
  private final List<StructMatch.Field> fields;

  Encoder(Descriptor message, StructType struct) {
    this.message = message;
    this.fields = StructMatch.match(struct, message);
  }

  byte[] encode(Row row) {
    Sink sink = new Sink(128);
    write(sink, row, message, fields);
    return sink.toByteArray();
  }

  private static void write(Sink sink, Row row, Descriptor message, List<StructMatch.Field> fields) {
    int[] chosen = message.getRealOneofs().isEmpty() ? null : chooseOneofs(row, message, fields);
    for (StructMatch.Field f : fields) {
      if (row.isNullAt(f.index())) {
        if (f.field().isRequired()) {
          throw new ProtobufException("cannot write " + message.getFullName() + ": its required field "
              + f.field().getName() + " is null");
        }
        continue;
      }
      if (chosen != null && f.field().getRealContainingOneof() != null
          && chosen[f.field().getRealContainingOneof().getIndex()] != f.index()) {
        continue;
      }
      writeField(sink, row, f);
    }
  }

  /** Per oneof, the struct index of the member written: the last one in the struct that holds a value. */
  private static int[] chooseOneofs(Row row, Descriptor message, List<StructMatch.Field> fields) {
    int[] chosen = new int[message.getRealOneofs().size()];
    java.util.Arrays.fill(chosen, -1);
    for (StructMatch.Field f : fields) {
      if (f.field().getRealContainingOneof() != null && !row.isNullAt(f.index())) {
        int oneof = f.field().getRealContainingOneof().getIndex();
        chosen[oneof] = Math.max(chosen[oneof], f.index());
      }
    }
    return chosen;
  }

  private static void writeField(Sink sink, Row row, StructMatch.Field f) {
    FieldDescriptor field = f.field();
    String where = field.getContainingType().getFullName() + "." + field.getName();
    if (f.key() != null) {
      Map<Object, Object> map = row.getJavaMap(f.index());
      for (Map.Entry<Object, Object> e : map.entrySet()) {
        sink.tag(field.getNumber(), WireReader.LENGTH_DELIMITED);
        int mark = sink.begin();
        writeValue(sink, f.key(), e.getKey(), where, true);
        Object value = e.getValue();
        if (value == null) {
          writeDefault(sink, f.value().field());
        } else {
          writeValue(sink, f.value(), value, where, true);
        }
        sink.end(mark);
      }
      return;
    }
    if (f.element() != null) {
      List<Object> list = row.getList(f.index());
      for (Object element : list) {
        if (element == null) {
          throw new ProtobufException("a repeated field cannot hold null: " + where
              + " got an array with a null element");
        }
      }
      if (list.isEmpty() || f.element().type() instanceof NullType) {
        return;
      }
      if (field.isPacked()) {
        sink.tag(field.getNumber(), WireReader.LENGTH_DELIMITED);
        int mark = sink.begin();
        for (Object element : list) {
          writeBare(sink, f.element(), element, where);
        }
        sink.end(mark);
      } else {
        for (Object element : list) {
          writeValue(sink, f.element(), element, where, true);
        }
      }
      return;
    }
    StructMatch.Element single = new StructMatch.Element(f.type(), field, f.nested());
    writeValue(sink, single, row.get(f.index()), where, field.hasPresence());
  }

  /** One value with its tag; a zero of a field without presence is left out unless {@code always}. */
  private static void writeValue(Sink sink, StructMatch.Element e, Object value, String where, boolean always) {
    FieldDescriptor field = e.field();
    if (e.type() instanceof NullType) {
      return;
    }
    switch (field.getType()) {
      case MESSAGE -> {
        sink.tag(field.getNumber(), WireReader.LENGTH_DELIMITED);
        int mark = sink.begin();
        writeMessage(sink, e, value, where);
        sink.end(mark);
      }
      case GROUP -> {
        sink.tag(field.getNumber(), WireReader.START_GROUP);
        writeMessage(sink, e, value, where);
        sink.tag(field.getNumber(), WireReader.END_GROUP);
      }
      default -> {
        Object raw = raw(e, value, where);
        if (!always && FieldPlan.isZero(raw)) {
          return;
        }
        sink.tag(field.getNumber(), FieldPlan.wireType(FieldPlan.kindOf(field)));
        writeRaw(sink, field, raw);
      }
    }
  }

  /** A packed element: the value without its tag. */
  private static void writeBare(Sink sink, StructMatch.Element e, Object value, String where) {
    writeRaw(sink, e.field(), raw(e, value, where));
  }

  private static void writeMessage(Sink sink, StructMatch.Element e, Object value, String where) {
    if (e.type() instanceof TimestampType) {
      long micros = SparkTimes.micros(value);
      long seconds = Math.floorDiv(micros, MICROS);
      if (seconds < Decoder.TIMESTAMP_LOW || seconds > Decoder.TIMESTAMP_HIGH) {
        throw new ProtobufException(where + " cannot hold " + Text.instant(micros) + ": a google.protobuf.Timestamp "
            + "holds seconds from " + Decoder.TIMESTAMP_LOW + " to " + Decoder.TIMESTAMP_HIGH);
      }
      writeSecondsNanos(sink, seconds, (int) (Math.floorMod(micros, MICROS) * 1000));
    } else if (e.type() instanceof DayTimeIntervalType) {
      Duration d = (Duration) value;
      long micros = Math.addExact(Math.multiplyExact(d.getSeconds(), MICROS), d.getNano() / 1000);
      long seconds = micros / MICROS;
      if (Math.abs(seconds) > Decoder.DURATION_LIMIT) {
        throw new ProtobufException(where + " cannot hold a duration of " + micros + " microseconds: a "
            + "google.protobuf.Duration holds seconds from " + (-Decoder.DURATION_LIMIT) + " to "
            + Decoder.DURATION_LIMIT);
      }
      writeSecondsNanos(sink, seconds, (int) (micros % MICROS * 1000));
    } else {
      write(sink, (Row) value, e.field().getMessageType(), e.nested());
    }
  }

  private static void writeSecondsNanos(Sink sink, long seconds, int nanos) {
    if (seconds != 0) {
      sink.tag(1, WireReader.VARINT);
      sink.varint(seconds);
    }
    if (nanos != 0) {
      sink.tag(2, WireReader.VARINT);
      sink.varint(nanos);
    }
  }

  /** A map's null value: the value field's default (an empty message for a message). */
  private static void writeDefault(Sink sink, FieldDescriptor field) {
    if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
      sink.tag(field.getNumber(), WireReader.LENGTH_DELIMITED);
      sink.varint(0);
      return;
    }
    Object raw = field.getDefaultValue();
    if (raw instanceof EnumValueDescriptor v) {
      raw = v.getNumber();
    } else if (raw instanceof com.google.protobuf.ByteString b) {
      raw = b.toByteArray();
    }
    sink.tag(field.getNumber(), FieldPlan.wireType(FieldPlan.kindOf(field)));
    writeRaw(sink, field, raw);
  }

  /** A Spark value as the raw value of the field's type (enum numbers, int bits, UTF-8 text). */
  private static Object raw(StructMatch.Element e, Object value, String where) {
    FieldDescriptor field = e.field();
    if (field.getType() == FieldDescriptor.Type.ENUM) {
      if (e.type() instanceof StringType) {
        EnumValueDescriptor known = field.getEnumType().findValueByName((String) value);
        if (known == null) {
          throw new ProtobufException(Text.repr((String) value) + " is not a value of "
              + field.getEnumType().getFullName() + " (field " + where + "; values: " + String.join(", ",
              field.getEnumType().getValues().stream().map(EnumValueDescriptor::getName).toList()) + ")");
        }
        return known.getNumber();
      }
      int number = (Integer) value;
      if (field.getEnumType().findValueByNumber(number) == null) {
        TreeSet<Integer> numbers = new TreeSet<>();
        field.getEnumType().getValues().forEach(v -> numbers.add(v.getNumber()));
        throw new ProtobufException(number + " is not a number of " + field.getEnumType().getFullName() + " (field "
            + where + "; numbers: " + String.join(", ", numbers.stream().map(String::valueOf).toList()) + ")");
      }
      return number;
    }
    if (e.type() instanceof ByteType) {
      return ((Byte) value).intValue();
    }
    if (e.type() instanceof ShortType) {
      return ((Short) value).intValue();
    }
    if (e.type() instanceof DateType) {
      return SparkTimes.days(value);
    }
    if (e.type() instanceof IntegerType || value instanceof Long || value instanceof Boolean
        || value instanceof Float || value instanceof Double || value instanceof byte[]) {
      return value;
    }
    return value;  // String
  }

  private static void writeRaw(Sink sink, FieldDescriptor field, Object raw) {
    switch (field.getType()) {
      case INT32, UINT32, ENUM -> sink.varint(field.getType() == FieldDescriptor.Type.UINT32
          ? ((Integer) raw) & 0xFFFFFFFFL : (long) (Integer) raw);
      case SINT32 -> {
        int n = (Integer) raw;
        sink.varint(((n << 1) ^ (n >> 31)) & 0xFFFFFFFFL);
      }
      case FIXED32, SFIXED32 -> sink.fixed32((Integer) raw);
      case INT64, UINT64 -> sink.varint((Long) raw);
      case SINT64 -> {
        long n = (Long) raw;
        sink.varint((n << 1) ^ (n >> 63));
      }
      case FIXED64, SFIXED64 -> sink.fixed64((Long) raw);
      case FLOAT -> sink.fixed32(Float.floatToRawIntBits((Float) raw));
      case DOUBLE -> sink.fixed64(Double.doubleToRawLongBits((Double) raw));
      case BOOL -> sink.varint((Boolean) raw ? 1 : 0);
      case STRING -> sink.bytes(((String) raw).getBytes(StandardCharsets.UTF_8));
      case BYTES -> sink.bytes((byte[]) raw);
      default -> throw new IllegalStateException(field.getType() + " is not a scalar");
    }
  }
}
