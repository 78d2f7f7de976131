"""Image an MS with tclean and fit the source. usage:
casa_tclean.py MS WORKDIR RA_DEG DEC_DEG CELL_ARCSEC IMSIZE
Prints JSON: the fitted position's separation from (RA, DEC) in arcsec and
the fitted peak flux (Jy/beam) of the restored image."""
import os
import sys

import numpy as np

import casa_env
from casatasks import imfit, tclean

ms, work, ra_deg, dec_deg, cell, imsize = sys.argv[1:7]
image = os.path.join(work, "tclean")
tclean(vis=ms, imagename=image, imsize=int(imsize), cell=f"{cell}arcsec", specmode="mfs",
       deconvolver="hogbom", weighting="natural", niter=200, gain=0.2, threshold="0.01Jy",
       datacolumn="data", stokes="I")
fit = imfit(imagename=image + ".image")
comp = fit["results"]["component0"]
ra = comp["shape"]["direction"]["m0"]["value"]
dec = comp["shape"]["direction"]["m1"]["value"]
ra0, dec0 = np.radians(float(ra_deg)), np.radians(float(dec_deg))
h = np.sin((dec - dec0) / 2) ** 2 + np.cos(dec) * np.cos(dec0) * np.sin((ra - ra0) / 2) ** 2
casa_env.emit({
    "separation_arcsec": float(np.degrees(2 * np.arcsin(np.sqrt(h))) * 3600),
    "peak_jy": float(comp["peak"]["value"]),
    "flux_jy": float(comp["flux"]["value"][0]),
})
