"""Primary-beam-weighted catalog fluxes, independently: astropy separations
and scipy's Bessel J1 in the Airy formula.

usage: beam_ref.py INPUT.json  {"fields": [[ra, dec]...], "sources": [[ra, dec, flux]...],
                                "dish_m", "freq_hz"}
Prints {"field_flux": [...], "peak_field": [...] (-1 when outside the first null)}.
"""
import json
import sys

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from scipy.special import j1

inp = json.load(open(sys.argv[1]))
f = np.array(inp["fields"])
s = np.array(inp["sources"])
lam = 299792458.0 / inp["freq_hz"]
D = inp["dish_m"]
fields = SkyCoord(f[:, 0] * u.rad, f[:, 1] * u.rad)
src = SkyCoord(s[:, 0] * u.rad, s[:, 1] * u.rad)
sep = src[:, None].separation(fields[None, :]).rad  # sources x fields
null = np.arcsin(1.2196698912665045 * lam / D)
x = np.pi * D * np.sin(sep) / lam
power = np.where(x == 0, 1.0, (2 * j1(x) / np.where(x == 0, 1, x)) ** 2)
inside = sep < null
weighted = np.where(inside, s[:, 2:3] * power, 0.0)
peak = np.where(inside.any(axis=1), np.argmin(np.where(inside, sep, np.inf), axis=1), -1)
print(json.dumps({"field_flux": weighted.sum(axis=0).tolist(), "peak_field": peak.tolist()}))
