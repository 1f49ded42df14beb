package kos.protobuf;

import com.google.protobuf.Descriptors.Descriptor;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * KOS's {@code from_protobuf} and {@code to_protobuf}: the signature, Spark schema and options of Spark's protobuf
 * connector ({@code org.apache.spark.sql.protobuf.functions}), for messages found by name in a descriptor set.
 *
 * <p>The columns are Spark user-defined functions made with Spark's public API ({@code functions.udf}): they run in
 * the executors' JVMs, keep whole-stage code generation, start no Python worker and are allowed in real-time mode.
 * The descriptor set travels with the function as bytes and is parsed once per JVM. Everything that cannot be
 * worked with raises {@link ProtobufException} with a message naming the message and the field.
 */
public final class ProtobufFunctions {
  private ProtobufFunctions() {
  }

  /**
   * Converts a binary column of serialized {@code messageName} into its struct.
   *
   * @param data the binary column
   * @param messageName the message's full name, or its simple name (the first top-level message so called)
   * @param descriptorSet a {@code FileDescriptorSet} ({@code protoc --include_imports --descriptor_set_out})
   * @param options {@code mode} (FAILFAST, the default, fails the query on bytes that do not decode; PERMISSIVE
   *     gives null), {@code emit.default.values}, {@code enums.as.ints}, {@code upcast.unsigned.ints},
   *     {@code recursive.fields.max.depth}, {@code retain.empty.message.types}; null for none
   * @return a struct column, named {@code from_protobuf(data)}
   * @throws ProtobufException a message, option or descriptor set it cannot work with
   */
  public static Column fromProtobuf(Column data, String messageName, byte[] descriptorSet,
                                    Map<String, String> options) {
    Options parsed = Options.parse(options);
    StructType type = plan(messageName, descriptorSet, parsed).type;
    return functions.udf(new FromProtobuf(descriptorSet.clone(), messageName, parsed), type)
        .withName("from_protobuf").apply(data);
  }

  /**
   * Converts a struct column into serialized {@code messageName}, struct fields matched to message fields by name.
   *
   * @param data the struct column
   * @param messageName the message's full or simple name
   * @param descriptorSet a {@code FileDescriptorSet}
   * @param options checked as {@link #fromProtobuf}'s; none changes the encoding
   * @return a binary column, named {@code to_protobuf(data)}: null where the struct is null
   * @throws ProtobufException a message, option or descriptor set it cannot work with; a struct it cannot encode
   *     is refused with its first row (see {@link #checkEncodable})
   */
  public static Column toProtobuf(Column data, String messageName, byte[] descriptorSet,
                                  Map<String, String> options) {
    Options.parse(options);
    DescriptorSets.find(descriptorSet, messageName);
    return functions.udf(new ToProtobuf(descriptorSet.clone(), messageName), DataTypes.BinaryType)
        .withName("to_protobuf").apply(data);
  }

  /** The Spark schema {@link #fromProtobuf} gives {@code messageName} with {@code options}. */
  public static StructType schema(String messageName, byte[] descriptorSet, Map<String, String> options) {
    return plan(messageName, descriptorSet, Options.parse(options)).type;
  }

  /**
   * Refuses now, naming field and message, a struct that {@link #toProtobuf} could not encode: what Spark's
   * connector says while a query is analysed, and a Java function only with its first row.
   */
  public static void checkEncodable(StructType struct, String messageName, byte[] descriptorSet) {
    StructMatch.match(struct, DescriptorSets.find(descriptorSet, messageName));
  }

  private static MessagePlan plan(String messageName, byte[] descriptorSet, Options options) {
    Descriptor message = DescriptorSets.find(descriptorSet, messageName);
    return MessagePlan.of(message, options);
  }
}
