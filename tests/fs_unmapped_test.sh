#!/bin/sh
# fs_unmapped_test.sh: keys that cannot be shown at their path (written
# through the engine while the store is not mounted) are listed, readable and
# read-only under /.bitgask/unmapped/ with percent-encoded names; every other
# key stays visible at its path, and ls, cat and find work.
# Exits 77 (SKIP) only when /dev/fuse or fusermount3 is missing.

set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/fs_lib.sh"
SEED=$abs_top_builddir/tests/fs_seed_keys
[ -x "$SEED" ] || fail "$SEED is not built"

C300=$(head -c 300 /dev/zero | tr '\0' c)
"$SEED" "$STORE" \
  "good/file=good" "top=top" \
  "a//b=v-empty-component" "/abs=v-leading-slash" "trail//=v-trailing" \
  "x/./y=v-dot" ".=v-dot-alone" "..=v-dotdot" \
  "long/$C300=v-long" \
  "clash=v-file-under-dir" "clash/inner=inner" \
  ".bitgask/sneaky=v-reserved" \
  'bin\x01\xff=v-binary' 'nul\x00byte=v-nul' "pct%name=v-percent" || fail "seeding keys"

mount_store
U=$MNT/.bitgask/unmapped

check "valid keys are shown at their paths; the directory wins over a file key"
expect_eq "good/file" "$(cat "$MNT/good/file")" "good"
expect_eq "top" "$(cat "$MNT/top")" "top"
[ -d "$MNT/clash" ] || fail "clash is not a directory"
expect_eq "clash/inner" "$(cat "$MNT/clash/inner")" "inner"
# Any byte but '/' and NUL is fine in a name; a directory exists wherever
# keys start with its prefix, even keys that are themselves unmapped (a, long,
# trail, x).
expect_eq "ls /" "$(ls -b "$MNT" | tr '\n' ' ')" 'a bin\001\377 clash good long pct%name top trail x '
expect_eq "binary name" "$(cat "$MNT/$(printf 'bin\001\377')")" "v-binary"
expect_eq "percent name" "$(cat "$MNT/pct%name")" "v-percent"
expect_eq "ls a" "$(ls -A "$MNT/a")" ""

check "unmapped keys are listed under their encoded names"
short=$(ls "$U" | grep '^long%2Fc*%~[0-9a-f]\{16\}$')
[ -n "$short" ] || fail "no shortened name for the long key in: $(ls "$U")"
expect_eq "short name length (200 + %~ + 16)" "${#short}" 218
expect_eq "ls unmapped" "$(ls -A "$U" | grep -v '^long' | tr '\n' ' ')" \
  "%2E %2E%2E %2Fabs .bitgask%2Fsneaky a%2F%2Fb clash nul%00byte trail%2F%2F x%2F.%2Fy "

check "unmapped files read their values"
expect_eq "a//b" "$(cat "$U/a%2F%2Fb")" "v-empty-component"
expect_eq "/abs" "$(cat "$U/%2Fabs")" "v-leading-slash"
expect_eq "trail//" "$(cat "$U/trail%2F%2F")" "v-trailing"
expect_eq "x/./y" "$(cat "$U/x%2F.%2Fy")" "v-dot"
expect_eq "." "$(cat "$U/%2E")" "v-dot-alone"
expect_eq ".." "$(cat "$U/%2E%2E")" "v-dotdot"
expect_eq "long" "$(cat "$U/$short")" "v-long"
expect_eq "clash" "$(cat "$U/clash")" "v-file-under-dir"
expect_eq ".bitgask/sneaky" "$(cat "$U/.bitgask%2Fsneaky")" "v-reserved"
expect_eq "NUL in a key" "$(cat "$U/nul%00byte")" "v-nul"
expect_eq "size" "$(stat -c %s "$U/nul%00byte")" 5
expect_fail "a name no key encodes to" "No such file" cat "$U/nothing"
expect_fail "a shown key" "No such file" cat "$U/top"
expect_fail "a non-canonical name" "No such file" cat "$U/%61%2F%2Fb"

check "unmapped files are read-only"
expect_fail "write" "Read-only file system" sh -c "echo x > '$U/clash'"
expect_fail "rm" "Operation not permitted" rm -f "$U/clash"
expect_fail "create" "Operation not permitted" touch "$U/new"
expect_eq "clash unchanged" "$(cat "$U/clash")" "v-file-under-dir"

check "find walks the whole tree without errors"
find "$MNT" > "$TMP/find.out" || fail "find failed"
grep -qx "$MNT/good/file" "$TMP/find.out" || fail "find misses good/file"
grep -qx "$MNT/clash/inner" "$TMP/find.out" || fail "find misses clash/inner"
grep -qx "$U/a%2F%2Fb" "$TMP/find.out" || fail "find misses unmapped/a%2F%2Fb"

check "removing the directory that shadows a file shows the file"
rm "$MNT/clash/inner" && rmdir "$MNT/clash" || fail "rm clash/inner; rmdir clash"
expect_eq "clash is the file now" "$(cat "$MNT/clash")" "v-file-under-dir"
ls "$U" | grep -qx clash && fail "clash still listed as unmapped"

check "final unmount"
unmount_store
echo "PASS: fs_unmapped_test"
exit 0
