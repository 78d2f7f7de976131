"""Make CASA know the DSA-110 array: a measures directory whose observatory
table has a DSA_110 entry at the array reference position.

usage: python scripts/casa_add_dsa110.py DEST   (with CASA's python: casatools)

CASA finds an observatory by the MS's TELESCOPE_NAME in
<measurespath>/geodetic/Observatories. DEST becomes a measures directory
that links every part of the current one (casadata's, or the one your
~/.casa/config.py names) but geodetic/, which is copied and given a
DSA_110 row (WGS84 latitude 37.2314 deg, longitude -118.2817 deg, height
1222 m: the station table's array reference). Then put
    measurespath = "DEST"
in ~/.casa/config.py (with measures_auto_update = False and
data_auto_update = False if DEST should not be updated).
"""
import os
import shutil
import sys

import casatools

LAT_DEG, LON_DEG, HEIGHT_M = 37.2314, -118.2817, 1222.0


def main(dest):
    me = casatools.measures()
    # The measures directory CASA uses now (geodetic/Observatories resolved).
    src = os.path.dirname(os.path.dirname(casatools.ctsys.resolve("geodetic/Observatories")))
    if os.path.realpath(dest) == os.path.realpath(src):
        raise SystemExit(f"{dest} is the measures directory CASA uses now: give a new directory")
    os.makedirs(dest, exist_ok=True)
    for entry in os.listdir(src):
        target = os.path.join(dest, entry)
        if entry == "geodetic":
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(os.path.join(src, entry), target)
        elif not os.path.lexists(target):
            os.symlink(os.path.join(src, entry), target)
    table = os.path.join(dest, "geodetic", "Observatories")
    pos = me.position("WGS84", f"{LON_DEG}deg", f"{LAT_DEG}deg", f"{HEIGHT_M}m")
    itrf = me.measure(pos, "ITRF")
    xyz = me.addxvalue(itrf)["value"]
    tb = casatools.table()
    tb.open(table, nomodify=False)
    names = list(tb.getcol("Name"))
    row = names.index("DSA_110") if "DSA_110" in names else tb.nrows()
    if row == tb.nrows():
        tb.addrows(1)
    values = {
        "MJD": 60000.0, "Name": "DSA_110", "Type": "WGS84", "Long": LON_DEG, "Lat": LAT_DEG,
        "Height": HEIGHT_M, "X": xyz[0], "Y": xyz[1], "Z": xyz[2],
        "Source": "DSA-110 station table (array reference position)",
        "Comment": "added by dsa110-convert scripts/casa_add_dsa110.py", "AntennaResponses": "",
    }
    for col, v in values.items():
        tb.putcell(col, row, v)
    tb.close()
    print(f"{dest}: DSA_110 added; set measurespath = {os.path.abspath(dest)!r} in ~/.casa/config.py")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
