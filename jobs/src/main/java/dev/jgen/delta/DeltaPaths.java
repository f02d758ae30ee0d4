package dev.jgen.delta;

import java.io.File;
import java.util.List;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/** What every jgen table needs before it writes: is the path local, and is an existing table one of ours. */
public final class DeltaPaths {
  private DeltaPaths() {}

  /** The local file of a path without a scheme (or with file:), else null (s3a://, abfss://, ...). */
  public static File localFile(String path) {
    if (path.startsWith("file:")) {
      return new File(java.net.URI.create(path.startsWith("file://") ? path : "file://" + path.substring(5)));
    }
    return path.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*") ? null : new File(path);
  }

  /** Why an existing table is not of the expected schema (a column missing or of another type), or null when it is. */
  public static String mismatch(StructType existing, StructType expected) {
    for (StructField f : expected.fields()) {
      if (!List.of(existing.fieldNames()).contains(f.name())) {
        return "column '" + f.name() + "' is missing";
      }
      DataType t = existing.apply(f.name()).dataType();
      if (!t.sameType(f.dataType())) {
        return "column '" + f.name() + "' is " + t.simpleString() + ", expected " + f.dataType().simpleString();
      }
    }
    return null;
  }
}
