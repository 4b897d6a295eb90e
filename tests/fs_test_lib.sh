# fs_test_lib.sh: shared by the real-mount shell tests; source it with
#   . "$abs_top_srcdir/tests/fs_test_lib.sh"
# It skips (exit 77) only when /dev/fuse or fusermount3 is missing, makes
# TMP (with STORE and MNT in it), and on any exit unmounts, stops the mount
# process (kill -9 after 5 s) and removes TMP.
#
# mount_store [-o OPTS]   mounts STORE on MNT, waits for /proc/mounts
# unmount_store           fusermount3 -u, waits for the process to exit
# daemon_pid              the mount process of STORE on MNT
# fail MSG, check MSG, expect_eq WHAT ACTUAL EXPECTED

if [ ! -e /dev/fuse ]; then echo "SKIP: /dev/fuse is missing"; exit 77; fi
if ! command -v fusermount3 >/dev/null 2>&1; then echo "SKIP: fusermount3 is missing"; exit 77; fi

BUILD=${abs_top_builddir:?abs_top_builddir is not set}
BIN=$BUILD/src/mount.bitgask
[ -x "$BIN" ] || { echo "FAIL: $BIN is not built"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-fs-test.XXXXXX") || exit 1
STORE=$TMP/store
MNT=$TMP/mnt
mkdir -p "$MNT"

daemon_pid() {
  pgrep -f "mount.bitgask $STORE $MNT" 2>/dev/null | head -n 1
}

# True while pid runs (a zombie waiting for its reaper counts as exited).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$state" ] && [ "$state" != Z ]
}

fs_test_cleanup() {
  pid=$(daemon_pid)
  fusermount3 -u "$MNT" >/dev/null 2>&1 || fusermount3 -u -z "$MNT" >/dev/null 2>&1
  if [ -n "$pid" ]; then
    i=0
    while alive "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap fs_test_cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; exit 1; }
check() { echo "check: $*"; }
expect_eq() {
  [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

is_mounted() { grep -q " $MNT fuse.bitgask " /proc/mounts; }

mount_store() {
  "$BIN" "$STORE" "$MNT" "$@" || fail "mount.bitgask $STORE $MNT $* exited $?"
  i=0
  until is_mounted; do
    i=$((i + 1)); [ $i -gt 50 ] && fail "mount did not show in /proc/mounts within 5 s"
    sleep 0.1
  done
}

unmount_store() {
  pid=$(daemon_pid)
  [ -n "$pid" ] || fail "no mount.bitgask process found"
  fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
  i=0
  while alive "$pid"; do
    i=$((i + 1)); [ $i -gt 100 ] && fail "mount.bitgask (pid $pid) still running 10 s after unmount"
    sleep 0.1
  done
  is_mounted && fail "still in /proc/mounts after unmount"
  return 0
}
