#include "bench_histogram.h"

#include <algorithm>
#include <cmath>

namespace bitgask {
namespace cli {
namespace {

constexpr int kSubBits = 4;                 // 16 buckets per power of two
constexpr uint64_t kSub = 1u << kSubBits;
constexpr size_t kBuckets = kSub + (64 - kSubBits) * kSub;

int TopBit(uint64_t v) { return 63 - __builtin_clzll(v); }  // REQUIRES: v != 0

}  // namespace

Histogram::Histogram() : counts_(kBuckets, 0) {}

size_t Histogram::BucketOf(uint64_t v) {
  if (v < kSub) return static_cast<size_t>(v);
  const int shift = TopBit(v) - kSubBits;
  const uint64_t sub = (v >> shift) & (kSub - 1);
  return static_cast<size_t>(kSub + shift * kSub + sub);
}

uint64_t Histogram::BucketUpper(size_t bucket) {
  if (bucket < kSub) return bucket;
  const int shift = static_cast<int>((bucket - kSub) / kSub);
  const uint64_t sub = (bucket - kSub) % kSub;
  const uint64_t lower = (kSub + sub) << shift;
  return lower + ((uint64_t{1} << shift) - 1);
}

void Histogram::Add(uint64_t nanos) {
  counts_[BucketOf(nanos)]++;
  count_++;
  min_ = std::min(min_, nanos);
  max_ = std::max(max_, nanos);
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; i++) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(p * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; i++) {
    seen += counts_[i];
    if (seen >= rank) return std::min(BucketUpper(i), max_);
  }
  return max_;
}

}  // namespace cli
}  // namespace bitgask
