# io_error_lib.sh: a small disk that fills up, and a disk that fails with EIO,
# for fs_io_error_test.sh and server_io_error_test.sh. Sourced after
# fs_lib.sh or server_test_lib.sh (it uses their fail and cleanup, and wraps
# cleanup to unmount the small disk first).
#
#   small_disk SIZE      mounts a tmpfs of SIZE (e.g. 16m) on $DISK, a new
#                        directory; exit 77 when tmpfs cannot be mounted (not
#                        root, or no CAP_SYS_ADMIN in a container)
#   fill_disk            fills $DISK to the last byte with $DISK/filler
#   free_disk            removes the filler
#   with_eio DIR CMD...  runs CMD with the EIO shim preloaded: while the file
#                        $EIO_TRIGGER exists, writes, syncs, renames and
#                        write opens of files under DIR fail with EIO
#                        ($EIO_OPS, if set, picks which: see eio_shim.cc)
#   eio_on / eio_off     creates / removes $EIO_TRIGGER
#   errno_text NAME      the C library's message for errno NAME (ENOSPC ...)

IO_TOOL=${abs_top_builddir:?}/tests/io_error_tool
EIO_SHIM=$abs_top_builddir/tests/libeio_shim.so
[ -x "$IO_TOOL" ] && [ -f "$EIO_SHIM" ] || fail "io_error_tool or libeio_shim.so is not built"
DISK=
EIO_TRIGGER=$(mktemp -u "${TMPDIR:-/tmp}/bitgask-eio-trigger.XXXXXX")

eval "io_lib_inner_cleanup() $(declare -f cleanup | sed 1d)"
cleanup() {
  io_lib_inner_cleanup
  rm -f "$EIO_TRIGGER"
  if [ -n "$DISK" ]; then
    umount "$DISK" 2>/dev/null || umount -l "$DISK" 2>/dev/null
    rmdir "$DISK" 2>/dev/null
  fi
}

small_disk() {
  DISK=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-small-disk.XXXXXX") || fail "mktemp"
  if ! mount -t tmpfs -o "size=$1" bitgask-test "$DISK" 2>/dev/null; then
    rmdir "$DISK"
    DISK=
    echo "SKIP: cannot mount a tmpfs (needs root)"
    exit 77
  fi
}

fill_disk() {
  dd if=/dev/zero of="$DISK/filler" bs=64k 2>/dev/null
  [ "$(df --output=avail -B1 "$DISK" | tail -n 1 | tr -d ' ')" -lt 65536 ] ||
    fail "fill_disk: $DISK still has room"
}

free_disk() { rm -f "$DISK/filler"; }

# The sanitizer runtime a sanitized build links (it must be preloaded first).
sanitizer_runtime() {
  ldd "$EIO_SHIM" 2>/dev/null | awk '/lib(a|t)san\.so/ { print $3; exit }'
}

with_eio() {
  local dir=$1 preload
  shift
  preload=$(sanitizer_runtime)
  LD_PRELOAD="${preload:+$preload }$EIO_SHIM" BITGASK_EIO_DIR="$dir" \
    BITGASK_EIO_TRIGGER="$EIO_TRIGGER" BITGASK_EIO_OPS="${EIO_OPS:-write,sync,rename,open}" \
    "$@"
}

eio_on() { : >"$EIO_TRIGGER"; }
eio_off() { rm -f "$EIO_TRIGGER"; }

errno_text() {
  case $1 in
    ENOSPC) echo "No space left on device" ;;
    EIO) echo "Input/output error" ;;
    *) fail "errno_text: $1?" ;;
  esac
}
