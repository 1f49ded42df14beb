package kos.protobuf;

import java.sql.Date;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.temporal.ChronoField;
import java.util.Calendar;
import java.util.TimeZone;

/**
 * Spark's timestamps and dates as a Java function receives them, back to exact microseconds and days.
 *
 * <p>Unless {@code spark.sql.datetime.java8API.enabled}, a function's Row holds {@link Timestamp} and {@link Date},
 * which Spark makes for the JVM's zone and, before the Gregorian switch (1582-10-15), in the Julian calendar with the
 * same local date and time (Spark's rebasing). Read in the hybrid calendar, era included, their local fields are the
 * proleptic Gregorian ones, which give the value back exactly.
 */
final class SparkTimes {
  private SparkTimes() {
  }

  private static final long MICROS = 1_000_000L;
  /** 1582-10-15 00:00 UTC, less a day for any zone's offset: from here on nothing is rebased. */
  private static final long SWITCH_MILLIS = -12_219_292_800_000L + 86_400_000L;

  static long micros(Object value) {
    if (value instanceof Instant i) {
      return Math.addExact(Math.multiplyExact(i.getEpochSecond(), MICROS), i.getNano() / 1000);
    }
    Timestamp t = (Timestamp) value;
    long seconds = Math.floorDiv(t.getTime(), 1000L);
    long micros = Math.addExact(Math.multiplyExact(seconds, MICROS), t.getNanos() / 1000);
    if (t.getTime() >= SWITCH_MILLIS) {
      return micros;
    }
    Calendar julian = hybrid(Math.floorDiv(micros, 1000L));
    LocalDateTime local = LocalDateTime.of(julian.get(Calendar.YEAR), julian.get(Calendar.MONTH) + 1, 1,
            julian.get(Calendar.HOUR_OF_DAY), julian.get(Calendar.MINUTE), julian.get(Calendar.SECOND),
            (int) (Math.floorMod(micros, MICROS) * 1000))
        .with(ChronoField.ERA, julian.get(Calendar.ERA))
        .plusDays(julian.get(Calendar.DAY_OF_MONTH) - 1L);  // a Julian leap day the Gregorian year lacks
    Instant instant = local.atZone(ZoneId.systemDefault()).toInstant();
    return Math.addExact(Math.multiplyExact(instant.getEpochSecond(), MICROS), instant.getNano() / 1000);
  }

  static int days(Object value) {
    if (value instanceof LocalDate d) {
      return Math.toIntExact(d.toEpochDay());
    }
    Date date = (Date) value;
    Calendar julian = hybrid(date.getTime());
    LocalDate local = LocalDate.of(julian.get(Calendar.YEAR), julian.get(Calendar.MONTH) + 1, 1)
        .with(ChronoField.ERA, julian.get(Calendar.ERA))
        .plusDays(julian.get(Calendar.DAY_OF_MONTH) - 1L);
    return Math.toIntExact(local.toEpochDay());
  }

  private static Calendar hybrid(long millis) {
    return new Calendar.Builder().setCalendarType("gregory").setInstant(millis).setTimeZone(TimeZone.getDefault())
        .build();
  }
}
