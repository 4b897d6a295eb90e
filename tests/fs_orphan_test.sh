#!/bin/sh
# fs_orphan_test.sh: a file whose name is removed while it is open stays
# usable through its open descriptors, as on any POSIX filesystem: read,
# fstat and write+read work after unlink, and after a rename over it.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u

. "${srcdir:-$(dirname "$0")}/fs_mount_lib.sh"
fs_need_fuse

fs_setup fs-orphan
fs_mount "$TMP/store"

expect_eq() { [ "$2" = "$3" ] || fs_fail "$1: got '$2', expected '$3'"; }
failed=0
# check NAME COMMAND...: runs the command, counts a failure, goes on.
check() {
  name=$1; shift
  if out=$("$@" 2>&1); then echo "ok: $name"; else echo "FAIL: $name: $out"; failed=$((failed + 1)); fi
}

echo "read-only descriptor, then unlink"
printf 'kept contents' > "$MNT/a" || fs_fail "write a"
exec 3< "$MNT/a"
rm "$MNT/a" || fs_fail "rm a"
sleep 1.1   # past the 1 s attribute cache: the kernel asks the mount again
check "fstat after unlink" stat -L -c %s /proc/self/fd/3
check "read after unlink" sh -c '[ "$(cat <&3)" = "kept contents" ]'
exec 3<&-

echo "read-write descriptor, then rename over it"
printf 'old' > "$MNT/b" && printf 'new' > "$MNT/c" || fs_fail "write b c"
exec 4<> "$MNT/b"
mv "$MNT/c" "$MNT/b" || fs_fail "mv c b"
sleep 1.1
check "fstat after rename over" stat -L -c %s /proc/self/fd/4
check "read after rename over" sh -c '[ "$(cat <&4)" = "old" ]'
exec 4<&-
expect_eq "b after the old one was closed" "$(cat "$MNT/b")" "new"

fs_unmount
[ $failed -eq 0 ] || { echo "FAIL: fs_orphan_test: $failed checks failed"; exit 1; }
echo "PASS: fs_orphan_test"
exit 0
