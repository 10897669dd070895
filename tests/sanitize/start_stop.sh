#!/usr/bin/env bash
# Starts each service binary of a sanitizer build (ASan + UBSan, PASSERELLE_SANITIZE=ON) against
# the test command's PostgreSQL and NATS, waits until it is ready, stops it with SIGTERM, and
# fails on any sanitizer report or a non-zero exit: the objects' lifetimes at start and stop
# (component tree built in order, destroyed in reverse) are checked, not assumed.
#
#   tests/sanitize/start_stop.sh <sanitizer build dir>
set -uo pipefail
BUILD=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${PASSERELLE_TEST_DATABASE_URL:?run through deploy/local/passerelle test}"
: "${PASSERELLE_TEST_NATS_URL:?run through deploy/local/passerelle test}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$ROOT/tests/sanitize/lsan.supp:print_suppressions=0
failed=0
for service in venues referential sync indicators notifications gateway; do
  bin=$BUILD/services/$service/passerelle-$service
  tag=asan_${service}_$$
  log=$(mktemp)
  env PASSERELLE_DATABASE_URL="$PASSERELLE_TEST_DATABASE_URL" PASSERELLE_DATABASE_SCHEMA="$tag" \
    PASSERELLE_NATS_URL="$PASSERELLE_TEST_NATS_URL" PASSERELLE_NATS_PREFIX="$tag" \
    PASSERELLE_GRPC_ADDRESS=127.0.0.1:0 PASSERELLE_METRICS_ADDRESS=127.0.0.1:0 \
    PASSERELLE_SEED_DIR="$ROOT/services/referential/seed" PASSERELLE_PAGE_TOKEN_KEY=asan \
    PASSERELLE_GATEWAY_KEY_PEPPER=asan PASSERELLE_GATEWAY_HTTP_ADDRESS=127.0.0.1:0 \
    PASSERELLE_GATEWAY_GRPC_ADDRESS=127.0.0.1:0 \
    "$bin" >"$log" 2>&1 &
  pid=$!
  ready=no
  for _ in $(seq 1 600); do
    if grep -q '"message":"ready"' "$log"; then ready=yes; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -TERM "$pid" 2>/dev/null
  rc=0
  wait "$pid" || rc=$?
  if [[ $ready != yes || $rc -ne 0 ]] || grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$log"; then
    echo "FAIL passerelle-$service (ready: $ready, exit: $rc)"
    tail -60 "$log"
    failed=$((failed + 1))
  else
    echo "ok   passerelle-$service started and stopped under ASan/UBSan with no report"
  fi
  psql "$PASSERELLE_TEST_DATABASE_URL" -qc "DROP SCHEMA IF EXISTS \"$tag\" CASCADE" >/dev/null 2>&1
  rm -f "$log"
done
passed=$((4 - failed))
echo "sanitizers: $passed passed, $failed failed"
exit $((failed > 0))
