#!/bin/sh
# fs_model_test.sh: runs fs_model_test (a differential test: every op in the
# mount and in a directory of the local filesystem must have the same
# outcome) on a fresh mount, then unmounts, remounts and checks that the
# whole tree persisted.  BITGASK_FS_MODEL_OPS (default 3000) and
# BITGASK_FS_MODEL_SEED (default: the time; printed) set the run.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u

. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
PROG=$BUILD/tests/fs_model_test
[ -x "$PROG" ] || fail "$PROG is not built"

OPS=${BITGASK_FS_MODEL_OPS:-3000}
SEED=${BITGASK_FS_MODEL_SEED:-$(date +%s)}

REF=$TMP/ref
mkdir "$REF"

mount_store_fg
"$PROG" run "$MNT" "$REF" "$TMP/state" "$SEED" "$OPS" || fail "fs_model_test run (seed $SEED)"
unmount_store
mount_store_fg
"$PROG" check "$MNT" "$REF" "$TMP/state" || fail "fs_model_test check after remount (seed $SEED)"
unmount_store

echo "PASS: fs_model_test"
exit 0
