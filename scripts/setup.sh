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

# A Python venv DIR with the pinned packages of REQUIREMENTS, made anew
# when they change; says WHAT it is for.
venv() {
  local dir=$1 req=$2 what=$3
  if [ ! -x "$dir/bin/python" ] || ! cmp -s "$req" "$dir/.requirements"; then
    echo "setup: creating Python venv $dir for $what"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --upgrade pip
    "$dir/bin/pip" install -q -r "$req"
    cp "$req" "$dir/.requirements"
  fi
}

# The oracle libraries (pyuvdata, python-casacore, h5py, astropy).
venv .venv scripts/requirements-oracle.txt "the oracle tests"
# CASA (casatools, casatasks, casadata) in a venv of its own: casatools
# bundles its own casacore, which must not share a process with
# python-casacore.
CASA_VENV=.venv-casa
venv "$CASA_VENV" scripts/requirements-casa.txt "the CASA oracle tests"
# CASA's measures with the DSA_110 observatory added, as the README tells
# CASA users to make them (scripts/casa_add_dsa110.py), run offline.
if [ ! -d "$CASA_VENV/measures/geodetic" ]; then
  echo "setup: adding DSA_110 to a copy of CASA's measures ($CASA_VENV/measures)"
  casa_home=$(mktemp -d)
  mkdir -p "$casa_home/.casa"
  printf 'import casadata\nmeasurespath = casadata.datapath\nmeasures_auto_update = False\ndata_auto_update = False\nlogfile = "%s/casa.log"\n' \
    "$casa_home" > "$casa_home/.casa/config.py"
  HOME="$casa_home" "$CASA_VENV/bin/python" scripts/casa_add_dsa110.py "$CASA_VENV/measures" >/dev/null
  rm -rf "$casa_home"
fi
