# fs_mount_lib.sh: shell functions for the tests that mount a store with
# mount.bitgask; sourced, not run.
#
# fs_setup NAME makes TMP (a scratch directory that fs_cleanup removes) and
# MNT (an empty directory in it), finds BIN (mount.bitgask; default
# $abs_top_builddir/src/mount.bitgask) and sets the traps.  The mount runs with -f in the background so the test holds its
# pid (MOUNT_PID); its stderr goes to $TMP/mount.err.  fs_cleanup (on every
# exit) unmounts, kills what is left of the mount process by pid, and
# removes TMP.
# Exit 77 (SKIP) only when /dev/fuse or fusermount3 is missing: fs_need_fuse.

MOUNT_PID=

fs_need_fuse() {
  if [ ! -e /dev/fuse ]; then echo "SKIP: /dev/fuse is missing"; exit 77; fi
  if ! command -v fusermount3 >/dev/null 2>&1; then echo "SKIP: fusermount3 is missing"; exit 77; fi
}

# True while pid runs (a zombie waiting for its reaper counts as exited).
fs_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  fs_state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$fs_state" ] && [ "$fs_state" != Z ]
}

fs_is_mounted() { grep -q " $MNT fuse.bitgask " /proc/mounts; }

fs_cleanup() {
  cd /
  if [ -n "$MOUNT_PID" ]; then
    fusermount3 -u "$MNT" >/dev/null 2>&1
    fs_i=0
    while fs_alive "$MOUNT_PID" && [ $fs_i -lt 50 ]; do sleep 0.1; fs_i=$((fs_i + 1)); done
    kill -9 "$MOUNT_PID" 2>/dev/null
  fi
  fs_is_mounted && fusermount3 -u -z "$MNT" >/dev/null 2>&1
  rm -rf "$TMP"
}

fs_traps() {
  trap fs_cleanup EXIT
  trap 'exit 1' INT TERM HUP PIPE
}

fs_setup() {
  BIN=${BIN:-${abs_top_builddir:?abs_top_builddir is not set}/src/mount.bitgask}
  [ -x "$BIN" ] || { echo "FAIL: $BIN is not built"; exit 1; }
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-$1.XXXXXX") || exit 1
  MNT=$TMP/mnt
  mkdir -p "$MNT"
  fs_traps
}

fs_fail() {
  echo "FAIL: $*"
  if [ -s "$TMP/mount.err" ]; then echo "mount.bitgask said:"; cat "$TMP/mount.err"; fi
  exit 1
}

# fs_mount STORE [OPTS]: mounts STORE on MNT; returns once it shows in
# /proc/mounts.
fs_mount() {
  if [ -n "${2:-}" ]; then
    "$BIN" "$1" "$MNT" -f -o "$2" 2>>"$TMP/mount.err" &
  else
    "$BIN" "$1" "$MNT" -f 2>>"$TMP/mount.err" &
  fi
  MOUNT_PID=$!
  fs_i=0
  until fs_is_mounted; do
    fs_alive "$MOUNT_PID" || fs_fail "mount.bitgask $1 exited before mounting"
    fs_i=$((fs_i + 1)); [ $fs_i -gt 100 ] && fs_fail "mount did not show in /proc/mounts within 10 s"
    sleep 0.1
  done
}

# Clean unmount: the mount process must exit 0.
fs_unmount() {
  fusermount3 -u "$MNT" || fs_fail "fusermount3 -u"
  wait "$MOUNT_PID"
  fs_rc=$?
  MOUNT_PID=
  [ $fs_rc -eq 0 ] || fs_fail "mount.bitgask exited $fs_rc after unmount"
  fs_is_mounted && fs_fail "still in /proc/mounts after unmount"
  return 0
}

# SIGKILL of the mount process, then a lazy unmount of the dead mount.
fs_kill_mount() {
  kill -9 "$MOUNT_PID" || fs_fail "kill -9 $MOUNT_PID"
  wait "$MOUNT_PID" 2>/dev/null
  MOUNT_PID=
  fusermount3 -u -z "$MNT" || fs_fail "fusermount3 -u -z of the dead mount"
  fs_is_mounted && fs_fail "dead mount still in /proc/mounts"
  return 0
}
