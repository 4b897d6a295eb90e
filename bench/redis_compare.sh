#!/bin/bash
# redis_compare.sh: redis-benchmark against bitgaskd and redis-server with
# matching durability, then the ratios (docs/Benchmarks.md#redis).
#
#   bench/redis_compare.sh [--bitgaskd PATH] [--requests N] [--sync-requests N]
#                          [--clients N] [--value-size B] [--keyspace N]
#
# Two durability modes, each server fresh in a temporary directory:
#   always    redis-server --appendonly yes --appendfsync always
#             bitgaskd with its defaults (sync_on_put: every acknowledged write
#             is fdatasynced; writes of one loop turn share one fdatasync)
#   everysec  redis-server --appendonly yes --appendfsync everysec
#             bitgaskd --sync-on-put=false --sync-on-delete=false --sync-interval=1s
# In each: SET (keys key:<12 digits>, 16 bytes, drawn from --keyspace), then
# GET of the same keyspace, --clients connections, no pipelining. Prints
# one line per mode and test: requests/s of each server, bitgaskd / redis.
# Servers listen on free loopback ports, are started and stopped by pid,
# and the EXIT trap stops them and removes the temporary directory however
# the script ends. Exit 1 when a server does not start or a run fails.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
BITGASKD=${BITGASKD:-$HERE/../build/src/bitgaskd}
REQUESTS=100000       # SET and GET without fsync per write, GET in both modes
SYNC_REQUESTS=20000   # SET with fsync per write (always)
CLIENTS=16
VALUE_SIZE=100
KEYSPACE=10000

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --bitgaskd) BITGASKD=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --sync-requests) SYNC_REQUESTS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --value-size) VALUE_SIZE=$2; shift 2 ;;
    --keyspace) KEYSPACE=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "redis_compare.sh: unknown argument $1" >&2; usage ;;
  esac
done
for n in "$REQUESTS" "$SYNC_REQUESTS" "$CLIENTS" "$VALUE_SIZE" "$KEYSPACE"; do
  case $n in ''|*[!0-9]*|0) echo "redis_compare.sh: '$n' is not a positive number" >&2; exit 2 ;; esac
done
for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null ||
    { echo "redis_compare.sh: $tool is missing (Debian: redis-server, redis-tools)" >&2; exit 1; }
done
[ -x "$BITGASKD" ] || { echo "redis_compare.sh: $BITGASKD is not built (--bitgaskd PATH)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-redis-compare.XXXXXX") || exit 1
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

fail() {
  echo "redis_compare.sh: $*" >&2
  for f in "$WORK"/*.log; do [ -s "$f" ] && { echo "--- $f"; tail -5 "$f"; } >&2; done
  exit 1
}

# wait_for WHAT PID COMMAND...: until COMMAND succeeds; fails when PID exits
# first or after 10 s.
wait_for() {
  local what=$1 pid=$2 i=0
  shift 2
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || return 1
    i=$((i + 1)); [ $i -gt 100 ] && fail "$what: not ready within 10 s"
    sleep 0.1
  done
}

# stop PID: SIGTERM, and the server must be gone within 10 s.
stop() {
  local pid=$1 i=0
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && fail "server $pid still running 10 s after SIGTERM"
    sleep 0.1
  done
  wait "$pid" 2>/dev/null
}

# start_bitgaskd NAME FLAGS...: sets PID and PORT (bitgaskd picks a free port).
start_bitgaskd() {
  local name=$1
  shift
  "$BITGASKD" --dir "$WORK/$name" --addr 127.0.0.1:0 --port-file "$WORK/$name.port" "$@" \
    2>>"$WORK/$name.log" &
  PID=$!
  PIDS+=("$PID")
  wait_for "bitgaskd" "$PID" test -s "$WORK/$name.port" || fail "bitgaskd did not start"
  PORT=$(cat "$WORK/$name.port")
}

# start_redis NAME FLAGS...: sets PID and PORT; tries random free ports
# until one is free (redis-server exits when its port is taken).
start_redis() {
  local name=$1 try
  shift
  mkdir -p "$WORK/$name"
  for try in 1 2 3 4 5 6 7 8; do
    PORT=$(shuf -i 20000-59999 -n 1)
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$WORK/$name" --save '' \
      --daemonize no --logfile "$WORK/$name.log" "$@" &
    PID=$!
    PIDS+=("$PID")
    if wait_for "redis-server" "$PID" redis-cli -p "$PORT" ping; then return 0; fi
  done
  fail "redis-server did not start on any of 8 ports"
}

# rps TEST: requests/s of redis-benchmark's TEST (SET or GET) on $PORT.
rps() {
  local n=$1 test=$2 out
  out=$(redis-benchmark -p "$PORT" -c "$CLIENTS" -n "$n" -d "$VALUE_SIZE" -r "$KEYSPACE" \
    -t "$test" --csv 2>"$WORK/benchmark.err") || fail "redis-benchmark $test: $(cat "$WORK/benchmark.err")"
  # --csv: a header, then "TEST","rps",...
  out=$(printf '%s\n' "$out" | awk -F'"' -v t="${test^^}" '$2 == t { print $4 }')
  case $out in
    ''|*[!0-9.]*) fail "redis-benchmark $test printed no rate" ;;
  esac
  echo "$out"
}

# measure MODE: SET then GET on the server at $PORT; appends to RESULTS.
measure() {
  local mode=$1 set_n=$REQUESTS
  [ "$mode" = always ] && set_n=$SYNC_REQUESTS
  SET_RPS=$(rps "$set_n" set) || exit 1
  GET_RPS=$(rps "$REQUESTS" get) || exit 1
}

echo "redis_compare: $CLIENTS clients, no pipelining, $VALUE_SIZE-byte values, 16-byte keys" \
  "from a keyspace of $KEYSPACE; SET $SYNC_REQUESTS requests (always) or $REQUESTS (everysec)," \
  "GET $REQUESTS; $(redis-server --version | cut -d' ' -f1-3)"
printf '%-9s %-4s %14s %14s %8s\n' mode test bitgaskd/s redis/s ratio
for mode in always everysec; do
  if [ "$mode" = always ]; then
    start_bitgaskd "bitgaskd-$mode"
  else
    start_bitgaskd "bitgaskd-$mode" --sync-on-put=false --sync-on-delete=false --sync-interval=1s
  fi
  measure "$mode"
  B_SET=$SET_RPS B_GET=$GET_RPS
  stop "$PID"
  start_redis "redis-$mode" --appendonly yes --appendfsync "$mode"
  measure "$mode"
  stop "$PID"
  for test in SET GET; do
    if [ $test = SET ]; then b=$B_SET r=$SET_RPS; else b=$B_GET r=$GET_RPS; fi
    printf '%-9s %-4s %14.0f %14.0f %8.2f\n' "$mode" "$test" "$b" "$r" \
      "$(awk -v b="$b" -v r="$r" 'BEGIN { print (r > 0 ? b / r : 0) }')"
  done
done
