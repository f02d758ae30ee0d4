#!/usr/bin/env bash
# Spark GPU discovery script (spark.{driver,executor,worker}.resource.gpu.discoveryScript): prints the GPUs this host
# (or container) can see as Spark's resource JSON, e.g. {"name":"gpu","addresses":["0","1"]}.
# The addresses are nvidia-smi's indexes; Spark hands them to tasks (TaskContext.resources().get("gpu")), and jgen's
# launch mode sets CUDA_VISIBLE_DEVICES to them, so they must be the indexes CUDA sees here.
set -euo pipefail
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu-discovery.sh: nvidia-smi not found on $(hostname)" >&2
  exit 1
fi
indexes=$(nvidia-smi --query-gpu=index --format=csv,noheader)
addresses=""
for i in $indexes; do
  i=${i//[[:space:]]/}
  [ -z "$i" ] && continue
  addresses="${addresses:+$addresses,}\"$i\""
done
echo "{\"name\":\"gpu\",\"addresses\":[${addresses}]}"
