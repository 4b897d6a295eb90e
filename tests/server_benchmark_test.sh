#!/bin/bash
# bitgaskd under redis-benchmark: set, get, incr and mset pipelined (-P 16)
# with correct answers, and INCR atomic under parallel clients.
. "${srcdir:-.}/server_test_lib.sh"

start_server bench
N=20000
out=$(redis-benchmark -p "$PORT" -c 8 -n "$N" -P 16 -t set,get,incr,mset -q 2>&1) ||
  fail "redis-benchmark: $out"
out=$(tr '\r' '\n' <<<"$out" | grep "requests per second")  # drop the progress lines
for t in SET GET INCR MSET; do
  grep -q "^ *$t[:( ].*requests per second" <<<"$out" || fail "redis-benchmark $t: $out"
done
grep -qi "error" <<<"$out" && fail "redis-benchmark reported errors: $out"
echo "$out"
# Without -r every request uses the same key: the values tell whether each
# command did its job.
expect 3 strlen key:__rand_int__  # -d 3: three random letters
expect "$N" get counter:__rand_int__

# INCR atomicity: 4 clients, N increments in total on one key, pipelined and
# not; the result must be exactly N each time.
for pipeline in 1 16; do
  cli del hits >/dev/null
  redis-benchmark -p "$PORT" -c 4 -n "$N" -P "$pipeline" -q incr hits >/dev/null 2>&1 ||
    fail "redis-benchmark incr -P $pipeline"
  expect "$N" get hits
done
echo PASS
