package org.rapaio.jupyter.kernel.channels;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Replaces rapaio-jupyter-kernel 3.0.1's class of the same name on the notebook kernel's class path (it is placed ahead
 * of the kernel jar by {@code dev.jgen.notebooks.KernelSpec}; nothing else uses it). The original starts the thread
 * before setting its running flag, so a loop could see {@code running == false} and end before its first iteration; and
 * one failing iteration (a message arriving before {@code Channels.connect} filled its handler map) ended the loop for
 * good. Either left the kernel deaf: "Kernel didn't respond in 60 seconds" about one start in five. Here the flag is
 * set first and a failing iteration is logged and survived (the client repeats its kernel_info request).
 */
public final class LoopThread extends Thread {
  private static final Logger LOGGER = Logger.getLogger(LoopThread.class.getSimpleName());

  private static final int MAX_FAILURES = 20;

  private volatile boolean running;
  private final long sleep;
  private final Runnable loopBody;

  public LoopThread(String name, long sleep, Runnable loopBody) {
    super(name);
    this.sleep = sleep;
    this.loopBody = loopBody;
  }

  @Override
  public void run() {
    int failures = 0;
    while (running) {
      try {
        loopBody.run();
        failures = 0;
      } catch (RuntimeException e) {
        // A closed socket fails every time: give up then, as the original did at once.
        if (++failures > MAX_FAILURES) {
          LOGGER.log(Level.SEVERE, getName() + ": " + failures + " failed loop iterations in a row; stopping", e);
          running = false;
          return;
        }
        LOGGER.log(Level.WARNING, getName() + ": loop iteration failed; continuing", e);
      }
      try {
        Thread.sleep(sleep);
      } catch (InterruptedException e) {
        running = false;
        return;
      }
    }
  }

  @Override
  public synchronized void start() {
    running = true;
    super.start();
  }

  public void shutdown() {
    running = false;
  }
}
