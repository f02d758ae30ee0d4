package dev.jgen.engine.llamacpp;

import de.kherud.llama.LlamaModel;
import de.kherud.llama.LogLevel;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.args.LogFormat;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where llama.cpp's output goes: the logger {@value #LOGGER}, at DEBUG (its errors at ERROR), so by default a user sees
 * jgen's progress and summary and nothing of llama.cpp. {@code jgen --verbose}, or that logger at DEBUG in
 * {@code conf/spark/log4j2.properties} (on a cluster: the executors' log4j2 config), shows it.
 *
 * <p>java-llama.cpp 4.2.0 (llama.cpp b4916) has three sources of console output, each handled here:
 * <ol>
 *   <li>llama.cpp's core log ({@code llama_log_set}: the GGUF metadata dump, {@code print_info}, context set-up,
 *       decode errors). {@code LlamaModel.setLogger} points it at a Java callback, but {@code loadModel} calls
 *       llama.cpp's {@code common_init()}, which points it back at the {@code common} logger: so the callback is
 *       installed again after the model has loaded ({@link #route()}), and during the load it is governed by (2).</li>
 *   <li>llama.cpp's {@code common} logger ({@code LOG_INF}/{@code SRV_INF}/{@code SLT_INF}: {@code build:},
 *       {@code system_info}, {@code srv update_slots}, {@code slot print_timing}, the chat template example). It prints
 *       to stderr from its own thread and has no callback; its only switch is the verbosity threshold
 *       ({@code --log-verbosity}: a message is kept when its verbosity is at most the threshold, and every message,
 *       errors included, has verbosity 0). {@link #quiet} sets it to -1 (nothing) unless {@value #LOGGER} is at DEBUG,
 *       then to 0 (llama.cpp's default: those lines print on stderr as llama.cpp writes them).</li>
 *   <li>java-llama.cpp's loader prints {@code Extracted 'libjllama.so' to '…'} on stdout when it extracts its library
 *       from the jar. {@link #route()} extracts it itself first, into a folder of this JVM's java-llama.cpp temp dir, and
 *       points {@code de.kherud.llama.lib.path} at it, the loader's documented way to give it a library.</li>
 * </ol>
 * What stays on stderr: ggml's GGUF reader reports a file it cannot open or parse there itself, whatever the settings
 * above ({@code gguf_init_from_file: failed to open GGUF file '…'}, {@code … failed to read header}; checked on this
 * build), so the usual reason a model fails to load is still shown. Other load failures (an unsupported architecture,
 * out of memory) are told by llama.cpp's loggers, quiet by default: java-llama.cpp then throws only "could not load
 * model from given file path", and {@link #hint()} says how to see why. Errors while generating reach jgen through (1)
 * after the load, at ERROR, or as the failed task's message, which becomes the row's error.
 */
public final class LlamaCppLogging {
  /** The logger llama.cpp's output goes to. */
  public static final String LOGGER = "dev.jgen.engine.llamacpp.native";
  private static final Logger LOG = LoggerFactory.getLogger(LOGGER);

  private LlamaCppLogging() {}

  /**
   * Points llama.cpp's core log at {@value #LOGGER}. Call before a model loads (it also readies the native library
   * without the loader's stdout line) and again after: loading a model points that log back at llama.cpp's own.
   */
  public static void route() {
    quietNativeLibrary();
    LlamaModel.setLogger(LogFormat.TEXT, LlamaCppLogging::log);
  }

  /** The model parameters with llama.cpp's {@code common} logger off, or at its default when {@value #LOGGER} is at DEBUG. */
  public static ModelParameters quiet(ModelParameters params) {
    return params.setLogVerbosity(LOG.isDebugEnabled() ? 0 : -1);
  }

  /** Appended to a load failure's message: where llama.cpp's own reason is. */
  public static String hint() {
    return LOG.isDebugEnabled() ? "" : " (llama.cpp's own log is off: run with --verbose, or set the logger " + LOGGER
        + " to DEBUG, to see why)";
  }

  static void log(LogLevel level, String message) {
    if (message == null) {
      return;
    }
    // llama.cpp sends whole lines with their newline, and sometimes pieces of a line (progress dots): trim, skip blanks.
    String text = message.strip();
    if (text.isEmpty()) {
      return;
    }
    if (level == LogLevel.ERROR) {
      LOG.error("llama.cpp: {}", text);
    } else if (LOG.isDebugEnabled()) {
      LOG.debug("llama.cpp: {}", text);
    }
  }

  private static boolean libraryReady;

  /** (3) above: extract the library where the loader will look first, so it does not print what it extracted. */
  private static synchronized void quietNativeLibrary() {
    if (libraryReady || System.getProperty("de.kherud.llama.lib.path") != null) {
      libraryReady = true;
      return;
    }
    libraryReady = true;
    String folder = nativeFolder();
    if (folder == null) {
      return;  // an unusual platform: the loader finds (and announces) its library as it always does
    }
    String name = System.mapLibraryName("jllama");
    // LlamaModel.class does not initialize the class (whose static block loads the library): only its resource is read.
    try (InputStream in = LlamaModel.class.getResourceAsStream("/de/kherud/llama/" + folder + "/" + name)) {
      if (in == null) {
        return;
      }
      Path base = Path.of(System.getProperty("de.kherud.llama.tmpdir", System.getProperty("java.io.tmpdir")));
      // A folder of its own: the loader deletes files named llama*/jllama* at the top of its temp dir when it starts.
      Path dir = Files.createTempDirectory(base, "jgen-native-");
      Path lib = dir.resolve(name);
      Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
      lib.toFile().deleteOnExit();
      dir.toFile().deleteOnExit();
      System.setProperty("de.kherud.llama.lib.path", dir.toString());
    } catch (IOException | RuntimeException e) {
      LOG.debug("could not extract {} ahead of java-llama.cpp's loader: {}", name, e.toString());
    }
  }

  /** java-llama.cpp's resource folder for this platform ({@code Linux/x86_64}, ...), from its own OSInfo; null if unknown. */
  private static String nativeFolder() {
    try {
      Method m = Class.forName("de.kherud.llama.OSInfo").getDeclaredMethod("getNativeLibFolderPathForCurrentOS");
      m.setAccessible(true);
      return (String) m.invoke(null);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }
}
