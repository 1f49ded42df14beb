package kos.protobuf;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;

/**
 * The function behind {@code from_protobuf}: serialized messages to rows. It carries the descriptor set as bytes;
 * each JVM parses a set once and builds one decoder per set, message and options.
 */
final class FromProtobuf implements UDF1<byte[], Row> {
  private static final long serialVersionUID = 1L;
  private static final Map<String, Decoder> DECODERS = new ConcurrentHashMap<>();

  private final byte[] descriptorSet;
  private final String messageName;
  private final Options options;
  private transient Decoder decoder;
  private transient String fullName;

  FromProtobuf(byte[] descriptorSet, String messageName, Options options) {
    this.descriptorSet = descriptorSet;
    this.messageName = messageName;
    this.options = options;
  }

  @Override
  public Row call(byte[] value) {
    if (value == null) {
      return null;
    }
    if (decoder == null) {
      fullName = DescriptorSets.find(descriptorSet, messageName).getFullName();
      decoder = DECODERS.computeIfAbsent(DescriptorSets.digest(descriptorSet) + "/" + messageName + "/"
          + options.hashCode(), key -> decoderFor(descriptorSet, messageName, options));
    }
    try {
      return decoder.decode(value);
    } catch (Decoder.Refused refused) {
      if (!options.failFast) {
        return null;
      }
      throw new ProtobufException("malformed " + fullName + " record: " + refused.getMessage()
          + " (mode FAILFAST; option mode=PERMISSIVE gives null instead)");
    }
  }

  static Decoder decoderFor(byte[] descriptorSet, String messageName, Options options) {
    return new Decoder(MessagePlan.of(DescriptorSets.find(descriptorSet, messageName), options), options);
  }
}
