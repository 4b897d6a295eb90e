#!/bin/bash
# fs_compare.sh: bitgask-fsbench on the local disk directly, on a bitgask
# mount and on a bindfs mount (a FUSE passthrough from Debian) of the same
# disk, with ratios against the disk (docs/Benchmarks.md#fsbench).
#
#   bench/fs_compare.sh [--build DIR] [--base MOUNT_BITGASK] [--rounds N] [bitgask-fsbench flags...] [-- mount.bitgask options]
#
# --base MOUNT_BITGASK: also mount a fresh store with that mount.bitgask (a
# baseline build, same options) and measure it beside this build's mount in
# every round (row "base"; before it in odd rounds, after it in even ones).
# --build DIR: the build tree holding src/mount.bitgask and
# src/bitgask-fsbench (default: build/ beside this script's directory).
# --rounds N: the three directories N times over in one bitgask-fsbench run
# (disk, bitgask, bindfs, disk, ...; each round in new subdirectories), so
# that a change of the machine's load during the run hits all three alike.
# Everything lives in one temporary directory under $TMPDIR (else /tmp),
# which must be on a disk, not tmpfs. Both mounts run in the foreground of
# this script, which holds their pids; the EXIT trap unmounts them, stops
# them and removes the directory however the script ends. Run as root, the
# page cache is dropped before each read phase (bitgask-fsbench --help).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$HERE/../build
ROUNDS=1
BASE=
FSBENCH_ARGS=()
MOUNT_ARGS=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --base) BASE=$2; shift 2 ;;
    --) shift; MOUNT_ARGS=("$@"); break ;;
    *) FSBENCH_ARGS+=("$1"); shift ;;
  esac
done
case $ROUNDS in
  ''|*[!0-9]*|0) echo "fs_compare.sh: --rounds takes a positive number, not '$ROUNDS'" >&2; exit 2 ;;
esac
MOUNT_BITGASK=$BUILD/src/mount.bitgask
FSBENCH=$BUILD/src/bitgask-fsbench
for p in "$MOUNT_BITGASK" "$FSBENCH" ${BASE:+"$BASE"}; do
  [ -x "$p" ] || { echo "fs_compare.sh: $p is not built (--build DIR)" >&2; exit 1; }
done
for tool in bindfs fusermount3; do
  command -v "$tool" >/dev/null ||
    { echo "fs_compare.sh: $tool is missing (Debian: bindfs, fuse3)" >&2; exit 1; }
done
[ -e /dev/fuse ] || { echo "fs_compare.sh: /dev/fuse is missing" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-fs-compare.XXXXXX") || exit 1
FSTYPE=$(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK")
FSTYPE=${FSTYPE//\//-}  # a label for bitgask-fsbench: no slash
MOUNTS=()   # mountpoints to unmount
PIDS=()     # their processes
cleanup() {
  cd /
  for m in "${MOUNTS[@]}"; do fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

fail() { echo "fs_compare.sh: $*" >&2; cat "$WORK"/*.log >&2 2>/dev/null; exit 1; }
[ "$FSTYPE" = tmpfs ] && fail "$WORK is on tmpfs: set TMPDIR to a directory on a disk"

# mount_fg MOUNTPOINT COMMAND...: runs COMMAND (a FUSE program in the
# foreground) in the background and waits until MOUNTPOINT is mounted.
mount_fg() {
  local mnt=$1 i=0
  shift
  mkdir -p "$mnt"
  "$@" 2>>"$WORK/$(basename "$mnt").log" &
  local pid=$!
  PIDS+=("$pid")
  MOUNTS+=("$mnt")
  until grep -q " $mnt fuse" /proc/mounts; do
    kill -0 "$pid" 2>/dev/null || fail "$* exited before mounting"
    i=$((i + 1)); [ $i -gt 100 ] && fail "$mnt not mounted within 10 s"
    sleep 0.1
  done
}

mkdir -p "$WORK/disk" "$WORK/bindfs-src"
mount_fg "$WORK/bitgask" "$MOUNT_BITGASK" "$WORK/store" "$WORK/bitgask" -f "${MOUNT_ARGS[@]}"
mount_fg "$WORK/bindfs" bindfs -f "$WORK/bindfs-src" "$WORK/bindfs"
[ -n "$BASE" ] && mount_fg "$WORK/base" "$BASE" "$WORK/base-store" "$WORK/base" -f "${MOUNT_ARGS[@]}"
echo "fs_compare: $FSTYPE under $WORK; bitgask mount options: ${MOUNT_ARGS[*]:-(defaults)};" \
  "$(bindfs --version 2>&1 | head -n 1)"
DIRS=()
for r in $(seq "$ROUNDS"); do
  DIRS+=("$FSTYPE=$WORK/disk")
  [ -n "$BASE" ] && [ $((r % 2)) -eq 1 ] && DIRS+=("base=$WORK/base")
  DIRS+=("bitgask=$WORK/bitgask")
  [ -n "$BASE" ] && [ $((r % 2)) -eq 0 ] && DIRS+=("base=$WORK/base")
  DIRS+=("bindfs=$WORK/bindfs")
done
"$FSBENCH" "${FSBENCH_ARGS[@]}" "${DIRS[@]}" || fail "bitgask-fsbench failed"
