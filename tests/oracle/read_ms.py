"""Open a Measurement Set with pyuvdata's read_ms; print its dimensions as JSON."""
import json
import sys

from pyuvdata import UVData

import oracle_iers

oracle_iers.use_project_iers()
uvd = UVData.from_file(sys.argv[1], file_type="ms")
print(json.dumps({"Nblts": uvd.Nblts, "Nfreqs": uvd.Nfreqs, "Npols": uvd.Npols, "Nants_data": uvd.Nants_data}))
