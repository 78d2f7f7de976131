"""Compare two Measurement Sets row by row after sorting by (TIME, ANTENNA1, ANTENNA2).

usage: compare_ms.py OURS THEIRS
Prints JSON with the largest differences of each compared quantity.
"""
import json
import sys

import numpy as np
from casacore.tables import table

ours, theirs = sys.argv[1], sys.argv[2]


def load(path):
    t = table(path, ack=False)
    cols = {c: t.getcol(c) for c in ["TIME", "ANTENNA1", "ANTENNA2", "UVW", "DATA", "FLAG", "FLAG_ROW", "WEIGHT", "SIGMA", "FIELD_ID"]}
    t.close()
    order = np.lexsort((cols["ANTENNA2"], cols["ANTENNA1"], np.round(cols["TIME"], 3)))
    cols = {k: v[order] for k, v in cols.items()}
    f = table(path + "/FIELD", ack=False)
    cols["PHASE_DIR"] = f.getcol("PHASE_DIR")[:, 0, :]
    cols["FIELD_NAME"] = list(f.getcol("NAME"))
    f.close()
    s = table(path + "/SPECTRAL_WINDOW", ack=False)
    cols["CHAN_FREQ"] = s.getcol("CHAN_FREQ")[0]
    s.close()
    p = table(path + "/POLARIZATION", ack=False)
    cols["CORR_TYPE"] = p.getcol("CORR_TYPE")[0]
    p.close()
    return cols


a, b = load(ours), load(theirs)
out = {"rows": [int(len(a["TIME"])), int(len(b["TIME"]))]}
same_rows = len(a["TIME"]) == len(b["TIME"])
if same_rows:
    out["time_max_abs_s"] = float(np.max(np.abs(a["TIME"] - b["TIME"])))
    out["ant_mismatch"] = int(np.sum(a["ANTENNA1"] != b["ANTENNA1"]) + np.sum(a["ANTENNA2"] != b["ANTENNA2"]))
    out["uvw_max_abs_m"] = float(np.max(np.abs(a["UVW"] - b["UVW"])))
    scale = np.maximum(np.abs(b["DATA"]), 1e-3 * np.max(np.abs(b["DATA"])))
    out["data_max_rel"] = float(np.nanmax(np.abs(a["DATA"] - b["DATA"]) / scale))
    out["data_nan_mismatch"] = int(np.sum(np.isnan(a["DATA"]) != np.isnan(b["DATA"])))
    out["flag_mismatch"] = int(np.sum(a["FLAG"] != b["FLAG"]))
    out["weight_max_abs"] = float(np.max(np.abs(a["WEIGHT"] - b["WEIGHT"])))
    # pyuvdata writes SIGMA = inf where WEIGHT is 0 (we write 0): compare the finite ones.
    finite = np.isfinite(a["SIGMA"]) & np.isfinite(b["SIGMA"])
    out["sigma_max_abs"] = float(np.max(np.abs(a["SIGMA"] - b["SIGMA"])[finite], initial=0.0))
    out["flag_row_mismatch"] = int(np.sum(a["FLAG_ROW"] != b["FLAG_ROW"]))
    out["field_id_mismatch"] = int(np.sum(a["FIELD_ID"] != b["FIELD_ID"]))
out["n_fields"] = [len(a["FIELD_NAME"]), len(b["FIELD_NAME"])]
out["field_names"] = [a["FIELD_NAME"], b["FIELD_NAME"]]
if len(a["FIELD_NAME"]) == len(b["FIELD_NAME"]):
    ra1, de1 = a["PHASE_DIR"][:, 0], a["PHASE_DIR"][:, 1]
    ra2, de2 = b["PHASE_DIR"][:, 0], b["PHASE_DIR"][:, 1]
    # Haversine: accurate for the tiny separations compared here.
    h = np.sin((de2 - de1) / 2) ** 2 + np.cos(de1) * np.cos(de2) * np.sin((ra2 - ra1) / 2) ** 2
    out["phase_dir_max_arcsec"] = float(np.max(np.degrees(2 * np.arcsin(np.sqrt(h)))) * 3600)
out["chan_freq_max_abs_hz"] = float(np.max(np.abs(a["CHAN_FREQ"] - b["CHAN_FREQ"]))) if len(a["CHAN_FREQ"]) == len(b["CHAN_FREQ"]) else None
out["corr_type"] = [a["CORR_TYPE"].tolist(), b["CORR_TYPE"].tolist()]
print(json.dumps(out))
