# smoke_lib.sh: what the benchmarks' smoke tests share (sourced, not run;
# POSIX sh). Makes a scratch directory $TMP (removed however the test ends)
# with $TMP/tmp for the runs' own temporary files; fail MESSAGE prints the
# last run's stdout ($TMP/out) and stderr ($TMP/err) and exits 1.

set -u

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-$(basename "$0" .sh).XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
mkdir "$TMP/tmp"
: >"$TMP/out"
: >"$TMP/err"

fail() {
  echo "FAIL: $*"
  echo "--- stdout:"; cat "$TMP/out"
  echo "--- stderr:"; cat "$TMP/err"
  exit 1
}
