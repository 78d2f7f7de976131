"""Read two Measurement Sets with pyuvdata and compare what it sees.

usage: pyuvdata_readback.py OURS THEIRS
Both are read with UVData.read (file_type ms), put in one order (time, then
baseline; channels ascending) and compared. Prints JSON: each one's
polarization names, spectral windows and shape, and the largest relative
difference of their data (and whether the flags agree).
"""
import json
import sys

import numpy as np
from pyuvdata import UVData

import oracle_iers

oracle_iers.use_project_iers()


def read(path):
    uvd = UVData.from_file(path, file_type="ms", run_check=False, run_check_acceptability=False)
    uvd.reorder_blts(order="time", minor_order="baseline")
    uvd.reorder_freqs(channel_order="freq", run_check=False)
    order = np.argsort(uvd.freq_array, kind="stable")
    return uvd, order


a, ia = read(sys.argv[1])
b, ib = read(sys.argv[2])
out = {"pols": [a.get_pols(), b.get_pols()], "Nspws": [a.Nspws, b.Nspws],
       "shape": [list(a.data_array.shape), list(b.data_array.shape)]}
if a.data_array.shape == b.data_array.shape:
    da, db = a.data_array[:, ia], b.data_array[:, ib]
    scale = np.maximum(np.abs(db), 1e-3 * np.max(np.abs(db)))
    out["data_max_rel"] = float(np.max(np.abs(da - db) / scale))
    out["flag_mismatch"] = int(np.sum(a.flag_array[:, ia] != b.flag_array[:, ib]))
    out["freq_max_abs_hz"] = float(np.max(np.abs(a.freq_array[ia] - b.freq_array[ib])))
print(json.dumps(out))
