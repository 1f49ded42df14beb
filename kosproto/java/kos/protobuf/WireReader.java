package kos.protobuf;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.charset.CharsetDecoder;

/**
 * The protobuf wire format read from a byte array, as strict as the official runtimes: a varint of more than ten
 * bytes, a length past the end, a tag with field number 0 or a group ended by another number is {@link
 * Malformed}; a tenth varint byte's bits beyond 64 are dropped, as the runtimes drop them.
 */
final class WireReader {
  static final int VARINT = 0;
  static final int FIXED64 = 1;
  static final int LENGTH_DELIMITED = 2;
  static final int START_GROUP = 3;
  static final int END_GROUP = 4;
  static final int FIXED32 = 5;

  /** Bytes that are not a protobuf message; the text says what was wrong. */
  static final class Malformed extends Exception {
    private static final long serialVersionUID = 1L;

    Malformed(String reason) {
      super(reason, null, false, false);
    }
  }

  private final byte[] buffer;
  private int position;
  private int limit;

  WireReader(byte[] buffer) {
    this.buffer = buffer;
    this.position = 0;
    this.limit = buffer.length;
  }

  boolean atEnd() {
    return position >= limit;
  }

  int position() {
    return position;
  }

  /** Reads only up to {@code length} bytes from here on; returns the limit to give back to {@link #popLimit}. */
  int pushLimit(int length) throws Malformed {
    if (length < 0 || length > limit - position) {
      throw new Malformed("a length of " + length + " bytes runs past the end");
    }
    int previous = limit;
    limit = position + length;
    return previous;
  }

  void popLimit(int previous) {
    limit = previous;
  }

  /** The next tag (field number and wire type), or 0 at the end of the bytes. */
  int readTag() throws Malformed {
    if (atEnd()) {
      return 0;
    }
    long tag = readVarint();
    if (tag >>> 32 != 0) {
      throw new Malformed("a tag beyond 32 bits");
    }
    if ((tag >>> 3) == 0) {
      throw new Malformed("field number 0");
    }
    int wire = (int) tag & 7;
    if (wire > FIXED32) {
      throw new Malformed("wire type " + wire + " does not exist");
    }
    return (int) tag;
  }

  long readVarint() throws Malformed {
    long result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (position >= limit) {
        throw new Malformed("a varint cut short");
      }
      byte b = buffer[position++];
      result |= (long) (b & 0x7F) << shift;
      if (b >= 0) {
        return result;
      }
    }
    throw new Malformed("a varint of more than ten bytes");
  }

  int readFixed32() throws Malformed {
    need(4);
    int p = position;
    position += 4;
    return (buffer[p] & 0xFF) | (buffer[p + 1] & 0xFF) << 8 | (buffer[p + 2] & 0xFF) << 16
        | (buffer[p + 3] & 0xFF) << 24;
  }

  long readFixed64() throws Malformed {
    long low = readFixed32() & 0xFFFFFFFFL;
    long high = readFixed32() & 0xFFFFFFFFL;
    return low | high << 32;
  }

  int readLength() throws Malformed {
    long length = readVarint();
    if (length < 0 || length > limit - position) {
      throw new Malformed("a length of " + length + " bytes runs past the end");
    }
    return (int) length;
  }

  byte[] readBytes() throws Malformed {
    int length = readLength();
    byte[] out = new byte[length];
    System.arraycopy(buffer, position, out, 0, length);
    position += length;
    return out;
  }

  String readString() throws Malformed {
    int length = readLength();
    int start = position;
    position += length;
    boolean ascii = true;
    for (int i = start; i < start + length; i++) {
      if (buffer[i] < 0) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return new String(buffer, start, length, StandardCharsets.ISO_8859_1);
    }
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    try {
      return decoder.decode(ByteBuffer.wrap(buffer, start, length)).toString();
    } catch (CharacterCodingException e) {
      throw new Malformed("a string that is not UTF-8");
    }
  }

  /** Skips the value of a field (of any wire type; a group to its end). */
  void skip(int tag) throws Malformed {
    switch (tag & 7) {
      case VARINT -> readVarint();
      case FIXED64 -> need(8).position += 8;
      case LENGTH_DELIMITED -> {
        int length = readLength();  // before the sum: it moves the position past the length itself
        position += length;
      }
      case FIXED32 -> need(4).position += 4;
      case START_GROUP -> skipGroup(tag >>> 3);
      default -> throw new Malformed("an end-group without its start");
    }
  }

  /** Skips a group's fields up to and including its end-group tag. */
  void skipGroup(int number) throws Malformed {
    while (true) {
      int tag = readTag();
      if (tag == 0) {
        throw new Malformed("a group without its end");
      }
      if ((tag & 7) == END_GROUP) {
        if (tag >>> 3 != number) {
          throw new Malformed("a group of field " + number + " ended by field " + (tag >>> 3));
        }
        return;
      }
      skip(tag);
    }
  }

  private WireReader need(int bytes) throws Malformed {
    if (limit - position < bytes) {
      throw new Malformed("a fixed-size value cut short");
    }
    return this;
  }
}
