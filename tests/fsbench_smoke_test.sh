#!/bin/sh
# fsbench_smoke_test.sh: a tiny run of bitgask-fsbench on two directories
# (not a timed test): a row with positive numbers per directory, a ratio
# row, its work directories removed, usage errors exit 2, a directory it
# cannot write in exits 1 with a message.

B=${abs_top_builddir:?abs_top_builddir is not set}/src/bitgask-fsbench
[ -x "$B" ] || { echo "FAIL: $B is not built"; exit 1; }
. "${srcdir:-.}/smoke_lib.sh"
mkdir "$TMP/a" "$TMP/b"
run() {
  want=$1; shift
  "$B" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
  rc=$?
  [ "$rc" -eq "$want" ] || fail "bitgask-fsbench $* exited $rc, expected $want"
}

run 0 --files=40 --file-size=3000 --large-size=1M --block-size=100000 --warm \
  first="$TMP/a" "$TMP/b"
grep -q "40 small files of 3000 bytes" "$TMP/out" || fail "header lacks the sizes"
grep -q "reads warm" "$TMP/out" || fail "header does not say reads are warm"
num='[0-9]*[1-9][0-9]*'
grep -Eq "^first( +$num){7}$" "$TMP/out" || fail "no row of 7 positive rates for first"
grep -Eq "^$TMP/b( +$num){7}$" "$TMP/out" || fail "an unlabelled dir is not its own label"
grep -q "^ratios against first" "$TMP/out" || fail "no ratios"
grep -Eq "^$TMP/b( +[0-9]+\.[0-9]{3}){7}$" "$TMP/out" || fail "no ratio row"
[ -z "$(ls -A "$TMP/a" "$TMP/b" | grep -v ':$')" ] || fail "work directories were left"

for bad in "" "--files=0 $TMP/a" "--file-size=x $TMP/a" "--nope $TMP/a"; do
  # shellcheck disable=SC2086 # each is a list of arguments
  run 2 $bad
  [ -s "$TMP/err" ] || fail "no message for '$bad'"
done
run 1 --files=5 --large-size=1K "$TMP/missing"
grep -q "cannot create a directory in $TMP/missing" "$TMP/err" || fail "no message for a missing dir"
echo PASS
