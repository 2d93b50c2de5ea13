#!/usr/bin/env bash
# Stress: the test that once hung in KernelPool.close, N times in a row (default 50).
# Each round is its own pytest process under a 300 s guard; a hang shows as a round that
# hit the guard (exit 124). Prints the count of passes, failures and hangs, and the time.
#   stress/cache_test_loop.sh [ROUNDS]
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-50}
TEST=tests/engines/local/test_runner.py::test_cache_reuses_unchanged_steps_and_reruns_edited_ones
passed=0 failed=0 hung=0
start=$(date +%s)
for i in $(seq 1 "$ROUNDS"); do
  timeout 300 .venv/bin/python -m pytest "$TEST" -q -p no:cacheprovider >/tmp/cache_loop_$$.log 2>&1
  rc=$?
  case $rc in
    0) passed=$((passed + 1)) ;;
    124) hung=$((hung + 1)); echo "round $i: hung"; tail -n 20 /tmp/cache_loop_$$.log ;;
    *) failed=$((failed + 1)); echo "round $i: failed ($rc)"; tail -n 20 /tmp/cache_loop_$$.log ;;
  esac
done
rm -f /tmp/cache_loop_$$.log
echo "rounds=$ROUNDS passed=$passed failed=$failed hung=$hung seconds=$(( $(date +%s) - start ))"
[ "$passed" -eq "$ROUNDS" ]
