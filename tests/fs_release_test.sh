#!/bin/sh
# fs_release_test.sh: a file written and closed, then opened again with
# O_TRUNC and written without a close, must keep its closed content across
# a kill -9 of the mount: only close and fsync commit.
# The RELEASE of the first, closed handle can reach the mount after the
# second open and its writes (FUSE sends release asynchronously after close
# returns); it must not store the buffer the two handles share.
# BITGASK_FS_RELEASE_ROUNDS (default 10) rounds of 100 files each.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u

. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
ROUNDS=${BITGASK_FS_RELEASE_ROUNDS:-10}

mount_store_fg
round=1
while [ $round -le "$ROUNDS" ]; do
  mkdir "$MNT/r$round" || fail "mkdir r$round"
  rm -f "$TMP/ready"
  # One process, for each of 100 files: write+close, open O_TRUNC, write;
  # all stay open until the kill.
  perl -e 'my @keep;
           for my $i (1..100) {
             my $p = "$ARGV[0]/f$i";
             open(my $f, ">", $p) or die "open: $!";
             syswrite($f, "closed content") == 14 or die "write: $!";
             close($f) or die "close: $!";
             open(my $g, ">", $p) or die "reopen: $!";
             syswrite($g, "UNFLUSHED") == 9 or die "write: $!";
             push @keep, $g;
           }
           open(my $r, ">", $ARGV[1]); close($r);
           sleep 60;' "$MNT/r$round" "$TMP/ready" &
  WORKER_PID=$!
  wait_until "the writer of round $round getting ready" "$WORKER_PID" test -e "$TMP/ready"
  sleep 0.2
  kill_mount
  kill -9 "$WORKER_PID" 2>/dev/null
  wait "$WORKER_PID" 2>/dev/null
  WORKER_PID=
  mount_store_fg
  for f in "$MNT/r$round"/*; do
    got=$(cat "$f")
    [ "$got" = "closed content" ] ||
      fail "round $round: after the kill $f holds '$got', expected 'closed content'"
  done
  round=$((round + 1))
done
unmount_store
echo "PASS: fs_release_test ($ROUNDS rounds)"
exit 0
