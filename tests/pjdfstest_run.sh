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

LOG=${PJDFSTEST_LOG:-$PWD/pjdfstest.log}
abs_top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
abs_top_builddir=${abs_top_builddir:-$abs_top_srcdir/build}
. "$abs_top_srcdir/tests/fs_lib.sh"
mount_store_fg -o "allow_other,default_permissions${PJDFSTEST_MOUNT_OPTS:+,$PJDFSTEST_MOUNT_OPTS}"

echo "pjdfstest from $PJD on $MNT (full output: $LOG)"
start=$(date +%s)
(cd "$MNT" && prove -r -v "$PJD/tests") >"$LOG" 2>&1
echo "prove ran $(( $(date +%s) - start )) s"
cd /

# Per family (the tests/ subdirectory): subtests passed / run, and the
# first failed ones with pjdfstest's own message.
awk -v tests="$PJD/tests/" '
  index($0, tests) == 1 {
    f = substr($1, length(tests) + 1); split(f, parts, "/"); fam = parts[1]; next
  }
  # As in TAP, "not ok ... # TODO" (a failure pjdfstest expects on this
  # system) is not a failure.
  fam != "" && (/^ok / || /^not ok .*# TODO/) { ok[fam]++; total_ok++; next }
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
unmount_store
exit $rc
