#!/usr/bin/env bash
# Throughput of a Slurm job array of N tasks on this one node against one
# `convert --input` over the same groups, and each task's peak RSS as Slurm
# reports it next to the --mem it asked for (README, "On a cluster").
#
#   scripts/batch_bench.sh [GROUPS [TASKS [WORKDIR]]]     defaults: 6 2 target/batch-bench
#
# Needs the cluster of scripts/slurm.sh (started) and a release build. The
# groups are copies of one simulated full-size group under G timestamps.
# Peak RSS: `sstat` MaxRSS of each task's batch step, sampled every second
# while it runs (jobacct_gather/linux at 1 s; no accounting database, so no
# sacct): the largest value seen.
set -euo pipefail
cd "$(dirname "$0")/.."
G="${1:-6}"; N="${2:-2}"; W="${3:-target/batch-bench}"
BIN="$(pwd)/target/release/dsa110-convert"
export SLURM_CONF="${SLURM_CONF:-$(pwd)/target/slurm/slurm.conf}"
mkdir -p "$W"; W="$(cd "$W" && pwd)"
if [ ! -d "$W/one" ]; then "$BIN" -q simulate --out "$W/one" >/dev/null; fi
rm -rf "$W/in" "$W/convert" "$W/batch"; mkdir -p "$W/in"
for g in $(seq 0 $((G - 1))); do
  ts="$(date -u -d "2025-01-15 12:00:00 UTC + $((g * 5)) min" +%Y-%m-%dT%H:%M:%S)"
  for f in "$W"/one/*.hdf5; do cp "$f" "$W/in/${ts}_sb${f##*_sb}"; done
done
cat "$W"/in/* > /dev/null   # both runs start from a warm page cache

t0=$(date +%s.%N)
"$BIN" -q convert --backend cpu --input "$W/in" -o "$W/convert"
t1=$(date +%s.%N)
rate() { awk -v g="$G" -v a="$1" -v b="$2" 'BEGIN { printf "%d groups in %.1f s: %.2f groups/min", g, b - a, 60 * g / (b - a) }'; }
echo "convert --input: $(rate "$t0" "$t1")"

"$BIN" -q batch plan --input "$W/in" --output "$W/batch" >/dev/null
t0=$(date +%s.%N)
job="$("$BIN" -q batch submit --manifest "$W/batch/manifest.jsonl" --tasks "$N" --cpus $(( $(nproc) / N > 0 ? $(nproc) / N : 1 )) --backend cpu)"
declare -A peak
while [ -n "$(squeue -h -j "$job" -o %i)" ]; do
  while IFS='|' read -r id rss; do
    kb="${rss%K}"; [[ "$kb" =~ ^[0-9]+$ ]] || continue
    [ "${peak[$id]:-0}" -lt "$kb" ] && peak[$id]="$kb"
  done < <(sstat -a -n -P -j "$(squeue -h -j "$job" -t R -o %i | paste -sd,)" -o JobID,MaxRSS 2>/dev/null || true)
  sleep 1
done
t1=$(date +%s.%N)
echo "batch, $N tasks (submit to last task done): $(rate "$t0" "$t1")"
mem="$(scontrol -o show job "$job" | sed -n 's/.*MinMemoryNode=\([^ ]*\).*/\1/p' | head -1)"
for id in "${!peak[@]}"; do echo "  $id: peak RSS $((peak[$id] / 1024)) MiB (sstat MaxRSS), --mem $mem"; done | sort
"$BIN" batch status --manifest "$W/batch/manifest.jsonl" | tail -1
