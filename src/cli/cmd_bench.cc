// The bench command: db_bench-like workloads on a store of its own
// (docs/CLI.md#bench). Flags and the store directory here; the workloads
// are in bench_workloads.cc, the output in bench_report.cc.
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench_peers.h"
#include "bench_report.h"
#include "bench_workloads.h"
#include "cli_io.h"
#include "command_registry.h"
#include "engine_flags.h"
#include "store_access.h"

namespace bitgask {
namespace cli {
namespace {

constexpr long kTmpfsMagic = 0x01021994;
constexpr int kMaxThreads = 16;
constexpr size_t kMaxValueSize = 64u << 20;  // every thread may hold one

struct BenchFlags {
  BenchConfig config;
  std::vector<std::string> workloads = {"fillrandom", "readrandom"};
  std::vector<std::string> peers;  // measured after bitgask, each in DIR/<name>
  bool json = false;
  bool use_existing = false;
};

// "a,b,c" into *out; a ValidationError (exit 2) for an unknown name.
std::vector<std::string> ParseWorkloads(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string name;
  const auto& known = WorkloadNames();
  while (std::getline(in, name, ',')) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string all;
      for (const auto& k : known) all += (all.empty() ? "" : ",") + k;
      throw CLI::ValidationError("unknown benchmark '" + name + "' (one of " + all + ")");
    }
    out.push_back(name);
  }
  if (out.empty()) throw CLI::ValidationError("--benchmarks needs at least one name");
  return out;
}

// "a,b" or "all" into the peers compiled in; a ValidationError (exit 2) for
// a peer this build lacks.
std::vector<std::string> ParsePeers(const std::string& text) {
  const auto& known = PeerNames();
  std::string all;
  for (const auto& k : known) all += (all.empty() ? "" : ",") + k;
  if (known.empty()) {
    throw CLI::ValidationError(
        "this bitgask was built without bench peers (configure --with-bench-peers with their "
        "libraries installed; docs/Benchmarks.md#peers)");
  }
  if (text == "all") return known;
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      throw CLI::ValidationError("no bench peer '" + name + "' in this build (built in: " + all +
                                 ")");
    }
    out.push_back(name);
  }
  if (out.empty()) throw CLI::ValidationError("--peers needs at least one name");
  return out;
}

// "" when dir is absent or empty; otherwise why it may not be used.
std::string CheckEmptyDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return errno == ENOENT ? "" : dir + ": " + std::strerror(errno);
  bool empty = true;
  while (struct dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
  }
  closedir(d);
  return empty ? "" : dir + " is not empty (bench writes and deletes keys there; --use-existing "
                            "to run in it anyway)";
}

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }

// Removes dir and everything in it; false when something stayed.
bool RemoveTree(const std::string& dir) {
  return nftw(dir.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

std::string DirNote(const std::string& dir) {
  struct statfs fs;
  if (statfs(dir.c_str(), &fs) == 0 && static_cast<long>(fs.f_type) == kTmpfsMagic) {
    return "tmpfs: fsync costs nothing here; use --dir on a disk for sync figures";
  }
  return "";
}

// Runs the workloads on target (its files in dir) into *run, printing each
// line as it comes unless json. Workloads that need bitgask are left out for
// a peer. Returns the exit code.
int RunTarget(const BenchFlags& flags, BenchTarget* target, const std::string& dir,
              TargetRun* run) {
  run->setup.target = target->Name();
  run->setup.settings = target->Settings();
  run->setup.dir = dir;
  run->setup.dir_note = DirNote(dir);
  int rc = flags.json ? 0 : PrintOut(BenchHeader(run->setup));
  BenchRunner runner(flags.config, dir, target);
  const bool peer = dynamic_cast<BitgaskTarget*>(target) == nullptr;
  for (const std::string& name : flags.workloads) {
    if (rc != 0) break;
    if (peer && BitgaskOnly(name)) continue;
    const size_t shown = run->results.size();
    Status s = runner.Run(name, &run->results);
    if (!flags.json) {
      std::string lines;
      for (size_t i = shown; i < run->results.size(); i++) lines += BenchTableLine(run->results[i]);
      rc = PrintOut(lines);
    }
    if (!s.ok()) rc = FailStatus(target->Name() + " bench", s);
  }
  run->peak = runner.keydir_peak();
  if (rc == 0 && !flags.json && !peer) rc = PrintOut(BenchKeydirLine(run->peak));
  return rc;
}

// Opens peer `name` in its own directory under base, runs it, closes it.
int RunPeer(const BenchFlags& flags, const std::string& name, const std::string& base,
            TargetRun* run) {
  const std::string dir = base + "/" + name;
  if (::mkdir(dir.c_str(), 0755) != 0) return Fail(dir + ": " + std::strerror(errno));
  std::unique_ptr<BenchTarget> target;
  Status s = OpenPeer(name, dir, flags.config, &target);
  if (!s.ok()) return FailStatus("opening " + name + " in " + dir, s);
  if (!flags.json && PrintOut("\n") != 0) return 1;
  return RunTarget(flags, target.get(), dir, run);
}

int RunBench(const CliContext& ctx, const BenchFlags& flags, bool dir_given, bool merge_set) {
  if (flags.config.key_size > ctx.options.max_key_size ||
      flags.config.value_size > ctx.options.max_value_size) {
    std::fprintf(stderr,
                 "bitgask: --key-size or --value-size is above the store's --max-key-size (%u) "
                 "or --max-value-size (%u)\n",
                 ctx.options.max_key_size, ctx.options.max_value_size);
    return 2;  // a usage error, like the flags' own range checks
  }
  std::string base, temp_dir;
  if (dir_given) {
    base = ctx.dir;
    if (!flags.use_existing) {
      std::string why = CheckEmptyDir(ctx.dir);
      if (!why.empty()) return Fail(why);
    }
  } else {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/bitgask-bench.XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      return Fail("cannot create a temporary directory " + templ + ": " + std::strerror(errno));
    }
    temp_dir = base = templ;
  }
  if (!flags.peers.empty() && ::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) {
    return Fail(base + ": " + std::strerror(errno));
  }

  // bitgask first, in base itself, or in base/bitgask beside its peers.
  const std::string dir = flags.peers.empty() ? base : base + "/bitgask";
  Options options = ctx.options;
  if (!merge_set) options.merge_interval = std::chrono::milliseconds(0);  // no merge by surprise
  std::vector<TargetRun> runs(1);
  runs[0].setup.config = flags.config;
  std::unique_ptr<BitgaskTarget> target;
  Status s = BitgaskTarget::Open(dir, options, &target);
  int rc = 0;
  if (!s.ok()) {
    rc = Fail(OpenFailure(dir, s));
  } else {
    rc = RunTarget(flags, target.get(), dir, &runs[0]);
    s = target->Close();
    if (!s.ok() && rc == 0) rc = FailStatus("closing the store", s);
    target.reset();
  }
  for (const std::string& peer : flags.peers) {
    if (rc != 0) break;
    runs.emplace_back();
    runs.back().setup.config = flags.config;
    rc = RunPeer(flags, peer, base, &runs.back());
  }
  if (rc == 0 && flags.json) {
    rc = PrintOut(flags.peers.empty() ? BenchJson(runs[0].setup, runs[0].results, runs[0].peak)
                                      : BenchJsonWithPeers(runs));
  } else if (rc == 0 && !flags.peers.empty()) {
    rc = PrintOut("\n" + BenchComparison(runs));
  }
  if (!temp_dir.empty() && !RemoveTree(temp_dir)) {
    rc = Fail("could not remove the temporary store " + temp_dir + ": " + std::strerror(errno));
  }
  return rc;
}

}  // namespace

void AddBenchCommand(CLI::App* app, CliContext* ctx) {
  auto flags = std::make_shared<BenchFlags>();
  auto sub_ptr = std::make_shared<CLI::App*>(nullptr);
  CLI::App* sub = AddCommand(
      app, ctx, "bench",
      "Measure the store: db_bench-like workloads in a fresh temporary store (docs/CLI.md)",
      [app, ctx, flags, sub_ptr] {
        CLI::App* sub = *sub_ptr;
        const bool dir_given = sub->count("--dir") + app->count("--dir") > 0;
        const bool merge_set =
            sub->count("--merge-interval") + app->count("--merge-interval") > 0;
        return RunBench(*ctx, *flags, dir_given, merge_set);
      });
  *sub_ptr = sub;
  sub->get_option("--dir")
      ->description("run in this absent or empty directory and keep the store there")
      ->default_str("a new temporary directory, removed at the end");
  BenchConfig& c = flags->config;
  std::string names;
  for (const auto& n : WorkloadNames()) names += (names.empty() ? "" : ",") + n;
  sub->add_option_function<std::string>(
         "--benchmarks",
         [flags](const std::string& text) { flags->workloads = ParseWorkloads(text); },
         "comma-separated workloads, run in this order: " + names)
      ->type_name("LIST")
      ->default_str("fillrandom,readrandom");
  std::string peers;
  for (const auto& n : PeerNames()) peers += (peers.empty() ? "" : ",") + n;
  sub->add_option_function<std::string>(
         "--peers", [flags](const std::string& text) { flags->peers = ParsePeers(text); },
         "after bitgask, run the same workloads on these stores and compare (all: every one "
         "built in: " + (peers.empty() ? std::string("none in this build") : peers) + ")")
      ->type_name("LIST");
  sub->add_option("--num", c.num, "keys (and operations of the write workloads)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32))
      ->capture_default_str();
  sub->add_option("--reads", c.reads, "operations of readrandom, readmissing, mixed (0: --num)")
      ->capture_default_str();
  sub->add_option("--key-size", c.key_size, "bytes per key")
      ->check(CLI::Range(kMinBenchKeySize, size_t{65535}))
      ->capture_default_str();
  sub->add_option("--value-size", c.value_size, "bytes per value")
      ->check(CLI::Range(size_t{0}, kMaxValueSize))
      ->capture_default_str();
  sub->add_option("--threads", c.threads, "threads running each workload together")
      ->check(CLI::Range(1, kMaxThreads))
      ->capture_default_str();
  sub->add_flag("--sync", c.sync, "fsync every write of every workload (fillsync always does)");
  sub->add_option("--read-ratio", c.read_ratio, "mixed: the fraction of reads")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  sub->add_option_function<std::string>(
         "--ttl",
         [flags](const std::string& text) {
           std::chrono::nanoseconds ttl;
           std::string error;
           if (!ParseDuration(text, &ttl, &error) || ttl.count() <= 0) {
             throw CLI::ValidationError(error.empty() ? "--ttl must be more than 0" : error);
           }
           flags->config.ttl = ttl;
         },
         "fillttl: the expiry of each key")
      ->type_name("DURATION")
      ->default_str("1h");
  sub->add_option("--seed", c.seed, "seed of the keys, values and random choices")
      ->capture_default_str();
  sub->add_flag("--json", flags->json, "one JSON document instead of the table");
  sub->add_flag("--use-existing", flags->use_existing,
                "run in a --dir that is not empty (an existing store: its keys are changed)");
}

}  // namespace cli
}  // namespace bitgask
