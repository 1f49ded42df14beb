package kos.parsing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * The candidate lines of a raw record's value: each line (without its newline) that holds {@code "Started "} or
 * {@code "Successfully activated"}, with its byte position in the value, in order. Byte for byte: the value may hold
 * invalid UTF-8 and NULs; only {@code \n} ends a line.
 *
 * <p>The markers are looked for in the whole value and each hit widened to its line, so a record of many lines
 * costs a few scans per candidate, not a step per line. A line holding both markers is one candidate.
 */
public final class CandidateLines implements UDF1<byte[], Object[]> {
  private static final long serialVersionUID = 1L;
  private static final byte[][] MARKERS = {bytes("Started "), bytes("Successfully activated")};
  private static final Object[] NONE = new Object[0];

  /** {@code array<struct<at: bigint, line: binary>>}, never holding null. */
  public static final DataType TYPE = DataTypes.createArrayType(DataTypes.createStructType(List.of(
      DataTypes.createStructField("at", DataTypes.LongType, false),
      DataTypes.createStructField("line", DataTypes.BinaryType, false))), false);

  /** The candidates of a binary column, as {@link #TYPE}; an empty array for a null or empty value. */
  public static Column of(Column value) {
    return functions.udf(new CandidateLines(), TYPE).withName("candidate_lines").apply(value);
  }

  @Override
  public Object[] call(byte[] value) {
    if (value == null || value.length == 0) {
      return NONE;
    }
    long[] spans = spans(value);
    if (spans.length == 0) {
      return NONE;
    }
    Object[] out = new Object[spans.length];
    for (int i = 0; i < spans.length; i++) {
      int start = (int) (spans[i] >>> 32);
      int end = (int) spans[i];
      out[i] = RowFactory.create((long) start, Arrays.copyOfRange(value, start, end));
    }
    return out;
  }

  /** Each candidate line's start and end (newline excluded) as {@code start << 32 | end}, sorted, distinct. */
  static long[] spans(byte[] value) {
    List<Long> found = new ArrayList<>();
    for (byte[] marker : MARKERS) {
      int hit = indexOf(value, marker, 0);
      while (hit >= 0) {
        int start = hit;
        while (start > 0 && value[start - 1] != '\n') {
          start--;
        }
        int end = hit;
        while (end < value.length && value[end] != '\n') {
          end++;
        }
        found.add((long) start << 32 | end);
        hit = indexOf(value, marker, end);
      }
    }
    return found.stream().mapToLong(Long::longValue).sorted().distinct().toArray();
  }

  private static int indexOf(byte[] value, byte[] marker, int from) {
    byte first = marker[0];
    int last = value.length - marker.length;
    for (int i = from; i <= last; i++) {
      if (value[i] != first) {
        continue;
      }
      int j = 1;
      while (j < marker.length && value[i + j] == marker[j]) {
        j++;
      }
      if (j == marker.length) {
        return i;
      }
    }
    return -1;
  }

  private static byte[] bytes(String text) {
    return text.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  }
}
