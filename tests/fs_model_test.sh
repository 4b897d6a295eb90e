#!/bin/sh
# fs_model_test.sh: runs fs_model_test (a differential test: every op in the
# mount and in a directory of the local filesystem must have the same
# outcome) on a fresh mount, then unmounts, remounts and checks that the
# whole tree persisted.  BITGASK_FS_MODEL_OPS (default 3000) and
# BITGASK_FS_MODEL_SEED (default: the time; printed) set the run.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u

. "${srcdir:-$(dirname "$0")}/fs_mount_lib.sh"
fs_need_fuse

fs_setup fs-model
PROG=$abs_top_builddir/tests/fs_model_test
[ -x "$PROG" ] || { echo "FAIL: $PROG is not built"; exit 1; }

OPS=${BITGASK_FS_MODEL_OPS:-3000}
SEED=${BITGASK_FS_MODEL_SEED:-$(date +%s)}

STORE=$TMP/store
REF=$TMP/ref
mkdir "$REF"

fs_mount "$STORE"
"$PROG" run "$MNT" "$REF" "$TMP/state" "$SEED" "$OPS" || fs_fail "fs_model_test run (seed $SEED)"
fs_unmount
fs_mount "$STORE"
"$PROG" check "$MNT" "$REF" "$TMP/state" || fs_fail "fs_model_test check after remount (seed $SEED)"
fs_unmount

echo "PASS: fs_model_test"
exit 0
