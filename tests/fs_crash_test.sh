#!/bin/sh
# fs_crash_test.sh: kill -9 of mount.bitgask while a writer works in the
# mount, then remount and check that every acknowledged change is there.
#
# For each store setting (the default sync_on_put=true, then
# sync_on_put=false: both promise to survive a crash of the process) it runs
# BITGASK_FS_CRASH_ROUNDS rounds (default 5) on one store:
#   1. fs_crash_tool write: leaves three files open with unflushed writes,
#      then writes, renames, deletes, chmods files and makes and renames
#      directories, logging each op before it starts and once it returned;
#   2. after a random 0.1-1.2 s, kill -9 of the mount process (run with -f
#      in the background, so this script holds its pid); the writer stops
#      at its first failed op;
#   3. fusermount3 -u -z of the dead mount, remount, fs_crash_tool verify:
#      the tree must equal the log's acknowledged ops exactly (names,
#      types, permissions, contents), the op in flight done or not done
#      (never half), the files open at the kill as they were before that
#      open.
# At the end a clean unmount, a remount and one more verify.
# Seeded (BITGASK_FS_CRASH_SEED, printed).  Exits 77 (SKIP) only when
# /dev/fuse or fusermount3 is missing.

set -u

. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
TOOL=$BUILD/tests/fs_crash_tool
[ -x "$TOOL" ] || fail "$TOOL is not built"

ROUNDS=${BITGASK_FS_CRASH_ROUNDS:-5}
SEED=${BITGASK_FS_CRASH_SEED:-$(date +%s)}
echo "seed $SEED (BITGASK_FS_CRASH_SEED=$SEED repeats the kill timings and the ops)"

# A random delay in seconds, 0.1 to 1.2, from SEED and a round number.
delay() { awk -v s="$SEED" -v r="$1" 'BEGIN { srand((s % 1000000) * 100 + r); printf "%.2f", 0.1 + rand() * 1.1 }'; }

# run_setting NAME [OPTS]
run_setting() {
  name=$1
  opts=${2:-}
  STORE=$TMP/store-$name
  log=$TMP/log-$name
  : > "$log"
  echo "== $name ${opts:+(-o $opts)}"
  mount_store_fg ${opts:+-o "$opts"}
  round=1
  while [ $round -le "$ROUNDS" ]; do
    ready=$TMP/ready
    rm -f "$ready"
    "$TOOL" write "$MNT" "$log" "$((SEED + round))" "$round" "$ready" &
    WORKER_PID=$!
    wait_until "the writer getting ready" "$WORKER_PID" test -e "$ready"
    d=$(delay "$round")
    sleep "$d"
    alive "$WORKER_PID" || fail "writer stopped before the kill"
    kill_mount
    wait_exit "the writer after the kill" "$WORKER_PID"
    wait "$WORKER_PID" || fail "writer failed"
    WORKER_PID=
    mount_store_fg ${opts:+-o "$opts"}
    printf 'round %s, kill after %ss: ' "$round" "$d"
    "$TOOL" verify "$MNT" "$log" || fail "round $round of $name"
    round=$((round + 1))
  done
  unmount_store
  mount_store_fg ${opts:+-o "$opts"}
  printf 'after a clean remount: '
  "$TOOL" verify "$MNT" "$log" || fail "clean remount of $name"
  unmount_store
}

run_setting sync_default
run_setting sync_off sync_on_put=false

echo "PASS: fs_crash_test"
exit 0
