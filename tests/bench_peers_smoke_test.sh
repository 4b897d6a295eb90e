#!/bin/sh
# bench_peers_smoke_test.sh: a tiny run of `bitgask bench --peers` (not a
# timed test). In a build without peers (the default; `make bench-peers`
# builds them): --peers must be refused with a clear message (exit 2), and
# that is all there is to check. With peers:
# every peer built in prints its settings and a line with numbers for each
# workload it runs, finds every key the fill wrote and none of the missing
# ones, is left out of the bitgask-only workloads; the comparison has a
# ratio per peer; --json has the targets and ratios; the store is removed.

B=${abs_top_builddir:?abs_top_builddir is not set}/src/bitgask
[ -x "$B" ] || { echo "FAIL: $B is not built"; exit 1; }
. "${srcdir:-.}/smoke_lib.sh"
run() {
  want=$1; shift
  TMPDIR=$TMP/tmp "$B" bench "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
  rc=$?
  [ "$rc" -eq "$want" ] || fail "bitgask bench $* exited $rc, expected $want"
}

"$B" bench --help >"$TMP/out" 2>"$TMP/err" || fail "bitgask bench --help"
if grep -q "none in this build" "$TMP/out"; then
  run 2 --peers=all --num=10
  grep -q "built without bench peers" "$TMP/err" || fail "no clear message for --peers"
  echo "PASS: this build has no bench peers and says so (make bench-peers builds and tests them)"
  exit 0
fi
PEERS=$(sed -n 's/.*every one built in: \([a-z,]*\)).*/\1/p' "$TMP/out" | tr ',' ' ')
[ -n "$PEERS" ] || fail "bench --help lists no peers"
echo "peers: $PEERS"

W=fillseq,readrandom,readmissing,readseq,fillttl,overwrite,mixed,deleterandom,fillsync
run 0 --num=300 --threads=2 --peers=all --benchmarks=$W
for p in bitgask $PEERS; do
  # The section of target p: from its header to the next blank line.
  awk -v p="$p" '$0 ~ "^" p " bench: " { on = 1 } on && /^$/ { exit } on' "$TMP/out" \
    >"$TMP/$p.section"
  grep -q "^settings: .*sync" "$TMP/$p.section" || fail "$p states no durability settings"
  for w in fillseq readrandom readmissing readseq overwrite mixed deleterandom rawsync fillsync; do
    grep -Eq "^$w +[1-9][0-9]* +[0-9]+ +[0-9.]+ +[0-9.]+ " "$TMP/$p.section" ||
      fail "$p: no line with numbers for $w"
  done
  grep -Eq "^readrandom .* 300 of 300 found" "$TMP/$p.section" || fail "$p: readrandom missed keys"
  grep -Eq "^readmissing .* 0 of 300 found" "$TMP/$p.section" || fail "$p: readmissing found keys"
  grep -Eq "^readseq +600 " "$TMP/$p.section" || fail "$p: readseq did not see 300 keys per thread"
  grep -Eq "^fillsync .*[0-9]\.[0-9][0-9] of raw" "$TMP/$p.section" || fail "$p: fillsync lacks its ratio"
  if [ "$p" = bitgask ]; then
    grep -q "^fillttl " "$TMP/$p.section" || fail "bitgask did not run fillttl"
  else
    grep -q "^fillttl " "$TMP/$p.section" && fail "$p ran the bitgask-only fillttl"
  fi
done
grep -q "^comparison: " "$TMP/out" || fail "no comparison"
for w in fillseq readrandom fillsync; do
  l=$(grep "^$w " "$TMP/out" | tail -n 1)
  n=$(echo "$l" | awk '{ for (i = 3; i <= NF; i += 2) if ($i + 0 > 0) n++; print n + 0 }')
  [ "$n" -eq "$(echo $PEERS | wc -w)" ] || fail "comparison of $w lacks a peer's ratio: $l"
done
grep -Eq "^fillttl +[1-9][0-9]*( +- +-)+$" "$TMP/out" || fail "fillttl is not bitgask-only in the comparison"
[ -z "$(ls -A "$TMP/tmp")" ] || fail "the temporary stores were left: $(ls -A "$TMP/tmp")"

run 0 --num=200 --peers=all --benchmarks=fillrandom,readrandom --json
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "--json is not one line"
for p in $PEERS; do
  grep -q "\"target\":\"$p\"" "$TMP/out" || fail "--json lacks $p"
  grep -Eq "\"readrandom\":\\{[^}]*\"$p\":[0-9]" "$TMP/out" || fail "--json lacks the ratio to $p"
done

run 2 --peers=nosuchpeer
grep -q "no bench peer 'nosuchpeer'" "$TMP/err" || fail "no message for an unknown peer"
echo PASS
