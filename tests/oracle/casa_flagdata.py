"""flagdata on an MS, as a calibration script starts. usage:
casa_flagdata.py MS SPW_SELECTION SCAN
Flags (manual) the selection SPW_SELECTION, then scan SCAN, and prints JSON
with flagdata's summary fractions before and after, per spectral window."""
import sys

import casa_env
from casatasks import flagdata

ms, spw, scan = sys.argv[1], sys.argv[2], sys.argv[3]


def fractions():
    s = flagdata(vis=ms, mode="summary")
    return {
        "total": s["flagged"] / s["total"],
        "spw": {k: v["flagged"] / v["total"] for k, v in s["spw"].items()},
    }


before = fractions()
flagdata(vis=ms, mode="manual", spw=spw, flagbackup=False)
flagdata(vis=ms, mode="manual", scan=scan, flagbackup=False)
casa_env.emit({"before": before, "after": fractions()})
