"""Count what must be finite in a Measurement Set, and the flags.

usage: ms_finite.py MS
Prints JSON: non-finite values of DATA, WEIGHT, SIGMA and UVW, and the
number of flagged visibilities.
"""
import json
import sys

import numpy as np
from casacore.tables import table

t = table(sys.argv[1], ack=False)
out = {
    "nonfinite_data": int((~np.isfinite(t.getcol("DATA"))).sum()),
    "nonfinite_weight": int((~np.isfinite(t.getcol("WEIGHT"))).sum()),
    "nonfinite_sigma": int((~np.isfinite(t.getcol("SIGMA"))).sum()),
    "nonfinite_uvw": int((~np.isfinite(t.getcol("UVW"))).sum()),
    "flagged": int(t.getcol("FLAG").sum()),
}
t.close()
print(json.dumps(out))
