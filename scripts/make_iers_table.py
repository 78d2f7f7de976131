"""Write data/iers/finals_compact.csv from an IERS finals2000A file.

usage: python scripts/make_iers_table.py [FINALS2000A] > data/iers/finals_compact.csv

To refresh the table built into the binary: download a current
finals2000A.all from the IERS (e.g.
https://datacenter.iers.org/products/eop/rapid/standard/finals2000A.all), or
upgrade astropy-iers-data in the venv, run this script, rebuild. Without a
rebuild, give the file to `convert`, `stream run` or `calibrators` with
`--iers FILE` (a running daemon reads it again whenever it changes).

Default input: the finals2000A.all shipped by the astropy-iers-data package
(the same table astropy uses offline). Keeps, per day from 2000-01-01: MJD,
UT1-UTC (s), x_p and y_p (arcsec), taking Bulletin B values where present and
Bulletin A (including predictions) elsewhere, as astropy's IERS_A does.
"""
import os
import sys


def default_path():
    import astropy_iers_data

    return os.path.join(os.path.dirname(astropy_iers_data.__file__), "data", "finals2000A.all")


def field(line, start, end):
    """Fixed columns, 1-based inclusive, as in the finals2000A readme."""
    s = line[start - 1 : end].strip()
    return float(s) if s else None


path = sys.argv[1] if len(sys.argv) > 1 else default_path()
version = ""
try:
    import astropy_iers_data

    version = getattr(astropy_iers_data, "__version__", "")
except ImportError:
    pass
print(f"# IERS finals2000A (IERS Rapid Service/Prediction Center), compacted by scripts/make_iers_table.py")
print(f"# source: {os.path.basename(path)} {('from astropy-iers-data ' + version) if version else ''}".rstrip())
lines = open(path).read().splitlines()
# Column 58: I (IERS value) or P (prediction) of Bulletin A's UT1-UTC.
predicted = [field(l, 8, 15) for l in lines if len(l) >= 68 and l[57] == "P"]
if predicted:
    print(f"# predictions_from_mjd: {predicted[0]:.0f}")
print("# mjd,ut1_utc_s,xp_arcsec,yp_arcsec")
for line in lines:
    if len(line) < 68:
        continue
    mjd = field(line, 8, 15)
    if mjd is None or mjd < 51544:
        continue
    xa, ya, ua = field(line, 19, 27), field(line, 38, 46), field(line, 59, 68)
    xb, yb, ub = (field(line, 135, 144), field(line, 145, 154), field(line, 155, 165)) if len(line) > 165 else (None, None, None)
    x = xb if xb is not None else xa
    y = yb if yb is not None else ya
    u = ub if ub is not None else ua
    if x is None or y is None or u is None:
        continue
    print(f"{mjd:.0f},{u:.7f},{x:.6f},{y:.6f}")
