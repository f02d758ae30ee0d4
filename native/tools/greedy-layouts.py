#!/usr/bin/env python3
"""Greedy outputs of jgen-llama-server under two engine layouts, row by row (a diagnostic for docs/benchmarks.md#prefix).

Sends ROWS requests that share a PREFIX of random token ids (then 20 ids of their own), NEW greedy tokens each, to
one server started with the arguments of layout A and one with those of layout B, and prints per row whether the
completion token ids are the same. No tokenizer: the protocol takes token ids.

  native/tools/greedy-layouts.py SERVER MODEL.gguf "--threads 2 --parallel 16 --prefix-cache 1" \
      "--threads 2 --parallel 16 --prefix-cache 0"
Environment: ROWS (12), PREFIX (300), NEW (16), SEED (7), TIMEOUT_S (900: a server still answering then is killed).
"""
import os, random, subprocess, sys, threading

TIMEOUT_S = int(os.environ.get("TIMEOUT_S", "900"))


def run(server, model, args, lines, rows):
    proc = subprocess.Popen([server, "--model", model] + args.split(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    # a server that stalls is killed: its stdout then ends, and the read below fails instead of waiting for ever
    watchdog = threading.Timer(TIMEOUT_S, proc.kill)
    watchdog.start()
    ready = proc.stdout.readline()
    if not ready.startswith("READY"):
        sys.exit("server did not start with " + args)
    proc.stdin.write("\n".join(lines) + "\n")
    proc.stdin.flush()
    out = {}
    while len(out) < rows:
        f = proc.stdout.readline().split()
        if not f:
            sys.exit("server ended (or was killed after %d s, TIMEOUT_S) with %d of %d rows answered" % (TIMEOUT_S, len(out), rows))
        # D <id> <prompt_tokens> <completion_tokens> <reason> <hex text> <token ids> <cached_tokens>
        out[int(f[1])] = (f[6], int(f[7])) if f[0] == "D" else (" ".join(f), 0)
    watchdog.cancel()
    proc.stdin.close()
    proc.wait(timeout=60)
    return out


def main():
    server, model, a, b = sys.argv[1:5]
    rnd = random.Random(int(os.environ.get("SEED", "7")))
    rows = int(os.environ.get("ROWS", "12"))
    prefix = [rnd.randrange(100, 99000) for _ in range(int(os.environ.get("PREFIX", "300")))]
    lines = []
    for r in range(rows):
        p = prefix + [rnd.randrange(100, 99000) for _ in range(20)]
        # G <id> <max_new> <temperature> <top_p> <top_k> <repeat_penalty> <seed> <n_stop> <n_prompt> <ids>
        lines.append("G %d %s 0 1 0 1 42 0 %d %s" % (r, os.environ.get("NEW", "16"), len(p), " ".join(map(str, p))))
    got_a, got_b = run(server, model, a, lines, rows), run(server, model, b, lines, rows)
    differ = 0
    for r in range(rows):
        ta, tb = got_a[r][0].split(","), got_b[r][0].split(",")
        first = next((i for i, (x, y) in enumerate(zip(ta, tb)) if x != y), None)
        failed = [g[r][0] for g in (got_a, got_b) if not g[r][0][:1].isdigit()]
        differ += first is not None or bool(failed)
        print("row %2d cached A %4d B %4d: %s" % (r, got_a[r][1], got_b[r][1], "failed: " + " / ".join(failed) if failed
                                                 else "same" if first is None else "differs from token %d" % first))
    print("%d of %d rows differ between A (%s) and B (%s)" % (differ, rows, a, b))


if __name__ == "__main__":
    main()
