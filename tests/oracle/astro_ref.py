"""astropy and pyuvdata on a list of (UTC JD, declination) for the astro tests.

usage: astro_ref.py INPUT.json   with {"lat", "lon", "alt" (deg, deg, m),
       "cases": [[jd, dec_rad], ...], "src": [[ra, dec], ...] (one per case)}
Prints per case: meridian ICRS (astropy HADec -> ICRS), LST (pyuvdata),
apparent coords and frame PA of `src` (pyuvdata, erfa), HA/Dec of `src`
(astropy HADec), UT1-UTC and polar motion (astropy's IERS-A).
"""
import json
import sys

import numpy as np
from astropy import units as u
from astropy.coordinates import HADec, ICRS, EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers
from pyuvdata.utils.phasing import calc_frame_pos_angle, transform_icrs_to_app
from pyuvdata.utils.times import get_lst_for_time

import oracle_iers

oracle_iers.use_project_iers()
inp = json.load(open(sys.argv[1]))
loc = EarthLocation.from_geodetic(inp["lon"] * u.deg, inp["lat"] * u.deg, inp["alt"] * u.m)
jd = np.array([c[0] for c in inp["cases"]])
dec = np.array([c[1] for c in inp["cases"]])
src = np.array(inp["src"])
t = Time(jd, format="jd", scale="utc", location=loc)

mer = SkyCoord(ha=np.zeros_like(jd) * u.rad, dec=dec * u.rad, frame=HADec(obstime=t, location=loc)).transform_to(ICRS())
lst = get_lst_for_time(jd, telescope_loc=loc)
app_ra, app_dec = transform_icrs_to_app(
    time_array=t, ra=src[:, 0], dec=src[:, 1], telescope_loc=loc, astrometry_library="erfa"
)
pa = calc_frame_pos_angle(time_array=jd, app_ra=app_ra, app_dec=app_dec, telescope_loc=loc, ref_frame="icrs")
hd = SkyCoord(src[:, 0] * u.rad, src[:, 1] * u.rad, frame="icrs").transform_to(HADec(obstime=t, location=loc))
table = iers.earth_orientation_table.get()
dut1 = table.ut1_utc(t).to_value("s")
pmx, pmy = table.pm_xy(t)
print(json.dumps({
    "mer_ra": mer.ra.rad.tolist(), "mer_dec": mer.dec.rad.tolist(),
    "lst": np.asarray(lst).tolist(),
    "app_ra": np.asarray(app_ra).tolist(), "app_dec": np.asarray(app_dec).tolist(),
    "frame_pa": np.asarray(pa).tolist(),
    "ha": hd.ha.rad.tolist(), "hadec_dec": hd.dec.rad.tolist(),
    "dut1": np.asarray(dut1).tolist(), "pmx": pmx.to_value("rad").tolist(), "pmy": pmy.to_value("rad").tolist(),
}))
