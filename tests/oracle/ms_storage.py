"""How a Measurement Set's main table is stored, as python-casacore reports it: each
data manager's type, name, bucket size (standard storage manager), tile shape (tiled
managers; casacore's axis order: the cell's axes, then rows) and columns, and the
data-manager files (`table.fN...`) in the table's directory, as JSON."""
import json
import os
import re
import sys

from casacore.tables import table

ms = sys.argv[1]
managers = [{"type": d["TYPE"], "name": d["NAME"], "bucket_bytes": d["SPEC"].get("BUCKETSIZE"),
             "tile_shape": [int(n) for n in d["SPEC"].get("DEFAULTTILESHAPE", [])],
             "columns": sorted(d["COLUMNS"])}
            for d in table(ms, ack=False).getdminfo().values()]
files = sorted(f for f in os.listdir(ms) if re.match(r"table\.f\d+", f))
print(json.dumps({"managers": managers, "files": files}))
