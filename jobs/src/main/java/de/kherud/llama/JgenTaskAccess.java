package de.kherud.llama;

/**
 * Reaches java-llama.cpp's package-private task API, which accepts a prompt as token ids ({@code "prompt": [1, 2]}).
 * The public API takes text only and would tokenize with llama.cpp's own tokenizer, which is not guaranteed to match
 * the Hugging Face tokenizer the model was trained with. Pinned to de.kherud:llama 4.2.0.
 */
public final class JgenTaskAccess {
  private JgenTaskAccess() {}

  /** Queues a completion task; failures (LlamaException is package-private) surface as IllegalStateException. */
  public static int request(LlamaModel model, String taskJson) {
    try {
      return model.requestCompletion(taskJson);
    } catch (LlamaException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  public static LlamaOutput receive(LlamaModel model, int taskId) {
    try {
      return model.receiveCompletion(taskId);
    } catch (LlamaException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  public static boolean isStop(LlamaOutput output) {
    return output.stop;
  }

  /**
   * Cancels a task: llama.cpp releases its slot and drops its results (jllama.cpp cancelCompletion). Call it only from
   * the thread that receives the task's results, never while another thread waits in {@link #receive} for it.
   */
  public static void cancel(LlamaModel model, int taskId) {
    model.cancelCompletion(taskId);
  }

  public static void release(LlamaModel model, int taskId) {
    model.releaseTask(taskId);
  }
}
