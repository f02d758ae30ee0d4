#!/usr/bin/env bash
# How legacy-tables.tar.gz was made: tables written by jgen's code before the shared attempt runner (commit cf8c02d),
# which LegacyTablesTest resumes with today's code. Run from a checkout of that commit, built (mvn -DskipTests package):
#   OLD=/path/to/checkout-at-cf8c02d bash make-legacy-tables.sh OUT.tar.gz
# The inputs sit at a fixed absolute path because a run's identity (its config hash) includes input.path as written.
set -euo pipefail
OLD="${OLD:?checkout of cf8c02d}"
OUT="$(realpath -m "$1")"
F=/tmp/jgen-legacy-fixture
rm -rf "$F" && mkdir -p "$F/in" "$F/tables"
export JGEN_SKIP_BUILD=1 JGEN_NATIVE=0 JGEN_CACHE="$F/cache"
# 24 prompts: the demo's 12, twice, with ids of their own.
python3 - "$OLD/conf/data/demo-prompts.jsonl" "$F/in/prompts.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for k in range(2):
        for r in rows:
            out.write(json.dumps(dict(r, id=f"{r['id']}-{k}"), ensure_ascii=False) + "\n")
PY
head -2 "$OLD/conf/data/mtbench-jp-sample.jsonl" > "$F/in/questions.jsonl"
cd "$F"
# generate: killed (SIGKILL) once its first chunks are committed: a run with an attempt that never ended.
"$OLD/bin/jgen" generate --config "$OLD/conf/jobs/demo.yaml" --set input.path="$F/in/prompts.jsonl" \
  --set output.path="$F/tables/generations" --set run.id=legacy --set job.chunk_rows=2 --set generation.max_new_tokens=48 \
  > "$F/generate.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ -f "$F/tables/generations/_delta_log/00000000000000000002.json" ] && break
  sleep 0.1
done
pkill -KILL -P "$pid" java 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
# mtbench: a finished run of two questions.
"$OLD/bin/jgen" generate --config "$OLD/conf/jobs/mtbench.yaml" --set input.path="$F/in/questions.jsonl" \
  --set output.path="$F/tables/mtbench" --set run.id=legacy-mt --set generation.max_new_tokens=8 > "$F/mtbench.log" 2>&1
rm -rf "$F/tables/generations/_jgen_heartbeats" "$F/tables/generations_runs/_jgen_heartbeats" "$F/tables/mtbench_runs/_jgen_heartbeats"
tar -czf "$OUT" -C "$F" tables
