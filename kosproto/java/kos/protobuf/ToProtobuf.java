package kos.protobuf;

import com.google.protobuf.Descriptors.Descriptor;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.types.StructType;

/**
 * The function behind {@code to_protobuf}: rows of a struct to serialized messages. A Java function learns the
 * struct's type from its rows, so the match of struct fields to message fields is made with the first row of each
 * struct type and kept per JVM; {@link ProtobufFunctions#checkEncodable} refuses a struct before a query starts.
 */
final class ToProtobuf implements UDF1<Object, byte[]> {
  private static final long serialVersionUID = 1L;
  private static final Map<String, Encoder> ENCODERS = new ConcurrentHashMap<>();

  private final byte[] descriptorSet;
  private final String messageName;
  private transient String digest;
  private transient StructType lastType;
  private transient Encoder lastEncoder;

  ToProtobuf(byte[] descriptorSet, String messageName) {
    this.descriptorSet = descriptorSet;
    this.messageName = messageName;
  }

  @Override
  public byte[] call(Object value) {
    if (value == null) {
      return null;
    }
    if (!(value instanceof Row row) || row.schema() == null) {
      throw new ProtobufException("to_protobuf takes a struct column, not " + value.getClass().getSimpleName());
    }
    StructType type = row.schema();
    if (type != lastType) {
      if (digest == null) {
        digest = DescriptorSets.digest(descriptorSet);
      }
      lastEncoder = ENCODERS.computeIfAbsent(digest + "/" + messageName + "/" + type.json(),
          key -> new Encoder(message(), type));
      lastType = type;
    }
    return lastEncoder.encode(row);
  }

  private Descriptor message() {
    return DescriptorSets.find(descriptorSet, messageName);
  }
}
