"""Load a CSV file with Python's csv module and with astropy, and report.

Usage: csvload.py SPEC.json OUT.json

SPEC is {"file": path, "string_columns": [names]} or {"file": path,
"metadata": path of metadata/<kind>.csv}. OUT is
  {"csv": [[field, ...], ...],                      # csv.reader, header included
   "astropy": {"colnames": [...], "dtypes": [...], "rows": [[[kind, text], ...], ...]},
   "guess": {"colnames": [...], "dtypes": [...]},
   "string_columns": [names]}
"astropy" is ascii.read(format="csv") with str converters for the string
columns: those given, or those the metadata file says are strings (the
recipe of docs/tables.md); "guess" is ascii.read with no help at all.
kind is "masked", "int", "float", "bool" or "str"; text is the value (repr
for floats, so that it round-trips). The Go test (tables_test.go) judges.
"""

import csv
import json
import sys

import numpy as np
from astropy.io import ascii


def cell(v):
    if v is np.ma.masked or isinstance(v, np.ma.core.MaskedConstant):
        return ["masked", ""]
    if isinstance(v, (np.bool_, bool)):
        return ["bool", str(bool(v))]
    if isinstance(v, np.integer):
        return ["int", str(int(v))]
    if isinstance(v, np.floating):
        return ["float", repr(float(v))]
    return ["str", str(v)]


def describe(t, with_rows):
    out = {"colnames": list(t.colnames), "dtypes": [t[c].dtype.kind for c in t.colnames]}
    if with_rows:
        out["rows"] = [[cell(row[c]) for c in t.colnames] for row in t]
    return out


def main():
    spec = json.load(open(sys.argv[1]))
    path = spec["file"]
    with open(path, newline="", encoding="utf-8") as f:
        records = list(csv.reader(f))
    text = spec.get("string_columns", [])
    if "metadata" in spec:
        # The recipe of docs/tables.md, verbatim.
        meta = ascii.read(spec["metadata"], format="csv")
        text = [r["Column Name"] for r in meta if r["Data Type"] == "string"]
    conv = {name: [ascii.convert_numpy(str)] for name in text}
    typed = ascii.read(path, format="csv", converters=conv, encoding="utf-8")
    guessed = ascii.read(path, encoding="utf-8")
    out = {"csv": records, "astropy": describe(typed, True), "guess": describe(guessed, False),
           "string_columns": list(text)}
    json.dump(out, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
