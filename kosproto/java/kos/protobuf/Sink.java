package kos.protobuf;

import java.util.Arrays;

/** A growing buffer of protobuf wire format. A nested message is written in place and its length put before it. */
final class Sink {
  private byte[] buffer;
  private int position;

  Sink(int capacity) {
    buffer = new byte[Math.max(16, capacity)];
  }

  byte[] toByteArray() {
    return Arrays.copyOf(buffer, position);
  }

  void tag(int number, int wire) {
    varint(((long) number << 3) | wire);
  }

  void varint(long value) {
    ensure(10);
    while ((value & ~0x7FL) != 0) {
      buffer[position++] = (byte) ((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    buffer[position++] = (byte) value;
  }

  static int varintSize(long value) {
    int size = 1;
    while ((value & ~0x7FL) != 0) {
      value >>>= 7;
      size++;
    }
    return size;
  }

  void fixed32(int value) {
    ensure(4);
    buffer[position++] = (byte) value;
    buffer[position++] = (byte) (value >>> 8);
    buffer[position++] = (byte) (value >>> 16);
    buffer[position++] = (byte) (value >>> 24);
  }

  void fixed64(long value) {
    fixed32((int) value);
    fixed32((int) (value >>> 32));
  }

  void bytes(byte[] value) {
    varint(value.length);
    ensure(value.length);
    System.arraycopy(value, 0, buffer, position, value.length);
    position += value.length;
  }

  /** Starts a length-delimited value; give what it returns to {@link #end}. */
  int begin() {
    ensure(1);
    return position++;
  }

  /** Ends a length-delimited value begun at {@code mark}: its length before it, the bytes moved if need be. */
  void end(int mark) {
    int length = position - mark - 1;
    int size = varintSize(length);
    if (size > 1) {
      ensure(size - 1);
      System.arraycopy(buffer, mark + 1, buffer, mark + size, length);
      position += size - 1;
    }
    int at = mark;
    long value = length;
    while ((value & ~0x7FL) != 0) {
      buffer[at++] = (byte) ((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    buffer[at] = (byte) value;
  }

  private void ensure(int more) {
    if (position + more > buffer.length) {
      buffer = Arrays.copyOf(buffer, Math.max(buffer.length * 2, position + more));
    }
  }
}
