package kos.protobuf;

import java.time.LocalDateTime;
import java.time.ZoneOffset;

/** How values are shown in error messages: as the Python wrapper's users read them. */
final class Text {
  private Text() {
  }

  /** A string as Python's {@code repr} shows it: quoted, controls and quotes escaped. */
  static String repr(String value) {
    char quote = value.indexOf('\'') >= 0 && value.indexOf('"') < 0 ? '"' : '\'';
    StringBuilder out = new StringBuilder(value.length() + 2).append(quote);
    for (int i = 0; i < value.length(); ) {
      int c = value.codePointAt(i);
      i += Character.charCount(c);
      if (c == quote || c == '\\') {
        out.append('\\').appendCodePoint(c);
      } else if (c == '\n') {
        out.append("\\n");
      } else if (c == '\r') {
        out.append("\\r");
      } else if (c == '\t') {
        out.append("\\t");
      } else if (c < 0x20 || (c >= 0x7F && c < 0xA0)) {
        out.append(String.format("\\x%02x", c));
      } else if (!Character.isDefined(c) || Character.getType(c) == Character.SURROGATE
          || Character.getType(c) == Character.FORMAT || Character.getType(c) == Character.LINE_SEPARATOR
          || Character.getType(c) == Character.PARAGRAPH_SEPARATOR) {
        out.append(c > 0xFFFF ? String.format("\\U%08x", c) : String.format("\\u%04x", c));
      } else {
        out.appendCodePoint(c);
      }
    }
    return out.append(quote).toString();
  }

  /** Microseconds since the epoch as an ISO instant with six fraction digits (proleptic Gregorian, UTC). */
  static String instant(long micros) {
    long seconds = Math.floorDiv(micros, 1_000_000L);
    int fraction = (int) Math.floorMod(micros, 1_000_000L);
    LocalDateTime t = LocalDateTime.ofEpochSecond(seconds, 0, ZoneOffset.UTC);
    int year = t.getYear();
    String shownYear = year < 0 ? String.format("-%04d", -year) : String.format("%04d", year);
    return String.format("%s-%02d-%02dT%02d:%02d:%02d.%06dZ", shownYear, t.getMonthValue(), t.getDayOfMonth(),
        t.getHour(), t.getMinute(), t.getSecond(), fraction);
  }
}
