#!/bin/sh
# fs_orphan_test.sh: a file whose name is removed while it is open stays
# usable through its open descriptors, as on any POSIX filesystem: read,
# fstat and write+read work after unlink, and after a rename over it.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u

. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
mount_store_fg

failed=0
# soft_check NAME COMMAND...: runs the command, counts a failure, goes on.
soft_check() {
  name=$1; shift
  if out=$("$@" 2>&1); then echo "ok: $name"; else echo "FAIL: $name: $out"; failed=$((failed + 1)); fi
}

echo "read-only descriptor, then unlink"
printf 'kept contents' > "$MNT/a" || fail "write a"
exec 3< "$MNT/a"
rm "$MNT/a" || fail "rm a"
# --cached=never: the kernel asks the mount, whatever it has cached.
soft_check "fstat after unlink" stat --cached=never -L -c %s /proc/self/fd/3
soft_check "read after unlink" sh -c '[ "$(cat <&3)" = "kept contents" ]'
exec 3<&-

echo "read-write descriptor, then rename over it"
printf 'old' > "$MNT/b" && printf 'new' > "$MNT/c" || fail "write b c"
exec 4<> "$MNT/b"
mv "$MNT/c" "$MNT/b" || fail "mv c b"
soft_check "fstat after rename over" stat --cached=never -L -c %s /proc/self/fd/4
soft_check "read after rename over" sh -c '[ "$(cat <&4)" = "old" ]'
exec 4<&-
expect_eq "b after the old one was closed" "$(cat "$MNT/b")" "new"

unmount_store
[ $failed -eq 0 ] || { echo "FAIL: fs_orphan_test: $failed checks failed"; exit 1; }
echo "PASS: fs_orphan_test"
exit 0
