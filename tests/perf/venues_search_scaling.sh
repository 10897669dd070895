#!/usr/bin/env bash
# How venue search grows: venues_search_bench at several registry sizes (default 2,500,
# 25,000 and 250,000 venues), each through the test command's throw-away servers, one after the
# other. Prints each run's figures; the table in docs/performance.md is made from them.
#
#   tests/perf/venues_search_scaling.sh [sizes...]     (from the repository root)
#   PASSERELLE_BENCH_CLIENTS=16 tests/perf/venues_search_scaling.sh 25000
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIZES=("$@")
((${#SIZES[@]})) || SIZES=(2500 25000 250000)
export PASSERELLE_BENCH_SECONDS=${PASSERELLE_BENCH_SECONDS:-10}
export PASSERELLE_BENCH_CLIENTS=${PASSERELLE_BENCH_CLIENTS:-8}
rc=0
for n in "${SIZES[@]}"; do
  echo "=== ${n} venues, ${PASSERELLE_BENCH_CLIENTS} clients, ${PASSERELLE_BENCH_SECONDS} s per scenario"
  PASSERELLE_BENCH_VENUES=$n "$ROOT/deploy/local/passerelle" test -R '^venues_search_bench$' -V 2>&1 |
    sed -n 's/^[0-9]*: //p' | grep -v '^Test command\|^Working Directory\|^Test timeout'
  # The benchmark's own status (not grep's, nor `|| true`'s, which hid it): non-zero when a goal
  # is missed or a run failed, reported at the end after every size has printed its figures.
  status=${PIPESTATUS[0]}
  ((status == 0)) || rc=1
done
exit $rc
