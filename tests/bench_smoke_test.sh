#!/bin/sh
# bench_smoke_test.sh: a tiny run of `bitgask bench` (not a timed test):
# every workload prints its line with numbers, reads find what the fills
# wrote, the temporary store is removed, --json is one document, a
# non-empty --dir is refused, bad flags exit 2.

B=${abs_top_builddir:?abs_top_builddir is not set}/src/bitgask
[ -x "$B" ] || { echo "FAIL: $B is not built"; exit 1; }
. "${srcdir:-.}/smoke_lib.sh"
check() { echo "check: $*"; }
run() {
  want=$1; shift
  TMPDIR=$TMP/tmp "$B" bench "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
  rc=$?
  [ "$rc" -eq "$want" ] || fail "bitgask bench $* exited $rc, expected $want"
}
# line NAME: the table line of workload NAME; fails unless it has numbers.
line() {
  l=$(grep "^$1 " "$TMP/out") || fail "no line for $1"
  echo "$l" | grep -Eq "^$1 +[1-9][0-9]* +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+" ||
    fail "line of $1 lacks numbers: $l"
  echo "$l"
}

ALL=fillseq,fillrandom,overwrite,readrandom,readmissing,readseq,mixed,fillttl,mergeload,open,deleterandom,fillsync

check "every workload, 2 threads, temporary store"
run 0 --num=2000 --threads=2 --benchmarks=$ALL
for w in fillseq fillrandom overwrite readrandom readmissing readseq mixed fillttl nomerge \
    mergeload open open/nohints deleterandom rawsync fillsync; do
  line "$w" >/dev/null
done
line readrandom | grep -q "2000 of 2000 found" || fail "readrandom did not find every key"
line readmissing | grep -q " 0 of 2000 found" || fail "readmissing found keys"
line readseq | grep -Eq "^readseq +4000 " || fail "readseq did not see 2000 keys per thread"
line fillsync | grep -Eq "[0-9]+\.[0-9][0-9] of raw" || fail "fillsync lacks its ratio to raw"
line mergeload | grep -Eq "[0-9]+\.[0-9][0-9] of nomerge" || fail "mergeload lacks its ratio"
line open | grep -q "2000 keys" || fail "open did not load 2000 keys"
grep -Eq "^keydir peak: [1-9][0-9]* bytes for 2000 keys, [0-9.]+ bytes per key" "$TMP/out" ||
  fail "no keydir line"
[ -z "$(ls -A "$TMP/tmp")" ] || fail "the temporary store was left: $(ls -A "$TMP/tmp")"

check "--json"
run 0 --num=500 --benchmarks=fillrandom,readrandom --json --key-size=24 --value-size=10
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "--json is not one line"
grep -q '"name":"fillrandom","ops":500,' "$TMP/out" || fail "no fillrandom object"
grep -q '"name":"readrandom","ops":500,' "$TMP/out" || fail "no readrandom object"
grep -q '"note":"500 of 500 found"' "$TMP/out" || fail "readrandom did not find every key"

check "--dir: an empty one is used and kept, a non-empty one refused"
mkdir "$TMP/store"
run 0 --num=100 --benchmarks=fillseq --dir "$TMP/store"
[ -d "$TMP/store/data" ] || fail "the store in --dir was not kept"
run 1 --num=100 --benchmarks=fillseq --dir "$TMP/store"
grep -q "is not empty" "$TMP/err" || fail "no message for a non-empty --dir"
run 0 --num=100 --benchmarks=readrandom --dir "$TMP/store" --use-existing
line readrandom | grep -q "100 of 100 found" || fail "--use-existing did not see the keys"

check "bad flags exit 2"
for bad in --benchmarks=nope --benchmarks= --threads=0 --threads=17 --key-size=4 --num=0 \
    --read-ratio=2 --ttl=0 --ttl=soon --value-size=x --sync-on-put=maybe --key-size=5000 \
    '--value-size=200 --max-value-size=100'; do
  # shellcheck disable=SC2086 # the last one is two flags
  run 2 $bad
  [ -s "$TMP/err" ] || fail "no message for $bad"
done
[ -z "$(ls -A "$TMP/tmp")" ] || fail "a usage error left a store"
echo PASS
