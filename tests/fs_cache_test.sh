#!/bin/sh
# The kernel may cache entries and attributes (1 s now, meant to be far
# longer; docs/Filesystem.md, fs/bitgask_fs.h "Cache timeouts"): every
# change that does not go through the mount's own
# FUSE requests must still show at once, or when a key expires. Each check
# first makes the kernel cache the path, then changes it through another
# door (RESP, the TTL attribute, an expiry) and looks again. About 12 s.
set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
command -v redis-cli >/dev/null 2>&1 || fail "redis-cli is missing (package redis-tools)"
command -v setfattr >/dev/null 2>&1 || fail "setfattr is missing (package attr)"

cli() { redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }

# mount_resp [OPTIONS]: mounts with the RESP door on a free loopback port.
mount_resp() {
  for _ in 1 2 3 4 5; do
    PORT=$(random_port)
    if "$BIN" "$STORE" "$MNT" -o "resp=127.0.0.1:$PORT${1:+,$1}" 2>"$TMP/err"; then
      wait_mounted
      return 0
    fi
    grep -q "cannot serve RESP" "$TMP/err" || fail "mount failed: $(cat "$TMP/err")"
  done
  fail "no free port found: $(cat "$TMP/err")"
}

# gone WHAT PATH: PATH no longer exists (stat and ls of its directory agree).
gone() {
  stat "$2" >/dev/null 2>&1 && fail "$1: $2 still there"
  ls "$(dirname "$2")" 2>/dev/null | grep -qx "$(basename "$2")" && fail "$1: $2 still listed"
  return 0
}

mount_resp
expect_eq "PING" "$(cli PING)" "PONG"

check "a key over RESP under a cached file's path turns it into a directory, and back"
printf 'plain' > "$MNT/shadow" || fail "write shadow"
expect_eq "type before" "$(stat -c %F "$MNT/shadow")" "regular file"
expect_eq "SET" "$(cli SET shadow/inner x)" "OK"
expect_eq "type with a child" "$(stat -c %F "$MNT/shadow")" "directory"
expect_eq "cat child" "$(cat "$MNT/shadow/inner")" "x"
expect_eq "DEL" "$(cli DEL shadow/inner)" "1"
expect_eq "type after DEL" "$(stat -c %F "$MNT/shadow")" "regular file"
expect_eq "cat after DEL" "$(cat "$MNT/shadow")" "plain"

check "a key over RESP under a path the kernel looked up and missed"
stat "$MNT/late" >/dev/null 2>&1 && fail "late exists before"
expect_eq "SET" "$(cli SET late/deep/key v)" "OK"
expect_eq "cat late/deep/key" "$(cat "$MNT/late/deep/key")" "v"

check "an expiry set through the TTL attribute of a cached file ends it in time"
printf 'short' > "$MNT/ttl-xattr" || fail "write ttl-xattr"
stat "$MNT/ttl-xattr" >/dev/null || fail "stat ttl-xattr"
setfattr -n user.bitgask.ttl -v 2 "$MNT/ttl-xattr" || fail "setfattr"
expect_eq "cat before expiry" "$(cat "$MNT/ttl-xattr")" "short"

check "an EXPIRE over RESP of a cached file ends it in time"
printf 'short' > "$MNT/ttl-resp" || fail "write ttl-resp"
stat "$MNT/ttl-resp" >/dev/null || fail "stat ttl-resp"
expect_eq "EXPIRE" "$(cli EXPIRE ttl-resp 2)" "1"

check "a directory that exists only through expiring keys goes with them"
expect_eq "SET" "$(cli SET fading/key v EX 2)" "OK"
expect_eq "ls fading" "$(ls "$MNT/fading")" "key"
stat "$MNT/fading" >/dev/null || fail "stat fading"
sleep 3
gone "TTL attribute" "$MNT/ttl-xattr"
gone "EXPIRE over RESP" "$MNT/ttl-resp"
gone "expired child" "$MNT/fading/key"
gone "directory of expired keys" "$MNT/fading"
unmount_store

check "with default_ttl, a file with no expiry that is rewritten expires in time"
mount_resp "default_ttl=2s"
printf 'one' > "$MNT/kept" || fail "write kept"
expect_eq "PERSIST" "$(cli PERSIST kept)" "1"
stat "$MNT/kept" >/dev/null || fail "stat kept"  # cached with no expiry
printf 'two' > "$MNT/kept" || fail "rewrite kept"  # stored with default_ttl
expect_eq "cat kept" "$(cat "$MNT/kept")" "two"
sleep 3
gone "rewritten under default_ttl" "$MNT/kept"
unmount_store
echo "PASS: fs_cache_test"
