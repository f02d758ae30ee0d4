package dev.jgen.delta;

import io.delta.kernel.TableManager;
import io.delta.kernel.TransactionCommitResult;
import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.exceptions.ConcurrentWriteException;
import io.delta.kernel.exceptions.TableAlreadyExistsException;
import io.delta.kernel.expressions.Column;
import io.delta.kernel.hook.PostCommitHook;
import io.delta.kernel.transaction.DataLayoutSpec;
import io.delta.kernel.utils.CloseableIterable;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * What jgen does with Delta Kernel rather than Delta-Spark: table creation and the runs table's small reads and writes.
 * In a fresh JVM, Delta-Spark's first command costs seconds (its classes, its log and snapshot machinery, a checksum
 * computed by a Spark job); Kernel writes the same first commit in a fraction of that. The tables stay ordinary Delta
 * tables that Delta-Spark appends to and reads.
 */
final class KernelTables {
  static final String ENGINE_INFO = "jgen";

  private KernelTables() {}

  /** A Kernel engine over the session's Hadoop settings (file systems, credentials). */
  static Engine engine(SparkSession spark) {
    return DefaultEngine.create(DeltaLogStores.forKernel(spark.sessionState().newHadoopConf()));
  }

  /** The fully qualified path Kernel wants (a file system call). */
  static String resolve(Engine engine, String path) {
    try {
      return engine.getFileSystemClient().resolvePath(path);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("Delta table " + path + ": " + e.getMessage(), e);
    }
  }

  /** {@link #create(Engine, String, StructType, List, Map)} at an absolute path or URI, with an engine of its own. */
  static boolean create(SparkSession spark, String path, StructType schema, List<String> partitionColumns,
      Map<String, String> properties) {
    Engine engine = engine(spark);
    return create(engine, resolve(engine, path), schema, partitionColumns, properties);
  }

  /**
   * Creates an empty table at {@code resolvedPath} (a path Kernel's file system client resolved). Another job that
   * created it a moment earlier is not an error: the caller checks what is there as it would for any existing table.
   *
   * @return true when this call created it, false when it existed already (made by another job at the same moment)
   */
  static boolean create(Engine engine, String resolvedPath, StructType schema, List<String> partitionColumns,
      Map<String, String> properties) {
    var builder = TableManager.buildCreateTableTransaction(resolvedPath, schema(schema), ENGINE_INFO);
    if (!properties.isEmpty()) {
      builder = builder.withTableProperties(properties);
    }
    if (!partitionColumns.isEmpty()) {
      builder = builder.withDataLayoutSpec(DataLayoutSpec.partitioned(partitionColumns.stream().map(Column::new).toList()));
    }
    try {
      runHooks(engine, builder.build(engine).commit(engine, CloseableIterable.emptyIterable()));
      return true;
    } catch (TableAlreadyExistsException | ConcurrentWriteException e) {
      return false; // made by another job at the same moment
    }
  }

  /**
   * A commit's post-commit hooks: the version's checksum file (from which Delta-Spark reads protocol and metadata
   * without a Spark job) and checkpoints (which keep the log quick to replay). A hook that fails leaves the commit in
   * place; the next reader only replays a little more log.
   */
  static void runHooks(Engine engine, TransactionCommitResult result) {
    for (PostCommitHook hook : result.getPostCommitHooks()) {
      try {
        hook.threadSafeInvoke(engine);
      } catch (java.io.IOException | RuntimeException e) {
        // see above
      }
    }
  }

  /** A Spark schema as Kernel's, nested types included, nullability kept. */
  static io.delta.kernel.types.StructType schema(StructType spark) {
    io.delta.kernel.types.StructType k = new io.delta.kernel.types.StructType();
    for (StructField f : spark.fields()) {
      k = k.add(f.name(), type(f.dataType()), f.nullable());
    }
    return k;
  }

  private static io.delta.kernel.types.DataType type(DataType t) {
    if (t == DataTypes.StringType) return io.delta.kernel.types.StringType.STRING;
    if (t == DataTypes.IntegerType) return io.delta.kernel.types.IntegerType.INTEGER;
    if (t == DataTypes.LongType) return io.delta.kernel.types.LongType.LONG;
    if (t == DataTypes.DoubleType) return io.delta.kernel.types.DoubleType.DOUBLE;
    if (t == DataTypes.BooleanType) return io.delta.kernel.types.BooleanType.BOOLEAN;
    if (t == DataTypes.TimestampType) return io.delta.kernel.types.TimestampType.TIMESTAMP;
    if (t instanceof StructType s) return schema(s);
    if (t instanceof ArrayType a) return new io.delta.kernel.types.ArrayType(type(a.elementType()), a.containsNull());
    if (t instanceof MapType m) {
      return new io.delta.kernel.types.MapType(type(m.keyType()), type(m.valueType()), m.valueContainsNull());
    }
    throw new IllegalArgumentException("no Kernel type for " + t);
  }
}
