#!/bin/sh
# pjdfstest_run.sh: runs pjdfstest, the public POSIX filesystem test suite,
# inside a fresh bitgask mount and prints a summary per test family.
#
#   tests/pjdfstest_run.sh [PJDFSTEST_DIR]      (as root)
#
# PJDFSTEST_DIR (the argument or the environment variable) is a built
# pjdfstest checkout (autoreconf -ifs && ./configure && make there); it is not
# part of this project and is never committed.  MOUNT_BITGASK names the
# mount.bitgask to test (default: build/src/mount.bitgask beside this
# script's tree); PJDFSTEST_MOUNT_OPTS adds mount options.  The store is
# mounted with -o allow_other,default_permissions (the kernel checks
# permissions, as pjdfstest expects), `prove -r -v` runs every test with the
# mount as the working directory, and the mount is always unmounted at the
# end.  The full TAP output stays in $PJDFSTEST_LOG (default
# ./pjdfstest.log).  Not part of `make check`: it needs root and the external
# suite, and takes minutes.  Exit status: 0 when every subtest passed, 1
# otherwise.

set -u

PJD=${1:-${PJDFSTEST_DIR:-}}
[ -n "$PJD" ] || { echo "usage: $0 PJDFSTEST_DIR (or set PJDFSTEST_DIR)"; exit 2; }
PJD=$(cd "$PJD" && pwd) || exit 2
[ -x "$PJD/pjdfstest" ] || { echo "$PJD/pjdfstest is not built (autoreconf -ifs && ./configure && make)"; exit 2; }
command -v prove >/dev/null 2>&1 || { echo "prove is missing (Debian package perl)"; exit 2; }
[ "$(id -u)" = 0 ] || { echo "pjdfstest needs root"; exit 2; }

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${MOUNT_BITGASK:-$HERE/../build/src/mount.bitgask}
[ -x "$BIN" ] || { echo "$BIN is not built"; exit 2; }
LOG=${PJDFSTEST_LOG:-$PWD/pjdfstest.log}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-pjdfstest.XXXXXX") || exit 1
MNT=$TMP/mnt
mkdir -p "$MNT"
MOUNT_PID=

alive() {
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$state" ] && [ "$state" != Z ]
}

is_mounted() { grep -q " $MNT fuse.bitgask " /proc/mounts; }

cleanup() {
  cd /
  if [ -n "$MOUNT_PID" ]; then
    fusermount3 -u "$MNT" >/dev/null 2>&1 || fusermount3 -u -z "$MNT" >/dev/null 2>&1
    i=0
    while alive "$MOUNT_PID" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$MOUNT_PID" 2>/dev/null
  fi
  is_mounted && fusermount3 -u -z "$MNT" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

"$BIN" "$TMP/store" "$MNT" -f -o "allow_other,default_permissions${PJDFSTEST_MOUNT_OPTS:+,$PJDFSTEST_MOUNT_OPTS}" \
  2>"$TMP/mount.err" &
MOUNT_PID=$!
i=0
until is_mounted; do
  alive "$MOUNT_PID" || { cat "$TMP/mount.err"; echo "mount.bitgask exited before mounting"; exit 1; }
  i=$((i + 1)); [ $i -gt 100 ] && { echo "mount did not show in /proc/mounts within 10 s"; exit 1; }
  sleep 0.1
done

echo "pjdfstest from $PJD on $MNT (full output: $LOG)"
start=$(date +%s)
(cd "$MNT" && prove -r -v "$PJD/tests") >"$LOG" 2>&1
echo "prove ran $(( $(date +%s) - start )) s"

# Per family (the tests/ subdirectory): subtests passed / run, and the
# failed ones with pjdfstest's own message.
awk -v tests="$PJD/tests/" '
  index($0, tests) == 1 {
    f = substr($1, length(tests) + 1); split(f, parts, "/"); fam = parts[1]; next
  }
  fam != "" && /^ok / { ok[fam]++; total_ok++; next }
  fam != "" && /^not ok / {
    bad[fam]++; total_bad++
    if (nshown[fam]++ < 8) shown[fam] = shown[fam] "    " f ": " $0 "\n"
    next
  }
  END {
    printf "%-18s %8s %8s\n", "family", "passed", "run"
    n = 0
    for (k in ok) fams[k] = 1
    for (k in bad) fams[k] = 1
    for (k in fams) names[++n] = k
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (names[j] < names[i]) { t = names[i]; names[i] = names[j]; names[j] = t }
    for (i = 1; i <= n; i++) { k = names[i]; printf "%-18s %8d %8d\n", k, ok[k], ok[k] + bad[k] }
    all = total_ok + total_bad
    printf "%-18s %8d %8d  (%.1f%% passed)\n", "total", total_ok, all, all ? 100 * total_ok / all : 0
    for (i = 1; i <= n; i++) {
      k = names[i]
      if (bad[k] > 0) printf "failures in %s (%d, first %d):\n%s", k, bad[k], nshown[k] < 8 ? nshown[k] : 8, shown[k]
    }
    exit total_bad > 0 || all == 0
  }' "$LOG"
rc=$?
tail -n 3 "$LOG"
exit $rc
