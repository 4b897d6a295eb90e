#!/bin/sh
# fs_control_test.sh: the control files under /.bitgask (stats, merge, sync,
# gc): listing, JSON content, actions run by writes, and that nothing can be
# created, removed or renamed there.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"

# json_field FILE NAME: the value of "NAME" in the one-line JSON of FILE.
json_field() {
  sed -n "s/.*\"$2\": *\\(\"[^\"]*\"\\|[^,}]*\\).*/\\1/p" "$1"
}

mount_store

check "ls -la lists the four control files and unmapped/"
expect_eq "ls .bitgask" "$(ls "$MNT/.bitgask" | tr '\n' ' ')" "gc merge stats sync unmapped "
ls -la "$MNT/.bitgask" >/dev/null || fail "ls -la .bitgask"
[ -d "$MNT/.bitgask" ] || fail ".bitgask is not a directory"
ls -a "$MNT" | grep -qx .bitgask || fail "ls -a of the root does not list .bitgask"
expect_eq "stats mode" "$(stat -c %A "$MNT/.bitgask/stats")" "-r--r--r--"

check "stats is JSON with the store's numbers"
for i in 1 2 3 4 5; do echo "value $i" > "$MNT/k$i" || fail "write k$i"; done
echo again > "$MNT/k1" && rm "$MNT/k5" || fail "overwrite k1, rm k5"
cp "$MNT/.bitgask/stats" "$TMP/stats" || fail "read stats"
cat "$TMP/stats"
expect_eq "keys" "$(json_field "$TMP/stats" keys)" 4
for f in total_bytes dead_bytes reclaimable_ratio data_files last_merge last_merge_status; do
  [ -n "$(json_field "$TMP/stats" $f)" ] || fail "stats has no $f"
done
[ "$(json_field "$TMP/stats" dead_bytes)" -gt 0 ] || fail "dead_bytes is 0 after an overwrite and a delete"
expect_eq "last_merge before any merge" "$(json_field "$TMP/stats" last_merge)" null
if command -v python3 >/dev/null 2>&1; then
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/stats" || fail "stats is not valid JSON"
fi

check "echo 1 > merge runs a merge that drops the dead bytes"
total_before=$(json_field "$TMP/stats" total_bytes)
echo 1 > "$MNT/.bitgask/merge" || fail "write merge"
cp "$MNT/.bitgask/merge" "$TMP/merge" || fail "read merge"
cat "$TMP/merge"
json_field "$TMP/merge" last_merge_status | grep -q '^"ok' || fail "merge status is not ok"
[ "$(json_field "$TMP/merge" last_merge)" -ge $(($(date +%s) - 60)) ] || fail "last_merge is not recent"
cp "$MNT/.bitgask/stats" "$TMP/stats2"
[ "$(json_field "$TMP/stats2" total_bytes)" -lt "$total_before" ] ||
  fail "total_bytes did not shrink after the merge"
expect_eq "keys after merge" "$(json_field "$TMP/stats2" keys)" 4
expect_eq "k1 after merge" "$(cat "$MNT/k1")" "again"
expect_eq "k4 after merge" "$(cat "$MNT/k4")" "value 4"

check "sync: write runs DB::Sync, read says so"
expect_eq "sync before" "$(json_field "$MNT/.bitgask/sync" last_sync)" null
echo > "$MNT/.bitgask/sync" || fail "write sync"
expect_eq "sync status" "$(json_field "$MNT/.bitgask/sync" last_sync_status)" '"ok"'

check "gc: removes expired keys and says how many"
echo a > "$MNT/t1" && echo b > "$MNT/t2" || fail "write t1 t2"
setfattr -n user.bitgask.ttl -v 1 "$MNT/t1" && setfattr -n user.bitgask.ttl -v 1 "$MNT/t2" ||
  fail "set ttl"
sleep 1.2
echo 1 > "$MNT/.bitgask/gc" || fail "write gc"
expect_eq "gc removed" "$(json_field "$MNT/.bitgask/gc" last_gc_removed)" 2
expect_eq "gc status" "$(json_field "$MNT/.bitgask/gc" last_gc_status)" '"ok"'

check "nothing can be created, removed or renamed in /.bitgask"
expect_fail "touch" "Operation not permitted" touch "$MNT/.bitgask/new"
expect_fail "mkdir" "Operation not permitted" mkdir "$MNT/.bitgask/dir"
expect_fail "rm stats" "Operation not permitted" rm -f "$MNT/.bitgask/stats"
expect_fail "mv stats" "Operation not permitted" mv "$MNT/.bitgask/stats" "$MNT/.bitgask/s2"
expect_fail "mv into" "Operation not permitted" mv "$MNT/k1" "$MNT/.bitgask/k1"
expect_fail "rmdir .bitgask" "Operation not permitted" rmdir "$MNT/.bitgask"
expect_fail "mv .bitgask" "Operation not permitted" mv "$MNT/.bitgask" "$MNT/elsewhere"
expect_fail "ln -s" "Operation not permitted" ln -s x "$MNT/.bitgask/l"
expect_fail "chmod" "Operation not permitted" chmod 600 "$MNT/.bitgask/merge"
expect_fail "write stats" "Permission denied" sh -c "echo 1 > '$MNT/.bitgask/stats'"
expect_eq "k1 still there" "$(cat "$MNT/k1")" "again"

check "final unmount"
unmount_store

check "bitgask stats prints the fields of .bitgask/stats, in its order, before its counters"
CLI=$BUILD/src/bitgask
[ -x "$CLI" ] || fail "$CLI is not built"
"$CLI" stats --dir "$STORE" > "$TMP/cli_stats" || fail "bitgask stats"
cat "$TMP/cli_stats"
json_names() { grep -o '"[a-z_]*":' "$1" | tr -d '":' | tr '\n' ' '; }
expect_eq "field names" "$(json_names "$TMP/stats2")" \
  "$(json_names "$TMP/cli_stats")puts gets deletes write_groups syncs rotation_waits "
expect_eq "keys from the command line" "$(json_field "$TMP/cli_stats" keys)" 4
echo "PASS: fs_control_test"
exit 0
