# bitgask -- user-facing wrapper Makefile (hand-written, tracked in git).
#
#   make deps       install missing Debian packages (packaging/install-deps.sh)
#   make build      bootstrap autotools if needed, configure build/, compile
#   make check      deps + build + unit tests (logs: build/tests/*.log)
#   make run        deps + build, then mount ./bitgask-data at ./mnt
#                   (once build/src/mount.bitgask exists)
#   make check-asan the tests again in build-asan/, built with address and
#                   undefined-behaviour sanitizers (configure --enable-sanitizers);
#                   SANITIZER_TESTS=unit: the unit tests and fuzz drivers only
#   make check-tsan the tests again in build-tsan/ under the thread sanitizer
#   make fuzz       the fuzz targets with libFuzzer (clang) in build-fuzz/,
#                   FUZZ_SECONDS=60 each (tests/fuzz/Makefile.am)
#   make bench-peers  the programs of the benchmarks in build-bench/, with
#                   LevelDB, RocksDB, LMDB and Tkrzw built into `bitgask bench`
#                   (configure --with-bench-peers), then their smoke test
#   make clean      rm -rf build build-asan build-tsan build-fuzz build-bench
#   make distclean  clean + remove the files autoreconf generated in the tree
#   make <other>    forwarded to the automake build in build/
#                   (install, uninstall, dist, distcheck, ...)
#   Variables:      JOBS=2 (parallel jobs), CONFIGURE_FLAGS='--prefix=...'
#
# The real build is autotools (configure.ac, */Makefile.am).  This file only
# drives an out-of-tree build in build/:
#   1. ./configure is (re)generated with `autoreconf -fi` when it is missing
#      or older than configure.ac or any Makefile.am;
#   2. build/ is (re)configured with `../configure` when build/config.status
#      is missing or older than ./configure;
#   3. `make -C build ...` does the rest.
#
# Packagers: `autoreconf -fi && ./configure && make && make install` in the
# source tree works as usual, BUT the in-tree ./configure generates ./Makefile
# from Makefile.in and so OVERWRITES this wrapper.  That is expected.  To get
# the wrapper back:  make distclean && git checkout Makefile
# While the tree itself is configured (./config.status exists) this wrapper
# refuses to configure build/ (configure forbids both at once).
# `make dist` never ships this file: tarballs carry Makefile.am/Makefile.in.

JOBS ?= 2
CONFIGURE_FLAGS ?=

# Inputs of autoreconf; a newer one triggers a re-bootstrap.
AUTOTOOLS_INPUTS := configure.ac $(wildcard Makefile.am */Makefile.am)

.PHONY: all build check run deps clean distclean check-asan check-tsan fuzz bench-peers

all: build

deps:
	@bash packaging/install-deps.sh

configure: $(AUTOTOOLS_INPUTS)
	autoreconf -fi
	@touch configure

# Every way into build/ passes here (order-only, so it never forces a
# reconfigure): refuse when the source tree itself is configured, because a
# VPATH build in build/ would then pick up the in-tree objects and configure
# refuses it anyway.
.PHONY: in-tree-guard
in-tree-guard:
	@if test -f config.status; then \
	  echo "error: this source tree has been configured in-tree (./config.status exists)."; \
	  echo "The wrapper builds in build/ and cannot share the tree with an in-tree build."; \
	  echo "Either keep building in-tree, or clean up first:"; \
	  echo "    ./config.status && make distclean && git checkout Makefile"; \
	  exit 1; \
	fi >&2

build/config.status: configure | in-tree-guard
	mkdir -p build && cd build && ../configure $(CONFIGURE_FLAGS)

build: build/config.status
	$(MAKE) -C build -j$(JOBS)

# Build, then run the tests.  test-suite.log is removed first so a stale one
# is never shown; on failure it is printed (it contains the logs of the
# failed tests), so CI output shows why.
check: deps
	@$(MAKE) --no-print-directory build
	@rm -f build/tests/test-suite.log build/tests/fuzz/test-suite.log
	@$(MAKE) -C build check -j$(JOBS) || { \
	  for log in build/tests/test-suite.log build/tests/fuzz/test-suite.log; do \
	    if test -f $$log; then echo "===== $$log (failed tests) ====="; cat $$log; fi; \
	  done; \
	  exit 1; \
	}

# Mount ./bitgask-data at ./mnt with the freshly built mount.bitgask
# (usage assumed: mount.bitgask DATADIR MOUNTPOINT [options]).
MOUNT := build/src/mount.bitgask
run: deps
	@$(MAKE) --no-print-directory build
	@if test -x $(MOUNT); then \
	  mkdir -p bitgask-data mnt; \
	  if mountpoint -q mnt; then \
	    echo "./mnt is already mounted."; \
	  else \
	    echo "$(MOUNT) bitgask-data mnt"; \
	    $(MOUNT) "$(CURDIR)/bitgask-data" "$(CURDIR)/mnt" || exit 1; \
	  fi; \
	  echo; \
	  echo "bitgask is mounted at ./mnt (data in ./bitgask-data). Try:"; \
	  echo "    echo hello > mnt/greeting && cat mnt/greeting && ls -l mnt"; \
	  echo "Unmount with:"; \
	  echo "    fusermount3 -u mnt"; \
	else \
	  echo "mount.bitgask is not built yet; when it is, 'make run' will create"; \
	  echo "./bitgask-data (the Bitcask data directory) and ./mnt, mount the"; \
	  echo "store at ./mnt with build/src/mount.bitgask so that files written"; \
	  echo "under ./mnt are stored as keys in ./bitgask-data, and print how to"; \
	  echo "use it and how to unmount it ('fusermount3 -u mnt')."; \
	fi

# Sanitizer and libFuzzer builds: each its own build directory, configured
# from the same ./configure with one option.  The tests run as in `make
# check`; test-suite.log is printed on failure.
# They compile with -O1 -g1 (line tables for the reports, no variables): about
# twice as fast to build as -O2 -g, which keeps CI's sanitizer run short.
VARIANT_DIRS := build-asan build-tsan build-fuzz build-bench
SANITIZER_CXXFLAGS = -O1 -g1
build-asan/config.status: configure | in-tree-guard
	mkdir -p build-asan && cd build-asan && \
	  ../configure --enable-sanitizers CXXFLAGS="$(SANITIZER_CXXFLAGS)" $(CONFIGURE_FLAGS)
build-tsan/config.status: configure | in-tree-guard
	mkdir -p build-tsan && cd build-tsan && \
	  ../configure --enable-tsan CXXFLAGS="$(SANITIZER_CXXFLAGS)" $(CONFIGURE_FLAGS)

# ASan keeps 256 MiB of freed memory in quarantine by default, which breaks
# the mount's memory bound in fs_large_test.sh; 16 MiB still catches a use
# after free of anything recently freed.  Options given by the caller win.
check-asan: SANITIZER_ENV = ASAN_OPTIONS="quarantine_size_mb=16:$${ASAN_OPTIONS:-}"
# SANITIZER_TESTS=unit runs the unit tests and fuzz drivers only, without the
# shell tests (mounts, servers, CLI): what CI does, to stay within its time.
# It builds only what they need (the libraries, the command line's helper
# library and bitgaskd for server_kill_test), not the bitgask, mount.bitgask
# and bitgask-fsbench programs: compiling is most of the sanitizer run.
SANITIZER_TESTS ?= all
SANITIZER_UNIT_BUILD = engine fs server src:libbitgaskcli.a src:bitgaskd
check-asan check-tsan: check-%: deps build-%/config.status
	@if test "$(SANITIZER_TESTS)" = unit; then \
	  for part in $(SANITIZER_UNIT_BUILD); do \
	    $(MAKE) -C build-$*/$${part%%:*} -j$(JOBS) $$(echo "$$part" | sed -n 's/^[^:]*://p') \
	      || exit 1; \
	  done; \
	else \
	  $(MAKE) -C build-$* -j$(JOBS) || exit 1; \
	fi
	@rm -f build-$*/tests/test-suite.log build-$*/tests/fuzz/test-suite.log
	@status=0; \
	if test "$(SANITIZER_TESTS)" = unit; then \
	  $(SANITIZER_ENV) $(MAKE) -C build-$*/tests check -j$(JOBS) SHELL_TESTS= || status=1; \
	  $(SANITIZER_ENV) $(MAKE) -C build-$*/tests/fuzz check -j$(JOBS) || status=1; \
	else \
	  $(SANITIZER_ENV) $(MAKE) -C build-$* check -j$(JOBS) || status=1; \
	fi; \
	if test $$status -ne 0; then \
	  for log in build-$*/tests/test-suite.log build-$*/tests/fuzz/test-suite.log; do \
	    if test -f $$log; then echo "===== $$log (failed tests) ====="; cat $$log; fi; \
	  done; \
	  exit 1; \
	fi

# libFuzzer comes with clang (Debian: clang-14 and libclang-rt-14-dev, in
# packaging/install-deps.sh); any clang++ on PATH will do.
FUZZ_CXX ?= $(shell command -v clang++ || command -v clang++-14)
FUZZ_SECONDS ?= 60
build-fuzz/config.status: configure | in-tree-guard
	@if test -z "$(FUZZ_CXX)"; then \
	  echo "error: make fuzz needs clang++ with libFuzzer; install clang-14 and" \
	    "libclang-rt-14-dev (make deps does) or set FUZZ_CXX=/path/to/clang++." >&2; \
	  exit 1; \
	fi
	mkdir -p build-fuzz && cd build-fuzz && \
	  ../configure --enable-fuzzing CXX='$(FUZZ_CXX)' $(CONFIGURE_FLAGS)

fuzz: deps build-fuzz/config.status
	@$(MAKE) -C build-fuzz/engine -j$(JOBS)
	@$(MAKE) -C build-fuzz/fs -j$(JOBS)
	@$(MAKE) -C build-fuzz/server -j$(JOBS)
	@$(MAKE) -C build-fuzz/tests/fuzz fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

# Benchmarks against the peers (docs/Benchmarks.md): the default build/
# leaves the peers out, so that `make check` neither compiles nor links
# them. build-bench/ is configured with --with-bench-peers; only what the
# benchmarks run is built there (bitgask, bitgask-fsbench, bitgaskd,
# mount.bitgask), then tests/bench_peers_smoke_test.sh runs on it.
build-bench/config.status: configure | in-tree-guard
	mkdir -p build-bench && cd build-bench && ../configure --with-bench-peers $(CONFIGURE_FLAGS)

bench-peers: deps build-bench/config.status
	@$(MAKE) -C build-bench/engine -j$(JOBS)
	@$(MAKE) -C build-bench/fs -j$(JOBS)
	@$(MAKE) -C build-bench/server -j$(JOBS)
	@$(MAKE) -C build-bench/src -j$(JOBS)
	srcdir=$(CURDIR)/tests abs_top_builddir=$(CURDIR)/build-bench sh tests/bench_peers_smoke_test.sh

clean:
	rm -rf build $(VARIANT_DIRS)

# Everything autoreconf generates (see .gitignore); never ./Makefile itself.
distclean: clean
	rm -rf autom4te.cache
	rm -f configure aclocal.m4 ar-lib compile depcomp install-sh missing \
	  test-driver config.guess config.sub ltmain.sh configure~
	rm -f Makefile.in */Makefile.in

# Anything else goes to the automake build.  .DEFAULT (rather than a `%:`
# pattern rule) only fires for targets with no rule that must be made; the
# empty rules make sure it never "remakes" this Makefile or the autotools
# inputs (not even under `make -B`).
Makefile $(AUTOTOOLS_INPUTS): ;
.DEFAULT:
	@$(MAKE) --no-print-directory build/config.status
	$(MAKE) -C build -j$(JOBS) $@
