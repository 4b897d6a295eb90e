#!/bin/sh
# The newcomer's tour (issue "Done when"): echo, cat, cp -r, rsync, mv, rm -rf,
# git init/commit, setfattr and cat .bitgask/stats in a mount, then the same
# keys through `bitgask get` after unmount.
set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
command -v git >/dev/null 2>&1 || fail "git is missing (packaging/install-deps.sh installs it)"
command -v setfattr >/dev/null 2>&1 || fail "setfattr is missing (package attr)"
command -v rsync >/dev/null 2>&1 || fail "rsync is missing (packaging/install-deps.sh installs it)"

SRC=$abs_top_srcdir
mount_store

check "echo and cat"
echo "hi" > "$MNT/today" || fail "echo"
expect_eq "cat today" "$(cat "$MNT/today")" "hi"

check "cp -r of a source tree, byte for byte"
cp -r "$SRC/docs" "$MNT/docs" || fail "cp -r docs"
diff -r "$SRC/docs" "$MNT/docs" || fail "docs differ after cp -r"

check "rsync -a keeps contents and times; a second rsync has nothing to do"
rsync -a "$SRC/docs/" "$MNT/synced/" || fail "rsync"
diff -r "$SRC/docs" "$MNT/synced" || fail "synced differs"
expect_eq "second rsync" "$(rsync -ai "$SRC/docs/" "$MNT/synced/")" ""

check "mv of a directory, then rm -rf"
mv "$MNT/docs" "$MNT/manual" || fail "mv docs manual"
[ ! -e "$MNT/docs" ] || fail "docs still there after mv"
diff -r "$SRC/docs" "$MNT/manual" || fail "manual differs after mv"
cp -r "$SRC/tests" "$MNT/scratch" || fail "cp -r tests"
rm -rf "$MNT/scratch" || fail "rm -rf scratch"
[ ! -e "$MNT/scratch" ] || fail "scratch survived rm -rf"

check "git init, add, commit twice; fsck is clean"
(
  cd "$MNT" && git init -q repo && cd repo &&
  cp -r "$SRC/docs" . &&
  git add -A && git -c user.email=t@example.com -c user.name=tour commit -qm first &&
  echo more >> docs/extra && git add -A &&
  git -c user.email=t@example.com -c user.name=tour commit -qm second
) || fail "git commits"
expect_eq "git log" "$(git -C "$MNT/repo" log --format=%s | tr '\n' ' ')" "second first "
git -C "$MNT/repo" fsck --strict >/dev/null 2>&1 || fail "git fsck"
expect_eq "git status" "$(git -C "$MNT/repo" status --porcelain)" ""

check "setfattr gives a TTL; getfattr reads it"
setfattr -n user.bitgask.ttl -v 600 "$MNT/today" || fail "setfattr"
ttl=$(getfattr --absolute-names --only-values -n user.bitgask.ttl "$MNT/today")
[ "$ttl" -gt 590 ] && [ "$ttl" -le 600 ] || fail "ttl reads $ttl"

check "cat .bitgask/stats"
stats=$(cat "$MNT/.bitgask/stats") || fail "cat stats"
case $stats in *'"keys":'*'"total_bytes":'*) ;; *) fail "stats: $stats" ;; esac

unmount_store

check "every file is the same key through bitgask get"
CLI=$BUILD/src/bitgask
expect_eq "bitgask get today" "$("$CLI" --dir "$STORE" get today)" "hi"
for f in $(cd "$SRC/docs" && ls); do
  "$CLI" --dir "$STORE" get "manual/$f" | cmp -s - "$SRC/docs/$f" || fail "bitgask get manual/$f differs"
done
"$CLI" --dir "$STORE" get repo/.git/HEAD >/dev/null || fail "bitgask get repo/.git/HEAD"
echo "PASS: fs_tour_test"
