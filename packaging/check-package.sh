#!/usr/bin/env bash
# The packaging checks (issue "Packaging and documentation"), run by .ci/run
# after `make check`, from the source tree, with build/ built:
#
#   packaging/check-package.sh [STEP...]     (default: every step, in order)
#
#   install    make install DESTDIR=...: every file where it belongs (programs,
#              mount.fuse.bitgask -> mount.bitgask, man pages, headers, library,
#              bitgask.pc, docs); the README's C++ program built with
#              `pkg-config --cflags --libs bitgask` alone against that tree and
#              run (its output checked); make uninstall leaves nothing.
#   man        the man pages render with `groff -man -ww` without a warning,
#              and name every engine option, command and flag the programs'
#              --help lists (so do docs/Options.md and docs/CLI.md).
#   distcheck  make distcheck with a few tests (DISTCHECK_TESTS): the tarball
#              builds, tests, installs and uninstalls out of tree.
#   deb        the Debian packages built from that tarball with
#              packaging/debian (dpkg-buildpackage -b, DEB_BUILD_OPTIONS
#              nocheck noopt parallel=2: a quick build), installed with apt-get; a store mounted from
#              an /etc/fstab line (`mount MNT`) and with `mount -t bitgask`,
#              written and read, unmounted; the README's program built against
#              the installed libbitgask-dev; the systemd units verified; the
#              packages purged.  Needs root.  /etc/fstab is restored and no
#              mount or package is left behind, however the step ends.
#
# Prints one line per step ("check-package: STEP: ok, N s" or "FAILED") and
# a summary "packaging: N passed, N failed"; exits 1 when a step failed.
# BUILD=dir selects the build directory (default build).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SRC=$PWD
BUILD=$(cd "${BUILD:-build}" 2>/dev/null && pwd) || { echo "check-package: no build directory (run make first)" >&2; exit 1; }
VERSION=$(sed -n 's/^PACKAGE_VERSION = //p' "$BUILD/Makefile")
# The tests make distcheck runs: one of each kind (unit, fuse, CLI, docs, fuzz).
DISTCHECK_TESTS=${DISTCHECK_TESTS:-status_test option_text_test fs_basic_test.sh cli_test.sh doc_examples_test.sh record_fuzz}

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/bitgask-check-package.XXXXXX") || exit 1
trap 'rm -rf "$SCRATCH"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "  $*"; }

# The README's C++ program (its one ```cpp block), for the link checks.
readme_program() {
  awk '/^```cpp$/ { p = 1; next } /^```/ { p = 0 } p' "$SRC/README.md" > "$1"
  [ -s "$1" ] || fail "README.md has no \`\`\`cpp block"
}
# run_program BINARY: runs it in an empty directory; checks what it prints.
run_program() {
  local dir out
  dir=$(mktemp -d "$SCRATCH/run.XXXXXX")
  out=$(cd "$dir" && "$1") || fail "$1 exits $?"
  [ "$out" = $'a=2\nsession=abc' ] || fail "$1 printed '$out', not the keys a=2 and session=abc"
}

step_install() {
  local dest=$SCRATCH/destdir prefix f left
  make -s -C "$BUILD" install DESTDIR="$dest" > "$SCRATCH/install.log" 2>&1 ||
    { cat "$SCRATCH/install.log"; fail "make install DESTDIR=$dest"; }
  prefix=$dest$(sed -n 's/^prefix = //p' "$BUILD/Makefile")
  for f in bin/bitgask bin/bitgaskd sbin/mount.bitgask lib/libbitgask.a lib/pkgconfig/bitgask.pc \
           share/man/man1/bitgask.1 share/man/man1/bitgaskd.1 share/man/man8/mount.bitgask.8 \
           share/man/man8/mount.fuse.bitgask.8 share/doc/bitgask/README.md; do
    [ -e "$prefix/$f" ] || fail "make install did not install $f"
  done
  [ "$(readlink "$prefix/sbin/mount.fuse.bitgask")" = mount.bitgask ] ||
    fail "sbin/mount.fuse.bitgask is not a symlink to mount.bitgask"
  for f in "$SRC"/engine/include/bitgask/*.h; do
    [ -e "$prefix/include/bitgask/${f##*/}" ] || fail "public header ${f##*/} not installed"
  done
  for f in "$SRC"/docs/*.md; do
    [ -e "$prefix/share/doc/bitgask/docs/${f##*/}" ] ||
      fail "docs/${f##*/} not installed: add it to nobase_dist_doc_DATA in Makefile.am"
  done
  note "installed layout complete under $(sed -n 's/^prefix = //p' "$BUILD/Makefile")"

  # pkg-config alone, against the staged tree (the sysroot prefixes its paths).
  readme_program "$SCRATCH/hello.cc"
  local flags
  flags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest \
          pkg-config --cflags --libs bitgask) || fail "pkg-config --cflags --libs bitgask"
  note "pkg-config --cflags --libs bitgask: $flags"
  # shellcheck disable=SC2086 # flags is a list
  ${CXX:-g++} -o "$SCRATCH/hello" "$SCRATCH/hello.cc" $flags > "$SCRATCH/cc.log" 2>&1 ||
    { cat "$SCRATCH/cc.log"; fail "the README's program does not build with pkg-config alone"; }
  run_program "$SCRATCH/hello"
  note "README program built with pkg-config alone, ran, printed a=2 session=abc"

  make -s -C "$BUILD" uninstall DESTDIR="$dest" > "$SCRATCH/install.log" 2>&1 ||
    { cat "$SCRATCH/install.log"; fail "make uninstall"; }
  left=$(find "$dest" ! -type d)
  [ -z "$left" ] || fail "make uninstall left: $left"
  note "make uninstall removed everything"
}

step_man() {
  local page err name flag words engine_flags
  for page in "$SRC"/man/*.[0-9]; do
    if grep -q '^\.so ' "$page"; then   # a link page: its target must exist
      [ -e "$SRC/man/$(sed -n 's|^\.so man[0-9]/||p' "$page")" ] || fail "${page##*/}: .so target missing"
      continue
    fi
    err=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    [ -z "$err" ] || fail "${page##*/} renders with warnings: $err"
  done
  note "man pages render without warnings: $(cd "$SRC/man" && echo *.[0-9])"

  # Every engine option (the programs list them from OptionNames()).
  words=$("$BUILD/src/bitgask" --help | sed -n 's/.*engine option \([a-z_]*\) .*/\1/p')
  [ "$(echo "$words" | wc -w)" -ge 10 ] || fail "bitgask --help lists too few engine options: $words"
  for name in $words; do
    flag=--${name//_/-}
    grep -qF -- "\\-\\-${name//_/\\-}" "$SRC/man/bitgask.1" || fail "man/bitgask.1 lacks $flag"
    grep -qF "| \`$name\` |" "$SRC/docs/Options.md" || fail "docs/Options.md has no row for $name"
    grep -qF -- "\`$flag" "$SRC/docs/Options.md" || fail "docs/Options.md lacks the flag $flag"
  done
  note "every engine option ($(echo "$words" | wc -w)) is in man/bitgask.1 and docs/Options.md"
  engine_flags=" $(for name in $words; do echo "--${name//_/-}"; done | tr '\n' ' ') --help "
  # Every command of bitgask, every flag of bitgaskd.
  words=$("$BUILD/src/bitgask" --help | sed -n '/^Subcommands:/,$s/^  \([a-z-]*\) .*/\1/p')
  for name in $words; do
    grep -qE "^\.BI? \"?${name//-/\\\\-}( |\"|$)|^\.BR ${name//-/\\\\-} " "$SRC/man/bitgask.1" ||
      fail "man/bitgask.1 does not describe the command $name"
    grep -qF "| \`$name" "$SRC/docs/CLI.md" || fail "docs/CLI.md does not list the command $name"
  done
  note "every command ($(echo "$words" | wc -w)) is in man/bitgask.1 and docs/CLI.md"
  words=$("$BUILD/src/bitgaskd" --help | sed -n 's/^ *\(-h,\)\{0,1\}\(--[a-z-]*\).*/\2/p')
  words=$(for flag in $words; do [[ $engine_flags == *" $flag "* ]] || echo "$flag"; done)
  [ "$(echo "$words" | wc -w)" -ge 5 ] || fail "bitgaskd --help lists too few flags: $words"
  for flag in $words; do
    grep -qF -- "${flag//-/\\-}" "$SRC/man/bitgaskd.1" || fail "man/bitgaskd.1 lacks $flag"
  done
  note "every flag of bitgaskd ($(echo "$words" | wc -w)) is in man/bitgaskd.1"
}

step_distcheck() {
  # Each directory runs and builds only the DISTCHECK_TESTS it has: TESTS
  # and check_PROGRAMS are given as $(filter ...) of the Makefile.am lists,
  # evaluated in every directory's own make. Built without optimization:
  # this checks the tarball, not the code, and CI's time is short.
  local list="$DISTCHECK_TESTS"
  make -j"${JOBS:-2}" -C "$BUILD" distcheck DISTCHECK_CONFIGURE_FLAGS="CXXFLAGS=-O0" \
    TESTS="\$(filter $list,\$(unit_tests) \$(dist_check_SCRIPTS) \$(fuzz_targets))" \
    check_PROGRAMS="\$(filter $list,\$(unit_tests) \$(fuzz_targets))" \
    > "$SCRATCH/distcheck.log" 2>&1 || { tail -n 60 "$SCRATCH/distcheck.log"; fail "make distcheck"; }
  grep -q "bitgask-$VERSION archives ready for distribution" "$SCRATCH/distcheck.log" ||
    { tail -n 30 "$SCRATCH/distcheck.log"; fail "make distcheck did not report the archive ready"; }
  local ran
  ran=$(grep -c '^PASS: ' "$SCRATCH/distcheck.log")
  [ "$ran" -eq "$(echo "$list" | wc -w)" ] ||
    { grep -E '^(PASS|FAIL|SKIP|ERROR): ' "$SCRATCH/distcheck.log"; fail "distcheck ran $ran test(s), not: $list"; }
  note "make distcheck: bitgask-$VERSION.tar.gz; tests passed in it: $list"
}

# --- deb -------------------------------------------------------------------
FSTAB_SAVED=   # a copy of the original /etc/fstab while it is changed ("none": there was none)
DEB_MNT=
deb_cleanup() {
  if [ -n "$DEB_MNT" ] && mountpoint -q "$DEB_MNT"; then umount "$DEB_MNT" || umount -l "$DEB_MNT"; fi
  restore_fstab
  if dpkg-query -W -f='${Status}\n' bitgask libbitgask-dev 2>/dev/null | grep -q ' installed$'; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q bitgask libbitgask-dev > /dev/null 2>&1
  fi
}
restore_fstab() {
  case $FSTAB_SAVED in
    '') return 0 ;;
    none) rm -f /etc/fstab ;;
    *) cat "$FSTAB_SAVED" > /etc/fstab ;;
  esac && FSTAB_SAVED=
}
# wait_unlocked STORE: the mount's process closes the store just after unmount.
wait_unlocked() { flock -w 10 "$1/LOCK" true || fail "$1 still locked 10 s after unmount"; }

step_deb() {
  [ "$(id -u)" -eq 0 ] || fail "the deb step installs packages and mounts: run it as root"
  if dpkg-query -W -f='${Status}\n' bitgask libbitgask-dev 2>/dev/null | grep -q ' installed$'; then
    fail "bitgask is already installed here; this check would replace and then purge it"
  fi
  local tarball=$BUILD/bitgask-$VERSION.tar.gz work=$SCRATCH/deb
  # Always a fresh tarball: one left by an earlier run may hold older sources.
  make -s -C "$BUILD" dist > "$SCRATCH/dist.log" 2>&1 || { cat "$SCRATCH/dist.log"; fail "make dist"; }
  mkdir -p "$work" && cp "$tarball" "$work/bitgask_$VERSION.orig.tar.gz" &&
    tar -C "$work" -xzf "$tarball" && cp -r "$work/bitgask-$VERSION/packaging/debian" "$work/bitgask-$VERSION/debian" ||
    fail "unpacking $tarball"
  (cd "$work/bitgask-$VERSION" &&
     DEB_BUILD_OPTIONS="nocheck noopt parallel=2" dpkg-buildpackage -us -uc -b) > "$SCRATCH/deb.log" 2>&1 ||
    { tail -n 60 "$SCRATCH/deb.log"; fail "dpkg-buildpackage"; }
  local deb dev
  deb=$(echo "$work"/bitgask_"$VERSION"-*_*.deb); dev=$(echo "$work"/libbitgask-dev_"$VERSION"-*_*.deb)
  [ -e "$deb" ] && [ -e "$dev" ] || fail "dpkg-buildpackage made no bitgask and libbitgask-dev .deb"
  note "built ${deb##*/} and ${dev##*/}"

  trap deb_cleanup EXIT
  trap 'exit 1' INT TERM HUP
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" "$dev" > "$SCRATCH/apt.log" 2>&1 ||
    { cat "$SCRATCH/apt.log"; fail "apt-get install of the packages"; }
  for f in /usr/bin/bitgask /usr/bin/bitgaskd /usr/sbin/mount.bitgask /usr/sbin/mount.fuse.bitgask \
           /usr/share/man/man8/mount.bitgask.8.gz /usr/include/bitgask/db.h \
           /lib/systemd/system/bitgaskd.service /etc/default/bitgaskd; do
    [ -e "$f" ] || fail "the packages do not install $f"
  done
  [ "$(/usr/bin/bitgask version)" = "bitgask $VERSION (format version 1)" ] ||
    fail "installed bitgask version says: $(/usr/bin/bitgask version)"
  note "installed; bitgask version: $(/usr/bin/bitgask version)"

  # A store from an /etc/fstab line, then with mount -t bitgask.
  local store=$SCRATCH/store mnt=$SCRATCH/mnt
  mkdir -p "$store" "$mnt" && DEB_MNT=$mnt
  if [ -e /etc/fstab ]; then
    cp /etc/fstab "$SCRATCH/fstab.orig" && FSTAB_SAVED=$SCRATCH/fstab.orig || fail "saving /etc/fstab"
  else
    FSTAB_SAVED=none
  fi
  echo "$store $mnt fuse.bitgask noauto,sync_on_put=true,umask=022 0 0" >> /etc/fstab
  mount "$mnt" 2> "$SCRATCH/mount.err" || { cat "$SCRATCH/mount.err"; fail "mount $mnt (from /etc/fstab)"; }
  grep -q " $mnt fuse.bitgask " /proc/mounts || fail "$mnt is not a fuse.bitgask mount after mount $mnt"
  echo "hello from fstab" > "$mnt/greeting" || fail "writing in the mount"
  [ "$(cat "$mnt/greeting")" = "hello from fstab" ] || fail "reading back from the mount"
  umount "$mnt" || fail "umount $mnt"
  wait_unlocked "$store"
  [ "$(bitgask --dir "$store" get greeting)" = "hello from fstab" ] || fail "bitgask get after unmount"
  restore_fstab || fail "restoring /etc/fstab"
  if [ -e "$SCRATCH/fstab.orig" ]; then
    cmp -s /etc/fstab "$SCRATCH/fstab.orig" || fail "/etc/fstab differs from the original after restoring it"
  fi
  note "mount from /etc/fstab (fuse.bitgask): write, read, umount, bitgask get: ok; /etc/fstab restored"

  mount -v -t bitgask "$store" "$mnt" -o sync_on_put=true > /dev/null 2> "$SCRATCH/mount.err" ||
    { cat "$SCRATCH/mount.err"; fail "mount -t bitgask"; }
  [ "$(cat "$mnt/greeting")" = "hello from fstab" ] || fail "reading through mount -t bitgask"
  umount "$mnt" || fail "umount $mnt"
  wait_unlocked "$store"
  note "mount -t bitgask: ok"

  # The -dev package: the README's program with pkg-config alone.
  readme_program "$SCRATCH/hello.cc"
  # shellcheck disable=SC2046 # pkg-config prints a list
  ${CXX:-g++} -o "$SCRATCH/hello" "$SCRATCH/hello.cc" $(pkg-config --cflags --libs bitgask) \
    > "$SCRATCH/cc.log" 2>&1 || { cat "$SCRATCH/cc.log"; fail "the README's program against libbitgask-dev"; }
  run_program "$SCRATCH/hello"
  note "README program built against libbitgask-dev with pkg-config alone: ok"

  systemd-analyze verify --man=no /lib/systemd/system/bitgaskd.service "$SRC/packaging/systemd/mnt-kv.mount" \
    > "$SCRATCH/verify.log" 2>&1 && [ ! -s "$SCRATCH/verify.log" ] ||
    { cat "$SCRATCH/verify.log"; fail "systemd-analyze verify of the units"; }
  note "systemd-analyze verify: bitgaskd.service, mnt-kv.mount: clean"

  DEBIAN_FRONTEND=noninteractive apt-get purge -y -q bitgask libbitgask-dev > "$SCRATCH/apt.log" 2>&1 ||
    { cat "$SCRATCH/apt.log"; fail "apt-get purge"; }
  [ ! -e /usr/sbin/mount.bitgask ] && [ ! -e /usr/include/bitgask ] && [ ! -e /etc/default/bitgaskd ] ||
    fail "files left after purge"
  note "purged: nothing left"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(install man distcheck deb)
passed=0 failed=0
for step in "${steps[@]}"; do
  declare -F "step_$step" > /dev/null || { echo "check-package: unknown step $step" >&2; exit 2; }
  start=$SECONDS
  echo "check-package: $step"
  if ( "step_$step" ); then
    echo "check-package: $step: ok, $(( SECONDS - start )) s"; passed=$((passed + 1))
  else
    echo "check-package: $step: FAILED, $(( SECONDS - start )) s"; failed=$((failed + 1))
  fi
done
echo "packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
