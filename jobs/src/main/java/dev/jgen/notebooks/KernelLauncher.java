package dev.jgen.notebooks;

import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/**
 * The notebook kernel's main class, in place of rapaio-jupyter-kernel's {@code org.rapaio.jupyter.kernel.MainApp}: it
 * starts the kernel as {@code MainApp.runKernel} does (connection file, {@code Channels}, {@code connect(kernel)}) and
 * then watches the kernel's three channel loops (heartbeat, shell, control), starting again any loop that ended while
 * its channel is still open.
 *
 * <p>Why: in rapaio-jupyter-kernel 3.0.1 (and 3.0.4, the newest on Maven Central: the same code) a channel loop can end
 * at start-up and leave the kernel deaf, so Jupyter gives up ("Kernel didn't respond in 60 seconds", about one start in
 * five on a loaded 2-core machine):
 * <ul>
 *   <li>{@code LoopThread.start()} calls {@code super.start()} before it sets {@code running = true}: a thread that runs
 *       first sees {@code running == false} and ends before its first iteration;</li>
 *   <li>{@code Channels.connect} binds the sockets (and starts their loops) before it fills its handler map: Jupyter's
 *       first {@code kernel_info_request}, queued by ZeroMQ before the bind, can arrive first; {@code getHandler} then
 *       throws a NullPointerException outside the loop body's try, which ends the shell loop for good.</li>
 * </ul>
 * A loop that ended while its {@code running} flag is still true and its channel is not closed ended by one of these (or
 * by an exception in a later iteration): it is started again, on the same loop body, so nothing of the kernel is
 * replaced or copied. Jupyter repeats {@code kernel_info_request} every second until it gets a reply, so a message lost
 * with a dead loop costs a second. The kernel's own shutdown sets {@code running = false} and closes the channel first:
 * those loops stay ended, and this main returns when every channel is closed, as {@code MainApp}'s does.
 *
 * <p>The kernel jar is not on the project's compile class path (its unshaded slf4j and HTTP client would clash with
 * Spark's), so it is reached by name; {@link #main} checks every class and field it needs before it connects and fails
 * with the name of the missing one (e.g. after a kernel upgrade). JUL is configured from
 * {@code dev/jgen/notebooks/kernel-logging.properties} instead of the kernel jar's {@code logging.properties}, whose
 * {@code .level=FINEST} makes Spark's jul-to-slf4j bridge fail Delta log reads.
 */
public final class KernelLauncher {
  private static final Logger LOGGER = Logger.getLogger(KernelLauncher.class.getName());
  private static final String PKG = "org.rapaio.jupyter.kernel.";
  /** The fields of {@code Channels} that hold channels with a loop thread. */
  private static final List<String> LOOPING_CHANNELS = List.of("heartbeat", "shell", "control");
  /** How often the loops are looked at: the kernel's own loops poll every 50 ms. */
  private static final long WATCH_MS = 100;

  private KernelLauncher() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      throw new IllegalArgumentException("usage: KernelLauncher CONNECTION_FILE (Jupyter's {connection_file})");
    }
    try (InputStream in = KernelLauncher.class.getResourceAsStream("kernel-logging.properties")) {
      if (in != null) {
        LogManager.getLogManager().readConfiguration(in);
      }
    }
    Path connectionFile = Path.of(args[0]);
    if (!Files.isRegularFile(connectionFile)) {
      throw new IllegalArgumentException("connection file '" + connectionFile + "' is not a file");
    }
    Kernel k = new Kernel();
    Object props = k.transformFromJson.invoke(null, Files.readString(connectionFile), k.connectionProperties);
    Object channels = k.channelsConstructor.newInstance(props);
    List<Loop> loops = new ArrayList<>();
    for (String name : LOOPING_CHANNELS) {
      loops.add(new Loop(name, k.channelsField(name).get(channels), k));
    }
    Object kernel = k.mainAppKernel.get(null);
    try {
      k.connect.invoke(channels, kernel);
    } catch (InvocationTargetException e) {
      throw e.getCause() instanceof Exception ex ? ex : e;
    }
    // Until the kernel shuts down: every channel closed.
    while (true) {
      boolean open = false;
      for (Loop l : loops) {
        open |= l.keepAlive();
      }
      if (!open) {
        break;
      }
      Thread.sleep(WATCH_MS);
    }
    for (Loop l : loops) {
      l.join();
    }
  }

  /** One channel's loop thread, read and replaced through the channel's {@code loopThread} field. */
  private static final class Loop {
    private final String name;
    private final Object channel;
    private final Field loopThread;
    private final Kernel k;
    private int restarts;

    Loop(String name, Object channel, Kernel k) throws ReflectiveOperationException {
      this.name = name;
      this.channel = channel;
      this.k = k;
      this.loopThread = accessible(channel.getClass().getDeclaredField("loopThread"));
    }

    /** Starts the loop again if it ended on its own; returns whether the channel is still open. */
    boolean keepAlive() throws ReflectiveOperationException {
      if (k.closed.getBoolean(channel)) {
        return false;
      }
      Thread t = (Thread) loopThread.get(channel);
      if (t == null || t.isAlive() || !k.running.getBoolean(t)) {
        // Not bound yet, running, or shut down by the kernel.
        return true;
      }
      restarts++;
      Thread fresh = (Thread) k.loopThreadConstructor.newInstance(t.getName(), k.sleep.getLong(t), k.loopBody.get(t));
      // Set before start(), which sets it only after the thread is running: this one cannot end before it begins.
      k.running.setBoolean(fresh, true);
      loopThread.set(channel, fresh);
      fresh.start();
      LOGGER.log(Level.INFO, "jgen kernel launcher: the " + name
          + " channel's loop had ended with the channel open; started it again (" + restarts + ")");
      return true;
    }

    void join() throws InterruptedException, ReflectiveOperationException {
      Thread t = (Thread) loopThread.get(channel);
      if (t != null) {
        t.join();
      }
    }
  }

  /** The kernel's classes and members this launcher uses, all looked up before the kernel starts. */
  private static final class Kernel {
    final Class<?> connectionProperties;
    final java.lang.reflect.Method transformFromJson;
    final Constructor<?> channelsConstructor;
    final java.lang.reflect.Method connect;
    final Field mainAppKernel;
    final Field closed;
    final Field running;
    final Field sleep;
    final Field loopBody;
    final Constructor<?> loopThreadConstructor;
    private final Class<?> channels;

    Kernel() {
      try {
        connectionProperties = Class.forName(PKG + "core.ConnectionProperties");
        transformFromJson = Class.forName(PKG + "core.Transform").getMethod("fromJson", String.class, Class.class);
        channels = Class.forName(PKG + "channels.Channels");
        channelsConstructor = channels.getConstructor(connectionProperties);
        connect = channels.getMethod("connect", Class.forName(PKG + "core.RapaioKernel"));
        mainAppKernel = Class.forName(PKG + "MainApp").getField("kernel");
        closed = accessible(Class.forName(PKG + "channels.AbstractChannel").getDeclaredField("closed"));
        Class<?> loop = Class.forName(PKG + "channels.LoopThread");
        running = accessible(loop.getDeclaredField("running"));
        sleep = accessible(loop.getDeclaredField("sleep"));
        loopBody = accessible(loop.getDeclaredField("loopBody"));
        loopThreadConstructor = loop.getConstructor(String.class, long.class, Runnable.class);
        for (String name : LOOPING_CHANNELS) {
          channelsField(name).getType().getDeclaredField("loopThread");
        }
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("the notebook kernel launcher is written for rapaio-jupyter-kernel 3.0.1 and "
            + "does not find " + e.getMessage() + " in the kernel jar on the class path", e);
      }
    }

    Field channelsField(String name) throws NoSuchFieldException {
      return accessible(channels.getDeclaredField(name));
    }
  }

  private static Field accessible(Field f) {
    f.setAccessible(true);
    return f;
  }
}
