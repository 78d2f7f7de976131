"""Check the imaging columns of a Measurement Set, optionally against another's.

usage: imaging_columns.py MS [OTHER_MS]
Prints JSON: how far CORRECTED_DATA is from DATA, MODEL_DATA from 1 (CASA's
unit model, as clearcal writes it), and
WEIGHT from the median of WEIGHT_SPECTRUM over channels; with OTHER_MS, the
largest differences of WEIGHT_SPECTRUM and CORRECTED_DATA between the two
(rows sorted by TIME, ANTENNA1, ANTENNA2, DATA_DESC_ID).
"""
import json
import sys

import numpy as np
from casacore.tables import table


def load(path):
    t = table(path, ack=False)
    cols = {c: t.getcol(c) for c in ["TIME", "ANTENNA1", "ANTENNA2", "DATA", "CORRECTED_DATA", "MODEL_DATA", "WEIGHT", "WEIGHT_SPECTRUM", "DATA_DESC_ID"]}
    t.close()
    order = np.lexsort((cols["DATA_DESC_ID"], cols["ANTENNA2"], cols["ANTENNA1"], np.round(cols["TIME"], 3)))
    return {k: v[order] for k, v in cols.items()}


a = load(sys.argv[1])
out = {
    "corrected_minus_data_max_abs": float(np.max(np.abs(a["CORRECTED_DATA"] - a["DATA"]))),
    "model_minus_one_max_abs": float(np.max(np.abs(a["MODEL_DATA"] - 1))),
    "weight_vs_spectrum_median_max_abs": float(np.max(np.abs(np.median(a["WEIGHT_SPECTRUM"], axis=1) - a["WEIGHT"]))),
    "spectrum_distinct_values": int(len(np.unique(a["WEIGHT_SPECTRUM"]))),
}
if len(sys.argv) > 2:
    b = load(sys.argv[2])
    out["spectrum_max_abs_diff"] = float(np.max(np.abs(a["WEIGHT_SPECTRUM"] - b["WEIGHT_SPECTRUM"])))
    scale = np.maximum(np.abs(b["CORRECTED_DATA"]), 1e-3 * np.max(np.abs(b["CORRECTED_DATA"])))
    out["corrected_max_rel_diff"] = float(np.max(np.abs(a["CORRECTED_DATA"] - b["CORRECTED_DATA"]) / scale))
print(json.dumps(out))
