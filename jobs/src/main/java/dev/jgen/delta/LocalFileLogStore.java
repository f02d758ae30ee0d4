package dev.jgen.delta;

import io.delta.storage.HadoopFileSystemLogStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Delta's log store for local file systems ({@code file:}) whose commits are atomic across processes.
 *
 * <p>Why: Delta (Spark and Kernel alike) writes {@code file:} tables with {@code HDFSLogStore}, which on the local file
 * system checks that {@code 0000N.json} is absent and then renames a temporary file onto it. rename(2) replaces an
 * existing file: the check and the rename are two steps, so two jobs committing version N at the same moment could
 * both "succeed" (one commit lost), and Hadoop's checksum side file ({@code .0000N.json.crc}), renamed separately, may
 * belong to the other writer, so the next read fails with "Checksum error" (the latter seen in CI with four writers on
 * one runs table). jgen's run claim, its
 * chunk commits and the runs table all rely on a commit of version N failing when N exists.
 *
 * <p>How: the commit is written to a temporary file in {@code _delta_log}, flushed, and published with link(2), which
 * fails with EEXIST when the name exists: put-if-absent in one system call, for threads and processes alike. No Hadoop
 * checksum file is written (the reader verifies none). A file system without hard links falls back to Delta's own
 * check-then-rename. Overwrites (Delta's {@code _last_checkpoint}) are an atomic rename.
 *
 * <p>Used for {@code file:} by {@link DeltaLogStores}; every other scheme keeps Delta's default store.
 */
public final class LocalFileLogStore extends HadoopFileSystemLogStore {
  public LocalFileLogStore(Configuration hadoopConf) {
    super(hadoopConf);
  }

  @Override
  public void write(Path path, Iterator<String> actions, Boolean overwrite, Configuration hadoopConf)
      throws IOException {
    java.nio.file.Path target = localPath(path, hadoopConf);
    java.nio.file.Path dir = target.getParent();
    if (!overwrite && Files.exists(target)) {
      throw new FileAlreadyExistsException(path.toString());
    }
    Files.createDirectories(dir);
    java.nio.file.Path temp = dir.resolve("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
    try {
      try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        while (actions.hasNext()) {
          ByteBuffer line = ByteBuffer.wrap((actions.next() + "\n").getBytes(StandardCharsets.UTF_8));
          while (line.hasRemaining()) {
            out.write(line);
          }
        }
        // a commit that is visible must be whole after a crash of the machine, not only of the process
        out.force(true);
      }
      // a checksum file left by another writer for this name would fail every read of the new file
      Files.deleteIfExists(dir.resolve("." + target.getFileName() + ".crc"));
      if (overwrite) {
        try {
          Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        return;
      }
      try {
        Files.createLink(target, temp);
      } catch (FileAlreadyExistsException e) {
        // another writer's commit of this version came first: Delta turns this into a retry or a conflict
        throw new FileAlreadyExistsException(path.toString());
      } catch (UnsupportedOperationException e) {
        publishWithoutLinks(path, temp, target);
      } catch (IOException e) {
        if (Files.exists(target)) {
          throw new FileAlreadyExistsException(path.toString());
        }
        // EPERM or ENOTSUP: a file system without hard links (some network and FUSE mounts)
        publishWithoutLinks(path, temp, target);
      }
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  /** Delta's own behaviour where links are missing: atomic within this process only. */
  private static synchronized void publishWithoutLinks(Path path, java.nio.file.Path temp, java.nio.file.Path target)
      throws IOException {
    if (Files.exists(target)) {
      throw new FileAlreadyExistsException(path.toString());
    }
    Files.move(temp, target);
  }

  /**
   * True, as for Delta's own store: the question is whether a file Delta writes itself through the file system (a
   * checkpoint's Parquet file, Spark's and Kernel's alike) can be seen half-written, and on a local file system it can.
   * Answering false makes Delta write the checkpoint in place, and a reader listing {@code _delta_log} meanwhile reads
   * a checkpoint of a few bytes ("is not a Parquet file (length is too low: 4)", seen in CI); true makes Delta write it
   * to a temporary name and rename it. Commits through {@link #write} are whole when visible either way.
   */
  @Override
  public Boolean isPartialWriteVisible(Path path, Configuration hadoopConf) {
    return true;
  }

  private static java.nio.file.Path localPath(Path path, Configuration hadoopConf) throws IOException {
    Path qualified = path.getFileSystem(hadoopConf).makeQualified(path);
    if (!"file".equals(qualified.toUri().getScheme())) {
      throw new IOException(LocalFileLogStore.class.getSimpleName() + " writes local files only, not " + qualified);
    }
    return java.nio.file.Path.of(qualified.toUri());
  }
}
