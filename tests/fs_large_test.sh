#!/bin/sh
# Large files on a real mount: a 1 GiB file is written, read, renamed and
# appended to while the mount process stays under 256 MiB of memory (its peak
# resident size, VmHWM), and a small range of it reads at once.
#
# BITGASK_LARGE_MIB sets the size (default 1024).
set -u

. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
MIB="${BITGASK_LARGE_MIB:-1024}"
LIMIT_KB=$((256 * 1024))

peak_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$(daemon_pid)/status"; }
assert_bounded() {
  peak=$(peak_kb)
  echo "  -> peak resident size after $1: ${peak} kB"
  [ "$peak" -lt "$LIMIT_KB" ] || fail "mount process peaked at ${peak} kB (limit ${LIMIT_KB} kB) after $1"
}

mount_store -o sync_on_put=false

check "write a ${MIB} MiB file"
want=$(head -c "$((MIB * 1024 * 1024))" /dev/urandom | tee "$MNT/big" | md5sum | cut -d' ' -f1)
[ "$(stat -c %s "$MNT/big")" -eq $((MIB * 1024 * 1024)) ] || fail "size after write"
assert_bounded "the write"

check "it survives a remount, reads back whole, and a range reads at once"
unmount_store
mount_store -o sync_on_put=false
start=$(date +%s%N)
head -c 4096 "$MNT/big" > "$TMP/head" || fail "head"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "  -> head -c 4096 took ${ms} ms"
[ "$ms" -lt 1000 ] || fail "head -c 4096 of a ${MIB} MiB file took ${ms} ms"
[ "$(stat -c %s "$TMP/head")" -eq 4096 ] || fail "head returned a short range"
got=$(md5sum < "$MNT/big" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "contents differ after remount"
assert_bounded "the read"

check "rename moves it without loading it"
mv "$MNT/big" "$MNT/moved" || fail "mv"
[ ! -e "$MNT/big" ] || fail "old name still there"
[ "$(stat -c %s "$MNT/moved")" -eq $((MIB * 1024 * 1024)) ] || fail "size after rename"
assert_bounded "the rename"

check "append to it, then read the tail"
printf 'tail-bytes' >> "$MNT/moved" || fail "append"
[ "$(tail -c 10 "$MNT/moved")" = "tail-bytes" ] || fail "tail after append"
assert_bounded "the append"

check "writes out of order, an unaligned overwrite, a hole and truncations survive a remount"
# The same steps on a plain file ($TMP/model) and in the mount; 24 MiB: spilled.
head -c $((24 * 1024 * 1024)) /dev/urandom > "$TMP/v" || fail "make v"
head -c 100000 /dev/urandom > "$TMP/patch" || fail "make patch"
for f in "$TMP/model" "$MNT/mixed"; do
  dd if="$TMP/v" of="$f" bs=1M skip=12 seek=12 status=none || fail "dd second half to $f"
  dd if="$TMP/v" of="$f" bs=1M count=12 conv=notrunc status=none || fail "dd first half to $f"
  dd if="$TMP/patch" of="$f" bs=100000 seek=5000001 oflag=seek_bytes conv=notrunc status=none ||
    fail "dd patch to $f"
  truncate -s 30M "$f" && printf 'end' >> "$f" && truncate -s 20000001 "$f" || fail "truncate $f"
done
cmp "$TMP/model" "$MNT/mixed" || fail "mixed file differs before the remount"
unmount_store
mount_store -o sync_on_put=false
cmp "$TMP/model" "$MNT/mixed" || fail "mixed file differs after the remount"
rm -f "$MNT/mixed" "$TMP/v" "$TMP/patch" "$TMP/model"

check "everything persisted"
unmount_store
mount_store -o sync_on_put=false
[ "$(stat -c %s "$MNT/moved")" -eq $((MIB * 1024 * 1024 + 10)) ] || fail "size after remount"
got=$(head -c "$((MIB * 1024 * 1024))" "$MNT/moved" | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "contents differ after rename and append"
[ "$(tail -c 10 "$MNT/moved")" = "tail-bytes" ] || fail "tail after remount"
unmount_store

echo "PASS: fs_large_test"
exit 0
