"""Print the FIELD names of a Measurement Set as a JSON list."""
import json
import sys

from casacore.tables import table

with table(sys.argv[1] + "/FIELD", ack=False) as t:
    print(json.dumps(list(t.getcol("NAME"))))
