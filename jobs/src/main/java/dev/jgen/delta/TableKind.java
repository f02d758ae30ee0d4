package dev.jgen.delta;

/**
 * The job kinds that write a run table, by a stable id. Every name a table's log keeps is built here from the id, never
 * from a display label: a chunk's idempotent transaction id ({@code txnAppId}), which the fence of a taken-over attempt
 * must find again, and the Spark job group. Rewording what a kind is called cannot change them.
 *
 * <p>The kinds that existed before the ids did keep the chunk ids their tables already hold (the legacy tags below are
 * frozen strings: a table written by an earlier jgen resumes and fences under them). A new kind's tag is its id.
 */
public enum TableKind {
  GENERATE("generate", "", "generations"),
  MTBENCH("mtbench", "MT-Bench-answers-", "MT-Bench answers"),
  SELFCHAT("selfchat", "self-chat-", "self-chat"),
  JUDGE("judge", "MT-Bench-judgments-", "MT-Bench judgments"),
  MAGPIE("magpie", "magpie-", "Magpie instructions"),
  SCORE("score", "score-", "scores"),
  CURATE("curate", "curate-", "curated");

  private final String id;
  private final String chunkTag;
  private final String what;

  TableKind(String id, String chunkTag, String what) {
    this.id = id;
    this.chunkTag = chunkTag;
    this.what = what;
  }

  /** The stable id ({@code job.kind}'s value): in commit metadata and the runs table. */
  public String id() {
    return id;
  }

  /** What the table holds, for messages ("not a jgen MT-Bench answers table"). Free to change: nothing is keyed by it. */
  public String what() {
    return what;
  }

  /** The transaction id prefix of an attempt's chunks; the chunk number follows. */
  public String chunkIdPrefix(String runId, int attempt) {
    return "jgen-" + chunkTag + runId + "-attempt-" + attempt + "-chunk-";
  }

  /** The Spark job group of an attempt's chunks (cancelled together when the run's lock is lost). */
  public String jobGroup(String runId, int attempt) {
    return "jgen-" + runId + "-attempt-" + attempt;
  }
}
