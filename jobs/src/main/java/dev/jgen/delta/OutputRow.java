package dev.jgen.delta;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.StructType;

/**
 * A row of a table built by column name, never by position: adding or moving a column in the schema cannot shift
 * values into the wrong column, and a misspelt name fails at once. Columns not set stay null.
 */
public final class OutputRow {
  private final StructType schema;
  private final Object[] values;

  /** A row of the generations table ({@link OutputSchema#SCHEMA}). */
  public OutputRow() {
    this(OutputSchema.SCHEMA);
  }

  public OutputRow(StructType schema) {
    this.schema = schema;
    this.values = new Object[schema.size()];
  }

  /** @throws IllegalArgumentException for a column the schema does not have */
  public OutputRow set(String column, Object value) {
    values[schema.fieldIndex(column)] = value;
    return this;
  }

  /** @throws IllegalArgumentException for a column the schema does not have */
  public Object get(String column) {
    return values[schema.fieldIndex(column)];
  }

  public Row toRow() {
    return RowFactory.create(values.clone());
  }
}
