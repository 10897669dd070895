#!/usr/bin/env python3
"""Records what ANCT's library says of our national CSV rows (tests/interop/anct/verdicts.json).

The national cartography imports files with the npm package
`@gouvfr-anct/lieux-de-mediation-numerique` (`fromSchemaLieuDeMediationNumerique`). This script
runs through it every row of the demo registry and the crafted rows of
tests/interop/anct/cases.csv, each as our export writes it after import, and writes the verdicts to the fixture that standard_exchange_test
(unit tier, Debian packages only) compares our import warnings with. Re-run it when the demo
data, the export or the library changes:

    mkdir -p /tmp/anct && (cd /tmp/anct && npm install @gouvfr-anct/lieux-de-mediation-numerique)
    cmake --build build --target standard_exchange_test
    tools/anct_verdicts.py            # ANCT_LIB_DIR=/tmp/anct/node_modules by default

The exports come from the test binary itself (PASSERELLE_INTEROP_WRITE_DIR makes it write the
exports it checks), so the rows judged are byte for byte the ones the test reads.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_DIR = os.path.join(ROOT, "tests", "interop", "anct")
LIB_DIR = os.environ.get("ANCT_LIB_DIR", "/tmp/anct/node_modules")


def rows_of(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def as_library_input(row):
    # A CSV reader gives "" for an empty cell; the library reads absent fields as absent (an
    # empty string would be a value, e.g. an empty list of services).
    out = {}
    for k, v in row.items():
        if v == "":
            continue
        out[k] = float(v) if k in ("latitude", "longitude") else v
    return out


def verdicts(rows):
    js = os.path.join(ROOT, "tools", "anct_verdicts.js")
    done = subprocess.run(["node", js], input=json.dumps([as_library_input(r) for r in rows]),
                          capture_output=True, text=True, check=True,
                          env=dict(os.environ, ANCT_LIB_DIR=LIB_DIR))
    return json.loads(done.stdout)


def main():
    build = os.environ.get("PASSERELLE_BUILD_DIR", os.path.join(ROOT, "build"))
    test = os.path.join(build, "libs", "standard", "standard_exchange_test")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([test, "--gtest_filter=*Anct*"], check=False,
                       env=dict(os.environ, PASSERELLE_INTEROP_WRITE_DIR=tmp),
                       stdout=subprocess.DEVNULL)
        files = {}
        for name in ("demo-export.csv", "cases-export.csv"):
            export = os.path.join(tmp, name)
            if not os.path.exists(export):
                sys.exit(f"{test} did not write {export}: build it first")
            files[name] = rows_of(export)
    with open(os.path.join(LIB_DIR, "@gouvfr-anct", "lieux-de-mediation-numerique",
                           "package.json"), encoding="utf-8") as f:
        version = json.load(f)["version"]
    out = {"library": f"@gouvfr-anct/lieux-de-mediation-numerique@{version}",
           "function": "fromSchemaLieuDeMediationNumerique",
           "generated_by": "tools/anct_verdicts.py", "files": {}}
    refused = 0
    for name, rows in files.items():
        out["files"][name] = []
        for row, verdict in zip(rows, verdicts(rows)):
            entry = {"id": row["id"], "accepted": verdict["accepted"]}
            if not verdict["accepted"]:
                refused += 1
                entry["key"] = verdict["key"]
                entry["message"] = verdict["message"]
            entry["row"] = row
            out["files"][name].append(entry)
    with open(os.path.join(FIXTURE_DIR, "verdicts.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    total = sum(len(r) for r in files.values())
    print(f"{total} rows, {refused} refused by {out['library']}: {FIXTURE_DIR}/verdicts.json")


if __name__ == "__main__":
    main()
