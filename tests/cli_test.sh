#!/bin/sh
# cli_test.sh: runs every `bitgask` subcommand on a real store in a temp dir
# and checks stdout, stderr and exit codes (0 success, 1 not found/failure,
# 2 usage): binary-safe values through stdin/stdout, read-only commands that
# never create a store, delete-all refusing without a terminal, validate and
# repair on a flipped byte, backup, the lock message, progress only on a tty.

set -u

B=${abs_top_builddir:?abs_top_builddir is not set}/src/bitgask
[ -x "$B" ] || { echo "FAIL: $B is not built"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-cli-test.XXXXXX") || exit 1
S=$TMP/store
HOLDER=
cleanup() {
  [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# fail MESSAGE: reports the last command's output (non-text bytes shown by cat -v).
fail() {
  echo "FAIL: $*"
  echo "--- stdout of the last command:"; head -c 2000 "$TMP/out" | cat -v
  echo "--- stderr:"; cat -v "$TMP/err"
  exit 1
}
check() { echo "check: $*"; }

# run WANT_RC ARGS...: runs bitgask with stdin from /dev/null, stdout in
# $TMP/out, stderr in $TMP/err; fails unless it exits WANT_RC.
run() {
  want=$1; shift
  "$B" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
  rc=$?
  [ "$rc" -eq "$want" ] || fail "bitgask $* exited $rc, expected $want"
}
# out_is TEXT: stdout is exactly TEXT (plus the newline of $(...)).
out_is() { [ "$(cat "$TMP/out")" = "$1" ] || fail "stdout is '$(cat "$TMP/out")', expected '$1'"; }
out_has() { grep -q -- "$1" "$TMP/out" || fail "stdout lacks '$1'"; }
err_has() { grep -q -- "$1" "$TMP/err" || fail "stderr lacks '$1'"; }
err_empty() { [ ! -s "$TMP/err" ] || fail "stderr is not empty"; }
one_line_err() { [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "stderr is not one line"; }

check "usage errors exit 2"
run 2
run 2 no-such-command
run 2 get
run 2 put onlykey
run 2 put k v --sync-on-put=maybe --dir "$S"
err_has "bad value for --sync-on-put"
run 2 put k v --ttl 0 --dir "$S"
run 2 put k v --ttl soon --dir "$S"
run 2 expire k never --dir "$S"
run 2 keys --no-such-flag --dir "$S"
[ ! -e "$S" ] || fail "a usage error created the store"

check "--help on every subcommand"
for c in get put del exists keys scan ttl expire persist stats reclaimable merge gc backup \
         delete-all validate repair digest version; do
  run 0 "$c" --help
  out_has "Usage:"
done
run 0 --help
out_has "delete-all"

check "version"
run 0 version
out_has "^bitgask [0-9]"

check "no command but put creates a store (absent dir, empty dir)"
mkdir "$TMP/empty"
for d in "$S" "$TMP/empty"; do
  for c in "get k" "exists k" "keys" "scan p" "ttl k" "stats" "reclaimable" "digest" \
           "validate" "repair" "del k" "expire k 10" "persist k" "merge --force" "gc" \
           "backup $TMP/nobackup" "delete-all --yes"; do
    # shellcheck disable=SC2086
    run 1 $c --dir "$d"
    err_has "no store at $d"
    one_line_err
  done
done
[ ! -e "$S" ] || fail "a command created $S"
[ -z "$(ls -A "$TMP/empty")" ] || fail "a command wrote into the empty directory"
[ ! -e "$TMP/nobackup" ] || fail "backup of no store created its destination"

check "put creates the store; get, exit codes"
run 0 put greeting hello --dir "$S"
[ -d "$S/data" ] || fail "put did not create the store"
run 0 get greeting --dir "$S"
out_is hello
[ "$(od -An -c "$TMP/out" | tr -d ' \n')" = "hello" ] || fail "get added bytes to the value"
run 0 --dir "$S" get greeting          # --dir also before the command
out_is hello
run 1 get missing --dir "$S"
err_has "not found: missing"
one_line_err
run 0 put empty "" --dir "$S"
run 0 get empty --dir "$S"
[ ! -s "$TMP/out" ] || fail "empty value printed bytes"
run 0 put dash -5 --dir "$S"
run 0 get dash --dir "$S"
out_is -5
run 0 put --dir "$S" dash -- --x
run 0 get dash --dir "$S"
out_is --x

check "binary-safe values through put - and get"
i=0
while [ $i -lt 256 ]; do printf "\\$(printf %03o $i)"; i=$((i + 1)); done >"$TMP/all256"
printf 'a\000\000b\000' >>"$TMP/all256"
[ "$(wc -c <"$TMP/all256")" -eq 261 ] || fail "test file has $(wc -c <"$TMP/all256") bytes"
"$B" put bin - --dir "$S" <"$TMP/all256" || fail "put bin - exited $?"
"$B" get bin --dir "$S" >"$TMP/got" || fail "get bin exited $?"
cmp "$TMP/all256" "$TMP/got" || fail "binary value changed"
head -c 300000 /dev/urandom >"$TMP/big"
cat "$TMP/all256" >>"$TMP/big"
"$B" put big - --dir "$S" <"$TMP/big" || fail "put big - exited $?"
"$B" get big --dir "$S" >"$TMP/got" || fail "get big exited $?"
cmp "$TMP/big" "$TMP/got" || fail "big binary value changed"
nlkey=$(printf 'line1\nline2')
run 0 put "$nlkey" v --dir "$S"

check "exists prints 1/0"
run 0 exists greeting --dir "$S"
out_is 1
run 1 exists missing --dir "$S"
out_is 0

check "ttl, expire, persist"
run 0 ttl greeting --dir "$S"
out_is -1
run 0 expire greeting 100 --dir "$S"
run 0 ttl greeting --dir "$S"
t=$(cat "$TMP/out")
[ "$t" -ge 99 ] && [ "$t" -le 100 ] || fail "ttl after expire 100 is $t"
run 0 expire greeting 2h --dir "$S"
run 0 ttl greeting --dir "$S"
out_is 7200
run 0 persist greeting --dir "$S"
run 0 ttl greeting --dir "$S"
out_is -1
run 1 ttl missing --dir "$S"
out_is -2
err_has "not found: missing"
run 1 expire missing 10 --dir "$S"
run 1 persist missing --dir "$S"
run 0 put short v --ttl 1 --dir "$S"
run 0 ttl short --dir "$S"
out_is 1
sleep 1.2
run 1 get short --dir "$S"
run 1 ttl short --dir "$S"
out_is -2

check "del"
run 0 put gone x --dir "$S"
run 0 del gone --dir "$S"
run 1 get gone --dir "$S"
run 1 del gone --dir "$S"
err_has "not found: gone"

check "keys and scan, one per line, -0 for NUL-separated"
run 0 put user:2 b --dir "$S"
run 0 put user:1 a --dir "$S"
run 0 put usex c --dir "$S"
run 0 scan user: --dir "$S"
out_is "$(printf 'user:1\nuser:2')"
run 0 scan -0 user: --dir "$S"
printf 'user:1\000user:2\000' | cmp - "$TMP/out" || fail "scan -0 output differs"
run 0 scan nothing-here --dir "$S"
[ ! -s "$TMP/out" ] || fail "scan of an absent prefix printed keys"
run 0 keys -0 --dir "$S"
printf 'big\000bin\000dash\000empty\000greeting\000line1\nline2\000user:1\000user:2\000usex\000' |
  cmp - "$TMP/out" || fail "keys -0 output differs"
run 1 keys --dir "$S"                  # a key with a newline: ambiguous lines
err_has "contain a newline"
[ "$(sed -n 6p "$TMP/out")" = line1 ] || fail "keys did not print every key"
[ "$(wc -l <"$TMP/out")" -eq 10 ] || fail "keys printed $(wc -l <"$TMP/out") lines"
run 0 del "$nlkey" --dir "$S"
run 0 keys --dir "$S"
out_is "$(printf 'big\nbin\ndash\nempty\ngreeting\nuser:1\nuser:2\nusex')"

check "stats and reclaimable (JSON)"
run 0 stats --dir "$S"
for f in '"keys":8' '"total_bytes":' '"dead_bytes":' '"reclaimable_ratio":' \
         '"data_files":' '"keydir_bytes":' '"last_merge":null' "\"store\":\"$S\""; do
  out_has "$f"
done
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "stats is not one line"
run 0 reclaimable --dir "$S"
out_has '^{"dead_bytes":[1-9][0-9]*,"total_bytes":[1-9][0-9]*,"reclaimable_ratio":0\.[0-9]*}$'

check "gc (opening the store already drops keys that expired while it was closed)"
run 0 put soon v --ttl 1 --dir "$S"
sleep 1.2
run 0 gc --dir "$S"
out_is "removed 0 expired key(s)"
run 1 exists soon --dir "$S"

check "merge, and progress absent when piped"
run 0 merge --dir "$S"
out_has "merge not needed"
run 0 merge --force --dir "$S"
out_has "^merged "
err_empty
run 0 stats --dir "$S"
out_has '"dead_bytes":0,'
run 0 get big --dir "$S"
cmp "$TMP/big" "$TMP/out" || fail "big value changed by merge"

check "digest"
run 0 digest --dir "$S"
digest=$(cat "$TMP/out")
echo "$digest" | grep -qx '[0-9a-f]\{32\}' || fail "digest is '$digest'"

check "backup, then read from the backup"
mkdir "$TMP/full" && echo x >"$TMP/full/f"
run 1 backup "$TMP/full" --dir "$S"
err_has "not empty"
run 0 backup "$TMP/bk" --dir "$S"
err_empty
run 0 get bin --dir "$TMP/bk"
cmp "$TMP/all256" "$TMP/out" || fail "value in the backup differs"
run 0 digest --dir "$TMP/bk"
out_is "$digest"

check "validate and repair, quiet when piped"
run 0 validate --dir "$S"
out_has "^ok$"
err_empty
run 0 repair --dir "$S"
out_has "^repaired "
err_empty

check "delete-all asks, refuses without a terminal, --yes deletes"
run 1 delete-all --dir "$TMP/bk"
err_has "pass --yes"
run 0 exists bin --dir "$TMP/bk"
run 0 delete-all --yes --dir "$TMP/bk"
run 0 keys --dir "$TMP/bk"
[ ! -s "$TMP/out" ] || fail "keys left after delete-all"

check "a store in use: clear message, exit 1, --lock-timeout waits"
# hold SECONDS: another process holds the store's lock (flock, as the
# engine takes it) for SECONDS; $HOLDER is that process itself.
hold() {
  sh -c 'exec 9>>"$1" && flock 9 && exec sleep "$2"' sh "$S/LOCK" "$1" &
  HOLDER=$!
  i=0
  until ! flock -n "$S/LOCK" true; do
    i=$((i + 1)); [ $i -gt 50 ] && fail "the lock holder did not start"; sleep 0.1
  done
}
hold 30
for c in "get greeting" "put a b" "stats" "validate" "repair" "merge --force"; do
  # shellcheck disable=SC2086
  run 1 $c --dir "$S"
  err_has "store $S is in use by another process"
  one_line_err
done
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null; HOLDER=
hold 1
run 0 get greeting --lock-timeout=10s --dir "$S"
out_is hello
wait "$HOLDER"; HOLDER=

check "validate finds a flipped byte in an older data file; repair salvages"
C=$TMP/corrupt
head -c 1000 /dev/urandom >"$TMP/v1k"
for k in k1 k2 k3 k4 k5 k6 k7 k8 k9; do
  "$B" put $k - --dir "$C" --max-data-file-size=4K --compression-threshold=0 <"$TMP/v1k" ||
    fail "put $k exited $?"
done
F=$C/data/000000001.data
[ -f "$C/data/000000002.data" ] || fail "4K data files did not rotate"
# The first record: 32-byte header, key "k1", then the value; flip value byte 100.
off=134
byte=$(od -An -tu1 -j $off -N1 "$F" | tr -d ' ')
printf "\\$(printf %03o $((byte ^ 255)))" | dd of="$F" bs=1 seek=$off conv=notrunc 2>/dev/null
run 1 validate --dir "$C"
out_has "^corrupt: .*000000001.data offset 0: "
out_has "^damaged: "
err_empty
run 1 get k1 --dir "$C"
err_has "get k1: Corruption: .*000000001.data offset 0"
one_line_err
run 0 get k2 --dir "$C"
cmp "$TMP/v1k" "$TMP/out" || fail "k2 changed"
run 0 repair --dir "$C"
out_has "1 damaged region(s)"
run 0 validate --dir "$C"
out_has "^ok$"
run 1 get k1 --dir "$C"
run 0 get k9 --dir "$C"
cmp "$TMP/v1k" "$TMP/out" || fail "k9 changed by repair"

check "progress shows on a terminal"
if ! command -v script >/dev/null 2>&1; then fail "script(1) (bsdutils) is missing"; fi
script -qec "'$B' merge --force --dir '$S'" "$TMP/typescript" >/dev/null 2>&1 </dev/null ||
  fail "merge on a terminal exited $?"
grep -q "merge: " "$TMP/typescript" || { cat "$TMP/typescript"; fail "no progress on a terminal"; }
script -qec "'$B' validate --dir '$S'" "$TMP/typescript" >/dev/null 2>&1 </dev/null ||
  fail "validate on a terminal exited $?"
grep -q "validate: " "$TMP/typescript" || fail "no validate progress on a terminal"

check "delete-all on a terminal asks; only yes deletes"
run 0 backup "$TMP/bk2" --dir "$S"
echo n | script -qec "'$B' delete-all --dir '$TMP/bk2'" "$TMP/typescript" >/dev/null 2>&1 &&
  fail "delete-all answered n exited 0"
grep -q "Delete all 8 key(s) of $TMP/bk2? \[y/N\]" "$TMP/typescript" || fail "delete-all did not ask"
run 0 exists bin --dir "$TMP/bk2"
echo y | script -qec "'$B' delete-all --dir '$TMP/bk2'" "$TMP/typescript" >/dev/null 2>&1 ||
  fail "delete-all answered y exited $?"
run 0 keys --dir "$TMP/bk2"
[ ! -s "$TMP/out" ] || fail "keys left after delete-all answered y"

echo "PASS"
