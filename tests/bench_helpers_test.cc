// The pure parts of `bitgask bench`: the latency histogram's buckets and
// percentiles, the key generator's promises (distinct keys, missing keys
// never among the present ones, orders), and the report's numbers.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "bench_histogram.h"
#include "bench_keys.h"
#include "bench_report.h"

namespace bitgask {
namespace cli {
namespace {

TEST(Histogram, BucketsHoldTheirValuesWithin1Of16) {
  const uint64_t values[] = {0, 1, 15, 16, 17, 31, 32, 1000, 123456789, UINT64_MAX / 3, UINT64_MAX};
  for (uint64_t v : values) {
    const size_t b = Histogram::BucketOf(v);
    EXPECT_GE(Histogram::BucketUpper(b), v) << v;
    if (b > 0) {
      EXPECT_LT(Histogram::BucketUpper(b - 1), v) << v;  // the bucket's lower side
    }
    EXPECT_LE(Histogram::BucketUpper(b) - v, v / 16) << v;
  }
}

TEST(Histogram, PercentilesOfAKnownDistribution) {
  Histogram h;
  EXPECT_EQ(h.Percentile(0.5), 0u);
  for (uint64_t v = 1; v <= 1000; v++) h.Add(v * 1000);  // 1 us .. 1 ms
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 1000000u);
  auto near = [](uint64_t got, uint64_t want) {
    EXPECT_GE(got, want);
    EXPECT_LE(got, want + want / 16) << got << " for " << want;
  };
  near(h.Percentile(0.5), 500000);
  near(h.Percentile(0.99), 990000);
  EXPECT_EQ(h.Percentile(1.0), 1000000u);  // capped at the exact max

  Histogram other;
  other.Add(5000000);
  h.Merge(other);
  EXPECT_EQ(h.count(), 1001u);
  EXPECT_EQ(h.max(), 5000000u);
  EXPECT_EQ(h.Percentile(1.0), 5000000u);
}

TEST(KeyGen, KeysAreDistinctSizedAndMissingOnesNeverPresent) {
  for (size_t key_size : {size_t{8}, size_t{16}, size_t{21}}) {
    KeyGen gen(key_size, 100, 7);
    std::set<std::string> present;
    std::string key;
    for (uint64_t i = 0; i < 5000; i++) {
      gen.Key(i, &key);
      ASSERT_EQ(key.size(), key_size);
      present.insert(key);
    }
    EXPECT_EQ(present.size(), 5000u);
    for (uint64_t i = 5000; i < 10000; i++) {
      gen.Key(i, &key);
      EXPECT_EQ(present.count(key), 0u) << i;
    }
    std::string again;
    gen.Key(42, &key);
    gen.Key(42, &again);
    EXPECT_EQ(key, again);
  }
}

TEST(KeyGen, OrdersCoverEveryKeyOnce) {
  KeyGen gen(16, 10, 7);
  std::vector<uint64_t> sorted = gen.InKeyOrder(3000);
  std::vector<uint64_t> shuffled = gen.Shuffled(3000);
  std::string prev, key;
  for (uint64_t i : sorted) {
    gen.Key(i, &key);
    EXPECT_LT(prev, key);
    prev = key;
  }
  std::sort(sorted.begin(), sorted.end());
  std::sort(shuffled.begin(), shuffled.end());
  for (uint64_t i = 0; i < 3000; i++) {
    ASSERT_EQ(sorted[i], i);
    ASSERT_EQ(shuffled[i], i);
  }
  EXPECT_EQ(gen.Value(1).size(), 10u);
  EXPECT_NE(gen.Value(1), gen.Value(2));
}

TEST(BenchReport, RatesAndPercentilesInTableAndJson) {
  BenchSetup setup;
  setup.target = "bitgask";
  setup.dir = "/d";
  BenchResult r;
  r.name = "fillrandom";
  r.ops = 4;
  r.bytes = 2000000;
  r.seconds = 2;
  for (uint64_t us : {10u, 10u, 10u, 40u}) r.latency.Add(us * 1000);
  r.note = "a note";
  const std::string line = BenchTableLine(r);
  EXPECT_EQ(line.rfind("fillrandom ", 0), 0u) << line;
  EXPECT_NE(line.find(" 2 "), std::string::npos) << line;     // ops/s
  EXPECT_NE(line.find(" 1.00 "), std::string::npos) << line;  // MB/s
  EXPECT_NE(line.find("a note\n"), std::string::npos) << line;

  const auto j = nlohmann::json::parse(BenchJson(setup, {r}, KeydirPeak{6400, 100}));
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["name"], "fillrandom");
  EXPECT_DOUBLE_EQ(j["results"][0]["ops_per_sec"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["results"][0]["mb_per_sec"].get<double>(), 1.0);
  const double p50 = j["results"][0]["p50_us"].get<double>();  // a bucket's upper bound
  EXPECT_GE(p50, 10.0);
  EXPECT_LE(p50, 10.0 + 10.0 / 16);
  EXPECT_DOUBLE_EQ(j["results"][0]["max_us"].get<double>(), 40.0);
  EXPECT_DOUBLE_EQ(j["keydir"]["bytes_per_key"].get<double>(), 64.0);
  EXPECT_EQ(BenchKeydirLine(KeydirPeak{6400, 100}),
            "keydir peak: 6400 bytes for 100 keys, 64.0 bytes per key\n");
}

}  // namespace
}  // namespace cli
}  // namespace bitgask
