"""Reference conversion with pyuvdata 3.2.8: the same phasing as ours, then write_ms.

usage: pyuvdata_convert.py [--subbands] MODE OUT_MS FILE...
MODE: meridian | midpoint | keep | radec:RA_DEG:DEC_DEG
--subbands: each file its own spectral window (pyuvdata's multi-window MS,
ascending), else one window of the joined band.
Prints JSON {"seconds": ..., "fields": [[ra, dec], ...]} (ICRS radians).

DSA-110 correlator files are labelled "drift" but were fringe-stopped on the
meridian with the stored uvw: pyuvdata would take w_old = 0 for such data, so
we first undo the stored w with pyuvdata's own _apply_w_proj, which leaves
truly unprojected data, then phase with use_ant_pos=True (w_new - 0).
Antenna positions come from the DSA-110 station table, as in the converter.
"""
import json
import sys
import time

import numpy as np
from astropy import units as u
from astropy.coordinates import HADec, ICRS, EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers
from pyuvdata import UVData

import oracle_iers

oracle_iers.use_project_iers()

args = sys.argv[1:]
subbands = args[0] == "--subbands"
if subbands:
    args = args[1:]
mode, out_ms, files = args[0], args[1], args[2:]
t0 = time.time()


def read(path):
    uvd = UVData()
    uvd.read(path, file_type="uvh5", run_check=False, run_check_acceptability=False,
             fix_old_proj=False, fix_use_ant_pos=False)
    uvd.uvw_array = uvd.uvw_array.astype(np.float64)
    return uvd


uvds = [read(f) for f in files]
if subbands:
    # Window ids in ascending frequency: window 0 is the lowest subband.
    lowest = [np.min(u.freq_array) for u in uvds]
    for spw_id, k in enumerate(np.argsort(lowest)):
        uvds[k].spw_array = np.array([spw_id])
        uvds[k].flex_spw_id_array = np.full(uvds[k].Nfreqs, spw_id)
    uvds = [uvds[k] for k in np.argsort(lowest)]
uvd = uvds[0]
if len(uvds) > 1:
    uvd.fast_concat(uvds[1:], "freq", inplace=True, run_check=False,
                    run_check_acceptability=False)
uvd.reorder_freqs(spw_order="number", channel_order="freq", run_check=False)
if uvd.channel_width is not None:
    uvd.channel_width = np.abs(np.asarray(uvd.channel_width, dtype=float)) * np.ones(uvd.Nfreqs)

is_dsa = "phase_center_epoch" in uvd.extra_keywords and str(uvd.extra_keywords["phase_center_epoch"]).upper() == "HADEC"
loc = uvd.telescope.location

if is_dsa:
    import csv
    rows = {}
    with open(oracle_iers.repo_path("data/dsa110/DSA110_Station_Coordinates.csv")) as fh:
        for r in csv.reader(fh):
            if len(r) > 3 and r[1].startswith("DSA-"):
                try:
                    lat, lon = float(r[2]), float(r[3])
                except ValueError:
                    continue
                el = float(r[4]) if len(r) > 4 and r[4].strip() else 1222.0
                rows[int(r[1][4:])] = (lat, lon, el)
    names = uvd.telescope.antenna_names
    pos = []
    ref = np.array([loc.x.to_value("m"), loc.y.to_value("m"), loc.z.to_value("m")])
    for n in names:
        lat, lon, el = rows[int(n)]
        e = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, el * u.m)
        pos.append([e.x.to_value("m"), e.y.to_value("m"), e.z.to_value("m")])
    uvd.telescope.antenna_positions = np.array(pos) - ref
    uvd.telescope.antenna_diameters = np.full(len(names), 4.65)
    dec = float(uvd.extra_keywords["phase_center_dec"])
    # Undo the correlator's meridian fringe-stop: w_old = stored w.
    uvd._apply_w_proj(new_w_vals=0.0, old_w_vals=uvd.uvw_array[:, 2])

fields = []


def meridian(jd):
    t = Time(jd, format="jd", scale="utc")
    c = SkyCoord(ha=0 * u.hourangle, dec=dec * u.rad, frame=HADec(obstime=t, location=loc))
    c = c.transform_to(ICRS())
    return c.ra.rad, c.dec.rad


times = np.unique(uvd.time_array)
if mode == "meridian":
    for i, t in enumerate(times):
        ra, de = meridian(t)
        uvd.phase(ra=ra, dec=de, epoch="J2000", phase_frame="icrs", cat_name=f"meridian_icrs_t{i}",
                  select_mask=uvd.time_array == t, use_ant_pos=True, cleanup_old_sources=True)
        fields.append([ra, de])
elif mode == "midpoint":
    tmid = times[len(times) // 2] if len(times) % 2 else 0.5 * (times[len(times) // 2 - 1] + times[len(times) // 2])
    ra, de = meridian(tmid)
    uvd.phase(ra=ra, dec=de, epoch="J2000", phase_frame="icrs", cat_name="meridian_icrs_mid", use_ant_pos=True)
    fields.append([ra, de])
elif mode.startswith("radec:"):
    _, ra_deg, dec_deg = mode.split(":")
    ra, de = np.deg2rad(float(ra_deg)), np.deg2rad(float(dec_deg))
    uvd.phase(ra=ra, dec=de, epoch="J2000", phase_frame="icrs", cat_name="target", use_ant_pos=True)
    fields.append([ra, de])
elif mode == "keep":
    # Recompute LSTs and apparent coordinates first, as the converter does
    # (some writers, ATA's among them, store the ICRS position as
    # "apparent", and the stored LSTs use another UT1-UTC).
    uvd.set_lsts_from_time_array()
    uvd._set_app_coords_helper()
    uvd.set_uvws_from_antenna_positions(update_vis=True)
    for cat in uvd.phase_center_catalog.values():
        fields.append([cat["cat_lon"], cat["cat_lat"]])
else:
    raise SystemExit(f"unknown mode {mode}")

uvd.write_ms(out_ms, clobber=True, run_check=False, run_check_acceptability=False)
import resource

peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({"seconds": time.time() - t0, "peak_rss_mib": peak_mib, "fields": fields}))
