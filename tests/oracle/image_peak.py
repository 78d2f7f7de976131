"""Image a Measurement Set with WSClean and locate its brightest source.

usage: image_peak.py MS WORKDIR RA_DEG DEC_DEG
Prints JSON: the refined peak position (ICRS deg), its separation from
(RA_DEG, DEC_DEG) in arcsec, and the peak (Jy/beam) of the naturally
weighted dirty image, which for a single point source is its flux (the PSF
peaks at 1). No CLEAN: a 5-minute DSA-110 snapshot has sidelobes of tens of
percent, and the dirty peak is the direct, unbiased measurement.
"""
import json
import subprocess
import sys

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
import astropy.units as u

ms, workdir, ra0, dec0 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
prefix = f"{workdir}/img"
# -reorder: WSClean refuses an MS of several spectral windows without it
# (and it changes nothing for one window).
cmd = ["wsclean", "-quiet", "-reorder", "-size", "2048", "2048", "-scale", "2asec", "-weight", "natural",
       "-niter", "0", "-pol", "I", "-no-update-model-required", "-name", prefix, ms]
res = subprocess.run(cmd, capture_output=True, text=True)
if res.returncode != 0:
    sys.stderr.write(res.stdout + res.stderr)
    raise SystemExit(f"wsclean failed with {res.returncode}")

with fits.open(f"{prefix}-dirty.fits") as hdul:
    img = hdul[0].data[0, 0]
    wcs = WCS(hdul[0].header).celestial
j, i = np.unravel_index(np.nanargmax(img), img.shape)
# Sub-pixel refinement: a parabola through the peak and its neighbours on each axis.
def vertex(m, c, p):
    d = m - 2 * c + p
    return 0.0 if d == 0 else 0.5 * (m - p) / d
dx = vertex(img[j, i - 1], img[j, i], img[j, i + 1])
dy = vertex(img[j - 1, i], img[j, i], img[j + 1, i])
sky = wcs.pixel_to_world(i + dx, j + dy)
expected = SkyCoord(ra0 * u.deg, dec0 * u.deg, frame="icrs")
found = sky.transform_to("icrs")
print(json.dumps({
    "ra_deg": found.ra.deg,
    "dec_deg": found.dec.deg,
    "separation_arcsec": found.separation(expected).arcsec,
    "peak_jy": float(img[j, i]),
    "pixel": [int(i), int(j)],
}))
