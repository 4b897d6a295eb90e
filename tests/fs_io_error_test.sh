#!/bin/bash
# fs_io_error_test.sh: the mount on a full disk and on a failing disk.
#
# ENOSPC: the store lives on a small tmpfs; a filler file takes the last free
# byte. Writing a file through the mount must fail with ENOSPC (the test
# records which call: with the writeback cache it is close(), where the file
# is stored), every file written before must read back intact, and once the
# filler is removed and the store remounted, writes work again.
# EIO: mount.bitgask runs with the EIO shim (eio_shim.cc) preloaded; while
# its trigger file exists, the store's writes (or syncs, renames, creations)
# fail with EIO. The mount must answer EIO, and after the fault is lifted and
# the store remounted every acknowledged file is intact. About 10 s.
. "${abs_top_srcdir:?}/tests/fs_lib.sh"
. "$abs_top_srcdir/tests/io_error_lib.sh"

# write_ok NAME SIZE SEED: writes $MNT/NAME, which must succeed; it joins
# the files that must survive (ACKED: "name size seed" lines).
ACKED=
write_ok() {
  out=$("$IO_TOOL" write "$MNT/$1" "$2" "$3") || fail "writing $1 ($2 bytes): $out"
  ACKED="$ACKED$1 $2 $3
"
}
# write_fails NAME SIZE SEED ERRNO [overwrite]: writing $MNT/NAME fails with
# ERRNO; the call that failed is left in FAILED_CALL.
write_fails() {
  out=$("$IO_TOOL" "${5:-write}" "$MNT/$1" "$2" "$3") && fail "writing $1 succeeded, expected $4"
  case $out in
    *" $4") FAILED_CALL=${out% *} ;;
    *) fail "writing $1: $out, expected $4" ;;
  esac
}
# acked_intact: every acknowledged file reads back byte for byte.
acked_intact() {
  while read -r name size seed; do
    [ -n "$name" ] || continue
    out=$("$IO_TOOL" check "$MNT/$name" "$size" "$seed") || fail "$name after $1: $out"
  done <<<"$ACKED"
}
# absent_or_whole NAME SIZE SEED: after a remount, a file whose write failed
# is absent, empty (its create went through) or whole, never partial.
absent_or_whole() {
  [ -e "$MNT/$1" ] || return 0
  [ -s "$MNT/$1" ] || return 0
  out=$("$IO_TOOL" check "$MNT/$1" "$2" "$3") || fail "$1, whose write failed, is damaged: $out"
}
# shows_stored NAME [SIZE SEED]: within 5 s of a write that failed, the
# mount shows what the store holds, not the unsaved write still in the
# kernel's page cache: NAME whole as acknowledged (SIZE SEED), or (without
# them) absent or empty, as its create left it.
shows_stored() {
  local i
  for i in $(seq 50); do
    if [ $# -eq 3 ]; then
      "$IO_TOOL" check "$MNT/$1" "$2" "$3" >/dev/null && return 0
    elif [ ! -e "$MNT/$1" ] ||
      { [ "$(stat -c %s "$MNT/$1")" = 0 ] && [ "$(wc -c <"$MNT/$1")" = 0 ]; }; then
      return 0
    fi
    sleep 0.1
  done
  fail "$1 still shows a write that was never stored: $(stat -c %s "$MNT/$1") bytes"
}
# remount [ARGS]: unmounts (the mount process must exit 0) and mounts again.
remount() {
  unmount_store
  mount_store_fg "$@"
}
# remount_failed ERRNO [ARGS]: the same for a store that stopped taking
# writes: the mount process must exit 1 saying closing the store failed
# with ERRNO (exit 0 would claim a clean close).
remount_failed() {
  local text
  text=$(errno_text "$1")
  shift
  fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
  wait "$MOUNT_PID"
  rc=$?
  MOUNT_PID=
  [ $rc -eq 1 ] || fail "mount.bitgask of a failed store exited $rc after unmount, want 1"
  grep -q "closing the store: .*$text" "$TMP/mount.err" || fail "mount.bitgask did not say why closing failed"
  : >"$TMP/mount.err"
  mount_store_fg "$@"
}

check "ENOSPC: a full disk"
small_disk 24m
STORE=$DISK/store
mount_store_fg
for i in 1 2 3 4 5; do write_ok "kept$i" $((i * 50000)) "$i"; done
mkdir "$MNT/dir" || fail "mkdir"
write_ok dir/kept6 3000 6
fill_disk
# More than the 4 MiB the active data file has allocated ahead (mmap_writes).
write_fails big 6000000 100 ENOSPC
echo "a write through the mount on a full disk: $FAILED_CALL failed with ENOSPC"
[ "$FAILED_CALL" = close ] || [ "$FAILED_CALL" = fsync ] || [ "$FAILED_CALL" = write ] ||
  fail "unexpected call failed: $FAILED_CALL"
acked_intact "ENOSPC"
shows_stored big
# Rewriting an acknowledged file fails the same way and leaves it as it was.
write_fails kept2 300000 99 ENOSPC overwrite
shows_stored kept2 100000 2
# The store now refuses writes until reopened, with the same errno.
write_fails small 10 7 ENOSPC
expect_fail "mv on a refusing store" "$(errno_text ENOSPC)" mv "$MNT/kept1" "$MNT/moved1"
[ -e "$MNT/kept1" ] || fail "kept1 vanished in a failed rename"
acked_intact "refused writes"
free_disk
remount_failed ENOSPC
acked_intact "remount with space back"
absent_or_whole big 2000000 100
write_ok big 2000000 100
write_ok small 10 7
mv "$MNT/kept1" "$MNT/moved1" || fail "mv after remount"
ACKED=$(echo "$ACKED" | sed 's/^kept1 /moved1 /')
remount
acked_intact "the last remount"
unmount_store
umount "$DISK" || fail "umount the small disk"
rmdir "$DISK"
DISK=

# EIO: a fresh store for each kind of failing call, on the local disk.
# eio_case OPS WHAT STOPS MOUNT-ARGS...: acknowledged files, then the fault,
# then WHAT (a function) must fail with EIO; lift, remount, check. STOPS is
# yes when the failure stops the store taking writes (a failed write or
# sync), no when it does not (a failed merge).
eio_case() {
  local ops=$1 what=$2 stops=$3
  shift 3
  check "EIO: failing $ops calls; $what"
  STORE=$TMP/store-$ops
  ACKED=
  EIO_OPS=$ops with_eio "$STORE/" mount_store_fg "$@"
  write_ok one 70000 11
  write_ok two 1000 12
  eio_on
  "$what"
  acked_intact "EIO"
  eio_off
  if [ "$stops" = yes ]; then remount_failed EIO "$@"; else remount "$@"; fi
  # A rename whose sync failed was not acknowledged: it may have landed
  # (whole) or not.
  if [ -e "$MNT/one-moved" ]; then
    [ ! -e "$MNT/one" ] || fail "a failed rename left both names"
    ACKED=${ACKED/one 70000/one-moved 70000}
    echo "the failed rename landed after all (its data reached the disk; only the sync failed)"
  fi
  acked_intact "EIO lifted and a remount"
  write_ok three 5000 13
  remount "$@"
  acked_intact "a last remount"
  unmount_store
}
eio_write_file() {
  write_fails failed 200000 14 EIO
  echo "a write through the mount on a failing disk: $FAILED_CALL failed with EIO"
  shows_stored failed
  write_fails later 10 15 EIO
  write_fails one 90000 18 EIO overwrite
  shows_stored one 70000 11
}
eio_rename() {
  expect_fail "mv on a failing disk" "$(errno_text EIO)" mv "$MNT/one" "$MNT/one-moved"
  [ -e "$MNT/one" ] && [ ! -e "$MNT/one-moved" ] || fail "a failed rename moved the file"
}
eio_merge() {
  # The merge control file: its write fails with EIO (the merge cannot
  # rename its output into place); files stay, and writes go on.
  write_fails .bitgask/merge 2 0 EIO
  write_ok after-merge 3000 16
}
eio_rotate() {
  # The next write needs a new data file, whose creation fails.
  write_fails failed 300000 17 EIO
}
# Appends through a mapping make no write call for the shim to fail.
eio_case write eio_write_file yes -o mmap_writes=false
eio_case sync eio_rename yes
eio_case rename eio_merge no -o max_data_file_size=64K
eio_case open eio_rotate yes -o max_data_file_size=64K
echo PASS
