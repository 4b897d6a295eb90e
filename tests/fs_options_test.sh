#!/bin/sh
# fs_options_test.sh: mount options (uid=, gid=, umask=, engine options by
# name, bad values), the mountpoint and format-version checks, the
# mount.fuse.bitgask helper form that mount(8) uses, and statfs (df).
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"

check "uid=, gid=, umask= and engine options by name"
mount_store -o uid=1234,gid=2345,umask=027,merge_interval=60,sync_on_put=false
echo x > "$MNT/f" && chmod 666 "$MNT/f" && mkdir "$MNT/d" || fail "setup f d"
expect_eq "file owner" "$(stat -c %u:%g "$MNT/f")" "1234:2345"
expect_eq "dir owner" "$(stat -c %u:%g "$MNT/d")" "1234:2345"
expect_eq "root owner" "$(stat -c %u:%g "$MNT")" "1234:2345"
expect_eq "file mode 666 shown through umask 027" "$(stat -c %a "$MNT/f")" 640
expect_eq "dir mode 755 shown through umask 027" "$(stat -c %a "$MNT/d")" 750
expect_eq "control file owner" "$(stat -c %u "$MNT/.bitgask/stats")" 1234
unmount_store

check "without uid=/gid=/umask= the mounting user owns everything, modes as stored"
mount_store
expect_eq "file owner" "$(stat -c %u:%g "$MNT/f")" "$(id -u):$(id -g)"
expect_eq "stored mode unchanged" "$(stat -c %a "$MNT/f")" 666

check "statfs: df shows the mount, and its used size grows with the store"
df "$MNT" | grep -q " $MNT\$" || fail "df does not show $MNT"
used_before=$(df -B1 --output=used "$MNT" | tail -n 1 | tr -d ' ')
head -c 1048576 /dev/urandom > "$MNT/mib" || fail "write 1 MiB"
echo 1 > "$MNT/.bitgask/sync" || fail "sync"
used_after=$(df -B1 --output=used "$MNT" | tail -n 1 | tr -d ' ')
[ $((used_after - used_before)) -ge 1000000 ] ||
  fail "df used grew by $((used_after - used_before)) bytes after a 1 MiB file, expected >= 1 MiB"
inodes=$(df --output=itotal "$MNT" | tail -n 1 | tr -d ' ')
[ "$inodes" -gt 3 ] || fail "f_files is $inodes"
expect_eq "namemax" "$(stat -f -c %l "$MNT")" 255
unmount_store

check "bad option values fail with a clear message and exit 1"
for opt in sync_on_put=maybe merge_interval=soon max_data_file_size=-1 umask=999 uid=no-such-user-xyz; do
  out=$("$BIN" "$STORE" "$MNT" -o "$opt" 2>&1); rc=$?
  expect_eq "exit status for $opt" "$rc" 1
  name=${opt%%=*}
  echo "$out" | grep -q "$name" || fail "message for $opt does not name $name: $out"
  echo "  -> $out"
done
is_mounted && fail "a bad option mounted anyway"

check "a mountpoint that is not empty is refused unless -o nonempty"
NE=$TMP/nonempty
mkdir "$NE" && echo hidden > "$NE/under" || fail "setup nonempty"
out=$("$BIN" "$STORE" "$NE" 2>&1) && { fusermount3 -u "$NE"; fail "mounted over a non-empty dir"; }
echo "  -> $out"
echo "$out" | grep -q "is not empty" || fail "bad message for a non-empty mountpoint: $out"
"$BIN" "$STORE" "$NE" -o nonempty || fail "-o nonempty refused"
grep -q " $NE fuse.bitgask " /proc/mounts || { sleep 1; grep -q " $NE fuse.bitgask " /proc/mounts; } ||
  fail "nonempty mount not in /proc/mounts"
expect_eq "store seen over the old contents" "$(cat "$NE/f")" "x"
fusermount3 -u "$NE" || fail "unmount nonempty"
sleep 0.5
expect_eq "old contents back" "$(cat "$NE/under")" "hidden"

check "the mount(8) helper form: mount.fuse.bitgask STORE MNT -o ... -t fuse.bitgask -n"
ln -s "$BIN" "$TMP/mount.fuse.bitgask" || fail "ln helper"
"$TMP/mount.fuse.bitgask" "$STORE" "$MNT" -o rw,defaults,nosuid,nodev,_netdev,x-systemd.automount,uid=77 \
  -t fuse.bitgask -n || fail "helper form failed"
wait_mounted
expect_eq "helper mount shows the store" "$(cat "$MNT/f")" "x"
expect_eq "helper mount took uid=" "$(stat -c %u "$MNT/f")" 77
unmount_store
out=$("$TMP/mount.fuse.bitgask" "$STORE" "$MNT" -t fuse.other 2>&1) && fail "helper accepted type fuse.other"
echo "$out" | grep -q "cannot mount type fuse.other" || fail "bad message for a wrong type: $out"
"$TMP/mount.fuse.bitgask" "$STORE" "$MNT" -f -t fuse.bitgask || fail "helper -f (fake) failed"
is_mounted && fail "helper -f (fake) mounted"

if [ "$(id -u)" = 0 ] && [ -x /sbin/mount.fuse.bitgask ]; then
  check "mount -t fuse.bitgask (installed helper)"
  mount -t fuse.bitgask "$STORE" "$MNT" -o uid=78 || fail "mount -t fuse.bitgask"
  wait_mounted
  expect_eq "mount -t: uid" "$(stat -c %u "$MNT/f")" 78
  unmount_store
else
  echo "note: /sbin/mount.fuse.bitgask is not installed; mount -t fuse.bitgask itself not run"
fi

check "a store of another format version is refused with a clear message"
META=$STORE/data/bitgask.meta
[ -f "$META" ] || fail "no $META"
sed 's/"format_version": [0-9]*/"format_version": 99/' "$META" > "$META.new" && mv "$META.new" "$META" ||
  fail "rewrite meta"
out=$("$BIN" "$STORE" "$MNT" 2>&1) && fail "mounted a store of format version 99"
echo "  -> $out"
echo "$out" | grep -q "99" || fail "message does not name the version: $out"
is_mounted && fail "mounted anyway"

echo "PASS: fs_options_test"
exit 0
