# fs_lib.sh: helpers shared by the mount tests (tests/fs_*_test.sh source it).
#
# Sourcing it skips the test (exit 77) when /dev/fuse or fusermount3 is
# missing, finds the built mount.bitgask ($BIN), makes a temporary directory
# ($TMP) with $STORE and $MNT (BUILD is the build tree), and installs a trap that unmounts, stops the
# daemon and removes $TMP however the test ends.

if [ ! -e /dev/fuse ]; then echo "SKIP: /dev/fuse is missing"; exit 77; fi
if ! command -v fusermount3 >/dev/null 2>&1; then echo "SKIP: fusermount3 is missing"; exit 77; fi

BUILD=${abs_top_builddir:?abs_top_builddir is not set}
BIN=$BUILD/src/mount.bitgask
[ -x "$BIN" ] || { echo "FAIL: $BIN is not built"; exit 1; }

LC_ALL=C; export LC_ALL  # byte order in ls, plain error messages
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-fs-test.XXXXXX") || exit 1
STORE=$TMP/store
MNT=$TMP/mnt
mkdir -p "$MNT"

daemon_pid() {
  # The mount process: the one whose command line names our store and mountpoint.
  pgrep -f "mount\.(fuse\.)?bitgask $STORE $MNT" 2>/dev/null | head -n 1
}

# True while pid runs (a zombie waiting for its reaper counts as exited).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$state" ] && [ "$state" != Z ]
}

cleanup() {
  pid=$(daemon_pid)
  fusermount3 -u "$MNT" >/dev/null 2>&1 || fusermount3 -u -z "$MNT" >/dev/null 2>&1
  if [ -n "$pid" ]; then
    i=0
    while alive "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; exit 1; }
check() { echo "check: $*"; }

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
  [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# expect_fail WHAT ERRNO-TEXT COMMAND...: the command fails and says ERRNO-TEXT.
expect_fail() {
  what=$1; text=$2; shift 2
  out=$("$@" 2>&1) && fail "$what: succeeded, expected '$text'"
  case $out in
    *"$text"*) ;;
    *) fail "$what: expected '$text', got: $out" ;;
  esac
}

is_mounted() { grep -q " $MNT fuse.bitgask " /proc/mounts; }

wait_mounted() {
  i=0
  until is_mounted; do
    i=$((i + 1)); [ $i -gt 50 ] && fail "mount did not show in /proc/mounts within 5 s"
    sleep 0.1
  done
}

# mount_store [-o OPTIONS]
mount_store() {
  "$BIN" "$STORE" "$MNT" "$@" || fail "mount.bitgask $STORE $MNT $* exited $?"
  wait_mounted
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
