// The mixed engine workload of the crash harnesses (engine_kill_test,
// power_loss_test): puts, deletes, puts with a TTL and atomic WriteBatches,
// each on the keys of one writer, with values that can be recomputed from a
// seed. An operation has a one-line text form so that a process can report
// it to the process that kills it.
#ifndef BITGASK_TESTS_CRASH_ENGINE_WORKLOAD_H_
#define BITGASK_TESTS_CRASH_ENGINE_WORKLOAD_H_

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bitgask/db.h"
#include "crash_model.h"

namespace bitgask {
namespace crash {

constexpr int kKeysPerWriter = 32;

// The name of key `key` (0 .. kKeysPerWriter-1) of writer `writer`; a few
// are long (hundreds of bytes), the rest short.
std::string KeyName(int writer, int key);
std::vector<std::string> WriterKeys(int writer);

// `size` bytes derived from `seed` alone; they start with "v<seed>:" so a
// wrong value can be told apart, and half the seeds give compressible bytes.
std::string ValueOf(uint64_t seed, uint32_t size);

struct EngineOp {
  enum Kind { kPut, kDelete, kBatch } kind = kPut;
  struct Entry {
    int key = 0;
    bool del = false;
    uint64_t seed = 0;   // the value's seed and size (puts)
    uint32_t size = 0;
    int64_t ttl_ns = 0;  // 0: no expiry
  };
  std::vector<Entry> entries;  // one for kPut and kDelete, 2..8 for kBatch
  // false: WriteOptions::Sync::kNever. Acknowledged, such a write survives a
  // crash of the process; it survives power loss once a later synced write
  // (or anything else that syncs) has been acknowledged.
  bool sync = true;

  std::string Encode() const;                 // one line, no newline
  static bool Decode(const std::string& text, EngineOp* op);
  std::string Describe(int writer) const;     // for failure messages
};

// A random operation: mostly small values, a few of hundreds of KiB; about a
// third of puts expire, most of those within milliseconds to seconds (so
// expiry happens while the harness runs), some after an hour; one in four
// does not sync.
EngineOp RandomOp(std::mt19937_64* rng);

// Runs op against db for writer `writer`.
Status RunOp(DB* db, int writer, const EngineOp& op);

// What op does to the model, if it began at t0 and returned by t1 (engine
// clock): a TTL put expires within [t0 + ttl, t1 + ttl].
std::vector<Effect> EffectsOf(int writer, const EngineOp& op, int64_t t0, int64_t t1);

// Reads key from db for KeyModel::Check, timing it with now().
Observed ReadKey(DB* db, const std::string& key, const std::function<int64_t()>& now);

}  // namespace crash
}  // namespace bitgask

#endif  // BITGASK_TESTS_CRASH_ENGINE_WORKLOAD_H_
