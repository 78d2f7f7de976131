#!/usr/bin/env bash
# Time pyuvdata 3.2.8 converting the same simulated group as `dsa110-convert
# bench` (read 16 subbands, join, phase every integration to its meridian,
# write_ms), on the same machine, so the speed ratio can be reproduced.
#
# usage: scripts/pyuvdata_bench.sh [WORKDIR]   (default target/bench, as `bench`)
# Run `dsa110-convert bench` first (it simulates the group); needs .venv
# (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(realpath "${1:-target/bench}")
files=("$work"/hdf5/*_sb*.hdf5)
[ -e "${files[0]}" ] || { echo "no group in $work/hdf5: run 'dsa110-convert bench --workdir $work' first" >&2; exit 1; }
out="$work/pyuvdata.ms"
rm -rf "$out"
cd tests/oracle
../../.venv/bin/python pyuvdata_convert.py meridian "$out" "${files[@]}" 2>/dev/null
