#!/bin/bash
# server_io_error_test.sh: bitgaskd and the command line on a full disk
# (ENOSPC: the store on a small tmpfs filled by a filler file) and on a
# failing disk (EIO: the EIO shim, eio_shim.cc, preloaded). The server must
# answer -ERR naming the error, the command line print a message and exit 1;
# nothing acknowledged may be lost, and once space is back or the fault is
# lifted (and the server restarted: the store refuses writes until reopened)
# writes work again. About 10 s.
. "${srcdir:-.}/server_test_lib.sh"
. "${srcdir:-.}/io_error_lib.sh"
BITGASK=$abs_top_builddir/src/bitgask
[ -x "$BITGASK" ] || fail "$BITGASK is not built"

# A value of N bytes, printable, different per seed.
value() { head -c "$1" /dev/zero | tr '\0' "${2:-x}"; }

# acked_intact WHAT: every key in $SCRATCH/acked ("key size char" lines)
# reads back exactly.
acked_intact() {
  local key size ch
  while read -r key size ch; do
    [ "$(cli get "$key")" = "$(value "$size" "$ch")" ] || fail "$key is wrong after $1"
  done <"$SCRATCH/acked"
}
# set_ok KEY SIZE CHAR: SET of a value of SIZE bytes (sent through stdin:
# redis-cli -x) answers OK; the key joins the acknowledged ones.
set_ok() {
  local got
  got=$(value "$2" "$3" | cli -x set "$1" 2>&1)
  [ "$got" = OK ] || fail "SET $1: [$got]"
  echo "$1 $2 $3" >>"$SCRATCH/acked"
}
# set_fails KEY SIZE CHAR ERRNO-TEXT: SET answers -ERR with ERRNO-TEXT (the
# error may instead close the connection only when the write's sync failed
# and the turn's reply was replaced: that reply is an -ERR too).
set_fails() {
  local got
  got=$(value "$2" "$3" | cli -x set "$1" 2>&1)
  case $got in
    "ERR "*"$4"*) echo "SET $1 answered: $got" ;;
    *) fail "SET $1 on a failing disk: [$got], want ERR ... $4" ;;
  esac
}
# cli_fails ERRNO-TEXT ARGS...: bitgask ARGS exits 1 with a message on
# stderr naming ERRNO-TEXT.
cli_fails() {
  local text=$1 rc
  shift
  "$BITGASK" "$@" >"$SCRATCH/cli.out" 2>"$SCRATCH/cli.err" </dev/null
  rc=$?
  [ "$rc" -eq 1 ] || fail "bitgask $*: exit $rc, want 1 ($(cat "$SCRATCH/cli.err"))"
  grep -q "$text" "$SCRATCH/cli.err" || fail "bitgask $*: stderr [$(cat "$SCRATCH/cli.err")] lacks [$text]"
}

# stop_failed_server: SIGTERM to a server whose store failed: it must exit 1
# saying that closing the store failed (a clean exit would claim a clean close).
stop_failed_server() {
  kill -TERM "$PID" || fail "bitgaskd $PID is not running"
  wait_exit "bitgaskd on SIGTERM" "$PID"
  wait "$PID"
  rc=$?
  [ "$rc" -eq 1 ] || fail "bitgaskd with a failed store exited $rc on SIGTERM, want 1"
}

echo "check: ENOSPC, server"
# Every server here writes with writev (--mmap-writes false): the EIO shim
# can only fail system calls, and with appends through a mapping a full disk
# shows only past the 4 MiB allocated ahead (the compressible values below
# fit in it; mmap_write_test covers that path).
small_disk 24m
# start_server keeps its store in $SCRATCH/NAME: here that is the small disk.
mkdir "$DISK/server" && ln -s "$DISK/server" "$SCRATCH/full" || fail "store on the small disk"
: >"$SCRATCH/acked"
start_server full --mmap-writes false
for i in 1 2 3 4 5; do set_ok "kept$i" $((i * 20000)) "$i"; done
fill_disk
set_fails big 3000000 b "$(errno_text ENOSPC)"
set_fails small 10 s "$(errno_text ENOSPC)"  # refused until restarted
acked_intact "ENOSPC"
expect "" get big
free_disk
stop_failed_server
grep -q "closing the store: .*$(errno_text ENOSPC)" "$SCRATCH/full.log" ||
  fail "bitgaskd did not say why closing the store failed"
start_server full --mmap-writes false
acked_intact "a restart with space back"
expect "" get big
set_ok big 3000000 b
set_ok small 10 s
stop_server "$PID"
start_server full --mmap-writes false
acked_intact "a last restart"
stop_server "$PID"

echo "check: ENOSPC, command line"
"$BITGASK" put cli-kept "$(value 5000 c)" --dir "$DISK/cli" || fail "bitgask put"
fill_disk
value 3000000 d >"$SCRATCH/big-value"
"$BITGASK" put cli-big - --dir "$DISK/cli" <"$SCRATCH/big-value" >"$SCRATCH/cli.out" 2>"$SCRATCH/cli.err"
rc=$?
[ "$rc" -eq 1 ] || fail "bitgask put on a full disk: exit $rc, want 1"
grep -q "$(errno_text ENOSPC)" "$SCRATCH/cli.err" || fail "bitgask put on a full disk said: $(cat "$SCRATCH/cli.err")"
echo "bitgask put on a full disk: $(cat "$SCRATCH/cli.err")"
[ "$("$BITGASK" get cli-kept --dir "$DISK/cli")" = "$(value 5000 c)" ] || fail "cli-kept after ENOSPC"
free_disk
"$BITGASK" put cli-big - --dir "$DISK/cli" <"$SCRATCH/big-value" || fail "bitgask put with space back"
"$BITGASK" get cli-big --dir "$DISK/cli" | cmp -s - "$SCRATCH/big-value" || fail "cli-big after space came back"
[ "$("$BITGASK" get cli-kept --dir "$DISK/cli")" = "$(value 5000 c)" ] || fail "cli-kept at the end"
"$BITGASK" validate --dir "$DISK/cli" >/dev/null || fail "validate after ENOSPC"

echo "check: EIO, server"
: >"$SCRATCH/acked"
STORE=$SCRATCH/eio
for ops in write sync; do
  EIO_OPS=$ops with_eio "$STORE/" start_server eio --mmap-writes false
  set_ok "$ops-1" 1000 1
  set_ok "$ops-2" 50000 2
  eio_on
  set_fails "$ops-failed" 2000 f "$(errno_text EIO)"
  set_fails "$ops-later" 20 l "$(errno_text EIO)"
  acked_intact "EIO on $ops"
  eio_off
  stop_failed_server
  start_server eio --mmap-writes false
  acked_intact "EIO on $ops lifted and a restart"
  for k in failed later; do
    got=$(cli get "$ops-$k")
    [ -z "$got" ] || [ "$got" = "$(value 2000 f)" ] || [ "$got" = "$(value 20 l)" ] ||
      fail "$ops-$k, whose write failed, reads [$got]"
  done
  set_ok "$ops-3" 3000 3
  stop_server "$PID"
done
"$BITGASK" validate --dir "$STORE" >/dev/null || fail "validate after EIO"

echo "check: EIO, command line"
CLI_STORE=$SCRATCH/eio-cli
"$BITGASK" put a "$(value 100 a)" --dir "$CLI_STORE" || fail "bitgask put"
eio_on
EIO_OPS=write,sync with_eio "$CLI_STORE/" cli_fails "$(errno_text EIO)" \
  put b "$(value 100 b)" --dir "$CLI_STORE"
echo "bitgask put on a failing disk: $(cat "$SCRATCH/cli.err")"
# With opens failing too, the store cannot even be opened for writing.
with_eio "$CLI_STORE/" cli_fails "$(errno_text EIO)" del a --dir "$CLI_STORE"
echo "bitgask del on a failing disk: $(cat "$SCRATCH/cli.err")"
eio_off
[ "$("$BITGASK" get a --dir "$CLI_STORE")" = "$(value 100 a)" ] || fail "a after EIO"
"$BITGASK" put b "$(value 100 b)" --dir "$CLI_STORE" || fail "bitgask put after EIO"
[ "$("$BITGASK" get b --dir "$CLI_STORE")" = "$(value 100 b)" ] || fail "b after EIO"
"$BITGASK" validate --dir "$CLI_STORE" >/dev/null || fail "validate after EIO (command line)"
echo PASS
