package kos.protobuf;

import java.io.Serializable;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The options of {@code from_protobuf} and {@code to_protobuf}, read as Spark's protobuf connector reads them (keys
 * in any case). Options of the connector that KOS does not implement are refused by name, never ignored.
 */
final class Options implements Serializable {
  private static final long serialVersionUID = 1L;

  static final String[] KNOWN = {"mode", "emit.default.values", "enums.as.ints", "upcast.unsigned.ints",
      "recursive.fields.max.depth", "retain.empty.message.types"};
  static final String[] NOT_SUPPORTED = {"convert.any.fields.to.json", "unwrap.primitive.wrapper.types"};

  /** FAILFAST fails on bytes that do not parse; PERMISSIVE gives null. */
  final boolean failFast;
  /** proto3 zero values (0, "", the first enum value) as values, not null. */
  final boolean emitDefaultValues;
  final boolean enumsAsInts;
  /** uint32 as long and uint64 as decimal(20,0), instead of the same bits signed. */
  final boolean upcastUnsignedInts;
  /** -1 (or any value below 1, or above 10): a recursive field is refused; n: recursion read n - 1 levels deep. */
  final int recursiveFieldsMaxDepth;
  /** A message without fields kept as a struct of one null string field, instead of dropped. */
  final boolean retainEmptyMessageTypes;

  private Options(boolean failFast, boolean emitDefaultValues, boolean enumsAsInts, boolean upcastUnsignedInts,
                  int recursiveFieldsMaxDepth, boolean retainEmptyMessageTypes) {
    this.failFast = failFast;
    this.emitDefaultValues = emitDefaultValues;
    this.enumsAsInts = enumsAsInts;
    this.upcastUnsignedInts = upcastUnsignedInts;
    this.recursiveFieldsMaxDepth = recursiveFieldsMaxDepth;
    this.retainEmptyMessageTypes = retainEmptyMessageTypes;
  }

  static final Options DEFAULTS = new Options(true, false, false, false, -1, false);

  /** The options of {@code given} (null: none); ProtobufException naming an option not understood. */
  static Options parse(Map<String, String> given) {
    Map<String, String> options = new TreeMap<>();
    if (given != null) {
      for (Map.Entry<String, String> e : given.entrySet()) {
        options.put(String.valueOf(e.getKey()).toLowerCase(Locale.ROOT), String.valueOf(e.getValue()));
      }
    }
    for (Map.Entry<String, String> option : options.entrySet()) {
      String key = option.getKey();
      for (String refused : NOT_SUPPORTED) {
        // Its default, false, is what KOS does: only asking for the feature is refused.
        if (refused.equals(key) && !option.getValue().trim().equalsIgnoreCase("false")) {
          throw new ProtobufException("option " + key + " of Spark's protobuf connector is not supported by KOS's "
              + "protobuf functions (use the connector: spark.kos.protobuf.implementation=spark)");
        }
      }
      if (!java.util.Arrays.asList(KNOWN).contains(key) && !java.util.Arrays.asList(NOT_SUPPORTED).contains(key)) {
        throw new ProtobufException("unknown protobuf option " + Text.repr(key) + " (known: "
            + String.join(", ", KNOWN) + ")");
      }
    }
    String mode = options.getOrDefault("mode", "FAILFAST");
    String upper = mode.toUpperCase(Locale.ROOT);
    if (!upper.equals("FAILFAST") && !upper.equals("PERMISSIVE")) {
      throw new ProtobufException("option mode must be FAILFAST or PERMISSIVE, not " + Text.repr(mode));
    }
    return new Options(upper.equals("FAILFAST"), flag(options, "emit.default.values"),
        flag(options, "enums.as.ints"), flag(options, "upcast.unsigned.ints"), depth(options),
        flag(options, "retain.empty.message.types"));
  }

  private static boolean flag(Map<String, String> options, String key) {
    String value = options.getOrDefault(key, "false");
    String lower = value.toLowerCase(Locale.ROOT);
    if (!lower.equals("true") && !lower.equals("false")) {
      throw new ProtobufException("option " + key + " must be true or false, not " + Text.repr(value));
    }
    return lower.equals("true");
  }

  private static int depth(Map<String, String> options) {
    String value = options.getOrDefault("recursive.fields.max.depth", "-1");
    try {
      return Integer.parseInt(value.trim());
    } catch (NumberFormatException e) {
      throw new ProtobufException("option recursive.fields.max.depth must be a whole number (1 to 10 reads "
          + "recursive fields to that depth; -1, the default, refuses them), not " + Text.repr(value));
    }
  }

  /** Whether a recursive field is read (to {@link #recursiveFieldsMaxDepth}) rather than refused. */
  boolean readsRecursion() {
    return recursiveFieldsMaxDepth >= 1 && recursiveFieldsMaxDepth <= 10;
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof Options o)) {
      return false;
    }
    return failFast == o.failFast && emitDefaultValues == o.emitDefaultValues && enumsAsInts == o.enumsAsInts
        && upcastUnsignedInts == o.upcastUnsignedInts && recursiveFieldsMaxDepth == o.recursiveFieldsMaxDepth
        && retainEmptyMessageTypes == o.retainEmptyMessageTypes;
  }

  @Override
  public int hashCode() {
    return Objects.hash(failFast, emitDefaultValues, enumsAsInts, upcastUnsignedInts, recursiveFieldsMaxDepth,
        retainEmptyMessageTypes);
  }
}
