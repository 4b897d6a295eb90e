#!/bin/sh
# fs_mtime_test.sh: mtimes as on a local filesystem.
#  1. A write moves mtime forward, and stat right after close shows it
#     (also when a stat came between the write and the close).
#  2. An mtime set with utimensat while the file is open with unflushed
#     writes survives the close: the writes came first, so the explicit
#     time is the last word; also after a remount.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u

. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
mount_store_fg

failed=0
printf 'old' > "$MNT/w" || fail "write w"
before=$(stat -c %Y "$MNT/w")
sleep 2
# One process: open, write, stat (as make or ls would), close, stat.
after=$(perl -e 'open(my $f, "+<", $ARGV[0]) or die "open: $!";
                 syswrite($f, "new") == 3 or die "write: $!";
                 my @during = stat($ARGV[0]);
                 close($f) or die "close: $!";
                 print((stat($ARGV[0]))[9]);' "$MNT/w") || fail "open, write, close, stat"
if [ "$after" -gt "$before" ]; then
  echo "ok: a write moved mtime from $before to $after"
else
  echo "FAIL: mtime right after write+close is $after, not after $before"
  failed=$((failed + 1))
fi

T=1000000000   # 2001-09-09 01:46:40 UTC
# One process, no dup of the descriptor (each close of a copy flushes):
# open, write, utimensat on the path, close.  perl-base is always there.
perl -e 'open(my $f, ">", $ARGV[0]) or die "open: $!";
         syswrite($f, "unflushed") == 9 or die "write: $!";
         utime($ARGV[1], $ARGV[1], $ARGV[0]) or die "utime: $!";
         close($f) or die "close: $!";' "$MNT/f" "$T" || fail "open, write, utime, close"
got=$(stat --cached=never -c %Y "$MNT/f")  # asks the mount, whatever the kernel cached
if [ "$got" = "$T" ]; then
  echo "ok: utimensat before close kept"
else
  echo "FAIL: mtime after close is $got, expected $T"
  failed=$((failed + 1))
fi
[ "$(cat "$MNT/f")" = unflushed ] || fail "contents of f"
unmount_store
mount_store_fg
got=$(stat -c %Y "$MNT/f")
[ "$got" = "$T" ] || { echo "FAIL: mtime after remount is $got, expected $T"; failed=$((failed + 1)); }
unmount_store
[ $failed -eq 0 ] || { echo "FAIL: fs_mtime_test: $failed checks failed"; exit 1; }
echo "PASS: fs_mtime_test"
exit 0
