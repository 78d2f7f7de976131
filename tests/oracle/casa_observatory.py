"""Where CASA puts the array of an MS. usage: casa_observatory.py MS
Prints JSON: the MS's telescope name, whether CASA's observatory table
knows it and its ITRF position there (m), and msmd.antennaoffset of
antenna 0 (east, north, up in m) or the error CASA raised for it."""
import sys

import casa_env
from casatools import measures, msmetadata

ms = sys.argv[1]
md = msmetadata()
md.open(ms)
name = md.observatorynames()[0]
result = {"telescope": name, "known": name in measures().obslist()}
if result["known"]:
    me = measures()
    result["itrf_m"] = me.addxvalue(me.measure(me.observatory(name), "ITRF"))["value"].tolist()
try:
    off = md.antennaoffset(0)
    result["antenna0_offset_m"] = [off[k]["value"] for k in ("longitude offset", "latitude offset", "elevation offset")]
except Exception as e:  # CASA raises RuntimeError for an unknown observatory
    result["antennaoffset_error"] = str(e)
md.close()
casa_env.emit(result)
