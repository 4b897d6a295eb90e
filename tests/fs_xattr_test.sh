#!/bin/sh
# fs_xattr_test.sh: expiry through extended attributes (user.bitgask.ttl,
# user.bitgask.expires), the errors for other names and bad values, and that
# an expired file disappears at once even right after the kernel cached it.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
command -v setfattr >/dev/null 2>&1 || fail "setfattr is missing (Debian package attr)"

mount_store
F=$MNT/f

check "a file without expiry has no expiry attributes"
echo data > "$F" || fail "write f"
expect_fail "get ttl" "No such attribute" getfattr -n user.bitgask.ttl "$F"
expect_fail "get expires" "No such attribute" getfattr -n user.bitgask.expires "$F"
expect_eq "list" "$(getfattr --absolute-names -d -m - "$F" 2>&1)" ""

check "setfattr user.bitgask.ttl=30"
setfattr -n user.bitgask.ttl -v 30 "$F" || fail "set ttl"
ttl=$(getfattr --absolute-names --only-values -n user.bitgask.ttl "$F") || fail "get ttl"
[ "$ttl" -ge 29 ] && [ "$ttl" -le 30 ] || fail "ttl is $ttl, expected 29 or 30"
exp=$(getfattr --absolute-names --only-values -n user.bitgask.expires "$F") || fail "get expires"
now=$(date +%s)
[ $((exp - now)) -ge 29 ] && [ $((exp - now)) -le 31 ] || fail "expires $exp is not now ($now) + 30"
expect_eq "list" "$(getfattr --absolute-names -m - "$F" 2>/dev/null | grep user | tr '\n' ' ')" \
  "user.bitgask.expires user.bitgask.ttl "
expect_eq "content unchanged" "$(cat "$F")" "data"

check "user.bitgask.expires is read-only (EPERM)"
expect_fail "set expires" "Operation not permitted" setfattr -n user.bitgask.expires -v 5 "$F"
expect_fail "remove expires" "Operation not permitted" setfattr -x user.bitgask.expires "$F"

check "bad ttl values are EINVAL"
for v in 0 -5 abc 1.5 "" 99999999999999999999 3153600001; do
  expect_fail "ttl '$v'" "Invalid argument" setfattr -n user.bitgask.ttl -v "$v" "$F"
done
ttl=$(getfattr --absolute-names --only-values -n user.bitgask.ttl "$F")
[ "$ttl" -ge 28 ] || fail "a refused value changed the ttl to $ttl"

check "other names: ENOTSUP to set, ENODATA to get"
expect_fail "set user.other" "Operation not supported" setfattr -n user.other -v 1 "$F"
expect_fail "get user.other" "No such attribute" getfattr -n user.other "$F"
expect_fail "get trusted.x" "No such attribute" getfattr -n trusted.x "$F"
expect_fail "set trusted.x" "Operation not supported" setfattr -n trusted.x -v 1 "$F"
expect_fail "get security.x" "No such attribute" getfattr -n security.x "$F"

check "the expiry survives chmod, touch and rename; rewriting the content drops it"
chmod 600 "$F" && touch "$F" && mv "$F" "$MNT/g" && mv "$MNT/g" "$F" || fail "chmod touch mv"
ttl=$(getfattr --absolute-names --only-values -n user.bitgask.ttl "$F") || fail "ttl gone after chmod/touch/mv"
[ "$ttl" -ge 25 ] || fail "ttl after chmod/touch/mv is $ttl"
echo other > "$MNT/tmpf" && setfattr -n user.bitgask.ttl -v 50 "$MNT/tmpf" || fail "setup tmpf"
echo rewritten > "$MNT/tmpf" || fail "rewrite tmpf"
# Documented: a new value is stored without expiry, as Redis SET does.
expect_fail "ttl after rewrite" "No such attribute" getfattr -n user.bitgask.ttl "$MNT/tmpf"

check "setfattr -x user.bitgask.ttl removes the expiry"
setfattr -x user.bitgask.ttl "$F" || fail "remove ttl"
expect_fail "get ttl after remove" "No such attribute" getfattr -n user.bitgask.ttl "$F"
expect_fail "remove again" "No such attribute" setfattr -x user.bitgask.ttl "$F"

check "directories take no expiry (EPERM)"
mkdir "$MNT/d" || fail "mkdir d"
expect_fail "set ttl on dir" "Operation not permitted" setfattr -n user.bitgask.ttl -v 5 "$MNT/d"
expect_fail "get ttl on dir" "No such attribute" getfattr -n user.bitgask.ttl "$MNT/d"

check "ttl survives a remount"
echo keep > "$MNT/later" && setfattr -n user.bitgask.ttl -v 100 "$MNT/later" || fail "setup later"
unmount_store
mount_store
ttl=$(getfattr --absolute-names --only-values -n user.bitgask.ttl "$MNT/later") || fail "ttl gone after remount"
[ "$ttl" -ge 90 ] && [ "$ttl" -le 100 ] || fail "ttl after remount is $ttl"

check "a file with ttl 2 s is gone within 2.5 s, even right after a stat cached it"
echo short > "$MNT/short" || fail "write short"
setfattr -n user.bitgask.ttl -v 2 "$MNT/short" || fail "set ttl 2"
start=$(date +%s%N)
stat "$MNT/short" >/dev/null || fail "stat before expiry"
expect_eq "cat before expiry" "$(cat "$MNT/short")" "short"
# Keep the kernel's cache warm up to the last moment.
while [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 1800 ]; do
  stat "$MNT/short" >/dev/null 2>&1
  sleep 0.1
done
sleep 0.7  # now ~2.5 s after setting the ttl
[ -e "$MNT/short" ] && fail "short still exists 2.5 s after a 2 s ttl"
expect_fail "stat after expiry" "No such file" stat "$MNT/short"
expect_fail "cat after expiry" "No such file" cat "$MNT/short"
ls "$MNT" | grep -qx short && fail "ls still lists short"
expect_eq "other files live" "$(cat "$F")" "data"

check "final unmount"
unmount_store
echo "PASS: fs_xattr_test"
exit 0
