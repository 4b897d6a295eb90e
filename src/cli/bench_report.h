// bench_report: the output of `bitgask bench`: a table for people, or one
// JSON document (--json) for programs.
//
// Contract: one line (table) or one object (JSON) per BenchResult, in the
// order given; ops/s and MB/s (10^6 bytes of keys and values per second)
// from ops, bytes and seconds; latencies in microseconds (p50, p99, p99.9,
// max); then the keydir's peak memory per key. Pure: no I/O.
#ifndef BITGASK_SRC_CLI_BENCH_REPORT_H_
#define BITGASK_SRC_CLI_BENCH_REPORT_H_

#include <string>
#include <vector>

#include "bench_workloads.h"

namespace bitgask {
namespace cli {

struct BenchSetup {
  BenchConfig config;
  std::string target;  // "bitgask"
  std::string dir;
  std::string dir_note;  // e.g. "tmpfs: fsync costs nothing", or ""
};

std::string BenchHeader(const BenchSetup& setup);
std::string BenchTableLine(const BenchResult& r);
std::string BenchKeydirLine(const KeydirPeak& peak);
std::string BenchJson(const BenchSetup& setup, const std::vector<BenchResult>& results,
                      const KeydirPeak& peak);

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_BENCH_REPORT_H_
