"""Read one UVH5 file with pyuvdata 3.2.8 (DSA-110 layout: run_check=False,
uvw cast to float64) and dump what the reader tests compare, as JSON."""
import json
import sys

import numpy as np
from pyuvdata import UVData

uvd = UVData()
uvd.read(sys.argv[1], file_type="uvh5", run_check=False, run_check_acceptability=False,
         fix_old_proj=False, fix_use_ant_pos=False)
uvd.uvw_array = uvd.uvw_array.astype(np.float64)
d = uvd.data_array.reshape(uvd.Nblts, uvd.Nfreqs, uvd.Npols)
print(json.dumps({
    "Nblts": uvd.Nblts, "Nfreqs": uvd.Nfreqs, "Npols": uvd.Npols, "Ntimes": uvd.Ntimes, "Nbls": uvd.Nbls,
    "time_array": uvd.time_array.tolist(),
    "freq_array": np.ravel(uvd.freq_array).tolist(),
    "ant_1_array": uvd.ant_1_array.tolist(), "ant_2_array": uvd.ant_2_array.tolist(),
    "uvw_array": uvd.uvw_array.ravel().tolist(),
    "antenna_positions": uvd.telescope.antenna_positions.ravel().tolist(),
    "polarization_array": uvd.polarization_array.tolist(),
    "vis_re": d.real.ravel().astype(float).tolist(), "vis_im": d.imag.ravel().astype(float).tolist(),
    "extra_dec": float(uvd.extra_keywords["phase_center_dec"]),
}))
