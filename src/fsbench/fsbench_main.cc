// bitgask-fsbench: the same small-file and large-file workloads on each
// directory given (fs_workloads.h), one after another, then a table of
// rates and one of ratios against the first directory
// (docs/Benchmarks.md#fsbench).
//
//   bitgask-fsbench [flags] [LABEL=]DIR...
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "fs_workloads.h"

namespace {

using bitgask::fsbench::FsConfig;
using bitgask::fsbench::FsPhase;
using bitgask::fsbench::FsPhaseNames;

struct Target {
  std::string label;
  std::string dir;
  std::vector<FsPhase> phases;
};

// "LABEL=DIR" or "DIR" (then the label is DIR).
Target ParseTarget(const std::string& arg) {
  Target t;
  const size_t eq = arg.find('=');
  const bool labelled = eq != std::string::npos && eq > 0 && arg.find('/') > eq;
  t.label = labelled ? arg.substr(0, eq) : arg;
  t.dir = labelled ? arg.substr(eq + 1) : arg;
  return t;
}

double RateOf(const Target& t, const std::string& name) {
  for (const FsPhase& p : t.phases) {
    if (p.name == name) return p.Rate();
  }
  return 0;
}

std::string Row(const std::string& label, const std::vector<double>& cells, const char* format) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%-12s", label.c_str());
  std::string out = buf;
  for (double v : cells) {
    std::snprintf(buf, sizeof(buf), format, v);
    out += buf;
  }
  return out + "\n";
}

std::string HeaderRow() {
  std::string out;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%-12s", "dir");
  out = buf;
  for (const std::string& name : FsPhaseNames()) {
    const bool by_bytes = FsPhase{name}.ByBytes();
    std::snprintf(buf, sizeof(buf), " %12s", (name + (by_bytes ? " MiB/s" : "/s")).c_str());
    out += buf;
  }
  return out + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Times small-file (create, stat, read, rename, unlink) and large-file (sequential write "
      "with fsync, sequential read) workloads on each DIR, and prints ratios against the first "
      "(docs/Benchmarks.md)"};
  FsConfig c;
  std::vector<std::string> args;
  bool warm = false;
  app.add_option("dirs", args, "[LABEL=]DIR: a directory to measure in (a new subdirectory of "
                               "it, removed afterwards); LABEL names its row")
      ->required();
  app.add_option("--files", c.files, "small files")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10000000}))
      ->capture_default_str();
  app.add_option("--file-size", c.file_size, "bytes per small file (suffixes K, M, G: 1024)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{1}, uint64_t{64} << 20))
      ->capture_default_str();
  app.add_option("--passes", c.passes, "stat and read each small file this many times")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--large-size", c.large_size, "bytes of the large file")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--block-size", c.block_size, "bytes per write and read of the large file")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{1}, uint64_t{64} << 20))
      ->capture_default_str();
  app.add_flag("--warm", warm,
               "never drop the page cache (by default it is dropped before each read phase when "
               "running as root)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help: 0; a usage error: 2, as bitgask
  }
  c.drop_caches = !warm && ::geteuid() == 0;

  std::vector<Target> targets;
  for (const std::string& a : args) targets.push_back(ParseTarget(a));
  std::printf("fsbench: %llu small files of %llu bytes, stat and read %d time(s) each; a large "
              "file of %llu bytes in %llu-byte blocks; reads %s\n",
              static_cast<unsigned long long>(c.files),
              static_cast<unsigned long long>(c.file_size), c.passes,
              static_cast<unsigned long long>(c.large_size),
              static_cast<unsigned long long>(c.block_size),
              c.drop_caches ? "cold (page cache dropped before each read phase)"
                            : "warm (page cache not dropped)");
  for (const Target& t : targets) std::printf("  %s: %s\n", t.label.c_str(), t.dir.c_str());
  std::fputs(HeaderRow().c_str(), stdout);
  std::fflush(stdout);
  for (Target& t : targets) {
    std::string error;
    if (!bitgask::fsbench::RunFsBench(t.dir, c, &t.phases, &error)) {
      std::fprintf(stderr, "bitgask-fsbench: %s: %s\n", t.label.c_str(), error.c_str());
      return 1;
    }
    std::vector<double> rates;
    for (const std::string& name : FsPhaseNames()) rates.push_back(RateOf(t, name));
    std::fputs(Row(t.label, rates, " %12.0f").c_str(), stdout);
    std::fflush(stdout);
  }
  if (targets.size() > 1) {
    std::printf("ratios against %s (above 1: faster)\n", targets[0].label.c_str());
    for (size_t i = 1; i < targets.size(); i++) {
      std::vector<double> ratios;
      for (const std::string& name : FsPhaseNames()) {
        const double base = RateOf(targets[0], name);
        ratios.push_back(base > 0 ? RateOf(targets[i], name) / base : 0);
      }
      std::fputs(Row(targets[i].label, ratios, " %12.3f").c_str(), stdout);
    }
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
