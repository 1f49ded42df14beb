package kos.protobuf;

/**
 * A descriptor set, message, option, column or record that KOS's protobuf functions cannot work with. The message
 * names the message and the field, and is what the Python wrapper raises as {@code ProtobufError}.
 */
public final class ProtobufException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ProtobufException(String message) {
    super(message);
  }
}
