"""listobs on an MS. usage: casa_listobs.py MS LISTFILE
Prints JSON: records, fields and scans as listobs reports them, the
spectral windows msmd sees, and the WARN/SEVERE lines of the CASA log."""
import sys

import casa_env
from casatasks import listobs
from casatools import msmetadata

ms, listfile = sys.argv[1], sys.argv[2]
summary = listobs(vis=ms, listfile=listfile, overwrite=True, verbose=True)
md = msmetadata()
md.open(ms)
spws = md.nspw()
md.close()
casa_env.emit({
    "nrows": int(summary["numrecords"]),
    "fields": int(summary["nfields"]),
    "scans": sum(1 for k in summary if k.startswith("scan_")),
    "spws": int(spws),
})
