package kos.protobuf;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * Serialized messages to Spark rows of their {@link MessagePlan}'s schema, with the connector's nulls: a field that
 * is absent (field presence), or a proto3 zero value unless {@code emit.default.values}.
 *
 * <p>A record is refused (FAILFAST fails the query naming why, PERMISSIVE gives null) when its bytes do not parse,
 * when a field number of the schema arrives with another wire type than the schema gives it, at any depth (Spark's
 * connector checks the top level only), or when a Timestamp or Duration is beyond protobuf's range. Fields the
 * schema does not know are skipped: records of a newer writer decode.
 */
final class Decoder {
  /** The range protobuf allows a Timestamp (0001-01-01 to 9999-12-31) and a Duration (about 10,000 years). */
  static final long TIMESTAMP_LOW = -62_135_596_800L;
  static final long TIMESTAMP_HIGH = 253_402_300_799L;
  static final long DURATION_LIMIT = 315_576_000_000L;

  private final MessagePlan plan;
  private final boolean emitDefaultValues;

  Decoder(MessagePlan plan, Options options) {
    this.plan = plan;
    this.emitDefaultValues = options.emitDefaultValues;
  }

  /** Why a record cannot be decoded. */
  static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;

    Refused(String reason) {
      super(reason, null, false, false);
    }
  }

  /** The row of one serialized message; Refused with the reason when it cannot be decoded. */
  Row decode(byte[] bytes) throws Refused {
    Problems problems = new Problems();
    State state = new State(plan);
    try {
      read(state, new WireReader(bytes), -1, problems);
    } catch (WireReader.Malformed e) {
      throw new Refused("the bytes do not parse (" + e.getMessage() + ")");
    }
    if (problems.clash != null) {
      throw new Refused(problems.clash + " arrived with another wire type than the schema gives it "
          + "(written with another schema?)");
    }
    Row row = finish(state, problems);
    if (problems.range != null) {
      throw new Refused(problems.range);
    }
    return row;
  }

  /** What is wrong with a record that parses: the first of each kind. */
  private static final class Problems {
    String clash;
    String range;
  }

  /** One message being read: merged into when its field comes again, as protobuf merges messages. */
  private static final class State {
    final MessagePlan plan;
    final Object[] values;
    final boolean[] seen;
    final int[] oneofCase;

    State(MessagePlan plan) {
      this.plan = plan;
      this.values = new Object[plan.fields.length];
      this.seen = new boolean[plan.fields.length];
      this.oneofCase = plan.oneofs == 0 ? null : new int[plan.oneofs];
    }

    @SuppressWarnings("unchecked")
    List<Object> list(int index) {
      Object found = values[index];
      if (found == null) {
        found = new ArrayList<>(4);
        values[index] = found;
      }
      return (List<Object>) found;
    }

    @SuppressWarnings("unchecked")
    Map<Object, Object> map(int index) {
      Object found = values[index];
      if (found == null) {
        found = new LinkedHashMap<>();
        values[index] = found;
      }
      return (Map<Object, Object>) found;
    }

    /** A oneof member is set: another member set before is cleared (the last one set wins). */
    void choose(FieldPlan field) {
      if (field.oneof < 0) {
        return;
      }
      int chosen = oneofCase[field.oneof];
      if (chosen != 0 && chosen != field.number) {
        FieldPlan previous = plan.field(chosen);
        if (previous.index >= 0) {
          values[previous.index] = null;
          seen[previous.index] = false;
        }
      }
      oneofCase[field.oneof] = field.number;
    }
  }

  /** Reads fields into {@code state} to the end of the reader's limit, or to the end of group {@code group}. */
  private void read(State state, WireReader in, int group, Problems problems) throws WireReader.Malformed {
    MessagePlan message = state.plan;
    while (true) {
      int tag = in.readTag();
      if (tag == 0) {
        if (group >= 0) {
          throw new WireReader.Malformed("a group without its end");
        }
        return;
      }
      int number = tag >>> 3;
      int wire = tag & 7;
      if (wire == WireReader.END_GROUP) {
        if (number == group) {
          return;
        }
        throw new WireReader.Malformed(group < 0 ? "an end-group without its start"
            : "a group of field " + group + " ended by field " + number);
      }
      FieldPlan field = message.field(number);
      if (field == null) {
        in.skip(tag);
        continue;
      }
      if (!field.accepts(wire)) {
        // A map entry's own fields are the runtime's business (it drops what it cannot use); anywhere else a
        // known number with another wire type was written with another schema.
        if (!message.mapEntry && problems.clash == null) {
          problems.clash = "field number " + number + " of " + message.descriptor.getFullName();
        }
        in.skip(tag);
        continue;
      }
      if (field.index < 0) {
        in.skip(tag);
        continue;
      }
      readField(state, field, wire, in, problems);
    }
  }

  private void readField(State state, FieldPlan field, int wire, WireReader in, Problems problems)
      throws WireReader.Malformed {
    int index = field.index;
    if (field.map) {
      Map<Object, Object> entries = state.map(index);
      State entry = new State(field.message);
      readNested(entry, in, problems);
      entries.put(entryValue(entry, 0, problems), entryValue(entry, 1, problems));
      return;
    }
    if (field.repeated) {
      List<Object> list = state.list(index);
      if (field.kind == FieldPlan.Kind.MESSAGE || field.kind == FieldPlan.Kind.GROUP) {
        State element = new State(field.message);
        if (field.kind == FieldPlan.Kind.GROUP) {
          read(element, in, field.number, problems);
        } else {
          readNested(element, in, problems);
        }
        list.add(finishMessage(field, element, problems));
      } else if (wire == WireReader.LENGTH_DELIMITED && FieldPlan.packable(field.kind)) {
        int previous = in.pushLimit(in.readLength());
        while (!in.atEnd()) {
          Object value = scalar(field, in, problems, state.plan);
          if (value != null) {
            list.add(field.shown(value));
          }
        }
        in.popLimit(previous);
      } else {
        Object value = scalar(field, in, problems, state.plan);
        if (value != null) {
          list.add(field.shown(value));
        }
      }
      return;
    }
    if (field.kind == FieldPlan.Kind.MESSAGE || field.kind == FieldPlan.Kind.GROUP) {
      state.choose(field);
      State nested = (State) state.values[index];
      if (nested == null) {
        nested = new State(field.message);
        state.values[index] = nested;
      }
      if (field.kind == FieldPlan.Kind.GROUP) {
        read(nested, in, field.number, problems);
      } else {
        readNested(nested, in, problems);
      }
      state.seen[index] = true;
      return;
    }
    Object value = scalar(field, in, problems, state.plan);
    if (value != null) {
      state.choose(field);
      state.values[index] = value;
      state.seen[index] = true;
    }
  }

  private void readNested(State nested, WireReader in, Problems problems) throws WireReader.Malformed {
    int previous = in.pushLimit(in.readLength());
    read(nested, in, -1, problems);
    in.popLimit(previous);
  }

  /** One raw value; null for a closed enum's unknown number (the runtimes keep it as an unknown field). */
  private static Object scalar(FieldPlan field, WireReader in, Problems problems, MessagePlan message)
      throws WireReader.Malformed {
    switch (field.kind) {
      case INT32 -> {
        return (int) in.readVarint();
      }
      case UINT32 -> {
        return (int) in.readVarint();
      }
      case SINT32 -> {
        int n = (int) in.readVarint();
        return (n >>> 1) ^ -(n & 1);
      }
      case INT64, UINT64 -> {
        return in.readVarint();
      }
      case SINT64 -> {
        long n = in.readVarint();
        return (n >>> 1) ^ -(n & 1);
      }
      case FIXED32, SFIXED32 -> {
        return in.readFixed32();
      }
      case FIXED64, SFIXED64 -> {
        return in.readFixed64();
      }
      case FLOAT -> {
        return Float.intBitsToFloat(in.readFixed32());
      }
      case DOUBLE -> {
        return Double.longBitsToDouble(in.readFixed64());
      }
      case BOOL -> {
        return in.readVarint() != 0;
      }
      case STRING -> {
        return in.readString();
      }
      case BYTES -> {
        return in.readBytes();
      }
      case ENUM -> {
        int number = (int) in.readVarint();
        if (field.closedEnum && field.descriptor.getEnumType().findValueByNumber(number) == null) {
          if (problems.clash == null && !message.mapEntry) {
            problems.clash = "field number " + field.number + " of " + message.descriptor.getFullName();
          }
          return null;
        }
        return number;
      }
      default -> throw new IllegalStateException(field.kind + " is not a scalar");
    }
  }

  /** A map entry's key (0) or value (1): the default when the entry lacks it. */
  private Object entryValue(State entry, int index, Problems problems) {
    FieldPlan field = entry.plan.fields[index];
    if (field.kind == FieldPlan.Kind.MESSAGE || field.kind == FieldPlan.Kind.GROUP) {
      State nested = (State) entry.values[index];
      return finishMessage(field, nested == null ? new State(field.message) : nested, problems);
    }
    return field.shown(entry.seen[index] ? entry.values[index] : field.defaultValue());
  }

  private Row finish(State state, Problems problems) {
    MessagePlan message = state.plan;
    Object[] row = new Object[message.fields.length];
    if (message.emptyKept) {
      return RowFactory.create(row);
    }
    for (int i = 0; i < row.length; i++) {
      FieldPlan field = message.fields[i];
      Object value = state.values[i];
      if (field.map) {
        row[i] = value == null ? Map.of() : value;
      } else if (field.repeated) {
        row[i] = value == null ? new Object[0] : ((List<?>) value).toArray();
      } else if (field.kind == FieldPlan.Kind.MESSAGE || field.kind == FieldPlan.Kind.GROUP) {
        row[i] = state.seen[i] ? finishMessage(field, (State) value, problems) : null;
      } else if (state.seen[i]) {
        boolean hidden = !field.presence && !field.explicitDefault && !emitDefaultValues && FieldPlan.isZero(value);
        row[i] = hidden ? null : field.shown(value);
      } else if (field.explicitDefault || (!field.presence && emitDefaultValues)) {
        row[i] = field.shown(field.defaultValue());
      }
    }
    return RowFactory.create(row);
  }

  /** A message value: its row, or the instant or duration of a Timestamp or Duration. */
  private Object finishMessage(FieldPlan field, State state, Problems problems) {
    if (!field.timestamp && !field.duration) {
      return finish(state, problems);
    }
    long seconds = state.seen[0] ? (Long) state.values[0] : 0L;
    int nanos = state.seen[1] ? (Integer) state.values[1] : 0;
    boolean wrong;
    if (field.timestamp) {
      wrong = seconds < TIMESTAMP_LOW || seconds > TIMESTAMP_HIGH || nanos < 0 || nanos > 999_999_999;
    } else {
      wrong = Math.abs(seconds) > DURATION_LIMIT || Math.abs(nanos) > 999_999_999 || (seconds > 0 && nanos < 0)
          || (seconds < 0 && nanos > 0);
    }
    if (wrong) {
      if (problems.range == null) {
        problems.range = field.descriptor.getFullName() + " holds a " + (field.timestamp ? "Timestamp" : "Duration")
            + " out of range (seconds " + seconds + ", nanos " + nanos + ")";
      }
      return null;
    }
    // Below a microsecond: a Timestamp's nanos (never negative) towards the past, a Duration's towards zero.
    long micros = nanos / 1000;
    if (field.timestamp) {
      return Instant.ofEpochSecond(seconds, micros * 1000);
    }
    return Duration.ofSeconds(seconds, micros * 1000);
  }
}
