#!/bin/sh
# fs_kill_test.sh: kill -9 of mount.bitgask while real tools work in the
# mount: `cp -rv` of a tree, a chain of `mv` of a whole directory, and
# merges written to .bitgask/merge, all at once; then remount and check.
#
# Setup: a source tree of about 120 files (empty to 3 MiB, random and
# compressible bytes, five levels of directories) in $TMP/src, copied once
# into the mount as d.0 and checked with diff -r.
# Each round, on the same store (the default sync_on_put=true):
#   1. cp -rv src mnt/copy.R; a loop of mv mnt/d.K mnt/d.K+1, logging each
#      K+1 after mv returned 0; a loop of `echo 1 > mnt/.bitgask/merge`;
#   2. kill -9 of the mount after a random 0.1 s to 1.5 times the time a
#      whole cp took at setup; once the workers have failed and exited, a
#      lazy unmount of the dead mount; remount (the same store);
#   3. checks:
#      - cp: GNU cp -v prints each name before it copies it and goes on
#        after errors (after the kill every name fails), so a file printed
#        without an error was copied and closed with success: it must equal
#        its source byte for byte; one with an error (in flight at the kill)
#        may be missing, empty or whole, never partial or other bytes; no
#        name cp never printed may exist under copy.R;
#      - mv: the directory is at the last name logged or the next (the mv in
#        flight), never both, no other d.*, and diff -r with src is empty;
#      - then rm -rf copy.R must work, leaving nothing behind.
# Ends with a clean unmount, a remount and the checks again.
# Budget: BITGASK_CRASH_SECONDS (default 25) or BITGASK_CRASH_ITERS rounds;
# BITGASK_CRASH_SEED (printed) repeats the tree, the delays (not the exact
# kill moments). Exits 77 only when /dev/fuse or fusermount3 is missing.

set -u

. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"

SEED=${BITGASK_CRASH_SEED:-$(date +%s)}
SECONDS_BUDGET=${BITGASK_CRASH_SECONDS:-25}
ROUNDS=${BITGASK_CRASH_ITERS:-}
echo "fs_kill_test: seed $SEED (BITGASK_CRASH_SEED=$SEED repeats the choices)," \
  "${ROUNDS:+$ROUNDS rounds}${ROUNDS:-$SECONDS_BUDGET s}"

# The background workers of a round: killed on any way out, before the
# mount goes (fs_lib.sh's cleanup).
CP_PID= MV_PID= MERGE_PID=
stop_workers() {
  for p in $CP_PID $MV_PID $MERGE_PID; do kill -9 "$p" 2>/dev/null; done
  for p in $CP_PID $MV_PID $MERGE_PID; do wait "$p" 2>/dev/null; done
  CP_PID= MV_PID= MERGE_PID=
}
trap 'stop_workers; cleanup' EXIT

# rand N SALT: a number 0..N-1 from SEED and SALT.
rand() { awk -v s="$SEED" -v n="$1" -v t="$2" 'BEGIN { srand((s % 100000) * 1000 + t); printf "%d", rand() * n }'; }

# ---- the source tree
SRC=$TMP/src
mkdir -p "$SRC/a/b/c/d" "$SRC/e" "$SRC/f/g" "$SRC/empty dir" || fail "mkdir src"
dirs="a a/b a/b/c a/b/c/d e f f/g ."
i=0
for d in $dirs $dirs $dirs $dirs $dirs $dirs $dirs $dirs $dirs $dirs $dirs $dirs $dirs; do
  i=$((i + 1))
  r=$(rand 100 "$i")
  if [ "$r" -lt 8 ]; then size=0
  elif [ "$r" -lt 70 ]; then size=$(rand 16384 "$((i + 5000))")
  elif [ "$r" -lt 96 ]; then size=$((16384 + $(rand 250000 "$((i + 9000))")))
  else size=$((1048576 + $(rand 2097152 "$((i + 7000))")))
  fi
  f="$SRC/$d/file $i.bin"
  if [ $((i % 3)) -eq 0 ]; then
    yes "line $i of a compressible file" | head -c "$size" > "$f"
  else
    head -c "$size" /dev/urandom > "$f"
  fi
done
files=$(find "$SRC" -type f | wc -l)
bytes=$(du -sb "$SRC" | cut -f1)
echo "source tree: $files files, $bytes bytes"

mount_store_fg
start=$(date +%s%N)
cp -r "$SRC" "$MNT/d.0" || fail "cp -r of the source tree into the mount"
cp_ms=$((($(date +%s%N) - start) / 1000000))
diff -r "$SRC" "$MNT/d.0" >/dev/null || fail "the first copy differs from its source"
echo "a whole cp -r takes $cp_ms ms"
MVLOG=$TMP/mv.log
echo 0 > "$MVLOG"

# check_copy DIR LOG ERR: DIR is what cp -rv left at the kill; LOG is its
# standard output (a line per name, printed before that name is copied),
# ERR its errors. cp goes on after an error, and after the kill every name
# fails, so a name printed with no error was copied and closed with success:
# acknowledged. A name with an error is in doubt: missing, empty (the
# create landed) or whole, never anything else.
check_copy() {
  dir=$1 log=$2 err=$3
  # Each line: 'SRC/path' -> 'DIR/path' (names here hold no quote).
  sed "s|^'$SRC\(.*\)' -> '$dir\(.*\)'\$|\1|" "$log" > "$TMP/copied"
  grep -o "'$dir[^']*'" "$err" | sed "s|^'$dir||; s|'\$||" | sort -u > "$TMP/failed"
  acked=0
  while IFS= read -r rel; do
    s="$SRC$rel" t="$dir$rel"
    if grep -qxF -- "$rel" "$TMP/failed"; then
      [ -d "$s" ] && continue
      if [ -e "$t" ] && [ -s "$t" ] && ! cmp -s "$s" "$t"; then
        fail "$t, in flight at the kill, holds $(stat -c %s "$t") of $(stat -c %s "$s") bytes, not its source's: $(cmp "$s" "$t" 2>&1 | head -n 1)"
      fi
    elif [ -d "$s" ]; then
      [ -d "$t" ] || fail "cp made directory $t before the kill, but it is missing"
    else
      acked=$((acked + 1))
      [ -f "$t" ] || fail "cp copied $t before the kill, but it is missing"
      cmp -s "$s" "$t" || fail "cp copied $t before the kill, but it holds $(stat -c %s "$t") of $(stat -c %s "$s") bytes, not its source's: $(cmp "$s" "$t" 2>&1 | head -n 1)"
    fi
  done < "$TMP/copied"
  # Nothing cp never reached. A name whose create was in flight (an error,
  # e.g. a mkdir stored just before the kill, its reply lost) may exist.
  [ -d "$dir" ] || return 0
  (cd "$dir" && find . -mindepth 1) | sed 's|^\.||' | sort > "$TMP/found"
  sort -u "$TMP/copied" "$TMP/failed" > "$TMP/copied.sorted"
  extra=$(comm -23 "$TMP/found" "$TMP/copied.sorted" | head -n 3)
  [ -z "$extra" ] || fail "under $dir, names cp never created: $extra"
}

# check_moved: the directory of the mv chain is whole at exactly one name.
check_moved() {
  last=$(tail -n 1 "$MVLOG")
  next=$((last + 1))
  found=$(cd "$MNT" && ls -d d.* 2>/dev/null | tr '\n' ' ')
  if [ "$found" = "d.$last " ]; then at=$last
  elif [ "$found" = "d.$next " ]; then at=$next; echo "$next" >> "$MVLOG"
  else fail "mv chain: expected d.$last (or d.$next, the mv in flight), found: $found"
  fi
  diff -r "$SRC" "$MNT/d.$at" > "$TMP/diff" 2>&1 || fail "d.$at differs from the source: $(head -n 5 "$TMP/diff")"
}

round=0 kills=0 cp_files=0 mvs=0 merges=0 t0=$(date +%s)
while :; do
  if [ -n "$ROUNDS" ]; then [ $round -ge "$ROUNDS" ] && break
  else [ $(($(date +%s) - t0)) -ge "$SECONDS_BUDGET" ] && [ $round -gt 0 ] && break
  fi
  round=$((round + 1))
  : > "$TMP/cp.log"
  cp -rv "$SRC" "$MNT/copy.$round" > "$TMP/cp.log" 2> "$TMP/cp.err" &
  CP_PID=$!
  (
    k=$(tail -n 1 "$MVLOG")
    while mv "$MNT/d.$k" "$MNT/d.$((k + 1))" 2>/dev/null; do
      k=$((k + 1)); echo "$k" >> "$MVLOG"
      sleep 0.0$(($(rand 9 "$k") + 1))
    done
  ) &
  MV_PID=$!
  ( n=0; while echo 1 > "$MNT/.bitgask/merge"; do n=$((n + 1)); echo "$n" > "$TMP/merges"; done ) 2>/dev/null &
  MERGE_PID=$!
  ms=$((100 + $(rand $((cp_ms * 3 / 2)) "$((round + 100))")))
  sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  # The dead mount stays mounted until the workers are done: every call they
  # make fails (ENOTCONN), none reaches the directory under the mount point.
  kill -9 "$MOUNT_PID" || fail "kill -9 $MOUNT_PID"
  wait "$MOUNT_PID" 2>/dev/null
  MOUNT_PID=
  kills=$((kills + 1))
  for p in $CP_PID $MV_PID $MERGE_PID; do wait "$p" 2>/dev/null; done
  CP_PID= MV_PID= MERGE_PID=
  fusermount3 -u -z "$MNT" || fail "fusermount3 -u -z of the dead mount"
  is_mounted && fail "dead mount still in /proc/mounts"
  [ -s "$TMP/merges" ] && merges=$((merges + $(cat "$TMP/merges")))
  rm -f "$TMP/merges"
  mount_store_fg
  check_copy "$MNT/copy.$round" "$TMP/cp.log" "$TMP/cp.err"
  check_moved
  echo "round $round: killed after $ms ms; $acked files cp had copied intact; d.$(tail -n 1 "$MVLOG") whole; ok"
  cp_files=$((cp_files + acked))
  rm -rf "$MNT/copy.$round" || fail "rm -rf of copy.$round after the kill"
  [ -e "$MNT/copy.$round" ] && fail "copy.$round is still there after rm -rf"
done
mvs=$(tail -n 1 "$MVLOG")
unmount_store
mount_store_fg
check_moved
[ -z "$(cd "$MNT" && ls -d copy.* 2>/dev/null)" ] || fail "a removed copy came back after a clean remount"
unmount_store
echo "fs_kill_test: $kills kill -9 of the mount in $(($(date +%s) - t0)) s: $cp_files names copied by cp -r checked," \
  "$mvs directory renames (mv) checked, $merges merges requested through .bitgask/merge; PASS"
exit 0
