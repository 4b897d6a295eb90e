# fs_lib.sh: helpers shared by the mount tests (tests/fs_*_test.sh and
# pjdfstest_run.sh source it).
#
# Sourcing it skips the test (exit 77) when /dev/fuse or fusermount3 is
# missing, finds the built mount.bitgask ($BIN: $MOUNT_BITGASK if set, else
# $abs_top_builddir/src/mount.bitgask; BUILD is the build tree), makes a
# temporary directory ($TMP) with $STORE and $MNT, and installs a trap that
# unmounts, stops the mount process and removes $TMP however the test ends.
#
# Two ways to mount $STORE on $MNT:
#   mount_store [ARGS...]     mount.bitgask goes to the background itself;
#                             the tests find it by its command line.
#   mount_store_fg [ARGS...]  runs it with -f in the background of this
#                             shell: the test holds its pid (MOUNT_PID), can
#                             kill_mount it, and unmount_store requires its
#                             exit status 0; its stderr goes to $TMP/mount.err.
# A test that runs its own process in the mount (it may hold files open
# there) sets WORKER_PID while it runs: cleanup kills it first.

if [ ! -e /dev/fuse ]; then echo "SKIP: /dev/fuse is missing"; exit 77; fi
if ! command -v fusermount3 >/dev/null 2>&1; then echo "SKIP: fusermount3 is missing"; exit 77; fi

. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/test_lib.sh"

BUILD=${abs_top_builddir:?abs_top_builddir is not set}
BIN=${MOUNT_BITGASK:-$BUILD/src/mount.bitgask}
[ -x "$BIN" ] || { echo "FAIL: $BIN is not built"; exit 1; }

LC_ALL=C; export LC_ALL  # byte order in ls, plain error messages
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-$(basename "$0" .sh).XXXXXX") || exit 1
STORE=$TMP/store
MNT=$TMP/mnt
mkdir -p "$MNT"
MOUNT_PID=
WORKER_PID=

# The mount process of mount_store: the one whose command line names our
# store and mountpoint.
daemon_pid() {
  pgrep -f "mount\.(fuse\.)?bitgask $STORE $MNT" 2>/dev/null | head -n 1
}

is_mounted() { grep -q " $MNT fuse.bitgask " /proc/mounts; }

cleanup() {
  cd /
  [ -n "$WORKER_PID" ] && kill -9 "$WORKER_PID" 2>/dev/null
  pid=${MOUNT_PID:-$(daemon_pid)}
  fusermount3 -u "$MNT" >/dev/null 2>&1
  if [ -n "$pid" ]; then
    i=0
    while alive "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null
  fi
  is_mounted && fusermount3 -u -z "$MNT" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap_cleanup

fail() {
  echo "FAIL: $*"
  if [ -s "$TMP/mount.err" ]; then echo "mount.bitgask said:"; cat "$TMP/mount.err"; fi
  exit 1
}
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

# wait_mounted: returns once $MNT shows in /proc/mounts (mount process alive).
wait_mounted() {
  wait_until "the mount of $STORE in /proc/mounts" "${MOUNT_PID:-$(daemon_pid)}" is_mounted
}

# mount_store [ARGS...], e.g. mount_store -o sync_on_put=false
mount_store() {
  "$BIN" "$STORE" "$MNT" "$@" || fail "mount.bitgask $STORE $MNT $* exited $?"
  wait_mounted
}

# mount_store_fg [ARGS...]: as mount_store, with -f in the background; sets
# MOUNT_PID.
mount_store_fg() {
  "$BIN" "$STORE" "$MNT" -f "$@" 2>>"$TMP/mount.err" &
  MOUNT_PID=$!
  wait_mounted
}

# unmount_store: fusermount3 -u; the mount process must exit (with status 0
# when mount_store_fg started it).
unmount_store() {
  if [ -n "$MOUNT_PID" ]; then
    fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
    wait "$MOUNT_PID"
    rc=$?
    MOUNT_PID=
    [ $rc -eq 0 ] || fail "mount.bitgask exited $rc after unmount"
  else
    pid=$(daemon_pid)
    [ -n "$pid" ] || fail "no mount.bitgask process found"
    fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
    wait_exit "mount.bitgask after unmount" "$pid"
  fi
  is_mounted && fail "still in /proc/mounts after unmount"
  return 0
}

# kill_mount: SIGKILL of the mount_store_fg process, then a lazy unmount of
# the dead mount.
kill_mount() {
  kill -9 "$MOUNT_PID" || fail "kill -9 $MOUNT_PID"
  wait "$MOUNT_PID" 2>/dev/null
  MOUNT_PID=
  fusermount3 -u -z "$MNT" || fail "fusermount3 -u -z of the dead mount"
  is_mounted && fail "dead mount still in /proc/mounts"
  return 0
}
