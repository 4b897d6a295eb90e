#!/bin/bash
# bitgaskd safety: protected mode, AUTH, maxclients, query buffer limit, idle
# timeout, and a clean shutdown on SIGTERM with the data there on restart.
. "${srcdir:-.}/server_test_lib.sh"

# Protected mode: a non-loopback address without a password is refused
# before the store is touched.
out=$("$BITGASKD" --dir "$SCRATCH/refused" --addr 0.0.0.0:0 2>&1)
rc=$?
[ "$rc" -eq 1 ] || fail "protected mode: exit $rc, want 1"
grep -q "protected mode" <<<"$out" || fail "protected mode message: $out"
[ ! -e "$SCRATCH/refused" ] || fail "protected mode: the store was created anyway"
out=$("$BITGASKD" --dir "$SCRATCH/bad" --addr nonsense 2>&1)
[ $? -eq 1 ] && grep -q "bad address" <<<"$out" || fail "bad address: $out"
out=$("$BITGASKD" --dir "$SCRATCH/bad" --sync-on-put=maybe 2>&1)
[ $? -eq 1 ] && grep -q "sync-on-put" <<<"$out" || fail "bad engine option: $out"

# --requirepass-file: refused when every user may read it, empty, or given
# with --requirepass; the password then is not on the command line.
printf 's3cret\n' >"$SCRATCH/pass"
chmod 644 "$SCRATCH/pass"
out=$("$BITGASKD" --dir "$SCRATCH/bad" --requirepass-file "$SCRATCH/pass" 2>&1)
[ $? -eq 1 ] && grep -q "every user may read it (chmod o-r it)" <<<"$out" ||
  fail "world-readable password file: $out"
chmod 600 "$SCRATCH/pass"
: >"$SCRATCH/empty-pass"
chmod 600 "$SCRATCH/empty-pass"
out=$("$BITGASKD" --dir "$SCRATCH/bad" --requirepass-file "$SCRATCH/empty-pass" 2>&1)
[ $? -eq 1 ] && grep -q "the password is empty" <<<"$out" || fail "empty password file: $out"
out=$("$BITGASKD" --dir "$SCRATCH/bad" --requirepass-file "$SCRATCH/none" 2>&1)
[ $? -eq 1 ] && grep -q "No such file or directory" <<<"$out" || fail "missing password file: $out"
out=$("$BITGASKD" --dir "$SCRATCH/bad" --requirepass x --requirepass-file "$SCRATCH/pass" 2>&1)
[ $? -ne 0 ] && grep -q "excludes" <<<"$out" || fail "both password flags: $out"
[ ! -e "$SCRATCH/bad" ] || fail "a refused start created the store"

# AUTH (the password from the file).
start_server auth --requirepass-file "$SCRATCH/pass" --maxclients 3 --timeout 2 \
  --client-query-buffer-limit 2K
ps -o args= -p "$PID" | grep -q s3cret && fail "ps shows the password"
expect "NOAUTH Authentication required." get k
expect "NOAUTH Authentication required." set k v
expect "WRONGPASS invalid username-password pair or user is disabled." auth wrong
expect PONG -a s3cret --no-auth-warning ping
expect OK -a s3cret --no-auth-warning set k v
expect v -a s3cret --no-auth-warning get k
hello=$(cli hello 2 AUTH default s3cret | head -2 | tr '\n' ' ')
[ "$hello" = "server redis " ] || fail "HELLO AUTH: [$hello]"

# maxclients 3: the fourth connection is told and closed.
exec 4<>"/dev/tcp/127.0.0.1/$PORT" 5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT"
sleep 0.2
exec 7<>"/dev/tcp/127.0.0.1/$PORT"
IFS= read -r -t 5 line <&7 || fail "maxclients: no reply"
[ "${line%$'\r'}" = "-ERR max number of clients reached" ] || fail "maxclients: [$line]"
exec 4<&- 5<&- 6<&- 7<&-
sleep 0.2

# Query buffer limit (2 KiB): a request that grows past it is refused.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
{ printf 'AUTH s3cret\r\n*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$100000\r\n'; head -c 5000 /dev/zero; } >&3
IFS= read -r -t 5 line <&3; [ "${line%$'\r'}" = "+OK" ] || fail "auth on raw socket: [$line]"
IFS= read -r -t 5 line <&3 || fail "query buffer: no reply"
[[ "$line" == "-ERR query buffer limit of 2048 bytes reached"* ]] || fail "query buffer: [$line]"
exec 3<&-

# Idle timeout (2 s): an idle connection is closed by the server.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
sleep 4
printf 'PING\r\n' >&3 2>/dev/null
if IFS= read -r -t 2 line <&3; then fail "idle client was not closed: [$line]"; fi
exec 3<&-
expect PONG -a s3cret --no-auth-warning ping
stop_server "$PID"

# Clean shutdown: SIGTERM while clients write, exit 0, every acknowledged
# write there after a restart on the same store.
start_server durable
redis-benchmark -p "$PORT" -c 4 -n 20000 -q incr counter >/dev/null 2>&1 &
bench=$!
PIDS+=("$bench")
sleep 0.5
acked=$(cli get counter)
stop_server "$PID"
wait "$bench" 2>/dev/null
start_server durable
final=$(cli get counter)
[ -n "$final" ] && [ "$final" -ge "${acked:-0}" ] || fail "after restart counter=$final, acked $acked"
expect OK set after restart
stop_server "$PID"
grep -q "store synced and closed" "$SCRATCH/durable.log" || fail "no clean-close message"
echo PASS
