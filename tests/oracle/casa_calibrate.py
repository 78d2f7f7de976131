"""Calibrate an MS of a noise-free calibrator group as the pipeline does.

usage: casa_calibrate.py MS WORKDIR FIELD FLUX_JY|none REFANT
With a flux: setjy (manual, FLUX_JY at FIELD), bandpass, gaincal and
applycal; with `none`: gaincal alone, against whatever MODEL_DATA holds.
Prints JSON: the solutions of each table (count, unflagged, NaN, amplitude
and phase extremes), and after applycal the extremes of CORRECTED/MODEL
over unflagged cross-correlations."""
import os
import sys

import numpy as np

import casa_env
from casatasks import applycal, bandpass, gaincal, setjy
from casatools import table

ms, work, field, flux, refant = sys.argv[1:6]


def solutions(caltable):
    if not os.path.isdir(caltable):
        return {"exists": False}
    tb = table()
    tb.open(caltable)
    g, flag = tb.getcol("CPARAM"), tb.getcol("FLAG")
    tb.close()
    good = g[~flag]
    out = {"exists": True, "count": int(g.size), "unflagged": int(good.size),
           "nan": int(np.sum(~np.isfinite(good)))}
    if good.size:
        amp, ph = np.abs(good), np.degrees(np.angle(good))
        out.update(amp_min=float(amp.min()), amp_max=float(amp.max()),
                   phase_min_deg=float(ph.min()), phase_max_deg=float(ph.max()))
    return out


result = {}
gtable = os.path.join(work, "cal.G")
if flux == "none":
    gaincal(vis=ms, caltable=gtable, field=field, solint="int", refant=refant,
            gaintype="G", calmode="ap", minsnr=0)
    result["G"] = solutions(gtable)
else:
    btable = os.path.join(work, "cal.B")
    setjy(vis=ms, field=field, standard="manual", fluxdensity=[float(flux), 0, 0, 0],
          usescratch=True)
    bandpass(vis=ms, caltable=btable, field=field, solint="inf", combine="scan",
             refant=refant, minsnr=0)
    gaincal(vis=ms, caltable=gtable, field=field, solint="int", refant=refant,
            gaintype="G", calmode="ap", gaintable=[btable], minsnr=0)
    applycal(vis=ms, field=field, gaintable=[btable, gtable], flagbackup=False)
    result["B"], result["G"] = solutions(btable), solutions(gtable)
    tb = table()
    tb.open(ms)
    q = tb.query("ANTENNA1 != ANTENNA2")
    corrected, model = q.getcol("CORRECTED_DATA"), q.getcol("MODEL_DATA")
    flag = q.getcol("FLAG")
    q.close()
    tb.close()
    ratio = corrected[~flag] / model[~flag]
    result["corrected_over_model"] = {
        "n": int(ratio.size),
        "nan": int(np.sum(~np.isfinite(ratio))),
        "amp_min": float(np.nanmin(np.abs(ratio))),
        "amp_max": float(np.nanmax(np.abs(ratio))),
        "phase_max_abs_deg": float(np.nanmax(np.abs(np.degrees(np.angle(ratio))))),
    }
casa_env.emit(result)
