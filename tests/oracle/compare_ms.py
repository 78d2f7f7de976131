"""Compare two Measurement Sets baseline-time by baseline-time.

usage: compare_ms.py OURS THEIRS
Prints JSON with the largest differences of each compared quantity.

Each MS is read as its band: the rows of one (TIME, ANTENNA1, ANTENNA2)
from every spectral window, joined in ascending frequency, so an MS with
one window per subband and one with a single window compare channel for
channel. WEIGHT, SIGMA and FLAG_ROW stay per window; where the two MSs have
different numbers of windows, each window of one is compared with the
single window of the other.
"""
import json
import sys

import numpy as np
from casacore.tables import table

ours, theirs = sys.argv[1], sys.argv[2]


def load(path):
    t = table(path, ack=False)
    names = ["TIME", "ANTENNA1", "ANTENNA2", "UVW", "DATA", "FLAG", "FLAG_ROW", "WEIGHT",
             "SIGMA", "FIELD_ID", "DATA_DESC_ID", "SCAN_NUMBER", "INTERVAL"]
    rows = {c: t.getcol(c) for c in names}
    t.close()
    dd = table(path + "/DATA_DESCRIPTION", ack=False)
    spw_of_dd = dd.getcol("SPECTRAL_WINDOW_ID")
    dd.close()
    s = table(path + "/SPECTRAL_WINDOW", ack=False)
    chan_freq = [s.getcell("CHAN_FREQ", i) for i in range(s.nrows())]
    s.close()
    # Windows in ascending frequency.
    rank = np.argsort(np.argsort([f[0] for f in chan_freq]))
    win = rank[spw_of_dd[rows["DATA_DESC_ID"]]]
    n_win = len(chan_freq)
    key = np.stack([np.round(rows["TIME"], 3), rows["ANTENNA1"], rows["ANTENNA2"]], axis=1)
    keys, bt = np.unique(key, axis=0, return_inverse=True)
    bt = bt.ravel()
    n_bt, n_chan, n_pol = len(keys), rows["DATA"].shape[1], rows["DATA"].shape[2]
    out = {"n_windows": n_win, "missing": int(n_bt * n_win - len(bt))}
    out["DATA"] = np.full((n_bt, n_win * n_chan, n_pol), np.nan, dtype=complex)
    out["FLAG"] = np.zeros((n_bt, n_win * n_chan, n_pol), dtype=bool)
    for k in range(n_win):
        sel = win == k
        out["DATA"][bt[sel], k * n_chan:(k + 1) * n_chan] = rows["DATA"][sel]
        out["FLAG"][bt[sel], k * n_chan:(k + 1) * n_chan] = rows["FLAG"][sel]
    for c, shape in [("WEIGHT", (n_pol,)), ("SIGMA", (n_pol,)), ("FLAG_ROW", ())]:
        a = np.zeros((n_bt, n_win) + shape, dtype=rows[c].dtype)
        a[bt, win] = rows[c]
        out[c] = a
    # Per baseline-time columns: the same in every window (checked).
    out["inconsistent_rows"] = 0
    for c in ["TIME", "UVW", "FIELD_ID", "SCAN_NUMBER", "INTERVAL"]:
        a = np.zeros((n_bt,) + rows[c].shape[1:], dtype=rows[c].dtype)
        a[bt] = rows[c]
        out["inconsistent_rows"] += int(np.sum(np.any(
            (a[bt] != rows[c]).reshape(len(bt), -1), axis=1)))
        out[c] = a
    out["ANTENNA1"], out["ANTENNA2"] = keys[:, 1].astype(int), keys[:, 2].astype(int)
    out["CHAN_FREQ"] = np.concatenate([chan_freq[i] for i in np.argsort(rank)])
    f = table(path + "/FIELD", ack=False)
    out["PHASE_DIR"] = f.getcol("PHASE_DIR")[:, 0, :]
    out["FIELD_NAME"] = list(f.getcol("NAME"))
    f.close()
    p = table(path + "/POLARIZATION", ack=False)
    out["CORR_TYPE"] = p.getcol("CORR_TYPE")[0]
    p.close()
    return out


def per_window(x, y):
    """x and y with as many windows, broadcasting a single one."""
    if x.shape[1] != y.shape[1] and 1 in (x.shape[1], y.shape[1]):
        n = max(x.shape[1], y.shape[1])
        x = np.repeat(x, n // x.shape[1], axis=1)
        y = np.repeat(y, n // y.shape[1], axis=1)
    return x, y


a, b = load(ours), load(theirs)
out = {"rows": [int(len(a["TIME"])), int(len(b["TIME"]))], "n_windows": [a["n_windows"], b["n_windows"]],
       "missing_rows": [a["missing"], b["missing"]],
       "inconsistent_rows": [a["inconsistent_rows"], b["inconsistent_rows"]]}
same_rows = len(a["TIME"]) == len(b["TIME"]) and a["DATA"].shape == b["DATA"].shape
if same_rows:
    out["time_max_abs_s"] = float(np.max(np.abs(a["TIME"] - b["TIME"])))
    out["ant_mismatch"] = int(np.sum(a["ANTENNA1"] != b["ANTENNA1"]) + np.sum(a["ANTENNA2"] != b["ANTENNA2"]))
    out["uvw_max_abs_m"] = float(np.max(np.abs(a["UVW"] - b["UVW"])))
    scale = np.maximum(np.abs(b["DATA"]), 1e-3 * np.nanmax(np.abs(b["DATA"])))
    out["data_max_rel"] = float(np.nanmax(np.abs(a["DATA"] - b["DATA"]) / scale))
    out["data_bitwise_equal"] = bool(np.array_equal(a["DATA"], b["DATA"], equal_nan=True))
    out["data_nan_mismatch"] = int(np.sum(np.isnan(a["DATA"]) != np.isnan(b["DATA"])))
    out["flag_mismatch"] = int(np.sum(a["FLAG"] != b["FLAG"]))
    wa, wb = per_window(a["WEIGHT"], b["WEIGHT"])
    out["weight_max_abs"] = float(np.max(np.abs(wa - wb))) if wa.shape == wb.shape else None
    # pyuvdata writes SIGMA = inf where WEIGHT is 0 (we write 0): compare the finite ones.
    sa, sb = per_window(a["SIGMA"], b["SIGMA"])
    if sa.shape == sb.shape:
        finite = np.isfinite(sa) & np.isfinite(sb)
        out["sigma_max_abs"] = float(np.max(np.abs(sa - sb)[finite], initial=0.0))
    else:
        out["sigma_max_abs"] = None
    if a["n_windows"] == b["n_windows"]:
        out["flag_row_mismatch"] = int(np.sum(a["FLAG_ROW"] != b["FLAG_ROW"]))
    else:
        # A row of the whole band is flagged when every window's row is.
        out["flag_row_mismatch"] = int(np.sum(a["FLAG_ROW"].all(axis=1) != b["FLAG_ROW"].all(axis=1)))
    out["field_id_mismatch"] = int(np.sum(a["FIELD_ID"] != b["FIELD_ID"]))
    out["scan_mismatch"] = int(np.sum(a["SCAN_NUMBER"] != b["SCAN_NUMBER"]))
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
