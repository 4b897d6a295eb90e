#!/bin/sh
# kill -9 of the mount while a large file is rewritten (cp over it: the
# writes go to the spill file, close stores it with DB::PutFromFile), at a
# random moment of the write or of the store at close (0 to 1.3 times what
# a whole cp took). After a remount the file holds its old contents or the
# new ones, byte for byte, never a mix, and the new ones whenever cp had
# returned 0 (close succeeded). About 7 s.
#
# BITGASK_KILL_MIB sets the file's size (default 48), BITGASK_KILL_ROUNDS
# the rounds (default 4), BITGASK_CRASH_SEED the delays (printed).
set -u

. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
MIB=${BITGASK_KILL_MIB:-48}
ROUNDS=${BITGASK_KILL_ROUNDS:-4}
SEED=${BITGASK_CRASH_SEED:-$(date +%s)}
echo "fs_large_kill_test: seed $SEED, $ROUNDS rounds of $MIB MiB"

# delay_ms ROUND: 0 to 1.3 times the first cp's time (CP_MS), from SEED and
# ROUND: most kills land while cp writes or close stores.
delay_ms() {
  awk -v s="$SEED" -v r="$1" -v t="$CP_MS" \
    'BEGIN { srand((s % 100000) * 100 + r); printf "%d", rand() * 1.3 * t }'
}

head -c "$((MIB * 1024 * 1024))" /dev/urandom > "$TMP/v0" || fail "make v0"
mount_store_fg
start=$(date +%s%N)
cp "$TMP/v0" "$MNT/f" || fail "first cp"
CP_MS=$(( ($(date +%s%N) - start) / 1000000 ))
echo "  -> the first cp took $CP_MS ms"
cur=0  # the contents f must have
new_seen=0 old_seen=0
r=1
while [ $r -le "$ROUNDS" ]; do
  check "round $r: kill during a rewrite after $(delay_ms $r) ms"
  head -c "$((MIB * 1024 * 1024))" /dev/urandom > "$TMP/v$r" || fail "make v$r"
  rm -f "$TMP/acked"
  (cp "$TMP/v$r" "$MNT/f" 2>/dev/null && touch "$TMP/acked") &
  WORKER_PID=$!
  sleep "$(awk -v ms="$(delay_ms $r)" 'BEGIN { printf "%.3f", ms / 1000 }')"
  kill_mount
  wait "$WORKER_PID"
  WORKER_PID=
  mount_store_fg
  size=$(stat -c %s "$MNT/f")
  [ "$size" -eq "$((MIB * 1024 * 1024))" ] || fail "round $r: size $size"
  if cmp -s "$MNT/f" "$TMP/v$r"; then
    echo "  -> the new contents"
    cur=$r
    new_seen=$((new_seen + 1))
  elif cmp -s "$MNT/f" "$TMP/v$cur"; then
    echo "  -> the old contents"
    [ -e "$TMP/acked" ] && fail "round $r: cp returned 0, yet the old contents came back"
    old_seen=$((old_seen + 1))
  else
    fail "round $r: neither the old nor the new contents (a mix)"
  fi
  for v in "$TMP"/v*; do [ "$v" = "$TMP/v$cur" ] || rm -f "$v"; done  # keep only what f holds
  r=$((r + 1))
done
echo "  -> $new_seen rounds kept the new contents, $old_seen the old"

check "a clean unmount and remount keep the last contents"
unmount_store
mount_store_fg
cmp -s "$MNT/f" "$TMP/v$cur" || fail "contents differ after a clean remount"
unmount_store
echo "PASS: fs_large_kill_test"
exit 0
