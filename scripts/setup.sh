#!/usr/bin/env bash
# Installs what the build, the demo and the tests need, when it is missing.
# Idempotent: a second run only checks. Works on Debian 12 as root (CI) or
# with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages:
#   libhdf5-dev     HDF5 1.10 headers and library (we link the system HDF5
#                   rather than compiling it: keeps the first build short)
#   liberfa-dev     ERFA, the astrometry library astropy wraps
#   mesa-vulkan-drivers libvulkan1  Mesa's software Vulkan (lavapipe), so the
#                   GPU kernels run and are tested on machines without a GPU
#   pkg-config cmake clang  build tools for the -sys crates
#   python3-venv    for the oracle tests (pyuvdata, python-casacore, astropy)
#   wsclean         the imaging test
#   valgrind        the instruction-count performance guard
#   slurm-wlm munge the one-node Slurm cluster of the `batch` tests (scripts/slurm.sh)
APT_PACKAGES=(libhdf5-dev liberfa-dev mesa-vulkan-drivers libvulkan1 pkg-config cmake python3-venv wsclean valgrind slurm-wlm munge)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python venv with the oracle libraries, pinned.
VENV=.venv
REQ=scripts/requirements-oracle.txt
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQ" "$VENV/.requirements"; then
  echo "setup: creating Python venv $VENV for the oracle tests"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r "$REQ"
  cp "$REQ" "$VENV/.requirements"
fi
