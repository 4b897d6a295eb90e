// bench_histogram: latencies of one benchmark workload, for percentiles.
//
// Contract: Add records one sample in nanoseconds in constant time and
// memory (log-linear buckets: exact below 16 ns, then 16 buckets per power
// of two, so a percentile is within 1/16 of the true value and never above
// the largest sample). min and max are exact. Not thread-safe: each thread
// keeps its own Histogram and Merge combines them afterwards. Pure: no I/O.
#ifndef BITGASK_SRC_CLI_BENCH_HISTOGRAM_H_
#define BITGASK_SRC_CLI_BENCH_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bitgask {
namespace cli {

class Histogram {
 public:
  Histogram();

  void Add(uint64_t nanos);
  void Merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  // The smallest bucket bound at or below which a fraction p (0 < p <= 1)
  // of the samples lie, capped at max(). 0 when empty.
  uint64_t Percentile(double p) const;

  // Bucket of a value and the largest value of a bucket (for tests).
  static size_t BucketOf(uint64_t nanos);
  static uint64_t BucketUpper(size_t bucket);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_BENCH_HISTOGRAM_H_
