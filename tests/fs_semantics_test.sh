#!/bin/sh
# POSIX semantics on a real mount (fs_semantics_check does the syscalls):
# mmap, unlinked-but-open files, O_APPEND, O_EXCL, sparse writes, ftruncate;
# then a remount shows what was stored and nothing that should not be.
set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"

mount_store
"$BUILD/tests/fs_semantics_check" "$MNT" || fail "semantics checks failed"
unmount_store

check "after a remount"
mount_store
expect_eq "appended log" "$(cat "$MNT/log")" "abbabbabbZ"
expect_eq "mapped file" "$(head -c 26 "$MNT/mapped")" "abcdefghijklmnopqrstuvwxyz"
expect_eq "renamed-over target" "$(cat "$MNT/target")" "new contents"
[ ! -e "$MNT/doomed" ] || fail "the unlinked file came back after remount"
expect_eq "spilled sparse size" "$(stat -c %s "$MNT/sparse-spilled")" $((100 * 1024 * 1024 + 3))
unmount_store
echo "PASS: fs_semantics_test"
