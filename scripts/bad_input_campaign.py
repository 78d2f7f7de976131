"""A bad-input campaign: break one value of one subband file of a simulated
group at a time, run `validate` on the file and `convert` on the group, and
classify each case.

usage: python scripts/bad_input_campaign.py [BINARY] [WORKDIR]
(default: target/release/dsa110-convert, a temporary directory; needs h5py,
numpy and python-casacore, as in the oracle venv)

Classes: rejected (validate and convert both exit non-zero, convert's error
names the file, no .ms left), accepted-correct (convert exits 0 and the MS
is what it must be: finite everywhere, the broken values flagged),
accepted-wrong (anything else: exit 0 with a wrong MS, validate and convert
disagreeing, a panic or an abort). Prints one line per case and the totals
as JSON on the last line; exit 1 if any case is accepted-wrong.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from casacore.tables import table

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/dsa110-convert"
WORK = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="campaign-")
NAN, INF = float("nan"), float("inf")


def run(*args):
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def set_value(name, value, index=None):
    def edit(f):
        d = f[name]
        if d.shape == () or index is None:
            v = np.full(d.shape, value, dtype=d.dtype) if d.shape != () else np.array(value, dtype=d.dtype)
        else:
            v = d[()]
            v.flat[index] = value
        d[...] = v
    return edit


def replace(name, values):
    def edit(f):
        new = values(f)
        if name in f:
            del f[name]
        f[name] = new
    return edit


def swap_freqs(f):
    v = f["Header/freq_array"][()]
    v.flat[1], v.flat[2] = v.flat[2], v.flat[1]
    f["Header/freq_array"][...] = v


def vis_cells(value, cells):
    def edit(f):
        d = f["Data/visdata"]
        v = d[()]
        for c in cells:
            v.flat[c] = value
        d[...] = v
    return edit


def ns_cells(value, cells):
    def edit(f):
        d = f["Data/nsamples"]
        v = d[()]
        for c in cells:
            v.flat[c] = value
        d[...] = v
    return edit


HEADER_CASES = []
for field, values in [
    ("Header/latitude", [NAN, INF, -INF, 91.0, -1e300]),
    ("Header/longitude", [NAN, INF, 400.0, -1e300]),
    ("Header/altitude", [NAN, INF, 1e7, -1e6]),
    ("Header/channel_width", [NAN, INF, 0.0, 1e300]),
    ("Header/extra_keywords/phase_center_dec", [NAN, INF, 2.0, -1000.0]),
]:
    for v in values:
        HEADER_CASES.append((f"{field}={v}", set_value(field, v)))
for field, values in [
    ("Header/time_array", [NAN, INF, 0.0, -1.0, 1e12, 2816787.5]),
    ("Header/integration_time", [NAN, INF, 0.0, -12.9]),
    ("Header/freq_array", [NAN, INF, 0.0, -1.4e9]),
    ("Header/uvw_array", [NAN, INF, 1e300]),
    ("Header/antenna_positions", [NAN, -INF, 1e300]),
    ("Header/ant_1_array", [-1, 10**6, 200]),
    ("Header/ant_2_array", [-3, 118]),
    ("Header/antenna_numbers", [-5, 70000]),
    ("Header/polarization_array", [0, 9, -9, -6]),
]:
    for v in values:
        HEADER_CASES.append((f"{field}[0]={v}", set_value(field, v, 0)))
        if field in ("Header/time_array", "Header/freq_array", "Header/integration_time"):
            HEADER_CASES.append((f"{field}[:]={v}", set_value(field, v)))
HEADER_CASES += [
    ("freq_array not monotonic", swap_freqs),
    ("time_array float32", replace("Header/time_array", lambda f: f["Header/time_array"][()].astype(np.float32))),
    ("antenna_diameters short", replace("Header/antenna_diameters", lambda f: np.full(f["Header/antenna_numbers"].size - 1, 4.65))) ,
    ("antenna_diameters NaN", replace("Header/antenna_diameters", lambda f: np.full(f["Header/antenna_numbers"].size, NAN))),
    ("antenna_numbers repeated", set_value("Header/antenna_numbers", 1, 0)),
    ("Nblts=0", set_value("Header/Nblts", 0)),
    ("Nblts=7", set_value("Header/Nblts", 7)),
    ("Nfreqs=0", set_value("Header/Nfreqs", 0)),
    ("Npols=0", set_value("Header/Npols", 0)),
    ("Ntimes=0", set_value("Header/Ntimes", 0)),
    ("Nbls=0", set_value("Header/Nbls", 0)),
    ("no Header/latitude", lambda f: f.__delitem__("Header/latitude")),
    ("no Data/nsamples", lambda f: f.__delitem__("Data/nsamples")),
    ("no Data/flags", lambda f: f.__delitem__("Data/flags")),
]
# Data values: the conversion flags them, weight 0.
DATA_CASES = [
    ("visdata NaN x3", vis_cells(complex(NAN, 0), [10, 200, 3000]), 3),
    ("visdata inf x2", vis_cells(complex(1.0, INF), [7, 77]), 2),
    ("nsamples NaN x2", ns_cells(NAN, [5, 55]), 2),
    ("nsamples -1 x3", ns_cells(-1.0, [1, 2, 3]), 3),
    ("nsamples inf x1", ns_cells(INF, [9]), 1),
]


def ms_stats(ms):
    t = table(ms, ack=False)
    out = {
        "nonfinite": int(sum((~np.isfinite(t.getcol(c))).sum() for c in ["DATA", "WEIGHT", "SIGMA", "UVW"])),
        "flagged": int(t.getcol("FLAG").sum()),
    }
    t.close()
    f = table(ms + "/FIELD", ack=False)
    out["nonfinite"] += int((~np.isfinite(f.getcol("PHASE_DIR"))).sum())
    f.close()
    return out


def main():
    good = os.path.join(WORK, "good")
    if not glob.glob(os.path.join(good, "*.hdf5")):
        subprocess.run([BIN, "-q", "simulate", "--out", good, "--n-ants", "12", "--n-times", "4", "--channels", "8"], check=True, capture_output=True)
    files = sorted(glob.glob(os.path.join(good, "*.hdf5")))
    rc, text = run("-q", "convert", "--backend", "cpu", "-o", os.path.join(WORK, "clean"), *files)
    assert rc == 0, text
    clean = ms_stats(glob.glob(os.path.join(WORK, "clean", "*.ms"))[0])
    totals = {"tried": 0, "rejected": 0, "accepted_correct": 0, "accepted_wrong": 0}
    cases = [(n, e, None) for n, e in HEADER_CASES] + DATA_CASES
    for k, (name, edit, n_flagged) in enumerate(cases):
        case = os.path.join(WORK, f"case{k}")
        shutil.rmtree(case, ignore_errors=True)
        shutil.copytree(good, os.path.join(case, "in"))
        broken = sorted(glob.glob(os.path.join(case, "in", "*.hdf5")))
        with h5py.File(broken[5], "r+") as f:
            edit(f)
        out = os.path.join(case, "out")
        vrc, vtext = run("validate", broken[5])
        crc, ctext = run("convert", "--backend", "cpu", "-o", out, *broken)
        left = glob.glob(os.path.join(out, "*.ms"))
        panicked = any(s in vtext + ctext for s in ["panicked", "terminate called", "Aborted"])
        totals["tried"] += 1
        if panicked or vrc not in (0, 1) or crc not in (0, 1):
            verdict = "accepted_wrong"
        elif n_flagged is None:
            ok = vrc == 1 and crc == 1 and broken[5] in ctext and not left
            verdict = "rejected" if ok else "accepted_wrong"
        else:
            ok = vrc == 0 and crc == 0 and len(left) == 1
            if ok:
                s = ms_stats(left[0])
                ok = s["nonfinite"] == 0 and s["flagged"] == clean["flagged"] + n_flagged
            verdict = "accepted_correct" if ok else "accepted_wrong"
        totals[verdict] += 1
        last = (ctext.strip().splitlines() or [""])[-1][:150]
        print(f"{verdict:16s} {name:50s} validate={vrc} convert={crc} | {last}")
    print(json.dumps(totals))
    return 1 if totals["accepted_wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
