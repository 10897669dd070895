#!/bin/sh
# Regenerates tests/interop/opening_hours_reference.json: installs the reference opening_hours
# library (npm, pinned) in a scratch directory outside the repository, then records its answers
# for the corpus with tools/opening_hours_reference.js. Needs node and npm (not in CI: CI reads
# the committed fixture). Then run standard_opening_hours_interop_test and review what changed.
#   tools/opening_hours_reference.sh [scratch-dir]     (default /tmp/ohref)
set -eu
VERSION=3.15.0
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=${1:-/tmp/ohref}
mkdir -p "$scratch"
if [ "$(node -p "try{require('$scratch/node_modules/opening_hours/package.json').version}catch(e){''}")" != "$VERSION" ]; then
  (cd "$scratch" && [ -f package.json ] || (cd "$scratch" && npm init -y >/dev/null))
  (cd "$scratch" && npm install --no-save --no-audit --no-fund "opening_hours@$VERSION" >/dev/null)
fi
TZ=Europe/Paris NODE_PATH="$scratch/node_modules" node "$root/tools/opening_hours_reference.js" \
  record "$root/tests/interop/opening_hours_corpus.txt" "$root/tests/interop/opening_hours_reference.json"
