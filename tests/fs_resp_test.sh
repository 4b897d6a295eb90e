#!/bin/sh
# mount.bitgask -o resp=ADDR: the mount's own process serves the Redis
# protocol; a key set over RESP is a file in the mount at once (even one the
# kernel had cached), and a file written in the mount is a key at once.
set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
command -v redis-cli >/dev/null 2>&1 || fail "redis-cli is missing (package redis-tools)"

# The password comes from a file (resp_requirepass_file), so that neither
# ps nor /proc/mounts shows it.
PASS=pw-$$-fs-resp
printf '%s\n' "$PASS" >"$TMP/pass"
chmod 604 "$TMP/pass"
"$BIN" "$STORE" "$MNT" -o "resp=127.0.0.1:1,resp_requirepass_file=$TMP/pass" 2>"$TMP/err" &&
  fail "mounted with a password file every user may read"
grep -q "resp_requirepass_file: password file .*every user may read it" "$TMP/err" ||
  fail "no reason given for the readable password file: $(cat "$TMP/err")"
chmod 600 "$TMP/pass"
"$BIN" "$STORE" "$MNT" -o "resp=127.0.0.1:1,resp_requirepass=x,resp_requirepass_file=$TMP/pass" \
  2>"$TMP/err" && fail "mounted with two passwords"
grep -q "exclude each other" "$TMP/err" || fail "two passwords: $(cat "$TMP/err")"
cli() { redis-cli -h 127.0.0.1 -p "$PORT" --no-auth-warning -a "$PASS" "$@"; }

# A free loopback port: try a few random ones.
mounted=no
for _ in 1 2 3 4 5; do
  PORT=$(random_port)
  if "$BIN" "$STORE" "$MNT" -o "resp=127.0.0.1:$PORT,resp_requirepass_file=$TMP/pass" 2>"$TMP/err"; then
    wait_mounted
    mounted=yes
    break
  fi
  grep -q "cannot serve RESP" "$TMP/err" || fail "mount failed: $(cat "$TMP/err")"
done
[ $mounted = yes ] || fail "no free port found: $(cat "$TMP/err")"
expect_eq "PING" "$(cli PING)" "PONG"
expect_eq "PING without AUTH" "$(redis-cli -h 127.0.0.1 -p "$PORT" PING)" \
  "NOAUTH Authentication required."
grep -q "$PASS" /proc/mounts && fail "/proc/mounts shows the password"
ps -eo args | grep -v grep | grep -q "$PASS" && fail "ps shows the password"

check "a file written in the mount is a key at once"
echo hello > "$MNT/greeting" || fail "write greeting"
expect_eq "GET greeting" "$(cli GET greeting)" "hello"
mkdir -p "$MNT/notes" && printf 'old' > "$MNT/notes/today" || fail "write notes/today"

check "a key set over RESP replaces a file the kernel has cached"
expect_eq "cat before" "$(cat "$MNT/notes/today")" "old"
stat "$MNT/notes/today" >/dev/null || fail "stat"
expect_eq "SET" "$(cli SET notes/today 'new and longer')" "OK"
expect_eq "cat after SET" "$(cat "$MNT/notes/today")" "new and longer"
expect_eq "size after SET" "$(stat -c %s "$MNT/notes/today")" 14

check "a key created over RESP appears in listings and as a path"
expect_eq "SET" "$(cli SET fresh/dir/key value)" "OK"
expect_eq "cat fresh/dir/key" "$(cat "$MNT/fresh/dir/key")" "value"
ls "$MNT/fresh/dir" | grep -qx key || fail "ls fresh/dir"

check "a key deleted over RESP is gone from the mount"
expect_eq "DEL" "$(cli DEL greeting)" "1"
[ ! -e "$MNT/greeting" ] || fail "greeting still there after DEL"
ls "$MNT" | grep -qx greeting && fail "greeting still listed"

check "EXPIRE over RESP shows as the TTL attribute"
expect_eq "EXPIRE" "$(cli EXPIRE notes/today 100)" "1"
ttl=$(getfattr --absolute-names --only-values -n user.bitgask.ttl "$MNT/notes/today")
[ "$ttl" -gt 90 ] && [ "$ttl" -le 100 ] || fail "ttl reads $ttl"

check "FLUSHALL empties the mount"
expect_eq "FLUSHALL" "$(cli FLUSHALL)" "OK"
expect_eq "ls after FLUSHALL" "$(ls -A "$MNT")" ".bitgask"
[ ! -e "$MNT/notes/today" ] || fail "notes/today survived FLUSHALL"

check "unmount stops the server too"
unmount_store
cli PING >/dev/null 2>&1 && fail "RESP still answers after unmount"
echo "PASS: fs_resp_test"
