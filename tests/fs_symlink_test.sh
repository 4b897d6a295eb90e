#!/bin/sh
# fs_symlink_test.sh: symbolic links (ln -s, readlink, stat/lstat, rename,
# unlink, long targets), cp -a and tar round-trips of a tree with symlinks,
# special files (mkfifo, mknod: type, device numbers, a FIFO carrying data),
# and that hard links stay refused.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"

mount_store

check "ln -s; readlink; stat follows, lstat does not"
echo target-data > "$MNT/real" || fail "write real"
ln -s real "$MNT/link" || fail "ln -s"
expect_eq "readlink" "$(readlink "$MNT/link")" "real"
expect_eq "lstat type" "$(stat -c %F "$MNT/link")" "symbolic link"
expect_eq "lstat size" "$(stat -c %s "$MNT/link")" 4
expect_eq "lstat mode" "$(stat -c %a "$MNT/link")" 777
expect_eq "stat -L type" "$(stat -L -c %F "$MNT/link")" "regular file"
expect_eq "cat through link" "$(cat "$MNT/link")" "target-data"
[ -L "$MNT/link" ] || fail "test -L"
expect_eq "ls -l" "$(ls -l "$MNT/link" | sed 's|.*/||')" "link -> real"

check "dangling and absolute targets are kept as given"
ln -s /nowhere/at/all "$MNT/dangling" || fail "ln -s dangling"
expect_eq "readlink dangling" "$(readlink "$MNT/dangling")" "/nowhere/at/all"
[ -e "$MNT/dangling" ] && fail "dangling link resolves"

check "ln -s over an existing name fails (EEXIST)"
expect_fail "ln -s existing" "File exists" ln -s x "$MNT/real"

check "rename and unlink a symlink"
mkdir "$MNT/d" || fail "mkdir d"
mv "$MNT/link" "$MNT/d/link2" || fail "mv link"
expect_eq "readlink after mv" "$(readlink "$MNT/d/link2")" "real"
[ -e "$MNT/link" ] && fail "old link name still exists"
expect_eq "type after mv" "$(stat -c %F "$MNT/d/link2")" "symbolic link"
mv "$MNT/d" "$MNT/d2" || fail "mv d d2"
expect_eq "type after dir mv" "$(stat -c %F "$MNT/d2/link2")" "symbolic link"
rm "$MNT/d2/link2" || fail "rm link"
[ -L "$MNT/d2/link2" ] && fail "link still exists after rm"
expect_eq "target survives" "$(cat "$MNT/real")" "target-data"

check "targets of 4095 bytes work, longer ones are ENAMETOOLONG"
long=$(head -c 4095 /dev/zero | tr '\0' 'x')
ln -s "$long" "$MNT/longlink" || fail "ln -s with a 4095-byte target"
expect_eq "long target length" "$(readlink "$MNT/longlink" | wc -c)" 4096
expect_fail "4096-byte target" "File name too long" ln -s "${long}y" "$MNT/toolong"

check "hard links stay EPERM"
expect_fail "ln" "Operation not permitted" ln "$MNT/real" "$MNT/hard"

check "cp -a of a tree with symlinks round-trips"
SRC=$TMP/src
mkdir -p "$SRC/sub/deeper" || fail "mkdir src"
echo one > "$SRC/sub/one"
head -c 100000 /dev/urandom > "$SRC/sub/deeper/bin"
ln -s one "$SRC/sub/rel"
ln -s ../deeper/bin "$SRC/sub/deeper/up"
ln -s /etc/hostname "$SRC/abs"
ln -s missing "$SRC/dangling"
chmod 640 "$SRC/sub/one"
cp -a "$SRC" "$MNT/tree" || fail "cp -a into the mount"
diff -r --no-dereference "$SRC" "$MNT/tree" || fail "cp -a copy differs"
expect_eq "readlink up" "$(readlink "$MNT/tree/sub/deeper/up")" "../deeper/bin"
cmp "$SRC/sub/deeper/bin" "$MNT/tree/sub/deeper/up" || fail "reading through a relative link"
expect_eq "mode kept" "$(stat -c %a "$MNT/tree/sub/one")" 640
cp -a "$MNT/tree" "$TMP/back" || fail "cp -a out of the mount"
diff -r --no-dereference "$SRC" "$TMP/back" || fail "cp -a back differs"

check "tar of the tree round-trips"
(cd "$SRC" && tar cf "$TMP/src.tar" .) || fail "tar c src"
mkdir "$MNT/untar" && (cd "$MNT/untar" && tar xf "$TMP/src.tar") || fail "tar x into the mount"
diff -r --no-dereference "$SRC" "$MNT/untar" || fail "untarred tree differs"
(cd "$MNT/untar" && tar cf "$TMP/mnt.tar" .) || fail "tar c from the mount"
mkdir "$TMP/untar2" && (cd "$TMP/untar2" && tar xf "$TMP/mnt.tar") || fail "tar x out"
diff -r --no-dereference "$SRC" "$TMP/untar2" || fail "tar from the mount differs"

check "mkfifo and mknod make special files; a FIFO carries data"
mkfifo -m 640 "$MNT/fifo" || fail "mkfifo"
mknod "$MNT/null" c 1 3 || fail "mknod c"
expect_eq "fifo type" "$(stat -c '%F %a %s' "$MNT/fifo")" "fifo 640 0"
expect_eq "device type and numbers" "$(stat -c '%F %t:%T' "$MNT/null")" "character special file 1:3"
chmod 600 "$MNT/fifo" || fail "chmod fifo"
expect_eq "chmod keeps the type" "$(stat -c '%F %a' "$MNT/fifo")" "fifo 600"
mv "$MNT/fifo" "$MNT/pipe" || fail "mv fifo"
(echo through > "$MNT/pipe") &
expect_eq "read from the FIFO" "$(cat "$MNT/pipe")" "through"
wait
ls -l "$MNT" | grep -q '^prw' || fail "ls -l does not show the FIFO"

check "symlinks and special files persist"
unmount_store
mount_store
expect_eq "readlink after remount" "$(readlink "$MNT/tree/sub/rel")" "one"
expect_eq "type after remount" "$(stat -c %F "$MNT/dangling")" "symbolic link"
expect_eq "fifo after remount" "$(stat -c '%F %a' "$MNT/pipe")" "fifo 600"
expect_eq "device after remount" "$(stat -c '%F %t:%T' "$MNT/null")" "character special file 1:3"
rm "$MNT/pipe" "$MNT/null" || fail "rm special files"
[ ! -e "$MNT/pipe" ] && [ ! -e "$MNT/null" ] || fail "special files survived rm"

check "final unmount"
unmount_store
echo "PASS: fs_symlink_test"
exit 0
