package dev.jgen.prompt.jinja;

import java.time.LocalDateTime;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.Locale;

/** Python's {@code datetime.strftime} for the C locale, the way transformers' {@code strftime_now} calls it. */
final class Strftime {
  private Strftime() {}

  static String format(ZonedDateTime t, String fmt) {
    LocalDateTime d = t.toLocalDateTime();
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < fmt.length(); i++) {
      char c = fmt.charAt(i);
      if (c != '%' || i + 1 >= fmt.length()) {
        sb.append(c);
        continue;
      }
      char k = fmt.charAt(++i);
      boolean noPad = false;
      if (k == '-' && i + 1 < fmt.length()) {
        noPad = true;
        k = fmt.charAt(++i);
      }
      switch (k) {
        case 'Y': sb.append(d.getYear()); break;
        case 'y': sb.append(pad(d.getYear() % 100, 2, noPad)); break;
        case 'm': sb.append(pad(d.getMonthValue(), 2, noPad)); break;
        case 'd': sb.append(pad(d.getDayOfMonth(), 2, noPad)); break;
        case 'e': sb.append(noPad ? String.valueOf(d.getDayOfMonth()) : String.format("%2d", d.getDayOfMonth())); break;
        case 'H': sb.append(pad(d.getHour(), 2, noPad)); break;
        case 'I': sb.append(pad(d.getHour() % 12 == 0 ? 12 : d.getHour() % 12, 2, noPad)); break;
        case 'M': sb.append(pad(d.getMinute(), 2, noPad)); break;
        case 'S': sb.append(pad(d.getSecond(), 2, noPad)); break;
        case 'f': sb.append(String.format("%06d", d.getNano() / 1000)); break;
        case 'p': sb.append(d.getHour() < 12 ? "AM" : "PM"); break;
        case 'j': sb.append(pad(d.getDayOfYear(), 3, noPad)); break;
        case 'a': sb.append(d.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.US)); break;
        case 'A': sb.append(d.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.US)); break;
        case 'b':
        case 'h': sb.append(d.getMonth().getDisplayName(TextStyle.SHORT, Locale.US)); break;
        case 'B': sb.append(d.getMonth().getDisplayName(TextStyle.FULL, Locale.US)); break;
        case 'w': sb.append(d.getDayOfWeek().getValue() % 7); break;
        case 'u': sb.append(d.getDayOfWeek().getValue()); break;
        case 'U': sb.append(pad((d.getDayOfYear() + 6 - d.getDayOfWeek().getValue() % 7) / 7, 2, noPad)); break;
        case 'W': sb.append(pad((d.getDayOfYear() + 6 - (d.getDayOfWeek().getValue() + 6) % 7) / 7, 2, noPad)); break;
        case 'V': sb.append(pad(d.get(java.time.temporal.IsoFields.WEEK_OF_WEEK_BASED_YEAR), 2, noPad)); break;
        case 'G': sb.append(d.get(java.time.temporal.IsoFields.WEEK_BASED_YEAR)); break;
        case 'Z': sb.append(t.getZone().getDisplayName(TextStyle.SHORT, Locale.US)); break;
        case 'z': {
          int secs = t.getOffset().getTotalSeconds();
          sb.append(secs < 0 ? '-' : '+').append(String.format("%02d%02d", Math.abs(secs) / 3600, Math.abs(secs) / 60 % 60));
          break;
        }
        case 'c': sb.append(format(t, "%a %b %e %H:%M:%S %Y")); break;
        case 'x': sb.append(format(t, "%m/%d/%y")); break;
        case 'X': sb.append(format(t, "%H:%M:%S")); break;
        case 'D': sb.append(format(t, "%m/%d/%y")); break;
        case 'F': sb.append(format(t, "%Y-%m-%d")); break;
        case 'T': sb.append(format(t, "%H:%M:%S")); break;
        case 'R': sb.append(format(t, "%H:%M")); break;
        case 's': sb.append(t.toEpochSecond()); break;
        case 'n': sb.append('\n'); break;
        case 't': sb.append('\t'); break;
        case '%': sb.append('%'); break;
        default: sb.append('%').append(noPad ? "-" : "").append(k);
      }
    }
    return sb.toString();
  }

  private static String pad(long v, int width, boolean noPad) {
    String s = Long.toString(v);
    return noPad || s.length() >= width ? s : "0".repeat(width - s.length()) + s;
  }
}
