#include "engine_workload.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>

#include "bitgask/write_batch.h"

namespace bitgask {
namespace crash {

namespace {

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr int64_t kMs = 1000 * 1000;

EngineOp::Entry RandomPut(std::mt19937_64* rng, int key) {
  EngineOp::Entry e;
  e.key = key;
  e.seed = (*rng)();
  const int sz = static_cast<int>((*rng)() % 100);
  if (sz < 40) e.size = static_cast<uint32_t>((*rng)() % 100);
  else if (sz < 75) e.size = 100 + static_cast<uint32_t>((*rng)() % 4000);
  else if (sz < 96) e.size = 4096 + static_cast<uint32_t>((*rng)() % 40000);
  else e.size = 100000 + static_cast<uint32_t>((*rng)() % 300000);
  const int ttl = static_cast<int>((*rng)() % 100);
  if (ttl < 25) {
    // Log-uniform from 5 ms to 3 s: many expire during a run, some after a reopen.
    const double ms = 5.0 * std::pow(600.0, std::uniform_real_distribution<>(0, 1)(*rng));
    e.ttl_ns = static_cast<int64_t>(ms * kMs);
  } else if (ttl < 33) {
    e.ttl_ns = 3600 * 1000 * kMs;
  }
  return e;
}

}  // namespace

std::string KeyName(int writer, int key) {
  std::string k = "w" + std::to_string(writer) + "/k" + std::to_string(key);
  if (key % 8 == 7) k += "/" + std::string(static_cast<size_t>(50 + 20 * key), 'a' + key % 26);
  return k;
}

std::vector<std::string> WriterKeys(int writer) {
  std::vector<std::string> keys;
  for (int k = 0; k < kKeysPerWriter; k++) keys.push_back(KeyName(writer, k));
  return keys;
}

std::string ValueOf(uint64_t seed, uint32_t size) {
  std::string v = "v" + std::to_string(seed) + ":";
  const size_t start = std::min<size_t>(v.size(), size);
  v.resize(size, '\0');
  uint64_t st = seed;
  if (seed % 2 == 0) {
    for (size_t i = start; i < size; i++) v[i] = static_cast<char>(SplitMix(&st));
  } else {
    const std::string word = "value-" + std::to_string(seed % 1000) + " ";
    for (size_t i = start; i < size; i++) v[i] = word[i % word.size()];
    for (size_t i = start; i < size; i += 61) v[i] = static_cast<char>('A' + SplitMix(&st) % 26);
  }
  return v;
}

std::string EngineOp::Encode() const {
  std::ostringstream os;
  os << "PDB"[kind] << ' ' << (sync ? 1 : 0) << ' ' << entries.size();
  for (const Entry& e : entries) {
    os << ' ' << e.key << ' ' << (e.del ? 1 : 0) << ' ' << e.seed << ' ' << e.size << ' '
       << e.ttl_ns;
  }
  return os.str();
}

bool EngineOp::Decode(const std::string& text, EngineOp* op) {
  std::istringstream in(text);
  char k = 0;
  int sync = 0;
  size_t n = 0;
  in >> k >> sync >> n;
  op->sync = sync != 0;
  if (in.fail() || n == 0 || n > 64) return false;
  const char* kinds = "PDB";
  const char* p = std::strchr(kinds, k);
  if (p == nullptr || k == '\0') return false;
  op->kind = static_cast<Kind>(p - kinds);
  op->entries.resize(n);
  for (Entry& e : op->entries) {
    int del = 0;
    in >> e.key >> del >> e.seed >> e.size >> e.ttl_ns;
    e.del = del != 0;
    if (in.fail() || e.key < 0 || e.key >= kKeysPerWriter) return false;
  }
  return true;
}

std::string EngineOp::Describe(int writer) const {
  std::ostringstream os;
  os << (kind == kPut ? "put" : kind == kDelete ? "delete" : "batch") << (sync ? "" : " (no sync)");
  for (const Entry& e : entries) {
    os << (kind == kBatch ? " [" : " ") << KeyName(writer, e.key).substr(0, 12);
    if (!e.del) os << " = v" << e.seed << " (" << e.size << " bytes)";
    else if (kind == kBatch) os << " deleted";
    if (e.ttl_ns) os << " ttl " << e.ttl_ns / kMs << " ms";
    if (kind == kBatch) os << "]";
  }
  return os.str();
}

EngineOp RandomOp(std::mt19937_64* rng) {
  EngineOp op;
  op.sync = (*rng)() % 4 != 0;
  const int pick = static_cast<int>((*rng)() % 100);
  if (pick < 55) {
    op.kind = EngineOp::kPut;
    op.entries.push_back(RandomPut(rng, static_cast<int>((*rng)() % kKeysPerWriter)));
  } else if (pick < 75) {
    op.kind = EngineOp::kDelete;
    EngineOp::Entry e;
    e.key = static_cast<int>((*rng)() % kKeysPerWriter);
    e.del = true;
    op.entries.push_back(e);
  } else {
    // A batch of 2..8 puts and deletes; a key may come twice (the later wins).
    op.kind = EngineOp::kBatch;
    const int n = 2 + static_cast<int>((*rng)() % 7);
    for (int i = 0; i < n; i++) {
      const int key = static_cast<int>((*rng)() % kKeysPerWriter);
      if ((*rng)() % 3 == 0) {
        EngineOp::Entry e;
        e.key = key;
        e.del = true;
        op.entries.push_back(e);
      } else {
        op.entries.push_back(RandomPut(rng, key));
      }
    }
  }
  return op;
}

Status RunOp(DB* db, int writer, const EngineOp& op) {
  const EngineOp::Entry& e = op.entries[0];
  WriteOptions wo;
  if (!op.sync) wo.sync = WriteOptions::Sync::kNever;
  switch (op.kind) {
    case EngineOp::kPut:
      wo.ttl = std::chrono::nanoseconds(e.ttl_ns);
      return db->Put(wo, KeyName(writer, e.key), ValueOf(e.seed, e.size));
    case EngineOp::kDelete:
      return db->Delete(wo, KeyName(writer, e.key));
    case EngineOp::kBatch: {
      WriteBatch b;
      for (const EngineOp::Entry& x : op.entries) {
        if (x.del) {
          b.Delete(KeyName(writer, x.key));
        } else if (x.ttl_ns) {
          b.PutWithTTL(KeyName(writer, x.key), ValueOf(x.seed, x.size),
                       std::chrono::nanoseconds(x.ttl_ns));
        } else {
          b.Put(KeyName(writer, x.key), ValueOf(x.seed, x.size));
        }
      }
      return db->Write(wo, b);
    }
  }
  return Status::InvalidArgument("unknown op");
}

std::vector<Effect> EffectsOf(int writer, const EngineOp& op, int64_t t0, int64_t t1) {
  std::vector<Effect> out;
  for (const EngineOp::Entry& e : op.entries) {
    Effect f;
    f.key = KeyName(writer, e.key);
    if (e.del) {
      f.kind = Effect::kDelete;
    } else {
      f.kind = Effect::kSet;
      f.value = std::make_shared<const std::string>(ValueOf(e.seed, e.size));
      if (e.ttl_ns) {
        f.exp_lo = t0 + e.ttl_ns;
        f.exp_hi = t1 + e.ttl_ns;
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

Observed ReadKey(DB* db, const std::string& key, const std::function<int64_t()>& now) {
  Observed o;
  o.t0 = now();
  Status s = db->Get(key, &o.value);
  o.t1 = now();
  if (s.ok()) {
    o.present = true;
  } else if (!s.IsNotFound()) {
    o.error = s.ToString();
  }
  return o;
}

}  // namespace crash
}  // namespace bitgask
