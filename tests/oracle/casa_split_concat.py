"""split one MS and concat two (consecutive groups). usage:
casa_split_concat.py MS1 MS2 WORKDIR SPW_SELECTION
Prints JSON: rows and spectral windows of the split and of the concat, and
the concat's distinct times."""
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


casa_env.emit({"split": describe(split_ms), "concat": describe(concat_ms)})
