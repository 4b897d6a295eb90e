#!/bin/sh
# doc_examples_test.sh: runs the examples of README.md and docs/*.md, so the
# docs never show a command that does not work.
#
# The convention (README.md, "A two-minute tour"): a fenced block opened with
# ```sh or ```cpp is an example and runs here; one opened with ```sh no-test
# or ```cpp no-test is only shown (a benchmark of minutes, a real machine's
# paths, a fragment), and the page says what tests it instead.  Synopses,
# output and config files are indented or fenced without a language.
#
# For each file, in an empty directory of its own (also HOME and TMPDIR):
#   1. every cpp block is compiled against the engine of the build tree
#      (engine/include, engine/libbitgask.a and its pkg-config dependencies)
#      and run; it must exit 0;
#   2. its sh blocks, in order, run as ONE bash script under `set -e -o
#      pipefail` with the built programs (src/) first on PATH; every command
#      must succeed, within 120 s;
#   3. the examples must clean up after themselves: no mount left under the
#      directory and no process of the script left running (both fail the
#      test), and every store's LOCK is released within 10 s (a mount's
#      process closes its store just after `fusermount3 -u` returns).
# Exit 77 only when /dev/fuse is missing (the examples mount stores).
set -u
. "${abs_top_srcdir:?abs_top_srcdir is not set}/tests/test_lib.sh"

SRC=$abs_top_srcdir
BUILD=${abs_top_builddir:?abs_top_builddir is not set}
[ -c /dev/fuse ] || { echo "SKIP: /dev/fuse is missing"; exit 77; }
for tool in bash fusermount3 setfattr redis-cli redis-benchmark flock timeout pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: $tool is missing (packaging/install-deps.sh)"; exit 1; }
done

# The examples listen on the port a reader would use.
if redis-cli -p 6380 PING >/dev/null 2>&1; then
  echo "FAIL: something already listens on 127.0.0.1:6380, which the examples of README.md use"; exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-doc-test.XXXXXX") || exit 1
RUNNING=   # process group of the script now running (its timeout's pid)

# unmount_under DIR: unmounts every mount below DIR; prints their mountpoints.
unmount_under() {
  awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | while read -r m; do
    echo "$m"
    fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
}
cleanup() {
  [ -n "$RUNNING" ] && kill -TERM -- "-$RUNNING" 2>/dev/null
  unmount_under "$TMP" >/dev/null
  for lock in $(find "$TMP" -name LOCK 2>/dev/null); do flock -w 10 "$lock" true; done
  rm -rf "$TMP"
}
fail() { echo "FAIL: $*"; exit 1; }
trap_cleanup

# blocks LANG FILE: the examples of language LANG in FILE, each followed by a
# line "#--end-of-block--"; NO_TEST_COUNT gets the number of no-test blocks.
blocks() {
  awk -v lang="$1" '
    !inb && $0 ~ "^```" lang "( |$)" { inb = 1; skip = ($0 ~ /no-test/); next }
    inb && /^```/ { if (!skip) print "#--end-of-block--"; inb = 0; next }
    inb && !skip { print }
  ' "$2"
}
count_blocks() {   # count_blocks LANG FILE [no-test]
  awk -v lang="$1" -v want="${3:-}" '
    $0 ~ "^```" lang "( |$)" { n += (want == "" ? ($0 !~ /no-test/) : ($0 ~ /no-test/)) }
    END { print n + 0 }' "$2"
}

ENGINE_LIBS="$BUILD/engine/libbitgask.a $(pkg-config --libs snappy spdlog zlib libisal libxxhash) -pthread"
ENGINE_CFLAGS="-std=c++17 -I$SRC/engine/include $(pkg-config --cflags snappy spdlog zlib libisal libxxhash) -pthread"

total_sh=0 total_cpp=0 total_skipped=0 n=0
for doc in "$SRC/README.md" "$SRC"/docs/*.md; do
  name=${doc#"$SRC"/}
  n=$((n + 1))
  dir=$TMP/$n
  mkdir -p "$dir/tmp" || fail "mkdir $dir"
  n_sh=$(count_blocks sh "$doc"); n_cpp=$(count_blocks cpp "$doc")
  skipped=$(( $(count_blocks sh "$doc" no-test) + $(count_blocks cpp "$doc" no-test) ))
  total_sh=$((total_sh + n_sh)); total_cpp=$((total_cpp + n_cpp))
  total_skipped=$((total_skipped + skipped))
  echo "check: $name: $n_sh sh block(s), $n_cpp cpp block(s), $skipped no-test"

  # 1. cpp blocks: compile and run each.
  i=0
  blocks cpp "$doc" | awk -v out="$dir/example" '
    /^#--end-of-block--$/ { i++; next } { print > (out i ".cc") }'
  for cc in "$dir"/example*.cc; do
    [ -e "$cc" ] || continue
    i=$((i + 1))
    # shellcheck disable=SC2086 # the flags are lists
    ${CXX:-g++} $ENGINE_CFLAGS -o "${cc%.cc}" "$cc" $ENGINE_LIBS > "$dir/cc.log" 2>&1 ||
      { cat "$dir/cc.log"; fail "$name: cpp block $i does not compile"; }
    (cd "$dir" && HOME=$dir TMPDIR=$dir/tmp "${cc%.cc}") > "$dir/cc.log" 2>&1
    status=$?
    [ "$status" -eq 0 ] || { cat "$dir/cc.log"; fail "$name: cpp block $i exits $status"; }
  done

  # 2. sh blocks: one script, in its own process group (timeout's).
  [ "$n_sh" -gt 0 ] || continue
  blocks sh "$doc" | sed '/^#--end-of-block--$/d' > "$dir/examples.sh"
  (cd "$dir" && PATH=$BUILD/src:$PATH HOME=$dir TMPDIR=$dir/tmp \
     exec timeout 120 bash -e -o pipefail -x ./examples.sh) > "$dir/examples.log" 2>&1 < /dev/null &
  RUNNING=$!
  wait "$RUNNING"; status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$dir/examples.log"
    [ "$status" -eq 124 ] && fail "$name: the examples did not finish within 120 s"
    fail "$name: an example failed (exit $status; its trace is above)"
  fi

  # 3. nothing left behind.
  left=$(unmount_under "$dir")
  [ -z "$left" ] || fail "$name: the examples left $left mounted"
  left=$(pgrep -g "$RUNNING" | tr '\n' ' ')
  kill -TERM -- "-$RUNNING" 2>/dev/null
  RUNNING=
  [ -z "$left" ] || fail "$name: the examples left processes running: $left"
  for lock in $(find "$dir" -name LOCK); do
    flock -w 10 "$lock" true || fail "$name: $lock still held 10 s after the examples ended"
  done
done

[ "$total_sh" -gt 0 ] && [ "$total_cpp" -gt 0 ] || fail "no examples found: is the fence convention still ```sh / ```cpp?"
echo "PASS: doc_examples_test ($total_sh sh and $total_cpp cpp block(s) run, $total_skipped no-test)"
