package dev.jgen.config;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code job.deadline}: a duration from the attempt's start ({@code 90m}, {@code 1h30m}) or an ISO-8601 instant. */
public final class Deadlines {
  private static final Pattern DURATION = Pattern.compile("(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?");

  private Deadlines() {}

  /** The instant an attempt started at {@code startMillis} must stop starting rows. */
  public static long atMillis(String value, long startMillis) {
    Duration d = duration(value);
    if (d != null) {
      return startMillis + d.toMillis();
    }
    return Instant.parse(value.trim()).toEpochMilli();
  }

  /** Why the value is not a deadline (naming an example of each form), or null. */
  static String problem(String value) {
    if (value == null || duration(value) != null) {
      return null;
    }
    try {
      Instant.parse(value.trim());
      return null;
    } catch (DateTimeParseException e) {
      return "'" + value + "' is neither a duration such as 90m, 2h, 45s or 1h30m nor an ISO-8601 instant such as "
          + "2026-12-07T06:00:00Z";
    }
  }

  private static Duration duration(String value) {
    String v = value.trim();
    Matcher m = DURATION.matcher(v);
    if (v.isEmpty() || !m.matches()) {
      return null;
    }
    long h = m.group(1) == null ? 0 : Long.parseLong(m.group(1));
    long min = m.group(2) == null ? 0 : Long.parseLong(m.group(2));
    long s = m.group(3) == null ? 0 : Long.parseLong(m.group(3));
    return Duration.ofHours(h).plusMinutes(min).plusSeconds(s);
  }
}
