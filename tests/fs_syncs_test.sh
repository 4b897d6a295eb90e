#!/bin/sh
# With the default sync_on_put=true: one sync per file created, written and
# closed, and one per rename (an mtime set to the stored one writes
# nothing), counted by the
# store's "syncs" in /.bitgask/stats; what was synced survives kill -9,
# empty files created and closed included. About 3 s.
set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"

syncs() {
  n=$(sed -n 's/.*"syncs": *\([0-9][0-9]*\).*/\1/p' "$MNT/.bitgask/stats")
  [ -n "$n" ] || fail "no syncs in $(cat "$MNT/.bitgask/stats")"
  echo "$n"
}

# perl_files PREFIX N CONTENT: N files PREFIX0..., each one open(O_CREAT|O_EXCL),
# at most one write, one close (no dup of the descriptor: each close flushes).
perl_files() {
  perl -e 'use Fcntl;
    for my $i (0 .. $ARGV[1] - 1) {
      sysopen(my $f, "$ARGV[0]$i", O_WRONLY | O_CREAT | O_EXCL, 0644) or die "open: $!";
      length($ARGV[2]) == 0 or syswrite($f, $ARGV[2]) == length($ARGV[2]) or die "write: $!";
      close($f) or die "close: $!";
    }' "$1" "$2" "$3" || fail "perl_files $*"
}

mount_store_fg
mkdir "$MNT/d" || fail "mkdir"

check "one sync per file created, written and closed"
before=$(syncs)
perl_files "$MNT/d/f" 20 "four"
expect_eq "syncs for 20 files" $(($(syncs) - before)) 20

check "one sync per empty file created and closed"
before=$(syncs)
perl_files "$MNT/d/e" 5 ""
expect_eq "syncs for 5 empty files" $(($(syncs) - before)) 5

check "one sync per rename; the mtime stays"
mtime=$(stat -c %Y.%y "$MNT/d/f3")
before=$(syncs)
i=0
while [ $i -lt 20 ]; do
  mv "$MNT/d/f$i" "$MNT/d/g$i" || fail "mv f$i"
  i=$((i + 1))
done
stat "$MNT/d/g19" >/dev/null || fail "stat g19"
expect_eq "syncs for 20 renames" $(($(syncs) - before)) 20
expect_eq "mtime after rename" "$(stat -c %Y.%y "$MNT/d/g3")" "$mtime"

check "what was closed survives kill -9"
kill_mount
mount_store_fg
expect_eq "cat g7" "$(cat "$MNT/d/g7")" "four"
expect_eq "size of e4" "$(stat -c %s "$MNT/d/e4")" 0
expect_eq "mtime of g3 after remount" "$(stat -c %Y.%y "$MNT/d/g3")" "$mtime"
expect_eq "files" "$(ls "$MNT/d" | wc -l)" 25
unmount_store
echo "PASS: fs_syncs_test"
