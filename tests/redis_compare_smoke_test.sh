#!/bin/sh
# redis_compare_smoke_test.sh: a tiny run of bench/redis_compare.sh (not a
# timed test): it starts bitgaskd and redis-server in both durability
# modes, prints a line with positive rates and a ratio for SET and GET in
# each, and leaves no server and no temporary directory behind.

S=${abs_top_srcdir:?abs_top_srcdir is not set}/bench/redis_compare.sh
D=${abs_top_builddir:?abs_top_builddir is not set}/src/bitgaskd
. "${srcdir:-.}/smoke_lib.sh"

TMPDIR=$TMP/tmp bash "$S" --bitgaskd "$D" --requests 2000 --sync-requests 300 --keyspace 100 \
  </dev/null >"$TMP/out" 2>"$TMP/err" || fail "redis_compare.sh exited $?"
cat "$TMP/out"
for mode in always everysec; do
  for t in SET GET; do
    grep -Eq "^$mode +$t +[1-9][0-9]* +[1-9][0-9]* +[0-9]+\.[0-9][0-9]$" "$TMP/out" ||
      fail "no line with rates and a ratio for $mode $t"
  done
done
[ -z "$(ls -A "$TMP/tmp")" ] || fail "the script left $(ls -A "$TMP/tmp")"
pgrep -f "$TMP/tmp" >/dev/null && fail "a server of the script still runs"

TMPDIR=$TMP/tmp bash "$S" --bitgaskd "$D" --clients 0 >"$TMP/out" 2>"$TMP/err"
[ $? -eq 2 ] || fail "--clients 0 did not exit 2"
grep -q "'0' is not a positive number" "$TMP/err" || fail "no message for --clients 0"
echo PASS
