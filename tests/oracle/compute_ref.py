"""pyuvdata and astropy on the inputs of a compute test.

usage: compute_ref.py INPUT.json
INPUT: {"lat", "lon", "app_ra", "app_dec", "frame_pa", "lst" (per time),
        "antpos" (flat n x 3), "ant1", "ant2", "time_index" (per row),
        "dw", "freq", "vis_re", "vis_im" (rows x chans, 1 pol),
        "sep_a", "sep_b" (flat ra,dec pairs, radians)}
Prints {"uvw": flat, "vis_re", "vis_im", "sep"}.
"""
import json
import sys

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from pyuvdata.utils.phasing import calc_uvw

inp = json.load(open(sys.argv[1]))
ti = np.array(inp["time_index"])
antpos = np.array(inp["antpos"]).reshape(-1, 3)
uvw = calc_uvw(
    app_ra=np.array(inp["app_ra"])[ti],
    app_dec=np.array(inp["app_dec"])[ti],
    frame_pa=np.array(inp["frame_pa"])[ti],
    lst_array=np.array(inp["lst"])[ti],
    use_ant_pos=True,
    antenna_positions=antpos,
    antenna_numbers=np.arange(len(antpos)),
    ant_1_array=np.array(inp["ant1"]),
    ant_2_array=np.array(inp["ant2"]),
    telescope_lat=inp["lat"],
    telescope_lon=inp["lon"],
)

# pyuvdata's own phase correction, UVData._apply_w_proj, on a minimal object.
from pyuvdata import UVData

n_rows, n_chan = len(inp["dw"]), len(inp["freq"])
uvd = UVData()
uvd.Nblts, uvd.Nfreqs = n_rows, n_chan
uvd.freq_array = np.array(inp["freq"])
vis = (np.array(inp["vis_re"]) + 1j * np.array(inp["vis_im"])).astype(np.complex64)
uvd.data_array = vis.reshape(n_rows, n_chan, 1)
uvd._apply_w_proj(new_w_vals=np.array(inp["dw"]), old_w_vals=np.zeros(n_rows))
out_vis = uvd.data_array.reshape(-1)

a = np.array(inp["sep_a"]).reshape(-1, 2)
b = np.array(inp["sep_b"]).reshape(-1, 2)
sep = SkyCoord(a[:, 0] * u.rad, a[:, 1] * u.rad).separation(SkyCoord(b[:, 0] * u.rad, b[:, 1] * u.rad)).rad

print(json.dumps({
    "uvw": uvw.ravel().tolist(),
    "vis_re": out_vis.real.astype(float).tolist(),
    "vis_im": out_vis.imag.astype(float).tolist(),
    "sep": sep.tolist(),
}))
