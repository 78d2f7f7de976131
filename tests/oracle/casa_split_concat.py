"""split one MS and concat two (consecutive groups). usage:
casa_split_concat.py MS1 MS2 WORKDIR SPW_SELECTION
Prints JSON: rows and spectral windows of the split and of the concat, the
concat's distinct times, and the table-info type of MS1's main table and
of each subtable beside the type CASA's split gave the same table."""
import os
import sys

import numpy as np

import casa_env
from casatasks import concat, split
from casatools import table

ms1, ms2, work, spw = sys.argv[1:5]
split_ms, concat_ms = os.path.join(work, "split.ms"), os.path.join(work, "concat.ms")
split(vis=ms1, outputvis=split_ms, spw=spw, datacolumn="data")
concat(vis=[ms1, ms2], concatvis=concat_ms)


def describe(path):
    tb = table()
    tb.open(path)
    rows, times = tb.nrows(), len(np.unique(tb.getcol("TIME")))
    tb.close()
    tb.open(path + "/SPECTRAL_WINDOW")
    spws = tb.nrows()
    tb.close()
    return {"rows": rows, "times": times, "spws": spws}


def info_types(path):
    tb = table()
    out = {}
    for sub in [""] + sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))):
        tb.open(os.path.join(path, sub))
        out[sub or "MAIN"] = tb.info()["type"]
        tb.close()
    return out


ours, casas = info_types(ms1), info_types(split_ms)
casa_env.emit({"split": describe(split_ms), "concat": describe(concat_ms),
               "info_type": {k: [ours.get(k), casas.get(k)] for k in sorted(set(ours) | set(casas))}})
