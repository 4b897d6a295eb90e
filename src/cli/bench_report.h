// bench_report: the output of `bitgask bench`: a table for people, or one
// JSON document (--json) for programs.
//
// Contract: one line (table) or one object (JSON) per BenchResult, in the
// order given; ops/s and MB/s (10^6 bytes of keys and values per second)
// from ops, bytes and seconds; latencies in microseconds (p50, p99, p99.9,
// max); then the keydir's peak memory per key. With peers, each target's
// table in turn, then one comparison of ops/s per workload with each peer's
// ratio (bitgask / peer); in JSON, the targets' objects and the ratios.
// Pure: no I/O.
#ifndef BITGASK_SRC_CLI_BENCH_REPORT_H_
#define BITGASK_SRC_CLI_BENCH_REPORT_H_

#include <string>
#include <vector>

#include "bench_workloads.h"

namespace bitgask {
namespace cli {

struct BenchSetup {
  BenchConfig config;
  std::string target;    // "bitgask", or a peer's name
  std::string settings;  // the target's Settings(): durable and non-durable writes
  std::string dir;
  std::string dir_note;  // e.g. "tmpfs: fsync costs nothing", or ""
};

// What one target did in a run with peers: bitgask's run comes first.
struct TargetRun {
  BenchSetup setup;
  std::vector<BenchResult> results;
  KeydirPeak peak;  // bitgask only
};

std::string BenchHeader(const BenchSetup& setup);
std::string BenchTableLine(const BenchResult& r);
std::string BenchKeydirLine(const KeydirPeak& peak);
std::string BenchJson(const BenchSetup& setup, const std::vector<BenchResult>& results,
                      const KeydirPeak& peak);

// The comparison table of a run with peers: one line per workload any
// target ran (in the order first seen), each target's ops/s ("-" where it
// did not run it), and after each peer's the ratio bitgask / peer.
std::string BenchComparison(const std::vector<TargetRun>& runs);
// {"targets": [one BenchJson object per run], "ratios": {workload: {peer:
// bitgask / peer}}}, on one line.
std::string BenchJsonWithPeers(const std::vector<TargetRun>& runs);

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_BENCH_REPORT_H_
