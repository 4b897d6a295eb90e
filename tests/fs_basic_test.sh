#!/bin/sh
# fs_basic_test.sh: mounts a fresh store with mount.bitgask (background mode)
# and checks everyday file and directory work with plain shell tools, then
# unmounts, remounts and checks that everything persisted.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
REF=$TMP/ref
mkdir -p "$REF"

check "mount $STORE on $MNT"
mount_store
grep " $MNT fuse.bitgask " /proc/mounts | grep -q "^bitgask:$STORE " ||
  fail "fsname is not bitgask:$STORE in /proc/mounts"

check "echo > file; cat"
echo "hello world" > "$MNT/hello.txt" || fail "write hello.txt"
expect_eq "cat hello.txt" "$(cat "$MNT/hello.txt")" "hello world"

check "append with >>"
echo "second line" >> "$MNT/hello.txt" || fail "append"
expect_eq "cat after append" "$(cat "$MNT/hello.txt")" "$(printf 'hello world\nsecond line')"
expect_eq "size after append" "$(stat -c %s "$MNT/hello.txt")" 24

check "ls of a directory with files and subdirectories"
mkdir "$MNT/dir" || fail "mkdir dir"
echo one > "$MNT/dir/f1" && echo two > "$MNT/dir/f2" || fail "write dir/f1 dir/f2"
mkdir "$MNT/dir/sub1" "$MNT/dir/sub2" || fail "mkdir sub1 sub2"
echo deep > "$MNT/dir/sub1/deep" || fail "write dir/sub1/deep"
expect_eq "ls dir" "$(ls "$MNT/dir" | tr '\n' ' ')" "f1 f2 sub1 sub2 "
[ -d "$MNT/dir/sub1" ] || fail "dir/sub1 is not a directory"
[ -f "$MNT/dir/f1" ] || fail "dir/f1 is not a regular file"
expect_eq "ls /" "$(ls "$MNT" | tr '\n' ' ')" "dir hello.txt "

check "mkdir -p; empty directories persist"
mkdir -p "$MNT/a/b/c" || fail "mkdir -p a/b/c"
mkdir "$MNT/a/b/sibling" || fail "mkdir a/b/sibling"
rmdir "$MNT/a/b/sibling" || fail "rmdir a/b/sibling"
[ -d "$MNT/a/b/c" ] || fail "a/b/c gone after rmdir of its sibling"
rmdir "$MNT/a/b/c" || fail "rmdir a/b/c"
[ -d "$MNT/a/b" ] || fail "a/b gone after rmdir of its last child"
mkdir "$MNT/e" && echo x > "$MNT/e/only" && rm "$MNT/e/only" || fail "e/only"
[ -d "$MNT/e" ] || fail "e gone after deleting its last file"
expect_eq "ls e" "$(ls -A "$MNT/e")" ""

check "rm"
echo gone > "$MNT/dir/f2" && rm "$MNT/dir/f2" || fail "rm dir/f2"
[ -e "$MNT/dir/f2" ] && fail "dir/f2 still exists after rm"

check "rmdir of a non-empty directory fails"
rmdir "$MNT/dir" 2>/dev/null && fail "rmdir of non-empty dir succeeded"
[ -d "$MNT/dir" ] || fail "dir vanished"

check "mkdir of an existing name fails"
mkdir "$MNT/dir" 2>/dev/null && fail "mkdir of an existing dir succeeded"

check "mv file"
echo moved > "$MNT/m1" && mv "$MNT/m1" "$MNT/dir/m2" || fail "mv m1 dir/m2"
[ -e "$MNT/m1" ] && fail "m1 still exists after mv"
expect_eq "cat dir/m2" "$(cat "$MNT/dir/m2")" "moved"

check "mv directory (contents follow)"
mkdir -p "$MNT/src/inner" && echo s1 > "$MNT/src/s1" && echo s2 > "$MNT/src/inner/s2" || fail "setup src"
mv "$MNT/src" "$MNT/dst" || fail "mv src dst"
[ -e "$MNT/src" ] && fail "src still exists after mv"
expect_eq "cat dst/s1" "$(cat "$MNT/dst/s1")" "s1"
expect_eq "cat dst/inner/s2" "$(cat "$MNT/dst/inner/s2")" "s2"
expect_eq "ls dst" "$(ls "$MNT/dst" | tr '\n' ' ')" "inner s1 "

check "mv over an existing file replaces it"
echo old > "$MNT/target" && echo new > "$MNT/source" || fail "setup mv-over"
mv -f "$MNT/source" "$MNT/target" || fail "mv source target"
expect_eq "cat target" "$(cat "$MNT/target")" "new"
[ -e "$MNT/source" ] && fail "source still exists after mv over target"

check "truncate -s"
printf '0123456789' > "$MNT/trunc" || fail "write trunc"
truncate -s 4 "$MNT/trunc" || fail "truncate -s 4"
expect_eq "cat after shrink" "$(cat "$MNT/trunc")" "0123"
truncate -s 8 "$MNT/trunc" || fail "truncate -s 8"
expect_eq "size after grow" "$(stat -c %s "$MNT/trunc")" 8
expect_eq "bytes after grow" "$(od -An -c "$MNT/trunc" | tr -s ' ')" " 0 1 2 3 \0 \0 \0 \0"

check "chmod 600"
chmod 600 "$MNT/hello.txt" || fail "chmod"
expect_eq "mode after chmod" "$(stat -c %a "$MNT/hello.txt")" 600
expect_eq "size after chmod" "$(stat -c %s "$MNT/hello.txt")" 24

check "5 MiB random file round-trips"
head -c 5242880 /dev/urandom > "$REF/big" || fail "make reference file"
cp "$REF/big" "$MNT/big" || fail "cp big"
expect_eq "size of big" "$(stat -c %s "$MNT/big")" 5242880
cmp "$REF/big" "$MNT/big" || fail "big differs"

check "touch -d sets mtime"
touch -d '2021-03-04 05:06:07 UTC' "$MNT/dir/f1" || fail "touch -d"
expect_eq "mtime" "$(stat -c %Y "$MNT/dir/f1")" "$(date -d '2021-03-04 05:06:07 UTC' +%s)"

check "/.bitgask is the control directory, not creatable"
mkdir "$MNT/.bitgask" 2>/dev/null && fail "mkdir .bitgask succeeded"
[ -d "$MNT/.bitgask" ] || fail ".bitgask is not a directory"
touch "$MNT/.bitgask/new" 2>/dev/null && fail "creating a file in .bitgask succeeded"

check "hard links are refused"
ln "$MNT/dir/f1" "$MNT/dir/hard" 2>/dev/null && fail "ln succeeded"

check "second mount of the same store fails (locked)"
mkdir "$TMP/mnt2"
out=$("$BIN" "$STORE" "$TMP/mnt2" 2>&1) && { fusermount3 -u "$TMP/mnt2"; fail "second mount succeeded"; }
echo "  -> $out"
echo "$out" | grep -qi locked || fail "no 'locked' in the second mount's message: $out"

check "unknown option fails"
out=$("$BIN" "$STORE" "$TMP/mnt2" -o frobnicate 2>&1) && fail "unknown option accepted"
echo "  -> $out"
echo "$out" | grep -q "unknown option frobnicate" || fail "bad message for unknown option: $out"

check "mountpoint that is not an empty directory fails"
"$BIN" "$STORE" "$TMP/nonexistent" 2>/dev/null && fail "mount on a missing mountpoint succeeded"

check "unmount; the daemon exits"
unmount_store

check "remount; everything persisted"
mount_store
expect_eq "hello.txt" "$(cat "$MNT/hello.txt")" "$(printf 'hello world\nsecond line')"
expect_eq "hello.txt mode" "$(stat -c %a "$MNT/hello.txt")" 600
expect_eq "dir/f1" "$(cat "$MNT/dir/f1")" "one"
expect_eq "dir/f1 mtime" "$(stat -c %Y "$MNT/dir/f1")" "$(date -d '2021-03-04 05:06:07 UTC' +%s)"
expect_eq "dir/sub1/deep" "$(cat "$MNT/dir/sub1/deep")" "deep"
expect_eq "dir/m2" "$(cat "$MNT/dir/m2")" "moved"
expect_eq "dst/inner/s2" "$(cat "$MNT/dst/inner/s2")" "s2"
expect_eq "target" "$(cat "$MNT/target")" "new"
expect_eq "trunc size" "$(stat -c %s "$MNT/trunc")" 8
cmp "$REF/big" "$MNT/big" || fail "big differs after remount"
[ -d "$MNT/a/b" ] || fail "a/b gone after remount"
[ -d "$MNT/e" ] || fail "e gone after remount"
[ -d "$MNT/dir/sub2" ] || fail "dir/sub2 gone after remount"
expect_eq "ls / after remount" "$(ls "$MNT" | tr '\n' ' ')" "a big dir dst e hello.txt target trunc "

check "final unmount"
unmount_store

echo "PASS: fs_basic_test"
exit 0
