# Helpers for the bitgaskd integration tests (sourced, not run).
#
# Every daemon a test starts is recorded in PIDS and killed by the EXIT trap,
# whether the test passes or fails; the scratch directory goes with it.
set -u
. "${srcdir:-.}/test_lib.sh"

BITGASKD="${abs_top_builddir:-..}/src/bitgaskd"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/bitgaskd-test.XXXXXX")
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$SCRATCH"
}
trap_cleanup

fail() {
  echo "FAIL: $*" >&2
  for f in "$SCRATCH"/*.log; do
    [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; } >&2
  done
  exit 1
}

for tool in redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null || fail "$tool is missing: install redis-tools (packaging/install-deps.sh)"
done
[ -x "$BITGASKD" ] || fail "$BITGASKD is not built"

# start_server NAME [flags...]: starts bitgaskd on a free loopback port with
# the store $SCRATCH/NAME; sets PID and PORT. Fails if it is not listening
# within 10 s.
start_server() {
  local name=$1
  shift
  rm -f "$SCRATCH/$name.port"
  "$BITGASKD" --dir "$SCRATCH/$name" --addr 127.0.0.1:0 --port-file "$SCRATCH/$name.port" \
    "$@" 2>>"$SCRATCH/$name.log" &
  PID=$!
  PIDS+=("$PID")
  wait_until "bitgaskd $name listening" "$PID" test -s "$SCRATCH/$name.port"
  PORT=$(cat "$SCRATCH/$name.port")
}

# stop_server PID: SIGTERM, then requires exit status 0 within 10 s.
stop_server() {
  local pid=$1
  kill -TERM "$pid" || fail "bitgaskd $pid is not running"
  wait_exit "bitgaskd on SIGTERM" "$pid"
  wait "$pid"
  local rc=$?
  [ "$rc" -eq 0 ] || fail "bitgaskd $pid exited $rc on SIGTERM"
}

# cli ARGS...: redis-cli against $PORT (raw output: nil is an empty line).
cli() { redis-cli -p "$PORT" "$@"; }

# expect WANT ARGS...: runs cli ARGS and compares its whole output with WANT.
expect() {
  local want=$1 got
  shift
  got=$(cli "$@" 2>&1)
  [ "$got" = "$want" ] || fail "redis-cli $*: want [$want], got [$got]"
}
