#!/bin/sh
# fs_owner_test.sh: owners and times, in a mount with
# -o allow_other,default_permissions (the kernel checks permissions).
#  1. The mounting user's files show the mount's uid/gid.
#  2. As root: files and directories another user makes are that user's;
#     chown and chgrp are kept without rewriting values, also through writes,
#     renames of files and directories, and a remount; a set-group-ID
#     directory passes its group (and, to directories, the bit) on; the
#     sticky bit keeps another user from removing root's file.
#  3. Times the store does not keep, while mounted: chmod moves ctime and not
#     mtime, creating an entry moves its directory's mtime, atime can be set.
# Parts needing root (other users) are reported as not run without it.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u

. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
chmod 755 "$TMP"   # other users must reach the mountpoint
mount_store_fg -o allow_other,default_permissions

owner() { stat -c %u:%g "$1" || fail "stat $1"; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
ROOT=false
[ "$(id -u)" = 0 ] && ROOT=true

check "the mounting user's files show the mount's owner"
echo mine > "$MNT/mine" || fail "write mine"
mkdir "$MNT/dir" || fail "mkdir dir"
expect_eq "owner of mine" "$(owner "$MNT/mine")" "$(id -u):$(id -g)"
expect_eq "owner of dir" "$(owner "$MNT/dir")" "$(id -u):$(id -g)"

if $ROOT; then
  check "another user's files and directories are its own"
  mkdir "$MNT/pub" && chmod 1777 "$MNT/pub" || fail "sticky pub"
  as_nobody sh -c "echo theirs > '$MNT/pub/theirs' && mkdir '$MNT/pub/theirdir' &&
                   echo deep > '$MNT/pub/theirdir/f'" || fail "writes as uid 65534"
  expect_eq "owner of theirs" "$(owner "$MNT/pub/theirs")" 65534:65534
  expect_eq "owner of theirdir" "$(owner "$MNT/pub/theirdir")" 65534:65534
  expect_eq "owner of theirdir/f" "$(owner "$MNT/pub/theirdir/f")" 65534:65534

  check "chown and chgrp are kept through writes and renames"
  chown 123:456 "$MNT/mine" || fail "chown mine"
  expect_eq "owner of mine after chown" "$(owner "$MNT/mine")" 123:456
  echo more >> "$MNT/mine" || fail "append to mine"
  expect_eq "owner of mine after a write" "$(owner "$MNT/mine")" 123:456
  chgrp 789 "$MNT/dir" || fail "chgrp dir"
  expect_eq "owner of dir after chgrp" "$(owner "$MNT/dir")" "$(id -u):789"
  echo root > "$MNT/pub/rootfile" || fail "write rootfile"
  expect_fail "nobody removes root's file in a sticky directory" "Operation not permitted" \
    as_nobody rm -f "$MNT/pub/rootfile"
  expect_fail "nobody writes root's 0644 file" "Permission denied" \
    as_nobody sh -c "echo x > '$MNT/pub/rootfile'"
  expect_eq "rootfile intact" "$(cat "$MNT/pub/rootfile")" root
  mv "$MNT/pub/theirs" "$MNT/pub/moved" || fail "mv theirs"
  expect_eq "owner after rename" "$(owner "$MNT/pub/moved")" 65534:65534
  mv "$MNT/pub" "$MNT/pub2" || fail "mv pub"
  expect_eq "owner after a directory rename" "$(owner "$MNT/pub2/theirdir/f")" 65534:65534
  expect_eq "a renamed directory's owner" "$(owner "$MNT/pub2/theirdir")" 65534:65534

  check "a set-group-ID directory passes its group on"
  mkdir "$MNT/g" && chgrp 4242 "$MNT/g" && chmod 2775 "$MNT/g" || fail "setgid dir"
  as_nobody true || fail "setpriv"
  touch "$MNT/g/f" && mkdir "$MNT/g/sub" || fail "create in g"
  expect_eq "group of g/f" "$(stat -c %g "$MNT/g/f")" 4242
  expect_eq "group of g/sub" "$(stat -c %g "$MNT/g/sub")" 4242
  case $(stat -c %A "$MNT/g/sub") in
    ??????s*) ;;
    *) fail "g/sub is not set-group-ID: $(stat -c %A "$MNT/g/sub")" ;;
  esac
else
  echo "not run (needs root): other users, chown, set-group-ID directories"
fi

check "ctime, a directory's mtime, atime"
m1=$(stat -c %Y "$MNT/dir") c1=$(stat -c %Z "$MNT/mine") y1=$(stat -c %Y "$MNT/mine")
sleep 1.1
chmod 600 "$MNT/mine" || fail "chmod mine"
touch "$MNT/dir/new" || fail "touch dir/new"
c2=$(stat -c %Z "$MNT/mine") y2=$(stat -c %Y "$MNT/mine") m2=$(stat -c %Y "$MNT/dir")
[ "$c2" -gt "$c1" ] || fail "chmod did not move ctime ($c1 -> $c2)"
expect_eq "mtime after chmod" "$y2" "$y1"
[ "$m2" -gt "$m1" ] || fail "creating dir/new did not move dir's mtime ($m1 -> $m2)"
touch -a -d @1000000000 "$MNT/mine" || fail "touch -a"
expect_eq "atime set" "$(stat -c %X "$MNT/mine")" 1000000000

unmount_store
mount_store_fg -o allow_other,default_permissions
check "owners after a remount"
if $ROOT; then
  expect_eq "owner of mine after remount" "$(owner "$MNT/mine")" 123:456
  expect_eq "owner of dir after remount" "$(owner "$MNT/dir")" "$(id -u):789"
  expect_eq "owner of moved after remount" "$(owner "$MNT/pub2/moved")" 65534:65534
  expect_eq "owner of theirdir/f after remount" "$(owner "$MNT/pub2/theirdir/f")" 65534:65534
  expect_eq "group of g/f after remount" "$(stat -c %g "$MNT/g/f")" 4242
  expect_eq "contents of mine" "$(cat "$MNT/mine")" "mine
more"
else
  expect_eq "owner of mine after remount" "$(owner "$MNT/mine")" "$(id -u):$(id -g)"
fi
unmount_store
echo "PASS: fs_owner_test"
exit 0
