#!/bin/sh
# fs_stress_test.sh: the kernel's entry and attribute cache (fs/bitgask_fs.cc
# kCacheTimeout: an hour) against the mount's inode table and its replies.
# With a Forget that ignores lookup counts it fails within seconds; with the
# kernel's writeback cache on, about once in 20 runs under load (a late
# lookup reply made a just-written file stat as empty: docs/Filesystem.md,
# "Why the hour took until session 7"); a failure lists the owner's last
# steps with the inodes it wrote. Four
# owners change their own files (create, rename over or not, unlink of open
# files, chmod, a directory renamed to and fro) and check each step with
# stat, read and chmod; two probers look the same names up meanwhile, and
# the kernel is made to forget unused inodes (drop_caches) all along. A
# cached entry whose inode the mount no longer binds to that name shows as
# ENOENT or wrong contents (fs_stress_tool.cc says how each is checked).
# About 15 s. Seeded (BITGASK_FS_STRESS_SEED, printed). Needs root for
# drop_caches; without it the kernel forgets less, and the test says so.
set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
TOOL=$BUILD/tests/fs_stress_tool
[ -x "$TOOL" ] || fail "$TOOL is not built"

SECONDS_RUN=${BITGASK_FS_STRESS_SECONDS:-12}
SEED=${BITGASK_FS_STRESS_SEED:-$(date +%s)}
echo "seed $SEED"
OWNERS=4

mount_store_fg -o sync_on_put=false,sync_on_delete=false

PIDS=
DROPPER=
stop_all() {
  for p in $PIDS $DROPPER; do kill -9 "$p" 2>/dev/null; done
  for p in $PIDS $DROPPER; do wait "$p" 2>/dev/null; done  # not the mount's pid
}
# cleanup (fs_lib.sh) unmounts; stop the workers first.
trap 'stop_all; cleanup' EXIT
trap 'exit 1' HUP INT TERM PIPE

if [ -w /proc/sys/vm/drop_caches ]; then
  ( while :; do echo 2 > /proc/sys/vm/drop_caches; sleep 0.05; done ) &
  DROPPER=$!
else
  echo "note: /proc/sys/vm/drop_caches is not writable: fewer forgets"
fi

i=0
while [ $i -lt $OWNERS ]; do
  "$TOOL" owner "$MNT" $i "$SECONDS_RUN" $((SEED + i)) &
  PIDS="$PIDS $!"
  i=$((i + 1))
done
OWNER_PIDS=$PIDS
for k in 1 2; do
  "$TOOL" prober "$MNT" $OWNERS "$SECONDS_RUN" $((SEED + 100 + k)) &
  PIDS="$PIDS $!"
done

failed=0
for p in $OWNER_PIDS; do wait "$p" || failed=1; done
stop_all
PIDS=
DROPPER=
[ $failed -eq 0 ] || fail "an owner saw the tree differ from its model (seed $SEED)"
alive "$MOUNT_PID" || fail "the mount died"
unmount_store
echo "PASS: fs_stress_test"
exit 0
