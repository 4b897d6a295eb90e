# test_lib.sh: what every shell test that runs processes in the background
# shares; sourced (by fs_lib.sh and server_test_lib.sh), not run.  POSIX sh.
#
# The sourcing library defines fail MESSAGE (report and exit 1) and cleanup
# (stop what the test started, remove its scratch files), then calls
# trap_cleanup.

# trap_cleanup: cleanup runs however the test ends; a signal (the harness's
# timeout, ^C, a closed output pipe) exits through the EXIT trap too, so no
# process or mount outlives the test.
trap_cleanup() {
  trap cleanup EXIT
  trap 'exit 1' INT TERM HUP PIPE
}

# alive PID: true while PID runs (a zombie waiting for its reaper counts as
# exited).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  alive_state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [ -n "$alive_state" ] && [ "$alive_state" != Z ]
}

# wait_until WHAT PID COMMAND...: runs COMMAND every 0.1 s until it
# succeeds; fails when PID exits first or after 10 s.
wait_until() {
  wu_what=$1; wu_pid=$2; shift 2
  wu_i=0
  until "$@"; do
    alive "$wu_pid" || fail "$wu_what: process $wu_pid exited first"
    wu_i=$((wu_i + 1)); [ $wu_i -gt 100 ] && fail "$wu_what: not within 10 s"
    sleep 0.1
  done
}

# random_port: a loopback port to try, 20000 to 59999 (callers retry with
# another when it is taken).
random_port() { shuf -i 20000-59999 -n 1; }

# wait_exit WHAT PID: waits up to 10 s for PID to exit; fails if it does not.
wait_exit() {
  we_i=0
  while alive "$2"; do
    we_i=$((we_i + 1)); [ $we_i -gt 100 ] && fail "$1: process $2 still running after 10 s"
    sleep 0.1
  done
}
