#!/usr/bin/env bash
# Install the Debian 12 packages needed to build, test and run bitgask on a
# fresh machine that has only git and make.  Runs on every `make check`, so
# when nothing is missing it prints nothing and exits 0 quickly.
#
#   packaging/install-deps.sh [extra-package ...]
#
# As root: apt-get installs whatever is missing.  Otherwise: prints the exact
# `sudo apt-get install` line for the missing packages and exits 1.
set -euo pipefail

# One array, one group per line.  To add a dependency, append its Debian
# package name to the right group (or add a group with a comment).
PACKAGES=(
  # toolchain and autotools
  g++ make autoconf automake libtool pkg-config
  # FUSE: headers/library, and fusermount3 to mount and unmount
  libfuse3-dev fuse3
  # engine libraries (snappy compression, spdlog+fmt logging, CLI11, ISA-L
  # crc32 and zlib crc32_combine, xxhash for the content digest)
  libsnappy-dev libspdlog-dev libfmt-dev libcli11-dev zlib1g-dev libisal-dev libxxhash-dev
  # the command line's JSON output (header-only)
  nlohmann-json3-dev
  # unit tests
  libgtest-dev libgmock-dev
  # tools used by tests and `make run`: setfattr/getfattr, fuser, ps/pgrep, git, rsync
  attr psmisc procps git rsync
  # bitgaskd tests: redis-cli and redis-benchmark, twemproxy for sharding
  redis-tools nutcracker
  # `make fuzz`: clang with libFuzzer and its sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # packaging/check-package.sh: the Debian package build (dpkg-buildpackage,
  # debhelper with dh-autoreconf), groff for the man pages, systemd-analyze
  # to verify the units
  dpkg-dev debhelper dh-autoreconf groff-base systemd
  # benchmarks (docs/Benchmarks.md): the peers of `bitgask bench --peers`
  # (configure --with-bench-peers), bindfs for bench/fs_compare.sh,
  # redis-server for bench/redis_compare.sh
  libleveldb-dev librocksdb-dev liblmdb-dev libtkrzw-dev bindfs redis-server
)
PACKAGES+=("$@")

# Which packages are not fully installed?  One dpkg-query call for all;
# unknown packages make it exit non-zero, which only means "missing".
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null \
              | awk '$NF == "installed" && $(NF-1) == "ok" { print $1 }' || true)
missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! grep -qxF -- "$pkg" <<<"$installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: not root; install them with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
echo "install-deps: done"
