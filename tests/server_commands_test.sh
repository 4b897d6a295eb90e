#!/bin/bash
# bitgaskd answers: values, TTLs, Redis's error wordings, inline commands,
# redis-cli --pipe, SCAN/KEYS globs, protocol limits.
. "${srcdir:-.}/server_test_lib.sh"

start_server main --proto-max-bulk-len 1K --max-args 12 --client-query-buffer-limit 64K
expect PONG ping
expect hi echo hi
expect OK set greeting hello
expect hello get greeting
expect "" get missing
expect 1 exists greeting
expect 2 exists greeting greeting
expect string type greeting
expect none type missing
expect 5 strlen greeting
expect 8 append greeting ' w!'
expect 'hello w!' get greeting

# SET options.
expect "" set greeting x NX
expect OK set fresh 1 NX
expect "" set absent 1 XX
expect OK set fresh 2 XX
expect 2 set fresh 3 GET
expect 3 get fresh
expect "ERR syntax error" set k v NX XX
expect "ERR syntax error" set k v EX 10 PX 100
expect "ERR invalid expire time in 'set' command" set k v EX 0
expect "ERR value is not an integer or out of range" set k v EX ten
expect 1 setnx newkey a
expect 0 setnx newkey b
expect a getdel newkey
expect "" getdel newkey

# TTLs.
expect OK set t v EX 100
ttl=$(cli ttl t); [ "$ttl" -ge 99 ] && [ "$ttl" -le 100 ] || fail "ttl $ttl"
pttl=$(cli pttl t); [ "$pttl" -gt 98000 ] && [ "$pttl" -le 100000 ] || fail "pttl $pttl"
expect -1 ttl greeting
expect -2 ttl missing
expect -2 pttl missing
expect OK set t v2 KEEPTTL
ttl=$(cli ttl t); [ "$ttl" -ge 98 ] || fail "KEEPTTL lost the expiry: ttl $ttl"
expect 1 persist t
expect -1 ttl t
expect 0 persist t
expect 1 expire t 50
expect 0 expire t 60 NX
expect 1 expire t 70 GT
expect 0 expire t 10 GT
ttl=$(cli ttl t); [ "$ttl" -ge 69 ] || fail "expire GT: ttl $ttl"
expect 1 pexpire t 100000
expect 0 expire missing 10
expect OK setex s 100 v
expect OK psetex ps 100000 v
ttl=$(cli ttl s); [ "$ttl" -ge 99 ] || fail "setex ttl $ttl"
expect "ERR invalid expire time in 'setex' command" setex s -1 v
expect v getex s PERSIST
expect -1 ttl s
expect v getex s EX 30
ttl=$(cli ttl s); [ "$ttl" -ge 29 ] && [ "$ttl" -le 30 ] || fail "getex ttl $ttl"
expect OK psetex short 150 gone
expect gone get short
sleep 0.4
expect "" get short
expect -2 ttl short
expect 1 expireat s "$(( $(date +%s) + 1000 ))"
ttl=$(cli ttl s); [ "$ttl" -ge 998 ] || fail "expireat ttl $ttl"
expect 1 expire s -1            # a past expiry deletes the key
expect 0 exists s

# Counters.
expect 1 incr c
expect 11 incrby c 10
expect 10 decr c
expect 0 decrby c 10
expect "ERR value is not an integer or out of range" incr greeting
expect "ERR value is not an integer or out of range" incrby c x
expect OK set big 9223372036854775807
expect "ERR increment or decrement would overflow" incr big
expect OK set c 5 EX 100
expect 6 incr c
ttl=$(cli ttl c); [ "$ttl" -ge 98 ] || fail "INCR lost the expiry: ttl $ttl"

# Multi-key.
expect OK mset m1 a m2 b m3 c
expect $'a\nb\n\nc' mget m1 m2 nope m3
expect 0 msetnx m1 x n1 y
expect 0 exists n1
expect 1 msetnx n1 x n2 y
expect "ERR wrong number of arguments for 'mset' command" mset a
expect 2 del m1 m2 nope m1
expect 1 unlink m3
expect 0 exists m1 m2 m3

# RENAME keeps the value and the expiry.
expect OK set src v EX 100
expect OK rename src dst
expect "" get src
expect v get dst
ttl=$(cli ttl dst); [ "$ttl" -ge 98 ] || fail "RENAME lost the expiry: ttl $ttl"
expect "ERR no such key" rename nope x
expect OK rename dst dst
expect v get dst

# KEYS and SCAN with globs.
expect OK flushdb
expect 0 dbsize
expect OK mset user:1 a user:2 b user:10 c admin:1 d 'h[x]llo' e
expect 5 dbsize
expect $'user:1\nuser:10\nuser:2' keys 'user:*'
expect $'user:1\nuser:2' keys 'user:?'
expect $'admin:1\nuser:1' keys '*:1'
expect 'h[x]llo' keys 'h\[x\]llo'
# scan_all PATTERN COUNT: every key a full SCAN iteration returns, sorted.
scan_all() {
  local cursor=0 out
  while :; do
    out=$(cli scan "$cursor" MATCH "$1" COUNT "$2") || fail "scan"
    cursor=$(head -1 <<<"$out")
    tail -n +2 <<<"$out"
    [ "$cursor" = 0 ] && break
  done | sed '/^$/d' | sort | tr '\n' ' '
}
[ "$(scan_all 'user:*' 1)" = "user:1 user:10 user:2 " ] || fail "scan user:* gave [$(scan_all 'user:*' 1)]"
[ "$(scan_all '*' 2)" = "admin:1 h[x]llo user:1 user:10 user:2 " ] || fail "scan * gave [$(scan_all '*' 2)]"
[ "$(redis-cli -p "$PORT" --scan --pattern '*:1' | sort | tr '\n' ' ')" = "admin:1 user:1 " ] ||
  fail "redis-cli --scan"
expect "ERR invalid cursor" scan 987654321

# Errors in Redis's words.
expect "ERR unknown command 'foo', with args beginning with: 'a' 'b' " foo a b
expect "ERR wrong number of arguments for 'get' command" get
expect "ERR wrong number of arguments for 'get' command" get a b
expect "ERR DB index is out of range" select 1
expect OK select 0
expect "NOPROTO unsupported protocol version" hello 3
expect "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?" auth x

# Server commands that tools use.
expect save config get save
expect $'maxclients\n10000' config get maxclients
cli info | grep -q '^connected_clients:1' || fail "INFO clients"
cli info keyspace | grep -q '^db0:keys=5' || fail "INFO keyspace: $(cli info keyspace)"
digest1=$(cli debug digest)
expect OK set tmp 1
expect 1 del tmp
[ "$(cli debug digest)" = "$digest1" ] || fail "DEBUG DIGEST changed for equal contents"
expect OK save
expect "Background append only file rewriting started" bgrewriteaof

# Inline commands and pipelining over a raw socket.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'PING\r\nSET "in line" "a b"\r\nGET "in line"\r\n*1\r\n$4\r\nPING\r\n' >&3
for want in '+PONG' '+OK' '$3' 'a b' '+PONG'; do
  IFS= read -r -t 5 line <&3 || fail "no reply to inline commands"
  [ "${line%$'\r'}" = "$want" ] || fail "inline: want [$want] got [${line%$'\r'}]"
done
exec 3<&-

# redis-cli --pipe: 1000 SETs in RESP.
for i in $(seq 1000); do printf 'SET pipe:%d %d\r\n' "$i" "$i"; done | cli --pipe >"$SCRATCH/pipe.out" 2>&1
grep -q 'errors: 0, replies: 1000' "$SCRATCH/pipe.out" || fail "pipe: $(cat "$SCRATCH/pipe.out")"
expect 777 get pipe:777

# Limits: each answered with an error, and the server lives on.
reply=$(head -c 2000 /dev/zero | tr '\0' x | cli -x set toolong 2>&1)
[ "$reply" = "ERR Protocol error: invalid bulk length" ] || fail "bulk limit: [$reply]"
expect "ERR Protocol error: invalid multibulk length" mset a 1 b 2 c 3 d 4 e 5 f 6
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
head -c 70000 /dev/zero | tr '\0' a >&3  # an inline line that never ends
IFS= read -r -t 5 line <&3 || fail "no reply to an endless inline line"
[ "${line%$'\r'}" = "-ERR Protocol error: too big inline request" ] || fail "inline limit: [$line]"
exec 3<&-
expect PONG ping
expect 777 get pipe:777
echo PASS
