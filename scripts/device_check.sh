#!/usr/bin/env bash
# Device check for a GPU node, with binaries built elsewhere (nothing is
# compiled here): runs the GPU test suite (tests/compute.rs, and the
# convert / stream / imaging GPU cases where the oracle venv is present),
# then `bench`, and prints one table: adapter, kernel GB/s (timestamps),
# end-to-end seconds GPU vs CPU.
#
#   cargo build --release && cargo test --release --no-run   # on the build machine
#   scripts/device_check.sh                                    # on the GPU node
#
# Environment: N_ANTS (antennas of the bench's simulated group, default 96:
# the full 1.9 GB group), BLOCK_ROWS (rows of the kernel block, default
# 4656), WORK (scratch directory, default a fresh temporary one),
# DSA110_BIN (the CLI, default target/release/dsa110-convert), DEPS (the
# test executables, default target/release/deps). The node needs the Vulkan
# loader (libvulkan.so.1) and a driver; `WGPU_BACKEND=gl` tries OpenGL.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${DSA110_BIN:-target/release/dsa110-convert}
DEPS=${DEPS:-target/release/deps}
N_ANTS=${N_ANTS:-96}
BLOCK_ROWS=${BLOCK_ROWS:-4656}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
# GPU tests fail, not skip, without an adapter.
export CI=1

[ -x "$BIN" ] || { echo "device_check: $BIN missing: build with cargo build --release" >&2; exit 2; }

# The newest test executable of integration test $1.
test_exe() {
  find "$DEPS" -maxdepth 1 -type f -perm -u+x -name "$1-*" ! -name '*.*' -printf '%T@ %p\n' 2>/dev/null |
    sort -rn | head -1 | cut -d' ' -f2-
}

have_oracle() {
  [ -n "${DSA110_PYTHON:-}" ] && [ -x "$DSA110_PYTHON" ] && return 0
  [ -x .venv/bin/python ]
}

declare -A RESULT
run_tests() { # name, filter...
  local name=$1; shift
  local exe; exe=$(test_exe "$name")
  if [ -z "$exe" ]; then
    RESULT[$name]="not built (cargo test --release --no-run)"
    return
  fi
  echo "== $name: $exe $*"
  if "$exe" --test-threads 2 --nocapture "$@" >"$WORK/$name.log" 2>&1; then
    RESULT[$name]="pass: $(grep -h '^test result' "$WORK/$name.log" | tail -1 | sed 's/test result: //')"
  else
    RESULT[$name]="FAIL (see $WORK/$name.log)"
  fi
  grep -hE "GPU vs CPU|vs pyuvdata|vs astropy|oversized|auto on" "$WORK/$name.log" | sed 's/^/   /' || true
}

"$BIN" devices | tee "$WORK/devices.txt"

if have_oracle; then
  run_tests compute
  run_tests convert gpu_
  run_tests stream the_daemon_on_the_gpu
  run_tests imaging gpu
else
  echo "(no oracle venv: the pyuvdata / astropy comparisons and the convert, stream and imaging GPU cases are skipped)"
  run_tests compute --skip pyuvdata --skip auto_calibration
fi

echo "== bench ($N_ANTS antennas, kernels on $BLOCK_ROWS rows) in $WORK/bench"
"$BIN" -q bench --json --n-ants "$N_ANTS" --block-rows "$BLOCK_ROWS" --workdir "$WORK/bench" >"$WORK/bench.json"

echo
echo "== device check"
for k in compute convert stream imaging; do
  [ -n "${RESULT[$k]:-}" ] && printf '%-9s %s\n' "$k" "${RESULT[$k]}"
done
python3 - "$WORK/bench.json" <<'EOF'
import json, sys
b = json.load(open(sys.argv[1]))
print(f"adapter: {b['adapter']}")
print(f"{'kernel':<11} {'backend':<7} {'call GB/s':>10} {'kernel GB/s':>12} {'transfer ms':>12}")
for k in b["kernels"]:
    kg = "-" if k["kernel_gb_s"] is None else f"{k['kernel_gb_s']:.2f}"
    tr = "-" if k["transfer_s"] is None else f"{k['transfer_s'] * 1e3:.2f}"
    print(f"{k['kernel']:<11} {k['backend']:<7} {k['call_gb_s']:>10.2f} {kg:>12} {tr:>12}")
runs = {r["backend"]: r for r in b["runs"]}
print(f"end to end ({b['input_bytes'] / 1e9:.2f} GB in):")
for name, r in runs.items():
    print(f"  {name:<4} {r['seconds_total']:8.2f} s  (compute {r['seconds_compute']:.2f} s, peak {r['peak_rss_mib']:.0f} MiB, I/O floor {r['io_floor_s']:.2f} s)")
if "gpu" in runs and "cpu" in runs:
    print(f"  GPU vs CPU: {runs['cpu']['seconds_total'] / runs['gpu']['seconds_total']:.2f}x")
EOF
