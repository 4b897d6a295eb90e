// Randomized model test, part 2: atomic batches, conditional writes, merges
// and DeleteAll mixed with puts, deletes, TTLs and metadata updates, against
// a std::map model with a fake clock.
//
// Operations: Put (random sizes incl. empty and compressible values, modes,
// timestamps, TTLs, absolute expiries some already past), Delete, PutWithTTL,
// Expire / ExpireAt / Persist / SetMeta, WriteBatch (random mixes of puts with
// and without metadata and deletes, often the same key twice: the later op
// wins), PutIfAbsent / CompareAndSwap / DeleteIf (Conflict or OK checked
// against the model), Get / Meta / Has, advancing the clock, forced Merge,
// RunGC, DeleteAll (rarely), and close + reopen (hint files on/off,
// validate_on_open, Reopen(), a tiny max_data_file_size sometimes, other
// compression thresholds). After each reopen, merge and periodically the
// whole key space is compared: values, Meta fields, Keys() against the
// model's live keys in order, Fold, Stats().keys, and the Digest across a
// reopen.
//
// Expiry as the engine documents it: an expired key (also one written with
// an expiry already past, or given one by ExpireAt) stays in the keydir
// (counted by Stats().keys, never listed) until a read finds it (that read
// reports IsExpired, later ones plain NotFound), RunGC or a merge collects
// it, a write replaces it, or a reopen drops it. The model keeps such
// entries too.
//
// A failed Merge is reported (test failure) but the run goes on, since a
// failed merge must leave the store intact; any divergence from the model
// stops the run and prints the seed and the last operations.
//
// Environment: BITGASK_MODEL_SEED=<n> fixes the seed; BITGASK_MODEL_OPS=<n>
// sets the number of operations (default 50000, about 10 s).
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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
#include <vector>

#include <gtest/gtest.h>

#include "bitgask/db.h"
#include "bitgask/env.h"
#include "bitgask/options.h"
#include "bitgask/status.h"
#include "bitgask/write_batch.h"
#include "test_util.h"

namespace bitgask {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr int64_t kMs = 1000000LL;
constexpr int64_t kSec = 1000000000LL;
constexpr int64_t kStartNs = 1700000000LL * kSec;

uint64_t EnvNumber(const char* name, uint64_t def) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return def;
  return std::strtoull(v, nullptr, 10);
}

// A fake clock, and fsyncs that return at once (the process never crashes
// here; thousands of real fsyncs would dominate the run time).
class ModelEnv : public EnvWrapper {
 public:
  ModelEnv() : EnvWrapper(Env::Default()) {}
  int64_t NowUnixNanos() override { return now_.load(); }
  void Advance(int64_t ns) { now_.fetch_add(ns); }
  int64_t Now() const { return now_.load(); }

  Status NewWritableFile(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = EnvWrapper::NewWritableFile(p, f);
    if (s.ok()) f->reset(new NoSyncFile(std::move(*f)));
    return s;
  }
  Status NewAppendableFile(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = EnvWrapper::NewAppendableFile(p, f);
    if (s.ok()) f->reset(new NoSyncFile(std::move(*f)));
    return s;
  }
  Status SyncDir(const std::string&) override { return Status::OK(); }

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

  std::atomic<int64_t> now_{kStartNs};
};

struct Entry {
  std::string value;
  int64_t expires = 0;  // 0: never
  uint16_t mode = 0;
  int64_t timestamp = 0;
};

std::string Printable(std::string_view k) {
  std::string out;
  for (unsigned char c : k.substr(0, 40)) {
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
    } else {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    }
  }
  if (k.size() > 40) out += "...(" + std::to_string(k.size()) + " bytes)";
  return out;
}

class ModelRun {
 public:
  ModelRun(uint64_t seed, uint64_t ops) : seed_(seed), ops_(ops), rng_(seed) {
    for (int i = 0; i < 160; i++) {
      char b[16];
      std::snprintf(b, sizeof(b), "key%03d", i);
      keys_.push_back(b);
    }
    for (int i = 0; i < 8; i++) {  // binary keys, prefixes of each other
      std::string k("\x00\xff", 2);
      k += std::string(static_cast<size_t>(i), static_cast<char>(0x80 + i));
      keys_.push_back(k);
    }
    for (int i = 0; i < 6; i++) keys_.push_back("long" + std::string(200 + i * 350, 'a' + i));
    keys_.push_back("k");
    keys_.push_back("key");
    std::sort(keys_.begin(), keys_.end());
  }

  void Run() {
    std::printf("[ model2 ] seed %llu, %llu ops (BITGASK_MODEL_SEED / BITGASK_MODEL_OPS)\n",
                static_cast<unsigned long long>(seed_), static_cast<unsigned long long>(ops_));
    opts_.env = &env_;
    opts_.merge_interval = std::chrono::milliseconds(0);
    opts_.max_data_file_size = 64 << 10;
    ASSERT_TRUE(DB::Open(dir_.path(), opts_, &db_).ok());
    for (op_ = 0; op_ < ops_; op_++) {
      Step();
      if (::testing::Test::HasFatalFailure()) return;
    }
    Reopen(false);
    if (::testing::Test::HasFatalFailure()) return;
    CompareAll(true);
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_TRUE(db_->Close().ok());
    std::printf("[ model2 ] done: %llu reopens, %llu merges (%llu failed), %llu batches, "
                "%llu conditional writes (%llu conflicts), %llu full comparisons, %zu keys "
                "at the end\n",
                static_cast<unsigned long long>(reopens_), static_cast<unsigned long long>(merges_),
                static_cast<unsigned long long>(merge_failures_),
                static_cast<unsigned long long>(batches_),
                static_cast<unsigned long long>(conditionals_),
                static_cast<unsigned long long>(conflicts_),
                static_cast<unsigned long long>(compares_), model_.size());
  }

 private:
  int64_t Now() const { return env_.Now(); }
  bool Expired(const Entry& e) const { return e.expires != 0 && e.expires <= Now(); }
  bool Live(const std::string& k) const {
    auto it = model_.find(k);
    return it != model_.end() && !Expired(it->second);
  }
  uint64_t R(uint64_t n) { return rng_() % n; }
  const std::string& RandomKey() { return keys_[R(keys_.size())]; }

  std::string RandomValue() {
    size_t n;
    const uint64_t r = R(100);
    if (r < 5) {
      n = 0;
    } else if (r < 60) {
      n = 1 + R(64);
    } else if (r < 95) {
      n = 64 + R(1000);
    } else {
      n = 4000 + R(20000);
    }
    std::string v(n, '\0');
    if (R(2) == 0) {  // compressible
      const std::string phrase = "model " + std::to_string(R(1000)) + " ";
      for (size_t i = 0; i < n; i++) v[i] = phrase[i % phrase.size()];
    } else {
      for (auto& c : v) c = static_cast<char>(rng_());
    }
    return v;
  }

  std::string Context() const {
    std::ostringstream os;
    os << "\nseed " << seed_ << ", op " << op_ << " (repeat with BITGASK_MODEL_SEED=" << seed_
       << " BITGASK_MODEL_OPS=" << ops_ << "); last operations:\n";
    for (const auto& h : history_) os << "  " << h << "\n";
    return os.str();
  }
  void Note(const std::string& what) {
    history_.push_back("#" + std::to_string(op_) + " " + what);
    if (history_.size() > 40) history_.pop_front();
  }

  // A put replaces the key's entry; one with an expiry already past stays in
  // the keydir as an expired entry (hiding older values).
  void ModelPut(const std::string& k, const std::string& v, int64_t expires, uint16_t mode,
                int64_t ts) {
    model_[k] = Entry{v, expires, mode, ts};
  }

  // What a read of k must return; drops an expired entry like the engine.
  void CheckRead(const std::string& k) {
    std::string v;
    Status s = db_->Get(k, &v);
    auto it = model_.find(k);
    if (it == model_.end()) {
      ASSERT_TRUE(s.IsNotFound() && !s.IsExpired())
          << "Get(" << Printable(k) << ") = " << s.ToString() << ", want NotFound" << Context();
      return;
    }
    if (Expired(it->second)) {
      ASSERT_TRUE(s.IsNotFound() && s.IsExpired())
          << "Get(" << Printable(k) << ") = " << s.ToString()
          << ", want Expired (first read of an expired key)" << Context();
      model_.erase(it);
      return;
    }
    ASSERT_TRUE(s.ok()) << "Get(" << Printable(k) << "): " << s.ToString() << Context();
    ASSERT_TRUE(v == it->second.value) << "Get(" << Printable(k) << "): " << v.size()
                                       << " bytes, want " << it->second.value.size() << Context();
    RecordMeta m;
    s = db_->Meta(k, &m);
    ASSERT_TRUE(s.ok()) << "Meta(" << Printable(k) << "): " << s.ToString() << Context();
    ASSERT_EQ(m.value_size, it->second.value.size()) << Printable(k) << Context();
    ASSERT_EQ(m.expires_unix_ns, it->second.expires) << Printable(k) << Context();
    ASSERT_EQ(m.mode, it->second.mode) << Printable(k) << Context();
    ASSERT_EQ(m.timestamp_unix_ns, it->second.timestamp) << Printable(k) << Context();
  }

  // Compares the whole key space (reads drop expired entries, as in CheckRead).
  void CompareAll(bool exact_count) {
    compares_++;
    DBStats st;
    ASSERT_TRUE(db_->Stats(&st).ok());
    std::vector<std::string> want_keys;
    std::map<std::string, std::string> want_values;
    for (const auto& kv : model_) {
      if (!Expired(kv.second)) {
        want_keys.push_back(kv.first);
        want_values[kv.first] = kv.second.value;
      }
    }
    std::vector<std::string> keys;
    ASSERT_TRUE(db_->Keys(&keys).ok());
    if (keys != want_keys) {
      size_t i = 0;
      while (i < keys.size() && i < want_keys.size() && keys[i] == want_keys[i]) i++;
      FAIL() << "Keys(): " << keys.size() << " keys, model " << want_keys.size()
             << "; first difference at " << i << ": store "
             << (i < keys.size() ? Printable(keys[i]) : "<end>") << ", model "
             << (i < want_keys.size() ? Printable(want_keys[i]) : "<end>") << Context();
    }
    std::map<std::string, std::string> folded;
    ASSERT_TRUE(db_->Fold([&](std::string_view k, std::string_view v) {
                     folded.emplace(std::string(k), std::string(v));
                     return true;
                   }).ok());
    ASSERT_TRUE(folded == want_values) << "Fold() differs from the model" << Context();
    if (exact_count) {
      ASSERT_EQ(st.keys, model_.size()) << "Stats().keys" << Context();
    }
    for (const std::string& k : keys_) {
      CheckRead(k);
      if (::testing::Test::HasFatalFailure()) return;
    }
    ASSERT_TRUE(db_->Stats(&st).ok());
    ASSERT_EQ(st.keys, model_.size()) << "Stats().keys after reading every key" << Context();
  }

  void Reopen(bool random_options) {
    reopens_++;
    std::string digest_before, digest_after;
    ASSERT_TRUE(db_->Digest(&digest_before).ok());
    if (random_options && R(4) == 0) {
      Note("Reopen()");
      Status s = db_->Reopen();
      ASSERT_TRUE(s.ok()) << "Reopen: " << s.ToString() << Context();
    } else {
      if (random_options) {
        static const uint64_t kSizes[] = {4096, 16 << 10, 64 << 10, 1 << 20, 64 << 20};
        opts_.max_data_file_size = kSizes[R(5)];
        opts_.use_hint_files = R(3) != 0;
        opts_.validate_on_open = R(4) == 0;
        static const uint32_t kThresholds[] = {0, 64, 256, 4096};
        opts_.compression_threshold = kThresholds[R(4)];
      }
      Note("close + open (max_data_file_size " + std::to_string(opts_.max_data_file_size) +
           ", hints " + std::to_string(opts_.use_hint_files) + ", validate " +
           std::to_string(opts_.validate_on_open) + ", compression " +
           std::to_string(opts_.compression_threshold) + ")");
      ASSERT_TRUE(db_->Close().ok());
      db_.reset();
      Status s = DB::Open(dir_.path(), opts_, &db_);
      ASSERT_TRUE(s.ok()) << "Open: " << s.ToString() << Context();
    }
    // Recovery drops every expired entry.
    for (auto it = model_.begin(); it != model_.end();) {
      it = Expired(it->second) ? model_.erase(it) : std::next(it);
    }
    CompareAll(true);
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_TRUE(db_->Digest(&digest_after).ok());
    ASSERT_EQ(digest_before, digest_after) << "Digest changed across a reopen" << Context();
  }

  void Step() {
    const uint64_t r = R(1000);
    if (r < 220) {  // Put with options
      const std::string& k = RandomKey();
      const std::string v = RandomValue();
      WriteOptions wo;
      if (R(3) == 0) wo.mode = static_cast<uint16_t>(rng_());
      if (R(5) == 0) wo.timestamp_unix_ns = 1 + static_cast<int64_t>(R(1ull << 50));
      const uint64_t e = R(10);
      if (e == 0) wo.ttl = std::chrono::nanoseconds(1 + R(60 * kSec));
      if (e == 1) wo.expires_at_unix_ns = Now() - 5 * kSec + static_cast<int64_t>(R(20 * kSec));
      Note("Put " + Printable(k) + " " + std::to_string(v.size()) + "B mode " +
           std::to_string(wo.mode) + " ts " + std::to_string(wo.timestamp_unix_ns) + " ttl " +
           std::to_string(wo.ttl.count()) + " at " + std::to_string(wo.expires_at_unix_ns));
      Status s = db_->Put(wo, k, v);
      ASSERT_TRUE(s.ok()) << s.ToString() << Context();
      const int64_t expires = wo.expires_at_unix_ns > 0 ? wo.expires_at_unix_ns
                              : wo.ttl.count() > 0   ? Now() + wo.ttl.count()
                                                     : 0;
      ModelPut(k, v, expires, wo.mode, wo.timestamp_unix_ns ? wo.timestamp_unix_ns : Now());
    } else if (r < 300) {  // Delete
      const std::string& k = RandomKey();
      Note("Delete " + Printable(k));
      Status s = db_->Delete(k);
      ASSERT_TRUE(s.ok()) << s.ToString() << Context();
      model_.erase(k);
    } else if (r < 340) {  // PutWithTTL
      const std::string& k = RandomKey();
      const std::string v = RandomValue();
      const int64_t ttl = 1 + static_cast<int64_t>(R(30 * kSec));
      Note("PutWithTTL " + Printable(k) + " ttl " + std::to_string(ttl));
      Status s = db_->PutWithTTL(k, v, std::chrono::nanoseconds(ttl));
      ASSERT_TRUE(s.ok()) << s.ToString() << Context();
      ModelPut(k, v, Now() + ttl, 0, Now());
    } else if (r < 420) {  // Expire / ExpireAt / Persist / SetMeta
      const std::string& k = RandomKey();
      const uint64_t which = R(4);
      auto it = model_.find(k);
      const bool present = it != model_.end();
      const bool live = present && !Expired(it->second);
      Status s;
      int64_t arg = 0;
      int32_t mode = -1;
      int64_t ts = -1;
      if (which == 0) {
        arg = 1 + static_cast<int64_t>(R(40 * kSec));
        s = db_->Expire(k, std::chrono::nanoseconds(arg));
        Note("Expire " + Printable(k) + " " + std::to_string(arg) + " -> " + s.ToString());
      } else if (which == 1) {
        arg = Now() - 3 * kSec + static_cast<int64_t>(R(30 * kSec));
        s = db_->ExpireAt(k, arg);
        Note("ExpireAt " + Printable(k) + " " + std::to_string(arg) + " -> " + s.ToString());
      } else if (which == 2) {
        s = db_->Persist(k);
        Note("Persist " + Printable(k) + " -> " + s.ToString());
      } else {
        const uint64_t m = R(4);  // 3: neither (only checks the key is live)
        if (m == 0 || m == 2) mode = static_cast<int32_t>(R(0x10000));
        if (m == 1 || m == 2) ts = static_cast<int64_t>(R(1ull << 50));
        s = db_->SetMeta(k, mode, ts);
        Note("SetMeta " + Printable(k) + " mode " + std::to_string(mode) + " ts " +
             std::to_string(ts) + " -> " + s.ToString());
      }
      if (!live) {
        ASSERT_TRUE(s.IsNotFound()) << s.ToString() << Context();
        if (present) model_.erase(it);  // the lookup dropped the expired entry
        return;
      }
      ASSERT_TRUE(s.ok()) << s.ToString() << Context();
      Entry& e = it->second;
      if (which == 0) e.expires = Now() + arg;
      if (which == 1) e.expires = arg;
      if (which == 2) e.expires = 0;
      if (which == 3) {
        if (mode >= 0) e.mode = static_cast<uint16_t>(mode);
        if (ts >= 0) e.timestamp = ts;
      }  // an expiry set in the past leaves an expired entry
    } else if (r < 510) {  // WriteBatch
      WriteBatch b;
      const int n = static_cast<int>(R(9));  // 0..8 ops (empty batches too)
      std::vector<std::string> batch_keys;
      for (int i = 0; i < n; i++) {
        // Often reuse a key of this batch: the later op must win.
        batch_keys.push_back(!batch_keys.empty() && R(3) == 0 ? batch_keys[R(batch_keys.size())]
                                                              : RandomKey());
      }
      std::ostringstream what;
      what << "Write batch:";
      struct Op {
        int kind;
        std::string key, value;
        int64_t expires;
        uint16_t mode;
        int64_t ts;
      };
      std::vector<Op> ops;
      for (int i = 0; i < n; i++) {
        const std::string& k = batch_keys[i];
        const uint64_t kind = R(10);
        Op op{0, k, "", 0, 0, 0};
        if (kind < 3) {
          op.kind = 1;
          b.Delete(k);
          what << " del " << Printable(k);
        } else if (kind < 7) {
          op.value = RandomValue();
          b.Put(k, op.value);
          what << " put " << Printable(k) << " " << op.value.size() << "B";
        } else if (kind < 8) {
          op.value = RandomValue();
          const int64_t ttl = 1 + static_cast<int64_t>(R(30 * kSec));
          b.PutWithTTL(k, op.value, std::chrono::nanoseconds(ttl));
          op.expires = Now() + ttl;
          what << " put-ttl " << Printable(k) << " " << ttl;
        } else {
          op.value = RandomValue();
          const int64_t at = R(3) == 0 ? 0 : Now() - 2 * kSec + static_cast<int64_t>(R(20 * kSec));
          op.mode = static_cast<uint16_t>(rng_());
          op.ts = R(2) ? 0 : 1 + static_cast<int64_t>(R(1ull << 50));
          b.PutWithMeta(k, op.value, at, op.mode, op.ts);
          op.expires = at;
          what << " put-meta " << Printable(k) << " at " << at << " mode " << op.mode << " ts "
               << op.ts;
        }
        ops.push_back(op);
      }
      Note(what.str());
      WriteOptions wo;
      if (R(4) == 0) wo.sync = WriteOptions::Sync::kAlways;
      Status s = db_->Write(wo, b);
      ASSERT_TRUE(s.ok()) << s.ToString() << Context();
      batches_++;
      for (const Op& op : ops) {
        if (op.kind == 1) {
          model_.erase(op.key);
        } else {
          ModelPut(op.key, op.value, op.expires, op.mode, op.ts ? op.ts : Now());
        }
      }
    } else if (r < 620) {  // conditional writes
      conditionals_++;
      const std::string& k = RandomKey();
      auto it = model_.find(k);
      const bool live = it != model_.end() && !Expired(it->second);
      const uint64_t which = R(3);
      // The expected value: the current one most of the time.
      std::string expected;
      if (live && R(4) != 0) {
        expected = it->second.value;
      } else if (live && R(2) == 0 && !it->second.value.empty()) {
        expected = it->second.value;
        expected.back() ^= 1;  // same size, one bit off
      } else {
        expected = RandomValue();
      }
      const bool matches = live && expected == it->second.value;
      Status s;
      bool want_ok;
      if (which == 0) {
        const std::string v = RandomValue();
        s = db_->PutIfAbsent(k, v);
        want_ok = !live;
        Note("PutIfAbsent " + Printable(k) + " -> " + s.ToString());
        if (want_ok) ModelPut(k, v, 0, 0, Now());
      } else if (which == 1) {
        const std::string v = RandomValue();
        s = db_->CompareAndSwap(k, expected, v);
        want_ok = matches;
        Note("CompareAndSwap " + Printable(k) + (matches ? " (matching)" : " (not matching)") +
             " -> " + s.ToString());
        if (want_ok) ModelPut(k, v, 0, 0, Now());
      } else {
        s = db_->DeleteIf(k, expected);
        want_ok = matches;
        Note("DeleteIf " + Printable(k) + (matches ? " (matching)" : " (not matching)") + " -> " +
             s.ToString());
        if (want_ok) model_.erase(k);
      }
      if (want_ok) {
        ASSERT_TRUE(s.ok()) << s.ToString() << Context();
      } else {
        ASSERT_TRUE(s.IsConflict()) << "want Conflict, got " << s.ToString() << Context();
        conflicts_++;
      }
    } else if (r < 770) {  // reads
      const std::string& k = RandomKey();
      Note("Get " + Printable(k));
      if (R(4) == 0) {
        auto it = model_.find(k);
        const bool live = it != model_.end() && !Expired(it->second);
        const bool has = db_->Has(k);
        ASSERT_EQ(has, live) << "Has(" << Printable(k) << ")" << Context();
        if (it != model_.end() && !live) model_.erase(it);  // Has drops it too
        return;
      }
      CheckRead(k);
    } else if (r < 850) {  // time passes
      const uint64_t kind = R(10);
      const int64_t d = kind < 6 ? static_cast<int64_t>(R(50 * kMs))
                                 : kind < 9 ? static_cast<int64_t>(R(5 * kSec))
                                            : static_cast<int64_t>(R(40 * kSec));
      env_.Advance(d);
      Note("clock +" + std::to_string(d));
    } else if (r < 870) {  // forced merge
      merges_++;
      Note("Merge");
      MergeOptions mo;
      mo.force = true;
      MergeResult res;
      Status s = db_->Merge(mo, &res);
      if (!s.ok()) {
        merge_failures_++;
        if (merge_failures_ <= 3) {
          ADD_FAILURE() << "forced Merge failed: " << s.ToString() << Context();
        }
      }
      // The merge ran RunGC first: no expired entry is left.
      for (auto it = model_.begin(); it != model_.end();) {
        it = Expired(it->second) ? model_.erase(it) : std::next(it);
      }
      DBStats st;
      ASSERT_TRUE(db_->Stats(&st).ok());
      ASSERT_EQ(st.keys, model_.size()) << "Stats().keys after a merge" << Context();
      if (R(3) == 0) CompareAll(true);
    } else if (r < 885) {  // RunGC
      uint64_t removed = 0;
      uint64_t expired = 0;
      for (const auto& kv : model_) expired += Expired(kv.second);
      Status s = db_->RunGC(&removed);
      Note("RunGC -> " + std::to_string(removed));
      ASSERT_TRUE(s.ok()) << s.ToString() << Context();
      ASSERT_EQ(removed, expired) << "RunGC removed count" << Context();
      for (auto it = model_.begin(); it != model_.end();) {
        it = Expired(it->second) ? model_.erase(it) : std::next(it);
      }
      DBStats st;
      ASSERT_TRUE(db_->Stats(&st).ok());
      ASSERT_EQ(st.keys, model_.size()) << "Stats().keys after RunGC" << Context();
    } else if (r < 887) {  // DeleteAll, rarely
      Note("DeleteAll");
      Status s = db_->DeleteAll();
      ASSERT_TRUE(s.ok()) << s.ToString() << Context();
      model_.clear();
    } else if (r < 897) {  // close + reopen
      Reopen(true);
    } else if (r < 905) {  // full comparison
      Note("compare all");
      CompareAll(true);
    } else {  // more plain puts and overwrites of a few hot keys (garbage)
      const std::string& k = keys_[R(20)];
      const std::string v = RandomValue();
      Note("Put(hot) " + Printable(k) + " " + std::to_string(v.size()) + "B");
      ASSERT_TRUE(db_->Put(k, v).ok()) << Context();
      ModelPut(k, v, 0, 0, Now());
    }
  }

  const uint64_t seed_, ops_;
  std::mt19937_64 rng_;
  ModelEnv env_;
  TempDir dir_{"bitgask_model2_test"};
  Options opts_;
  std::unique_ptr<DB> db_;
  std::vector<std::string> keys_;
  std::map<std::string, Entry> model_;
  std::deque<std::string> history_;
  uint64_t op_ = 0;
  uint64_t reopens_ = 0, merges_ = 0, merge_failures_ = 0, batches_ = 0, conditionals_ = 0,
           conflicts_ = 0, compares_ = 0;
};

TEST(DBModel2Test, RandomOperationsMatchTheModel) {
  const uint64_t seed = EnvNumber("BITGASK_MODEL_SEED", std::random_device()());
  const uint64_t ops = EnvNumber("BITGASK_MODEL_OPS", 50000);
  ModelRun run(seed, ops);
  run.Run();
}

// A key whose expiry was removed (Persist) or pushed back (Expire, ExpireAt)
// before it ran out must survive a reopen after the original expiry has
// passed, with and without hint files and with a merge before or after the
// change. (Found by the random run above.)
TEST(DBModel2Test, ExpiryChangedByMetadataSurvivesReopen) {
  struct Case {
    const char* name;
    bool merge_before_change, merge_after_change, hints;
  } cases[] = {
      {"plain, hints", false, false, true},   {"plain, no hints", false, false, false},
      {"merge before the change", true, false, true},
      {"merge after the change", false, true, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir{"bitgask_model2_test"};
    ModelEnv env;
    Options o;
    o.env = &env;
    o.merge_interval = std::chrono::milliseconds(0);
    o.use_hint_files = c.hints;
    o.max_data_file_size = 4096;
    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(dir.path(), o, &db).ok());
    const int64_t t0 = env.Now();
    ASSERT_TRUE(db->PutWithTTL("persisted", "p", std::chrono::seconds(10)).ok());
    ASSERT_TRUE(db->Put("extended", "e").ok());
    ASSERT_TRUE(db->Expire("extended", std::chrono::seconds(10)).ok());
    ASSERT_TRUE(db->PutWithTTL("moved", "m", std::chrono::seconds(10)).ok());
    for (int i = 0; i < 100; i++) {  // closed files before the changes
      ASSERT_TRUE(db->Put("fill" + std::to_string(i), std::string(100, 'f')).ok());
    }
    MergeOptions mo;
    mo.force = true;
    if (c.merge_before_change) {
      ASSERT_TRUE(db->Merge(mo, nullptr).ok());
    }
    env.Advance(5 * kSec);
    ASSERT_TRUE(db->Persist("persisted").ok());
    ASSERT_TRUE(db->Expire("extended", std::chrono::seconds(3600)).ok());
    ASSERT_TRUE(db->ExpireAt("moved", t0 + 7200 * kSec).ok());
    if (c.merge_after_change) {
      ASSERT_TRUE(db->Merge(mo, nullptr).ok());
    }
    env.Advance(20 * kSec);  // the original 10 s expiries have passed
    auto check = [&](const char* when) {
      SCOPED_TRACE(when);
      std::string v;
      RecordMeta m;
      Status s = db->Get("persisted", &v);
      EXPECT_TRUE(s.ok() && v == "p") << s.ToString();
      EXPECT_TRUE(db->Meta("persisted", &m).ok() && m.expires_unix_ns == 0);
      s = db->Get("extended", &v);
      EXPECT_TRUE(s.ok() && v == "e") << s.ToString();
      EXPECT_TRUE(db->Meta("extended", &m).ok() &&
                  m.expires_unix_ns == t0 + 5 * kSec + 3600 * kSec);
      s = db->Get("moved", &v);
      EXPECT_TRUE(s.ok() && v == "m") << s.ToString();
      EXPECT_TRUE(db->Meta("moved", &m).ok() && m.expires_unix_ns == t0 + 7200 * kSec);
    };
    check("before reopen");
    ASSERT_TRUE(db->Close().ok());
    ASSERT_TRUE(DB::Open(dir.path(), o, &db).ok());
    check("after reopen");
    ASSERT_TRUE(db->Close().ok());
  }
}

// The documented edge cases the random run does not reach.
TEST(DBModel2Test, EdgeCases) {
  TempDir dir{"bitgask_model2_test"};
  ModelEnv env;
  Options o;
  o.env = &env;
  o.merge_interval = std::chrono::milliseconds(0);
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(dir.path(), o, &db).ok());

  // "NotFound when absent" also when neither field is changed.
  EXPECT_TRUE(db->SetMeta("absent", -1, -1).IsNotFound());
  EXPECT_TRUE(db->SetMeta("absent", 0644, -1).IsNotFound());
  ASSERT_TRUE(db->Put("present", "v").ok());
  EXPECT_TRUE(db->SetMeta("present", -1, -1).ok());

  // A batch that puts and deletes the same key: the last op wins, also after
  // a merge and a reopen without hints.
  WriteBatch b;
  b.Put("x", "1");
  b.Delete("x");
  b.Put("y", "1");
  b.Put("y", "2");
  b.Delete("z");
  b.Put("z", "3");
  ASSERT_TRUE(db->Write(WriteOptions(), b).ok());
  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    std::string v;
    EXPECT_TRUE(db->Get("x", &v).IsNotFound());
    ASSERT_TRUE(db->Get("y", &v).ok());
    EXPECT_EQ(v, "2");
    ASSERT_TRUE(db->Get("z", &v).ok());
    EXPECT_EQ(v, "3");
  };
  check("written");
  MergeOptions mo;
  mo.force = true;
  ASSERT_TRUE(db->Merge(mo, nullptr).ok());
  check("merged");
  ASSERT_TRUE(db->Close().ok());
  o.use_hint_files = false;
  ASSERT_TRUE(DB::Open(dir.path(), o, &db).ok());
  check("reopened");

  // Conditional writes on an expired key: absent for PutIfAbsent, no match for
  // CompareAndSwap / DeleteIf.
  ASSERT_TRUE(db->PutWithTTL("t", "old", std::chrono::seconds(1)).ok());
  env.Advance(2 * kSec);
  EXPECT_TRUE(db->CompareAndSwap("t", "old", "new").IsConflict());
  EXPECT_TRUE(db->DeleteIf("t", "old").IsConflict());
  EXPECT_TRUE(db->PutIfAbsent("t", "fresh").ok());
  std::string v;
  ASSERT_TRUE(db->Get("t", &v).ok());
  EXPECT_EQ(v, "fresh");
  // An empty batch is a no-op.
  EXPECT_TRUE(db->Write(WriteOptions(), WriteBatch()).ok());
  ASSERT_TRUE(db->Close().ok());
}

}  // namespace
}  // namespace bitgask
