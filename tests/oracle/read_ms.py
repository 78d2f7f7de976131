"""Open a Measurement Set with pyuvdata's read_ms; print its dimensions, polarizations,
telescope (name, position), casacore table type and window names as JSON."""
import json
import sys

from casacore.tables import table
from pyuvdata import UVData

import oracle_iers

oracle_iers.use_project_iers()
uvd = UVData.from_file(sys.argv[1], file_type="ms")
print(json.dumps({"Nblts": uvd.Nblts, "Nfreqs": uvd.Nfreqs, "Npols": uvd.Npols, "Nspws": uvd.Nspws,
                  "Nants_data": uvd.Nants_data, "pols": uvd.get_pols(),
                  "telescope": uvd.telescope.name,
                  "telescope_xyz_m": uvd.telescope._location.xyz().tolist(),
                  "table_type": table(sys.argv[1], ack=False).info()["type"],
                  "spw_names": list(table(sys.argv[1] + "/SPECTRAL_WINDOW", ack=False).getcol("NAME"))}))
