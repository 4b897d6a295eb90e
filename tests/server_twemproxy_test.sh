#!/bin/bash
# Sharding: three bitgaskd behind twemproxy (nutcracker) on loopback. Keys
# set through the proxy are spread over the backends and all readable
# through the proxy.
. "${srcdir:-.}/server_test_lib.sh"
command -v nutcracker >/dev/null || fail "nutcracker is missing (packaging/install-deps.sh)"

backends=()
for i in 1 2 3; do
  start_server "shard$i"
  backends+=("$PORT")
done

# A free port for the proxy: nothing answers there, and nutcracker must come
# up on it, and on the next one for its statistics (retried a few times in case someone takes it meanwhile).
proxy_up=""
for attempt in 1 2 3 4 5; do
  pport=$(random_port)  # the proxy; pport+1 its stats
  (exec 3<>"/dev/tcp/127.0.0.1/$pport") 2>/dev/null && continue
  (exec 3<>"/dev/tcp/127.0.0.1/$((pport + 1))") 2>/dev/null && continue
  cat >"$SCRATCH/nutcracker.yml" <<CONF
bitgask:
  listen: 127.0.0.1:$pport
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  servers:
   - 127.0.0.1:${backends[0]}:1 shard1
   - 127.0.0.1:${backends[1]}:1 shard2
   - 127.0.0.1:${backends[2]}:1 shard3
CONF
  nutcracker -t -c "$SCRATCH/nutcracker.yml" >/dev/null 2>&1 || fail "nutcracker rejects the config"
  nutcracker -c "$SCRATCH/nutcracker.yml" -o "$SCRATCH/nutcracker.log" \
    -s "$((pport + 1))" -a 127.0.0.1 -p "$SCRATCH/nutcracker.pid" &
  npid=$!
  PIDS+=("$npid")
  for i in $(seq 50); do
    if redis-cli -p "$pport" ping >/dev/null 2>&1; then proxy_up=1; break; fi
    kill -0 "$npid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$proxy_up" ] && break
  kill -9 "$npid" 2>/dev/null
done
[ -n "$proxy_up" ] || fail "nutcracker did not come up"

PORT=$pport
for i in $(seq 300); do
  expect OK set "user:$i" "value-$i"
done
# Every key readable through the proxy (MGET is split over the shards).
for i in 1 150 300; do expect "value-$i" get "user:$i"; done
got=$(cli mget user:1 user:2 user:3 user:299 | tr '\n' ' ')
[ "$got" = "value-1 value-2 value-3 value-299 " ] || fail "mget through the proxy: [$got]"
missing=0
for i in $(seq 300); do
  [ "$(cli get "user:$i")" = "value-$i" ] || missing=$((missing + 1))
done
[ "$missing" -eq 0 ] || fail "$missing keys unreadable through the proxy"

# Spread: each backend holds some keys, none holds a key twice, total 300.
total=0
for p in "${backends[@]}"; do
  n=$(redis-cli -p "$p" dbsize)
  [ "$n" -gt 0 ] || fail "backend $p holds no keys"
  [ "$n" -lt 300 ] || fail "backend $p holds every key"
  total=$((total + n))
done
[ "$total" -eq 300 ] || fail "backends hold $total keys, want 300"
echo "keys per backend: $(for p in "${backends[@]}"; do redis-cli -p "$p" dbsize; done | tr '\n' ' ')"
echo PASS
