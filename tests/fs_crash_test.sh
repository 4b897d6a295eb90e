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

if [ ! -e /dev/fuse ]; then echo "SKIP: /dev/fuse is missing"; exit 77; fi
if ! command -v fusermount3 >/dev/null 2>&1; then echo "SKIP: fusermount3 is missing"; exit 77; fi

BIN=${abs_top_builddir:?abs_top_builddir is not set}/src/mount.bitgask
TOOL=$abs_top_builddir/tests/fs_crash_tool
[ -x "$BIN" ] || { echo "FAIL: $BIN is not built"; exit 1; }
[ -x "$TOOL" ] || { echo "FAIL: $TOOL is not built"; exit 1; }

ROUNDS=${BITGASK_FS_CRASH_ROUNDS:-5}
SEED=${BITGASK_FS_CRASH_SEED:-$(date +%s)}
echo "seed $SEED (BITGASK_FS_CRASH_SEED=$SEED repeats the kill timings and the ops)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-fs-crash.XXXXXX") || exit 1
MNT=$TMP/mnt
mkdir -p "$MNT"
MOUNT_PID=
WRITER_PID=

# True while pid runs (a zombie waiting for its reaper counts as exited).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$state" ] && [ "$state" != Z ]
}

is_mounted() { grep -q " $MNT fuse.bitgask " /proc/mounts; }

cleanup() {
  [ -n "$WRITER_PID" ] && kill -9 "$WRITER_PID" 2>/dev/null
  if [ -n "$MOUNT_PID" ]; then
    fusermount3 -u "$MNT" >/dev/null 2>&1
    i=0
    while alive "$MOUNT_PID" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$MOUNT_PID" 2>/dev/null
  fi
  is_mounted && fusermount3 -u -z "$MNT" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
  echo "FAIL: $*"
  [ -s "$TMP/mount.err" ] && { echo "mount.bitgask said:"; cat "$TMP/mount.err"; }
  exit 1
}

# mount_store STORE [OPTS]: mount.bitgask -f in the background; MOUNT_PID.
mount_store() {
  if [ -n "${2:-}" ]; then
    "$BIN" "$1" "$MNT" -f -o "$2" 2>>"$TMP/mount.err" &
  else
    "$BIN" "$1" "$MNT" -f 2>>"$TMP/mount.err" &
  fi
  MOUNT_PID=$!
  i=0
  until is_mounted; do
    alive "$MOUNT_PID" || fail "mount.bitgask $1 exited before mounting"
    i=$((i + 1)); [ $i -gt 100 ] && fail "mount did not show in /proc/mounts within 10 s"
    sleep 0.1
  done
}

# Kills the mount process with SIGKILL and detaches the dead mount.
kill_mount() {
  kill -9 "$MOUNT_PID" || fail "kill -9 $MOUNT_PID"
  wait "$MOUNT_PID" 2>/dev/null
  MOUNT_PID=
  fusermount3 -u -z "$MNT" || fail "fusermount3 -u -z of the dead mount"
  is_mounted && fail "dead mount still in /proc/mounts"
  return 0
}

unmount_store() {
  fusermount3 -u "$MNT" || fail "fusermount3 -u"
  wait "$MOUNT_PID"
  rc=$?
  MOUNT_PID=
  [ $rc -eq 0 ] || fail "mount.bitgask exited $rc after a clean unmount"
  is_mounted && fail "still in /proc/mounts after unmount"
  return 0
}

# A random delay in seconds, 0.1 to 1.2, from SEED and a round number.
delay() { awk -v s="$SEED" -v r="$1" 'BEGIN { srand((s % 1000000) * 100 + r); printf "%.2f", 0.1 + rand() * 1.1 }'; }

# run_setting NAME [OPTS]
run_setting() {
  name=$1
  opts=${2:-}
  store=$TMP/store-$name
  log=$TMP/log-$name
  : > "$log"
  echo "== $name ${opts:+(-o $opts)}"
  mount_store "$store" "$opts"
  round=1
  while [ $round -le "$ROUNDS" ]; do
    ready=$TMP/ready
    rm -f "$ready"
    "$TOOL" write "$MNT" "$log" "$((SEED + round))" "$round" "$ready" &
    WRITER_PID=$!
    i=0
    until [ -e "$ready" ]; do
      alive "$WRITER_PID" || { wait "$WRITER_PID"; fail "writer exited before it was ready"; }
      i=$((i + 1)); [ $i -gt 100 ] && fail "writer not ready within 10 s"
      sleep 0.1
    done
    d=$(delay "$round")
    sleep "$d"
    alive "$WRITER_PID" || fail "writer stopped before the kill"
    kill_mount
    i=0
    while alive "$WRITER_PID"; do
      i=$((i + 1)); [ $i -gt 100 ] && fail "writer still running 10 s after the kill"
      sleep 0.1
    done
    wait "$WRITER_PID" || fail "writer failed"
    WRITER_PID=
    mount_store "$store" "$opts"
    printf 'round %s, kill after %ss: ' "$round" "$d"
    "$TOOL" verify "$MNT" "$log" || fail "round $round of $name"
    round=$((round + 1))
  done
  unmount_store
  mount_store "$store" "$opts"
  printf 'after a clean remount: '
  "$TOOL" verify "$MNT" "$log" || fail "clean remount of $name"
  unmount_store
}

run_setting sync_default
run_setting sync_off sync_on_put=false

echo "PASS: fs_crash_test"
exit 0
