// bench_workloads: the workloads of `bitgask bench` (docs/CLI.md#bench).
//
// Contract: a BenchRunner runs workloads one after another on one store,
// each on config.threads threads sharing the target, and appends one result
// line per measurement (some workloads add a baseline line before their
// own: rawsync before the first sync workload, nomerge before mergeload,
// open/nohints after open). Each operation is timed into the thread's
// histogram; a workload's time is the wall clock from the start of its
// threads to the end of the last. Keys and values come from KeyGen; the key
// set is 0..num-1, so workloads see each other's data (readrandom after
// fillrandom finds every key). A failed store call stops the workload and
// is returned (NotFound of a read is counted, not a failure).
// The workloads of BitgaskOnly() run only on a BitgaskTarget; the keydir is
// sampled only there. Single-threaded use of the runner itself.
#ifndef BITGASK_SRC_CLI_BENCH_WORKLOADS_H_
#define BITGASK_SRC_CLI_BENCH_WORKLOADS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_histogram.h"
#include "bench_keys.h"
#include "bench_target.h"

namespace bitgask {
namespace cli {

struct BenchConfig {
  uint64_t num = 1000000;   // keys 0..num-1; ops of the fill, overwrite, delete workloads
  uint64_t reads = 0;       // ops of the read and mixed workloads; 0: num
  size_t key_size = 16;
  size_t value_size = 100;
  int threads = 1;
  bool sync = false;        // fsync every write (fillsync always does)
  double read_ratio = 0.9;  // mixed: the fraction of operations that are reads
  std::chrono::nanoseconds ttl = std::chrono::hours(1);  // fillttl
  uint64_t seed = 301;
};

struct BenchResult {
  std::string name;
  uint64_t ops = 0;
  uint64_t bytes = 0;  // key and value bytes written or read
  double seconds = 0;
  Histogram latency;   // nanoseconds per operation
  std::string note;
};

// What the keydir held at the largest it was seen (after each workload).
struct KeydirPeak {
  uint64_t bytes = 0;
  uint64_t keys = 0;
};

// The workload names, in the order docs/CLI.md lists them.
const std::vector<std::string>& WorkloadNames();

// fillttl, mergeload and open: they need what only bitgask has.
bool BitgaskOnly(const std::string& workload);

// Operations of the raw-disk baseline at most (append + fdatasync).
constexpr uint64_t kMaxRawSyncOps = 10000;

class BenchRunner {
 public:
  // target must outlive the runner; dir is the directory of its files, where
  // the raw baseline's file goes too.
  BenchRunner(const BenchConfig& config, const std::string& dir, BenchTarget* target);

  // Runs the workload `name` (one of WorkloadNames(); BitgaskOnly() ones
  // need a BitgaskTarget, else InvalidArgument), appending its lines.
  Status Run(const std::string& name, std::vector<BenchResult>* results);

  const KeydirPeak& keydir_peak() const { return keydir_peak_; }

 private:
  enum class WriteKind { kPut, kPutTTL, kDelete };  // kPutTTL: bitgask only
  bool Syncs(const std::string& name) const;
  Status WriteKeys(const std::vector<uint64_t>& order, WriteKind kind, bool sync,
                   BenchResult* r);
  Status ReadRandom(bool missing, BenchResult* r);
  Status ReadSeq(BenchResult* r);
  Status Mixed(BenchResult* r);
  Status RawSync(BenchResult* r);
  Status MergeLoad(std::vector<BenchResult>* results);
  Status Open(std::vector<BenchResult>* results);
  Status SampleKeydir();
  uint64_t reads() const { return config_.reads != 0 ? config_.reads : config_.num; }

  const BenchConfig config_;
  const std::string dir_;
  BenchTarget* const target_;
  BitgaskTarget* const bitgask_;  // target_ when it is bitgask, else null
  const KeyGen keys_;
  double raw_ops_per_sec_ = 0;  // 0 until rawsync ran
  KeydirPeak keydir_peak_;
};

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_BENCH_WORKLOADS_H_
