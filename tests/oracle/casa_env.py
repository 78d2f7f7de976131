"""Shared set-up of the CASA oracle scripts (run with the CASA venv's python).

The test harness (tests/common/mod.rs::casa) runs each script with HOME set
to a scratch directory whose .casa/config.py keeps CASA offline (measures
from the casadata package, no auto-update) and logs into CASA_LOG there.
`problems()` returns the WARN and SEVERE lines CASA logged since import.
"""
import json
import os
import sys

LOG = os.environ["CASA_LOG"]
_START = os.path.getsize(LOG) if os.path.exists(LOG) else 0

import casatasks  # noqa: E402,F401  (imported here so every script starts alike)
import casatools  # noqa: E402,F401


# CASA checks its own leap-second table against today's date: the measures
# that casadata ships are older than today, so every task that converts a
# time logs this, whatever the MS. It is about CASA's installation, not
# about the data, and is the one message left out.
STALE_MEASURES = "MeasTable::dUTC(Double)"


def problems():
    """WARN/SEVERE lines of the CASA log written by this script."""
    if not os.path.exists(LOG):
        return []
    with open(LOG, errors="replace") as fh:
        fh.seek(_START)
        return [line.rstrip() for line in fh
                if ("\tWARN\t" in line or "\tSEVERE\t" in line) and STALE_MEASURES not in line]


def emit(result):
    result["casa_problems"] = problems()
    sys.stdout.write("\n" + json.dumps(result) + "\n")
