#!/bin/bash
# bitgaskd under hostile input: random bytes, half frames then a close, huge
# declared lengths, odd inline commands and 300 idle connections at once.
# Meanwhile another client writes and reads back its keys and must get every
# answer right; the server's resident memory must stay bounded; it must answer
# afterwards and its store must hold what that client wrote. About 15 s.
. "${srcdir:-.}/server_test_lib.sh"

IDLE=300
# The 300 idle sockets need descriptors in this shell.
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((IDLE + 64)) ] ||
  ulimit -n $((IDLE + 64)) 2>/dev/null || fail "ulimit -n $(ulimit -n): cannot open $IDLE sockets"

start_server hostile
SERVER=$PID
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER/status"; }
RSS0=$(rss_kb)

# The good client: sets and gets its keys in a loop until $SCRATCH/stop
# appears; any wrong answer is written to good.err. good.done gets the count.
good_client() {
  local i=0 v got
  while [ ! -e "$SCRATCH/stop" ]; do
    v="value-$i-$RANDOM"
    got=$(redis-cli -p "$PORT" set "good$((i % 20))" "$v" 2>&1)
    [ "$got" = OK ] || { echo "set good$((i % 20)): [$got]" >"$SCRATCH/good.err"; return; }
    got=$(redis-cli -p "$PORT" get "good$((i % 20))" 2>&1)
    [ "$got" = "$v" ] || { echo "get good$((i % 20)): [$got], want [$v]" >"$SCRATCH/good.err"; return; }
    echo "$v" >"$SCRATCH/good.$((i % 20))"
    i=$((i + 1))
  done
  echo "$i" >"$SCRATCH/good.done"
}
good_client &
GOOD=$!
PIDS+=("$GOOD")

# send COMMAND...: a new connection gets what COMMAND prints and is closed
# without reading (the server sees the bytes, then the end of the stream).
# ask NAME COMMAND...: the same, but the server's whole answer is read into
# $SCRATCH/NAME.reply until it closes (a protocol error closes; otherwise
# end with QUIT), at most 5 s. COMMAND runs in a subshell: a connection the
# server already closed (EPIPE) ends it, not the test.
send() {
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "cannot connect"
  ("$@") >&3 2>/dev/null
  exec 3<&-
}
ask() {
  local name=$1
  shift
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "$name: cannot connect"
  ("$@") >&3 2>/dev/null
  timeout 5 cat <&3 >"$SCRATCH/$name.reply" 2>/dev/null
  exec 3<&-
}
# reply_is NAME WANT: the answer (CRs removed) is exactly WANT.
reply_is() {
  local got
  got=$(tr -d '\r' <"$SCRATCH/$1.reply")
  [ "$got" = "$2" ] || fail "$1: reply [$(cat -v "$SCRATCH/$1.reply")], want [$2]"
}
QUIT='QUIT\r\n'

# Huge declared lengths are protocol errors at once; nothing is allocated.
ask huge-mbulk printf '*2000000000\r\n'
reply_is huge-mbulk "-ERR Protocol error: invalid multibulk length"
ask huge-bulk printf '*1\r\n$2000000000\r\n'
reply_is huge-bulk "-ERR Protocol error: invalid bulk length"
ask huge-bulk-later printf '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$99999999999999999999999\r\n'
reply_is huge-bulk-later "-ERR Protocol error: invalid bulk length"
ask negative-bulk printf '*1\r\n$-5\r\n'
reply_is negative-bulk "-ERR Protocol error: invalid bulk length"
ask huge-args printf '*1048577\r\n'
reply_is huge-args "-ERR Protocol error: invalid multibulk length"

# Half frames, then a close: nothing is run.
for frame in '*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$5\r\nab' '*3\r\n$3\r\nSE' '*3\r' '*3' \
  '$5\r\nhel' 'SET half "unfinished'; do
  send printf "$frame"
done
expect 0 exists half

# Odd inline commands: each gets its error or answer, in order.
ask unbalanced printf 'SET "unbalanced\r\n'
reply_is unbalanced "-ERR Protocol error: unbalanced quotes in request"
ask quote-glued printf '"a"b\r\n'
reply_is quote-glued "-ERR Protocol error: unbalanced quotes in request"
ask blank-lines printf "\r\n\r\n\n   \t \r\nPING\r\n$QUIT"
reply_is blank-lines $'+PONG\n+OK'
ask unknown printf "NOSUCHCOMMAND a b\r\n$QUIT"
grep -q "^-ERR unknown command" "$SCRATCH/unknown.reply" || fail "unknown command: $(cat -v "$SCRATCH/unknown.reply")"
ask bulk-alone printf "\$5\r\nhello\r\n$QUIT"
grep -q "^-ERR unknown command" "$SCRATCH/bulk-alone.reply" || fail "a bulk outside a request: $(cat -v "$SCRATCH/bulk-alone.reply")"
ask escapes printf 'SET "in\\x00line\\xff" "v\\"q"\r\nGET "in\\x00line\\xff"\r\nQUIT\r\n'
reply_is escapes $'+OK\n$3\nv"q\n+OK'
ask no-args printf "SET\r\n$QUIT"
reply_is no-args $'-ERR wrong number of arguments for \'set\' command\n+OK'
ask long-line sh -c "head -c 70000 /dev/zero | tr '\\0' a"
reply_is long-line "-ERR Protocol error: too big inline request"
ask long-word sh -c "printf 'GET '; head -c 70000 /dev/zero | tr '\\0' x; printf '\\r\\n'"
reply_is long-word "-ERR Protocol error: too big inline request"
ask empty-requests printf "*0\r\n*-1\r\n*1\r\n\$4\r\nPING\r\n$QUIT"
reply_is empty-requests $'+PONG\n+OK'
ask not-a-bulk printf '*1\r\n:5\r\n'
reply_is not-a-bulk "-ERR Protocol error: expected '\$', got ':'"

# Random bytes, alone and after a valid start of a request: whatever the
# server answers, it stays up and keeps serving.
for n in 1 2 3 4 5 6 7 8; do
  send head -c $((n * 20000)) /dev/urandom
done
send sh -c 'printf "*2\r\n\$3\r\nGET\r\n\$1000\r\n"; head -c 700 /dev/urandom'
alive "$SERVER" || fail "bitgaskd died of hostile input"
expect PONG ping

# 300 idle connections at once: a third of them stopped mid-request, a few
# promising a 500 MB argument or a million arguments they never send.
fds=()
for ((i = 0; i < IDLE; i++)); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || fail "idle connection $i: cannot connect"
  fds+=("$fd")
  if [ $((i % 50)) -eq 1 ]; then
    printf '*3\r\n$3\r\nSET\r\n$4\r\nbig!\r\n$500000000\r\nonly a few bytes' >&"$fd"
  elif [ $((i % 50)) -eq 2 ]; then
    printf '*1048576\r\n$4\r\nPING\r\n' >&"$fd"
  elif [ $((i % 3)) -eq 0 ]; then
    printf '*2\r\n$3\r\nGET\r\n$10\r\nhal' >&"$fd"
  fi
done
sleep 1
clients=$(cli info clients | tr -d '\r' | awk -F: '/^connected_clients:/ { print $2 }')
[ "${clients:-0}" -gt "$IDLE" ] || fail "connected_clients ${clients:-?} with $IDLE idle connections open"
expect OK set during-idle yes
expect yes get during-idle
RSS1=$(rss_kb)
for fd in "${fds[@]}"; do exec {fd}<&-; done
expect 0 exists big!

# The good client ran the whole time and never got a wrong answer.
sleep 1
touch "$SCRATCH/stop"
wait "$GOOD"
[ ! -s "$SCRATCH/good.err" ] || fail "the good client: $(cat "$SCRATCH/good.err")"
rounds=$(cat "$SCRATCH/good.done" 2>/dev/null)
[ "${rounds:-0}" -ge 10 ] || fail "the good client got only ${rounds:-0} rounds through"
echo "the good client: $rounds rounds of SET and GET, all answered right"
for f in "$SCRATCH"/good.[0-9]*; do
  k=good${f##*.}
  [ "$(cli get "$k")" = "$(cat "$f")" ] || fail "$k: $(cli get "$k"), want $(cat "$f")"
done

# Memory: the hostile clients cost at most 64 MiB of resident memory.
RSS2=$(rss_kb)
echo "VmRSS: ${RSS0} kB at start, ${RSS1} kB with $IDLE idle connections, ${RSS2} kB after"
[ $((RSS1 - RSS0)) -le 65536 ] && [ $((RSS2 - RSS0)) -le 65536 ] ||
  fail "resident memory grew from ${RSS0} kB to ${RSS1} / ${RSS2} kB"
expect PONG ping
stop_server "$SERVER"
echo PASS
