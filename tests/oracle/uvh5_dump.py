"""Dump a UVH5 file with h5py (independent of our reader) as JSON.

usage: uvh5_dump.py FILE
Header fields as stored (arrays flattened), and the data as
[row][freq][pol] in file order: vis_re, vis_im, flags, nsamples.
"""
import json
import sys

import h5py
import numpy as np

f = h5py.File(sys.argv[1], "r")
h = f["Header"]


def s(name):
    v = h[name][()]
    return v.decode() if isinstance(v, bytes) else str(v)


out = {
    "telescope_name": s("telescope_name"),
    "instrument": s("instrument"),
    "latitude": float(h["latitude"][()]),
    "longitude": float(h["longitude"][()]),
    "altitude": float(h["altitude"][()]),
    "Nblts": int(h["Nblts"][()]),
    "Nbls": int(h["Nbls"][()]),
    "Ntimes": int(h["Ntimes"][()]),
    "Nfreqs": int(h["Nfreqs"][()]),
    "Npols": int(h["Npols"][()]),
    "Nants_data": int(h["Nants_data"][()]),
    "Nants_telescope": int(h["Nants_telescope"][()]),
    "ant_1_array": h["ant_1_array"][()].tolist(),
    "ant_2_array": h["ant_2_array"][()].tolist(),
    "antenna_numbers": h["antenna_numbers"][()].astype(int).tolist(),
    "antenna_names": [n.decode() if isinstance(n, bytes) else str(n) for n in h["antenna_names"][()]],
    "antenna_positions": h["antenna_positions"][()].ravel().tolist(),
    "uvw_array": h["uvw_array"][()].astype(float).ravel().tolist(),
    "time_array": h["time_array"][()].tolist(),
    "integration_time": h["integration_time"][()].tolist(),
    "freq_array": h["freq_array"][()].ravel().tolist(),
    "channel_width": (np.ones(int(h["Nfreqs"][()])) * h["channel_width"][()]).ravel().tolist(),
    "polarization_array": h["polarization_array"][()].tolist(),
}
vis = f["Data/visdata"][()]
if vis.dtype.names:  # int32 compound {r, i}
    vis = vis["r"].astype(np.float64) + 1j * vis["i"].astype(np.float64)
vis = vis.reshape(out["Nblts"], out["Nfreqs"], out["Npols"])
out["vis_re"] = vis.real.astype(np.float32).ravel().tolist()
out["vis_im"] = vis.imag.astype(np.float32).ravel().tolist()
out["flags"] = f["Data/flags"][()].astype(bool).ravel().tolist()
out["nsamples"] = f["Data/nsamples"][()].astype(np.float32).ravel().tolist()
print(json.dumps(out))
