// Randomized model test: runs thousands of random operations against a DB and
// against a std::map model with a fake clock, and compares them.
//
// Operations: Put (random sizes, compressible and empty values, modes and
// timestamps), Put with a TTL or an absolute expiry (sometimes already past),
// Delete, Get, GetRange, Has, Meta, Expire, ExpireAt, Persist, SetMeta,
// advancing the clock, RunGC, Sync, and close + reopen with varying options
// (hint files on/off, validate_on_open, a tiny max_data_file_size so files
// rotate, different compression thresholds). Keys come from a small key space
// so they collide. After every reopen and periodically, every key of the key
// space is compared (value bytes and Meta fields; absent keys must be
// NotFound) and Stats().keys must equal the model's count.
//
// The model mirrors the documented expiry semantics exactly: an expired key
// (also one written with an expiry already past, or given one by ExpireAt)
// stays in the keydir until something reads it (the first read returns
// IsExpired, later ones plain NotFound), RunGC collects it, or a reopen
// drops it; until then Stats().keys counts it.
//
// Environment:
//   BITGASK_MODEL_SEED=<n>  run the random-seed test with this seed
//   BITGASK_MODEL_OPS=<n>   operations per run (default 15000)
//   BITGASK_MODEL_REAL_SYNC=1  really fsync (slow; by default fsync is a no-op)
// A failure prints the seed, the command to reproduce it and the last
// operations before the divergence.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bitgask/db.h"
#include "bitgask/env.h"
#include "bitgask/options.h"
#include "bitgask/status.h"
#include "test_util.h"

namespace bitgask {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr int64_t kMs = 1000000LL;
constexpr int64_t kSec = 1000000000LL;
constexpr int64_t kStartNs = 1700000000LL * kSec;
constexpr uint64_t kEpochOps = 10000;  // ops per store before starting a fresh one

uint64_t EnvNumber(const char* name, uint64_t def) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return def;
  return std::strtoull(v, nullptr, 10);
}

// The test's Env: a fake clock and, unless BITGASK_MODEL_REAL_SYNC=1, fsyncs
// that return at once. The model test checks logic, not durability (the
// process never crashes), and thousands of real fsyncs of tiny rotating files
// and their hints would dominate its run time.
class ModelEnv : public EnvWrapper {
 public:
  ModelEnv() : EnvWrapper(Env::Default()), real_sync_(EnvNumber("BITGASK_MODEL_REAL_SYNC", 0)) {}
  int64_t NowUnixNanos() override { return now_.load(); }
  void Advance(int64_t ns) { now_.fetch_add(ns); }
  int64_t Now() const { return now_.load(); }

  Status NewWritableFile(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = EnvWrapper::NewWritableFile(p, f);
    if (s.ok() && !real_sync_) f->reset(new NoSyncFile(std::move(*f)));
    return s;
  }
  Status NewAppendableFile(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = EnvWrapper::NewAppendableFile(p, f);
    if (s.ok() && !real_sync_) f->reset(new NoSyncFile(std::move(*f)));
    return s;
  }
  Status SyncDir(const std::string& d) override {
    return real_sync_ ? EnvWrapper::SyncDir(d) : Status::OK();
  }

 private:
  class NoSyncFile : public WritableFile {
   public:
    explicit NoSyncFile(std::unique_ptr<WritableFile> base) : base_(std::move(base)) {}
    Status Append(std::string_view data) override { return base_->Append(data); }
    Status AppendV(const std::string_view* pieces, size_t n) override {
      return base_->AppendV(pieces, n);
    }
    Status Sync() override { return Status::OK(); }
    Status Close() override { return base_->Close(); }
    uint64_t Size() const override { return base_->Size(); }

   private:
    std::unique_ptr<WritableFile> base_;
  };

  const bool real_sync_;
  std::atomic<int64_t> now_{kStartNs};
};

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x21 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    }
  }
  if (out.size() > 40) out = out.substr(0, 37) + "...(" + std::to_string(s.size()) + "B)";
  return out;
}

// What the model knows of a key the DB's keydir holds. The entry may be
// expired but not yet observed (the DB drops expired keys lazily).
struct ModelValue {
  std::string value;
  int64_t timestamp = 0;
  int64_t expires = 0;  // 0: never
  uint16_t mode = 0;
};

std::string Describe(const ModelValue& m) {
  std::ostringstream os;
  os << "{" << m.value.size() << "B ts=" << m.timestamp << " expires=" << m.expires
     << " mode=0" << std::oct << m.mode << std::dec << "}";
  return os.str();
}

class ModelRun {
 public:
  ModelRun(uint64_t seed, uint64_t ops) : seed_(seed), ops_(ops), rng_(seed) {
    root_ = tmp_.path() + "/db";
    BuildKeySpace();
  }
  ~ModelRun() {
    if (db_) db_->Close();
  }

  void Run() {
    NewOptions();
    Status s = DB::Open(root_, options_, &db_);
    if (!s.ok()) return Fail("initial open: " + s.ToString());
    for (op_ = 1; op_ <= ops_ && !failed_; op_++) {
      if (op_ % kEpochOps == 0 && op_ < ops_) {
        FreshStore();
        continue;
      }
      Step();
      if (!failed_ && op_ % 500 == 0) {
        Note("full check");
        CheckAll();
      }
    }
    if (!failed_) {
      Note("final reopen");
      Reopen();
    }
    if (failed_) return;
    s = db_->Close();
    if (!s.ok()) return Fail("final close: " + s.ToString());
    std::printf("seed %" PRIu64 ": %" PRIu64 " ops, %d reopens, %d full checks, %zu live keys, "
                "%d expirations seen, %d GC removals\n",
                seed_, ops_, reopens_, checks_, model_.size(), expired_seen_, gc_removed_);
  }

 private:
  // ------------------------------------------------------------ plumbing

  // Records an operation for the failure report; with a key, also in that
  // key's own history.
  void Note(const std::string& what, const std::string* key = nullptr) {
    std::string line = "op " + std::to_string(op_) + " t=+" +
                       std::to_string((clock_.Now() - kStartNs) / kMs) + "ms: " + what;
    if (key != nullptr) {
      std::deque<std::string>& kh = key_history_[*key];
      kh.push_back(line);
      if (kh.size() > 20) kh.pop_front();
    } else if (what.compare(0, 6, "reopen") == 0 || what.compare(0, 5, "RunGC") == 0) {
      for (auto& kv : key_history_) {  // these matter to every key
        kv.second.push_back(line);
        if (kv.second.size() > 20) kv.second.pop_front();
      }
    }
    history_.push_back(std::move(line));
    if (history_.size() > 60) history_.pop_front();
  }

  void Fail(const std::string& why, const std::string* key = nullptr) {
    if (failed_) return;
    failed_ = true;
    std::ostringstream os;
    os << "model divergence at op " << op_ << " (seed " << seed_ << "): " << why << "\n"
       << "reproduce: BITGASK_MODEL_SEED=" << seed_ << " BITGASK_MODEL_OPS=" << ops_
       << " ./db_model_test --gtest_filter=DBModelTest.RandomSeed\n";
    if (key != nullptr) {
      os << "recent operations on " << Printable(*key) << " (and reopens, RunGC):\n";
      for (const std::string& h : key_history_[*key]) os << "  " << h << "\n";
    }
    os << "last operations:\n";
    for (const std::string& h : history_) os << "  " << h << "\n";
    ADD_FAILURE() << os.str();
  }

  void BuildKeySpace() {
    for (int i = 0; i < 40; i++) {
      char b[8];
      std::snprintf(b, sizeof(b), "k%02d", i);
      keys_.push_back(b);
    }
    // Keys that are prefixes of one another, binary keys, a long key.
    for (const char* k : {"k", "k0", "k1", "a", "ab", "abc", "abd"}) keys_.push_back(k);
    keys_.push_back(std::string(1, '\0'));
    keys_.push_back(std::string(2, '\0'));
    keys_.push_back(std::string("\0k\0", 3));
    keys_.push_back(std::string(1, '\xff'));
    keys_.push_back(std::string("\xff\x00\x01", 3));
    keys_.push_back(std::string(300, 'L'));
    keys_.push_back(std::string(301, 'L'));
  }

  uint64_t Rand(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return Rand(100) < static_cast<uint64_t>(percent); }
  const std::string& AnyKey() { return keys_[Rand(keys_.size())]; }

  std::string RandomValue() {
    const uint64_t kind = Rand(100);
    size_t n;
    std::string v;
    if (kind < 8) return std::string();
    if (kind < 45) {
      n = 1 + Rand(64);
    } else if (kind < 65) {
      n = 65 + Rand(2000);
    } else if (kind < 95) {
      // Compressible: a short random phrase repeated; sizes around and above
      // the compression threshold.
      n = 100 + Rand(kind < 80 ? 400 : 30000);
      std::string phrase(1 + Rand(12), '\0');
      for (auto& c : phrase) c = static_cast<char>(Rand(256));
      v.reserve(n);
      while (v.size() < n) v += phrase;
      v.resize(n);
      return v;
    } else {
      n = 20000 + Rand(80000);  // bigger than a tiny data file
    }
    v.resize(n);
    for (auto& c : v) c = static_cast<char>(rng_());
    return v;
  }

  int64_t RandomTTL() {
    switch (Rand(4)) {
      case 0: return 1 + static_cast<int64_t>(Rand(50)) * kMs;
      case 1: return static_cast<int64_t>(1 + Rand(2000)) * kMs;
      case 2: return static_cast<int64_t>(1 + Rand(20)) * kSec;
      default: return static_cast<int64_t>(1 + Rand(600)) * kSec;
    }
  }

  void NewOptions() {
    options_ = Options();
    options_.env = &clock_;
    options_.sync_on_put = Chance(10);
    options_.sync_on_delete = options_.sync_on_put;
    switch (Rand(3)) {
      case 0: options_.max_data_file_size = 4096; break;
      case 1: options_.max_data_file_size = 64 << 10; break;
      default: break;  // 256 MiB
    }
    options_.use_hint_files = !Chance(25);
    options_.validate_on_open = Chance(20);
    switch (Rand(4)) {
      case 0: options_.compression_threshold = 0; break;
      case 1: options_.compression_threshold = 64; break;
      default: break;  // 256
    }
  }

  // How the DB should answer a read of key: its model state, with an expired
  // entry dropped (the DB drops it at that read too).
  enum class State { kAbsent, kExpired, kLive };
  State Observe(const std::string& key) {
    auto it = model_.find(key);
    if (it == model_.end()) return State::kAbsent;
    if (it->second.expires != 0 && it->second.expires <= clock_.Now()) {
      model_.erase(it);
      expired_seen_++;
      return State::kExpired;
    }
    return State::kLive;
  }

  // Checks a not-found answer against the state it should reflect.
  void ExpectMissing(const char* op, const std::string& key, State st, const Status& s) {
    if (!s.IsNotFound()) {
      return Fail(std::string(op) + " " + Printable(key) + ": model says " +
                  (st == State::kExpired ? "expired" : "absent") + ", DB returned " +
                  s.ToString(), &key);
    }
    if (s.IsExpired() != (st == State::kExpired)) {
      Fail(std::string(op) + " " + Printable(key) + ": model says " +
           (st == State::kExpired ? "first read after expiry (IsExpired)"
                                  : "absent (plain NotFound)") +
           ", DB returned " + s.ToString(), &key);
    }
  }

  void CheckGet(const std::string& key) {
    const State st = Observe(key);
    std::string v = "\x01unchanged";
    Status s = db_->Get(key, &v);
    if (st != State::kLive) {
      ExpectMissing("Get", key, st, s);
      if (!failed_ && v != "\x01unchanged") {
        Fail("Get " + Printable(key) + " changed *value", &key);
      }
      return;
    }
    const ModelValue& m = model_[key];
    if (!s.ok()) {
      return Fail("Get " + Printable(key) + ": model has " + Describe(m) + " at now=" +
                  std::to_string(clock_.Now()) + ", DB returned " + s.ToString(), &key);
    }
    if (v != m.value) {
      size_t i = 0;
      while (i < v.size() && i < m.value.size() && v[i] == m.value[i]) i++;
      Fail("Get " + Printable(key) + ": value differs: model " + std::to_string(m.value.size()) +
               "B, DB " + std::to_string(v.size()) + "B, first difference at " + std::to_string(i),
           &key);
    }
  }

  void CheckMeta(const std::string& key) {
    const State st = Observe(key);
    RecordMeta rm;
    rm.value_size = 12345;
    Status s = db_->Meta(key, &rm);
    if (st != State::kLive) return ExpectMissing("Meta", key, st, s);
    const ModelValue& m = model_[key];
    if (!s.ok()) {
      return Fail("Meta " + Printable(key) + ": model has " + Describe(m) + ", DB " + s.ToString(),
                  &key);
    }
    if (rm.value_size != m.value.size() || rm.timestamp_unix_ns != m.timestamp ||
        rm.expires_unix_ns != m.expires || rm.mode != m.mode) {
      std::ostringstream os;
      os << "Meta " << Printable(key) << ": model " << Describe(m) << ", DB {" << rm.value_size
         << "B ts=" << rm.timestamp_unix_ns << " expires=" << rm.expires_unix_ns << " mode=0"
         << std::oct << rm.mode << "}";
      Fail(os.str(), &key);
    }
  }

  void CheckAll() {
    checks_++;
    for (const std::string& key : keys_) {
      CheckGet(key);
      if (failed_) return;
      CheckMeta(key);
      if (failed_) return;
      if (db_->Has(key) != (model_.count(key) > 0)) {
        return Fail("Has " + Printable(key) + " disagrees with the model", &key);
      }
    }
    DBStats st;
    Status s = db_->Stats(&st);
    if (!s.ok()) return Fail("Stats: " + s.ToString());
    if (st.keys != model_.size()) {
      return Fail("Stats().keys = " + std::to_string(st.keys) + ", model has " +
                  std::to_string(model_.size()) + " live keys");
    }
    if (st.dead_bytes > st.total_bytes) Fail("Stats: dead_bytes > total_bytes");
    uint64_t on_disk = 0;
    std::error_code ec;
    for (const auto& de : fs::directory_iterator(root_ + "/data", ec)) {
      const std::string name = de.path().filename().string();
      if (name.size() == 14 && name.compare(9, 5, ".data") == 0) on_disk += de.file_size();
    }
    if (on_disk != st.total_bytes) {
      Fail("Stats().total_bytes = " + std::to_string(st.total_bytes) + " but data files hold " +
           std::to_string(on_disk));
    }
    uint64_t dead = 0, total = 0;
    double ratio = -1;
    db_->Reclaimable(&dead, &total, &ratio);
    if (dead != st.dead_bytes || total != st.total_bytes || ratio < 0 || ratio > 1) {
      Fail("Reclaimable disagrees with Stats");
    }
  }

  // Applies a successful write of key to the model. A put whose expiry has
  // already passed still replaces the old value; like any expired key it
  // stays in the keydir until read (IsExpired), collected or reopened.
  void ModelPut(const std::string& key, const std::string& value, int64_t ts, int64_t expires,
                uint16_t mode) {
    model_[key] = ModelValue{value, ts, expires, mode};
  }

  // Nothing here merges, so the store only grows and every reopen reads all
  // of it; long runs start over with an empty store now and then so their
  // cost stays linear in the op count.
  void FreshStore() {
    Note("final check and fresh store");
    Reopen();
    if (failed_) return;
    Status s = db_->Close();
    if (!s.ok()) return Fail("Close: " + s.ToString());
    db_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
    if (ec) return Fail("removing " + root_ + ": " + ec.message());
    model_.clear();
    key_history_.clear();
    NewOptions();
    s = DB::Open(root_, options_, &db_);
    if (!s.ok()) return Fail("open of a fresh store: " + s.ToString());
    CheckAll();
  }

  bool WaitForHints() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    const std::string dir = root_ + "/data";
    for (;;) {
      std::vector<std::string> data, hints;
      std::error_code ec;
      for (const auto& de : fs::directory_iterator(dir, ec)) {
        const std::string name = de.path().filename().string();
        if (name.size() != 14) continue;
        if (name.compare(9, 5, ".data") == 0) data.push_back(name.substr(0, 9));
        if (name.compare(9, 5, ".hint") == 0) hints.push_back(name.substr(0, 9));
      }
      std::sort(data.begin(), data.end());
      bool all = true;
      for (size_t i = 0; i + 1 < data.size(); i++) {
        if (std::find(hints.begin(), hints.end(), data[i]) == hints.end()) all = false;
      }
      if (all) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  void Reopen() {
    reopens_++;
    if (options_.use_hint_files && Chance(40)) WaitForHints();  // let hints be used
    Status s = db_->Close();
    if (!s.ok()) return Fail("Close: " + s.ToString());
    db_.reset();
    // Time passes while the store is closed.
    if (Chance(30)) clock_.Advance(static_cast<int64_t>(Rand(30)) * kSec);
    NewOptions();
    std::ostringstream os;
    os << "reopen (max_data_file_size=" << options_.max_data_file_size
       << " hints=" << options_.use_hint_files << " validate=" << options_.validate_on_open
       << " threshold=" << options_.compression_threshold << ")";
    Note(os.str());
    s = DB::Open(root_, options_, &db_);
    if (!s.ok()) return Fail("reopen: " + s.ToString());
    // Recovery drops every key expired by now.
    for (auto it = model_.begin(); it != model_.end();) {
      if (it->second.expires != 0 && it->second.expires <= clock_.Now()) {
        it = model_.erase(it);
      } else {
        ++it;
      }
    }
    CheckAll();
  }

  // ------------------------------------------------------------- the ops

  void Step() {
    const uint64_t r = Rand(1000);
    const std::string& key = AnyKey();
    const int64_t now = clock_.Now();
    Status s;
    if (r < 260) {  // Put
      std::string v = RandomValue();
      Note("Put " + Printable(key) + " " + std::to_string(v.size()) + "B", &key);
      s = db_->Put(key, v);
      if (!s.ok()) return Fail("Put " + Printable(key) + ": " + s.ToString(), &key);
      ModelPut(key, v, now, 0, 0);
    } else if (r < 330) {  // PutWithTTL
      std::string v = RandomValue();
      const int64_t ttl = RandomTTL();
      Note("PutWithTTL " + Printable(key) + " " + std::to_string(v.size()) + "B ttl=" +
           std::to_string(ttl / kMs) + "ms", &key);
      s = db_->PutWithTTL(key, v, std::chrono::nanoseconds(ttl));
      if (!s.ok()) return Fail("PutWithTTL " + Printable(key) + ": " + s.ToString(), &key);
      ModelPut(key, v, now, now + ttl, 0);
    } else if (r < 410) {  // Put with WriteOptions
      std::string v = RandomValue();
      WriteOptions wo;
      if (Chance(60)) wo.mode = static_cast<uint16_t>(Rand(0x10000));
      if (Chance(50)) wo.timestamp_unix_ns = 1 + static_cast<int64_t>(Rand(1ull << 62));
      if (Chance(30)) wo.ttl = std::chrono::nanoseconds(RandomTTL());
      if (Chance(20)) {
        wo.expires_at_unix_ns = Chance(30) ? now - static_cast<int64_t>(Rand(10 * kSec))
                                           : now + RandomTTL();
        if (wo.expires_at_unix_ns <= 0) wo.expires_at_unix_ns = 1;
      }
      wo.sync = static_cast<WriteOptions::Sync>(Rand(3));
      const int64_t expires = wo.expires_at_unix_ns > 0 ? wo.expires_at_unix_ns
                              : wo.ttl.count() > 0      ? now + wo.ttl.count()
                                                        : 0;
      std::ostringstream os;
      os << "Put(wo) " << Printable(key) << " " << v.size() << "B mode=0" << std::oct << wo.mode
         << std::dec << " ts=" << wo.timestamp_unix_ns << " expires=" << expires;
      Note(os.str(), &key);
      s = db_->Put(wo, key, v);
      if (!s.ok()) return Fail("Put(wo) " + Printable(key) + ": " + s.ToString(), &key);
      ModelPut(key, v, wo.timestamp_unix_ns != 0 ? wo.timestamp_unix_ns : now, expires, wo.mode);
    } else if (r < 500) {  // Delete
      Note("Delete " + Printable(key), &key);
      WriteOptions wo;
      wo.sync = static_cast<WriteOptions::Sync>(Rand(3));
      s = Chance(50) ? db_->Delete(key) : db_->Delete(wo, key);
      if (!s.ok()) return Fail("Delete " + Printable(key) + ": " + s.ToString(), &key);
      model_.erase(key);
    } else if (r < 640) {  // Get
      Note("Get " + Printable(key), &key);
      CheckGet(key);
    } else if (r < 660) {  // GetRange
      const uint64_t off = Rand(3000);
      const size_t n = Rand(3000);
      Note("GetRange " + Printable(key) + " " + std::to_string(off) + "+" + std::to_string(n),
           &key);
      const State st = Observe(key);
      std::string v = "x";
      s = db_->GetRange(key, off, n, &v);
      if (st != State::kLive) return ExpectMissing("GetRange", key, st, s);
      if (!s.ok()) return Fail("GetRange " + Printable(key) + ": " + s.ToString(), &key);
      const std::string& full = model_[key].value;
      const std::string want = off >= full.size() ? std::string() : full.substr(off, n);
      if (v != want) Fail("GetRange " + Printable(key) + " returned the wrong bytes", &key);
    } else if (r < 690) {  // Has
      Note("Has " + Printable(key), &key);
      const State st = Observe(key);
      if (db_->Has(key) != (st == State::kLive)) Fail("Has " + Printable(key) + " disagrees", &key);
    } else if (r < 720) {  // Meta
      Note("Meta " + Printable(key), &key);
      CheckMeta(key);
    } else if (r < 760) {  // Expire
      const int64_t ttl = RandomTTL();
      Note("Expire " + Printable(key) + " ttl=" + std::to_string(ttl / kMs) + "ms", &key);
      const State st = Observe(key);
      s = db_->Expire(key, std::chrono::nanoseconds(ttl));
      if (st != State::kLive) return ExpectMissing("Expire", key, st, s);
      if (!s.ok()) return Fail("Expire " + Printable(key) + ": " + s.ToString(), &key);
      model_[key].expires = now + ttl;
    } else if (r < 790) {  // ExpireAt, sometimes in the past
      int64_t at = Chance(25) ? now - static_cast<int64_t>(Rand(5 * kSec)) : now + RandomTTL();
      if (at <= 0) at = 1;
      Note("ExpireAt " + Printable(key) + " at=" + std::to_string(at), &key);
      const State st = Observe(key);
      s = db_->ExpireAt(key, at);
      if (st != State::kLive) return ExpectMissing("ExpireAt", key, st, s);
      if (!s.ok()) return Fail("ExpireAt " + Printable(key) + ": " + s.ToString(), &key);
      model_[key].expires = at;  // if already past, the next read reports IsExpired
    } else if (r < 820) {  // Persist
      Note("Persist " + Printable(key), &key);
      const State st = Observe(key);
      s = db_->Persist(key);
      if (st != State::kLive) return ExpectMissing("Persist", key, st, s);
      if (!s.ok()) return Fail("Persist " + Printable(key) + ": " + s.ToString(), &key);
      model_[key].expires = 0;
    } else if (r < 860) {  // SetMeta (never both fields kept)
      int32_t mode = Chance(70) ? static_cast<int32_t>(Rand(0x10000)) : -1;
      int64_t ts = Chance(70) || mode < 0 ? static_cast<int64_t>(Rand(1ull << 62)) : -1;
      Note("SetMeta " + Printable(key) + " mode=" + std::to_string(mode) + " ts=" +
           std::to_string(ts), &key);
      const State st = Observe(key);
      s = db_->SetMeta(key, mode, ts);
      if (st != State::kLive) return ExpectMissing("SetMeta", key, st, s);
      if (!s.ok()) return Fail("SetMeta " + Printable(key) + ": " + s.ToString(), &key);
      if (mode >= 0) model_[key].mode = static_cast<uint16_t>(mode);
      if (ts >= 0) model_[key].timestamp = ts;
    } else if (r < 940) {  // advance the clock
      int64_t d = Chance(90) ? static_cast<int64_t>(Rand(2000)) * kMs
                             : static_cast<int64_t>(Rand(60)) * kSec;
      if (Chance(25)) {
        // To a key's expiry exactly (expired at that instant), or just short of it.
        auto it = model_.find(key);
        if (it != model_.end() && it->second.expires > now) {
          d = it->second.expires - now - static_cast<int64_t>(Rand(2));
        }
      }
      clock_.Advance(d);
      Note("advance " + std::to_string(d) + "ns", &key);
    } else if (r < 955) {  // RunGC
      uint64_t want = 0;
      for (auto it = model_.begin(); it != model_.end();) {
        if (it->second.expires != 0 && it->second.expires <= now) {
          it = model_.erase(it);
          want++;
        } else {
          ++it;
        }
      }
      Note("RunGC (model expects " + std::to_string(want) + ")");
      uint64_t removed = 12345;
      s = db_->RunGC(&removed);
      if (!s.ok()) return Fail("RunGC: " + s.ToString());
      if (removed != want) {
        Fail("RunGC removed " + std::to_string(removed) + ", model expected " +
             std::to_string(want));
      }
      gc_removed_ += static_cast<int>(removed);
    } else if (r < 970) {  // Sync
      Note("Sync");
      s = db_->Sync();
      if (!s.ok()) Fail("Sync: " + s.ToString());
    } else if (r < 975) {  // close + reopen
      Reopen();
    } else {  // Stats
      Note("Stats");
      DBStats st;
      s = db_->Stats(&st);
      if (!s.ok()) return Fail("Stats: " + s.ToString());
      // Expired-but-unobserved keys are still counted.
      if (st.keys != model_.size()) {
        Fail("Stats().keys = " + std::to_string(st.keys) + ", model holds " +
             std::to_string(model_.size()));
      }
    }
  }

  const uint64_t seed_;
  const uint64_t ops_;
  std::mt19937_64 rng_;
  TempDir tmp_{"bitgask_model_test"};
  std::string root_;
  ModelEnv clock_;
  Options options_;
  std::unique_ptr<DB> db_;
  std::map<std::string, ModelValue> model_;
  std::vector<std::string> keys_;
  std::deque<std::string> history_;
  std::map<std::string, std::deque<std::string>> key_history_;
  uint64_t op_ = 0;
  bool failed_ = false;
  int reopens_ = 0, checks_ = 0, expired_seen_ = 0, gc_removed_ = 0;
};

uint64_t DefaultOps() { return EnvNumber("BITGASK_MODEL_OPS", 15000); }

TEST(DBModelTest, FixedSeed) {
  const uint64_t seed = 20240601;
  SCOPED_TRACE("seed " + std::to_string(seed));
  ModelRun run(seed, DefaultOps());
  run.Run();
}

TEST(DBModelTest, RandomSeed) {
  uint64_t seed = EnvNumber("BITGASK_MODEL_SEED", 0);
  if (seed == 0) {
    seed = (static_cast<uint64_t>(std::random_device()()) << 32) ^ std::random_device()() ^
           static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    if (seed == 0) seed = 1;
  }
  std::printf("DBModelTest.RandomSeed: seed %" PRIu64 " (set BITGASK_MODEL_SEED to repeat)\n",
              seed);
  std::fflush(stdout);
  SCOPED_TRACE("seed " + std::to_string(seed));
  ModelRun run(seed, DefaultOps());
  run.Run();
}

}  // namespace
}  // namespace bitgask
