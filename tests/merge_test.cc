// Tests of DB::Merge (engine/merge.cc): what a merge keeps and drops, its
// triggers, the files it leaves, background merges, merges racing with
// writers, readers, iterators and Close().
//
// Every test runs in its own temporary directory. Most inject a fake clock
// (an EnvWrapper overriding NowUnixNanos) so TTL expiry is exact; a few wrap
// the Env to slow reads down so a merge takes long enough to race with.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
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
using test::FakeClockEnv;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr int64_t kStartNs = 1700000000LL * 1000000000LL;
constexpr int64_t kSec = 1000000000LL;

// ------------------------------------------------------------------ helpers

// Reads through this Env sleep read_delay_us first (when non-zero), so that a
// merge (which reads every record) can be made arbitrarily slow.
class SlowReadEnv : public EnvWrapper {
 public:
  SlowReadEnv() : EnvWrapper(Env::Default()) {}
  std::atomic<uint64_t> read_delay_us{0};

  Status NewRandomAccessFile(const std::string& p,
                             std::unique_ptr<RandomAccessFile>* f) override {
    std::unique_ptr<RandomAccessFile> base;
    Status s = target()->NewRandomAccessFile(p, &base);
    if (!s.ok()) return s;
    *f = std::make_unique<SlowFile>(std::move(base), &read_delay_us);
    return s;
  }

 private:
  class SlowFile : public RandomAccessFile {
   public:
    SlowFile(std::unique_ptr<RandomAccessFile> base, std::atomic<uint64_t>* delay)
        : base_(std::move(base)), delay_(delay) {}
    Status Read(uint64_t offset, size_t n, char* scratch,
                std::string_view* result) const override {
      const uint64_t d = delay_->load();
      if (d > 0) std::this_thread::sleep_for(std::chrono::microseconds(d));
      return base_->Read(offset, n, scratch, result);
    }

   private:
    std::unique_ptr<RandomAccessFile> base_;
    std::atomic<uint64_t>* delay_;
  };
};

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/bitgask_merge_test.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    char* p = mkdtemp(buf.data());
    if (p == nullptr) {
      ADD_FAILURE() << "mkdtemp(" << tmpl << ") failed";
      return;
    }
    path_ = std::string(p) + "/store";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(fs::path(path_).parent_path(), ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// What ROOT/data holds.
struct Listing {
  std::set<uint32_t> data, hint;
  std::vector<std::string> tmp;  // names ending in .tmp
  uint64_t data_bytes = 0;
};

Listing ListStore(const std::string& root) {
  Listing l;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root + "/data", ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      l.tmp.push_back(name);
      continue;
    }
    if (name.size() < 10 || name[9] != '.') continue;
    bool digits = true;
    for (int i = 0; i < 9; i++) digits = digits && name[i] >= '0' && name[i] <= '9';
    if (!digits) continue;
    const uint32_t id = static_cast<uint32_t>(std::stoul(name.substr(0, 9)));
    const std::string ext = name.substr(9);
    if (ext == ".data") {
      l.data.insert(id);
      l.data_bytes += fs::file_size(e.path());
    } else if (ext == ".hint") {
      l.hint.insert(id);
    }
  }
  return l;
}

std::string IdList(const std::set<uint32_t>& ids) {
  std::string s;
  for (uint32_t id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return "{" + s + "}";
}

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A deterministic, incompressible value.
std::string RandomValue(uint64_t seed, size_t n) {
  std::string s(n, '\0');
  uint64_t x = seed;
  for (size_t i = 0; i < n; i++) {
    if (i % 8 == 0) x = Mix(x + i);
    s[i] = static_cast<char>((x >> (8 * (i % 8))) & 0xFF);
  }
  return s;
}

std::string Key(const char* prefix, int i) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%s%06d", prefix, i);
  return buf;
}

Options BaseOptions(Env* env) {
  Options o;
  o.env = env;
  o.sync_on_put = false;
  o.sync_on_delete = false;
  o.merge_interval = milliseconds(0);
  return o;
}

Status Open(const std::string& path, const Options& o, std::unique_ptr<DB>* db) {
  return DB::Open(path, o, db);
}

// Opens the closed store at path with hint files and then without, calling
// check(what) on each open store before closing it again.
void ReopenWithAndWithoutHints(const std::string& path, const Options& o,
                               std::unique_ptr<DB>* db,
                               const std::function<void(const char*)>& check) {
  for (bool hints : {true, false}) {
    Options o2 = o;
    o2.use_hint_files = hints;
    Status s = Open(path, o2, db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    check(hints ? "reopened with hints" : "reopened without hints");
    ASSERT_TRUE((*db)->Close().ok());
  }
}

using Model = std::map<std::string, std::string>;

// Every key of the store with its value (via Fold).
std::map<std::string, std::string> Contents(DB* db) {
  std::map<std::string, std::string> out;
  Status s = db->Fold([&](std::string_view k, std::string_view v) {
    out.emplace(std::string(k), std::string(v));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// The store holds exactly the model: Get of every model key, Keys(), Fold.
::testing::AssertionResult SameAsModel(DB* db, const Model& model) {
  for (const auto& kv : model) {
    std::string v;
    Status s = db->Get(kv.first, &v);
    if (!s.ok()) {
      return ::testing::AssertionFailure() << "Get(" << kv.first << "): " << s.ToString();
    }
    if (v != kv.second) {
      return ::testing::AssertionFailure()
             << "Get(" << kv.first << "): wrong value (" << v.size() << " bytes, want "
             << kv.second.size() << ")";
    }
  }
  std::vector<std::string> keys;
  Status s = db->Keys(&keys);
  if (!s.ok()) return ::testing::AssertionFailure() << "Keys: " << s.ToString();
  std::vector<std::string> want;
  for (const auto& kv : model) want.push_back(kv.first);
  if (keys != want) {
    size_t i = 0;
    while (i < keys.size() && i < want.size() && keys[i] == want[i]) i++;
    return ::testing::AssertionFailure()
           << "Keys() has " << keys.size() << " keys, model " << want.size()
           << "; first difference at " << i << ": store '"
           << (i < keys.size() ? keys[i] : "<end>") << "' model '"
           << (i < want.size() ? want[i] : "<end>") << "'";
  }
  if (Contents(db) != model) return ::testing::AssertionFailure() << "Fold differs from model";
  DBStats st;
  s = db->Stats(&st);
  if (!s.ok()) return ::testing::AssertionFailure() << "Stats: " << s.ToString();
  if (st.keys != model.size()) {
    return ::testing::AssertionFailure()
           << "Stats().keys " << st.keys << " != model " << model.size();
  }
  return ::testing::AssertionSuccess();
}

bool StartsWith(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

template <typename Pred>
bool PollUntil(Pred pred, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

// A store with overwrites, deletes, metadata updates and TTLs (some of which
// have expired by the time the function returns). Fills *model with what
// must be live afterwards.
void BuildGarbageStore(DB* db, FakeClockEnv* env, Model* model, int n = 3000) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < n; i++) {
      if (round > 0 && rng() % 3 == 0) continue;
      const std::string k = Key("k", i);
      const std::string v = RandomValue(Mix(i * 31 + round), 80 + rng() % 300);
      ASSERT_TRUE(db->Put(k, v).ok());
      (*model)[k] = v;
    }
  }
  for (int i = 0; i < n; i += 5) {
    ASSERT_TRUE(db->Delete(Key("k", i)).ok());
    model->erase(Key("k", i));
  }
  // Short TTLs that will have expired, long ones that will not.
  for (int i = 0; i < 400; i++) {
    ASSERT_TRUE(db->PutWithTTL(Key("ttl", i), RandomValue(i, 150), seconds(10)).ok());
  }
  for (int i = 0; i < 200; i++) {
    const std::string v = RandomValue(7000 + i, 120);
    ASSERT_TRUE(db->PutWithTTL(Key("long", i), v, seconds(3600)).ok());
    (*model)[Key("long", i)] = v;
  }
  // Live keys given a short expiry later; a few expiring keys persisted.
  for (int i = 1; i < n; i += 7) {
    const std::string k = Key("k", i);
    if (!model->count(k)) continue;
    ASSERT_TRUE(db->Expire(k, seconds(5)).ok());
    model->erase(k);
  }
  for (int i = 0; i < 400; i += 10) {
    ASSERT_TRUE(db->Persist(Key("ttl", i)).ok());
    std::string v;
    ASSERT_TRUE(db->Get(Key("ttl", i), &v).ok());
    (*model)[Key("ttl", i)] = v;
  }
  env->Advance(20 * kSec);
}

// ------------------------------------------------------------------ tests

TEST(MergeTest, ForcedMergeDropsGarbageAndKeepsEveryLiveValue) {
  TempDir dir;
  FakeClockEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 64 << 10;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  Model model;
  BuildGarbageStore(db.get(), &env, &model);
  ASSERT_FALSE(HasFailure());

  const Listing before = ListStore(dir.path());
  ASSERT_GT(before.data.size(), 5u);
  DBStats st0;
  ASSERT_TRUE(db->Stats(&st0).ok());
  uint64_t dead0, total0;
  double ratio0;
  db->Reclaimable(&dead0, &total0, &ratio0);
  EXPECT_EQ(total0, st0.total_bytes);
  EXPECT_EQ(total0, before.data_bytes);
  EXPECT_GT(ratio0, 0.4);
  EXPECT_EQ(st0.last_merge_unix_ns, 0);
  EXPECT_EQ(st0.last_merge_status, "");

  MergeResult r;
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  MergeOptions mo;
  mo.force = true;
  mo.progress = [&](uint64_t done, uint64_t total) { progress.emplace_back(done, total); };
  Status s = db->Merge(mo, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();

  const Listing after = ListStore(dir.path());
  // Result fields.
  EXPECT_TRUE(r.ran) << "MergeResult::ran is false after a forced merge that ran";
  EXPECT_EQ(r.files_in, before.data.size());
  EXPECT_EQ(r.bytes_in, total0);
  EXPECT_GE(r.files_out, 1u);
  EXPECT_EQ(r.files_out + 1, after.data.size()) << "outputs plus the new active file";
  EXPECT_LT(r.bytes_out, r.bytes_in);
  EXPECT_EQ(r.records_copied, model.size());
  EXPECT_GE(r.seconds, 0.0);
  EXPECT_LT(r.seconds, 60.0);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().first, total0);
  for (size_t i = 0; i < progress.size(); i++) {
    EXPECT_EQ(progress[i].second, total0);
    if (i > 0) {
      EXPECT_GE(progress[i].first, progress[i - 1].first);
    }
  }

  // Space.
  uint64_t dead1, total1;
  double ratio1;
  db->Reclaimable(&dead1, &total1, &ratio1);
  EXPECT_EQ(dead1, 0u) << "nothing was written after the cut, so nothing should be dead";
  EXPECT_LT(total1, total0);
  EXPECT_EQ(total1, r.bytes_out);
  EXPECT_EQ(total1, after.data_bytes);
  EXPECT_LT(ratio1, 0.01);

  // Files: every old file gone, every output has a hint, nothing unfinished.
  for (uint32_t id : before.data) {
    EXPECT_EQ(after.data.count(id), 0u) << "old data file " << id << " still there";
    EXPECT_EQ(after.hint.count(id), 0u) << "old hint file " << id << " still there";
  }
  for (const std::string& name : after.tmp) {
    EXPECT_EQ(name.find(".data.tmp"), std::string::npos) << name;
  }
  const uint32_t active = *after.data.rbegin();
  for (uint32_t id : after.data) {
    if (id == active) continue;
    EXPECT_EQ(after.hint.count(id), 1u) << "merge output " << id << " has no hint file";
  }
  for (uint32_t id : after.hint) EXPECT_EQ(after.data.count(id), 1u) << "orphan hint " << id;

  // Stats.
  DBStats st1;
  ASSERT_TRUE(db->Stats(&st1).ok());
  EXPECT_GT(st1.last_merge_unix_ns, 0);
  EXPECT_EQ(st1.last_merge_unix_ns, env.Now());
  EXPECT_TRUE(StartsWith(st1.last_merge_status, "ok")) << st1.last_merge_status;
  EXPECT_EQ(st1.data_files, after.data.size());
  EXPECT_EQ(st1.total_bytes, total1);
  EXPECT_EQ(st1.dead_bytes, 0u);

  // Contents: every live key exact; deleted and expired keys gone.
  EXPECT_TRUE(SameAsModel(db.get(), model));
  std::string v;
  EXPECT_TRUE(db->Get(Key("k", 0), &v).IsNotFound());       // deleted
  EXPECT_TRUE(db->Get(Key("k", 1), &v).IsNotFound());       // Expire()d
  EXPECT_TRUE(db->Get(Key("ttl", 1), &v).IsNotFound());     // TTL ran out
  EXPECT_TRUE(db->Get(Key("ttl", 0), &v).ok());             // persisted
  RecordMeta m;
  ASSERT_TRUE(db->Meta(Key("long", 3), &m).ok());
  EXPECT_EQ(m.expires_unix_ns, kStartNs + 3600 * kSec);
  ASSERT_TRUE(db->Meta(Key("ttl", 10), &m).ok());
  EXPECT_EQ(m.expires_unix_ns, 0);

  // Writes after the merge still work and count as dead only once overwritten.
  ASSERT_TRUE(db->Put("after", "x").ok());
  ASSERT_TRUE(db->Put("after", "y").ok());
  db->Reclaimable(&dead1, &total1, &ratio1);
  EXPECT_GT(dead1, 0u);
  EXPECT_LT(dead1, 100u);
  ASSERT_TRUE(db->Close().ok());
}

TEST(MergeTest, NonForcedMergeRunsOnlyAboveBothTriggers) {
  TempDir dir;
  FakeClockEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 128 << 10;
  o.merge_trigger_ratio = 0.5;
  o.merge_min_total = 1 << 20;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  Model model;
  auto put = [&](int i, int version) {
    const std::string k = Key("k", i);
    const std::string v = RandomValue(Mix(i) ^ version, 200);
    ASSERT_TRUE(db->Put(k, v).ok());
    model[k] = v;
  };

  // 1. High ratio, total below merge_min_total: nothing happens.
  for (int version = 0; version < 4; version++) {
    for (int i = 0; i < 500; i++) put(i, version);
  }
  uint64_t dead, total;
  double ratio;
  db->Reclaimable(&dead, &total, &ratio);
  ASSERT_LT(total, o.merge_min_total);
  ASSERT_GE(ratio, 0.5);
  Listing files0 = ListStore(dir.path());
  MergeResult r;
  r.ran = true;
  r.files_in = 99;
  Status s = db->Merge(MergeOptions(), &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(r.files_in, 0u);
  EXPECT_EQ(r.records_copied, 0u);
  EXPECT_EQ(ListStore(dir.path()).data, files0.data);
  DBStats st;
  ASSERT_TRUE(db->Stats(&st).ok());
  EXPECT_EQ(st.last_merge_unix_ns, 0);
  EXPECT_EQ(st.last_merge_status, "");

  // 2. Total above merge_min_total, ratio below the trigger: nothing happens.
  for (int i = 500; i < 8000; i++) put(i, 0);
  db->Reclaimable(&dead, &total, &ratio);
  ASSERT_GE(total, o.merge_min_total);
  ASSERT_LT(ratio, 0.5);
  files0 = ListStore(dir.path());
  s = db->Merge(MergeOptions(), &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(r.files_out, 0u);
  EXPECT_EQ(ListStore(dir.path()).data, files0.data);
  ASSERT_TRUE(db->Stats(&st).ok());
  EXPECT_EQ(st.last_merge_unix_ns, 0);

  // 3. Both above: the merge runs.
  for (int version = 1; version < 3; version++) {
    for (int i = 500; i < 8000; i++) put(i, version);
  }
  db->Reclaimable(&dead, &total, &ratio);
  ASSERT_GE(total, o.merge_min_total);
  ASSERT_GE(ratio, 0.5);
  files0 = ListStore(dir.path());
  s = db->Merge(MergeOptions(), &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(r.ran) << "MergeResult::ran is false although the merge ran";
  EXPECT_EQ(r.files_in, files0.data.size());
  EXPECT_GT(r.files_out, 0u);
  EXPECT_EQ(r.records_copied, model.size());
  const Listing files1 = ListStore(dir.path());
  for (uint32_t id : files0.data) EXPECT_EQ(files1.data.count(id), 0u) << id;
  uint64_t dead1, total1;
  db->Reclaimable(&dead1, &total1, &ratio);
  EXPECT_EQ(dead1, 0u);
  EXPECT_LT(total1, total / 2);
  ASSERT_TRUE(db->Stats(&st).ok());
  EXPECT_GT(st.last_merge_unix_ns, 0);
  EXPECT_TRUE(StartsWith(st.last_merge_status, "ok")) << st.last_merge_status;
  EXPECT_TRUE(SameAsModel(db.get(), model));

  // 4. Right after it, the triggers are no longer met.
  const Listing files2 = ListStore(dir.path());
  s = db->Merge(MergeOptions(), &r);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(ListStore(dir.path()).data, files2.data);
  ASSERT_TRUE(db->Close().ok());
}

// Full per-key comparison including metadata.
struct Snap {
  std::map<std::string, std::string> values;
  std::map<std::string, RecordMeta> metas;
};

Snap TakeSnap(DB* db) {
  Snap s;
  s.values = Contents(db);
  for (const auto& kv : s.values) {
    RecordMeta m;
    Status st = db->Meta(kv.first, &m);
    EXPECT_TRUE(st.ok()) << kv.first << ": " << st.ToString();
    s.metas[kv.first] = m;
  }
  return s;
}

::testing::AssertionResult SameSnap(const Snap& want, const Snap& got) {
  if (want.values.size() != got.values.size()) {
    return ::testing::AssertionFailure()
           << "key count " << got.values.size() << " want " << want.values.size();
  }
  for (const auto& kv : want.values) {
    auto it = got.values.find(kv.first);
    if (it == got.values.end()) return ::testing::AssertionFailure() << "missing " << kv.first;
    if (it->second != kv.second) return ::testing::AssertionFailure() << "value of " << kv.first;
    const RecordMeta& a = want.metas.at(kv.first);
    const RecordMeta& b = got.metas.at(kv.first);
    if (a.timestamp_unix_ns != b.timestamp_unix_ns || a.expires_unix_ns != b.expires_unix_ns ||
        a.value_size != b.value_size || a.mode != b.mode) {
      return ::testing::AssertionFailure()
             << "meta of " << kv.first << ": ts " << b.timestamp_unix_ns << " want "
             << a.timestamp_unix_ns << ", expires " << b.expires_unix_ns << " want "
             << a.expires_unix_ns << ", size " << b.value_size << " want " << a.value_size
             << ", mode " << b.mode << " want " << a.mode;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(MergeTest, ReopenAfterMergeGivesIdenticalContents) {
  TempDir dir;
  FakeClockEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 32 << 10;
  Model model;
  Snap want;
  std::string digest;
  {
    std::unique_ptr<DB> db;
    ASSERT_TRUE(Open(dir.path(), o, &db).ok());
    BuildGarbageStore(db.get(), &env, &model, 2000);
    ASSERT_FALSE(HasFailure());
    // Compressible values and batches too.
    WriteBatch b;
    for (int i = 0; i < 50; i++) {
      std::string v(1000 + i, 'a' + i % 26);
      b.Put(Key("batch", i), v);
      model[Key("batch", i)] = v;
    }
    b.Delete(Key("k", 2));
    model.erase(Key("k", 2));
    ASSERT_TRUE(db->Write(WriteOptions(), b).ok());
    MergeOptions mo;
    mo.force = true;
    Status s = db->Merge(mo, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(SameAsModel(db.get(), model));
    want = TakeSnap(db.get());
    ASSERT_TRUE(db->Digest(&digest).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  ValidateReport vr;
  ASSERT_TRUE(DB::Validate(dir.path(), &vr).ok());
  EXPECT_TRUE(vr.ok()) << vr.corrupt.size() << " corrupt, " << vr.hint_problems.size()
                       << " hint problems";
  EXPECT_GT(vr.hint_files, 0u);

  struct Variant {
    const char* name;
    bool hints, validate;
  } variants[] = {{"hints", true, false}, {"no hints", false, false}, {"validate", true, true}};
  for (const Variant& var : variants) {
    SCOPED_TRACE(var.name);
    Options o2 = o;
    o2.use_hint_files = var.hints;
    o2.validate_on_open = var.validate;
    std::unique_ptr<DB> db;
    Status s = Open(dir.path(), o2, &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(SameAsModel(db.get(), model));
    EXPECT_TRUE(SameSnap(want, TakeSnap(db.get())));
    std::string d;
    ASSERT_TRUE(db->Digest(&d).ok());
    EXPECT_EQ(d, digest);
    ASSERT_TRUE(db->Close().ok());
  }

  // Reopen() (same handle) after a second merge with writes in between.
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  for (int i = 0; i < 300; i++) {
    const std::string v = RandomValue(99000 + i, 90);
    ASSERT_TRUE(db->Put(Key("k", i), v).ok());
    model[Key("k", i)] = v;
  }
  MergeOptions mo;
  mo.force = true;
  ASSERT_TRUE(db->Merge(mo, nullptr).ok());
  Snap want2 = TakeSnap(db.get());
  ASSERT_TRUE(db->Reopen().ok());
  EXPECT_TRUE(SameAsModel(db.get(), model));
  EXPECT_TRUE(SameSnap(want2, TakeSnap(db.get())));
  ASSERT_TRUE(db->Close().ok());
}

TEST(MergeTest, MergeKeepsMetadataFoldedInByExpirePersistSetMeta) {
  TempDir dir;
  FakeClockEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 16 << 10;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());

  const int64_t t0 = env.Now();
  WriteOptions wo;
  wo.mode = 0100644;
  wo.timestamp_unix_ns = 1234567;
  const std::string big = RandomValue(5, 5000);
  ASSERT_TRUE(db->Put(wo, "a", big).ok());                             // Expire later
  ASSERT_TRUE(db->PutWithTTL("b", "value-b", seconds(100)).ok());      // Persist later
  ASSERT_TRUE(db->Put(wo, "c", "value-c").ok());                       // SetMeta mode+ts
  ASSERT_TRUE(db->Put(wo, "d", "value-d").ok());                       // SetMeta ts only
  ASSERT_TRUE(db->Put("e", std::string(3000, 'e')).ok());              // ExpireAt (compressed)
  ASSERT_TRUE(db->Put(wo, "f", "value-f").ok());                       // SetMeta mode only
  ASSERT_TRUE(db->Put("g", "value-g").ok());                           // expires via Expire
  ASSERT_TRUE(db->Put(wo, "h", "value-h").ok());                       // untouched
  // Filler so the keys above sit in closed files.
  for (int i = 0; i < 400; i++) ASSERT_TRUE(db->Put(Key("fill", i), RandomValue(i, 100)).ok());

  env.Advance(kSec);
  ASSERT_TRUE(db->Expire("a", seconds(7200)).ok());
  ASSERT_TRUE(db->Persist("b").ok());
  ASSERT_TRUE(db->SetMeta("c", 0100600, 777).ok());
  ASSERT_TRUE(db->SetMeta("d", -1, 888).ok());
  ASSERT_TRUE(db->ExpireAt("e", t0 + 9000 * kSec).ok());
  ASSERT_TRUE(db->SetMeta("f", 0120777, -1).ok());
  ASSERT_TRUE(db->Expire("g", seconds(2)).ok());
  for (int i = 0; i < 400; i++) ASSERT_TRUE(db->Put(Key("fill2", i), RandomValue(i, 100)).ok());
  env.Advance(5 * kSec);  // g expires

  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    RecordMeta m;
    std::string v;
    ASSERT_TRUE(db->Get("a", &v).ok());
    EXPECT_EQ(v, big);
    ASSERT_TRUE(db->Meta("a", &m).ok());
    EXPECT_EQ(m.expires_unix_ns, t0 + kSec + 7200 * kSec);
    EXPECT_EQ(m.mode, 0100644);
    EXPECT_EQ(m.timestamp_unix_ns, 1234567);
    EXPECT_EQ(m.value_size, big.size());

    ASSERT_TRUE(db->Get("b", &v).ok());
    EXPECT_EQ(v, "value-b");
    ASSERT_TRUE(db->Meta("b", &m).ok());
    EXPECT_EQ(m.expires_unix_ns, 0);
    EXPECT_EQ(m.timestamp_unix_ns, t0);

    ASSERT_TRUE(db->Get("c", &v).ok());
    EXPECT_EQ(v, "value-c");
    ASSERT_TRUE(db->Meta("c", &m).ok());
    EXPECT_EQ(m.mode, 0100600);
    EXPECT_EQ(m.timestamp_unix_ns, 777);
    EXPECT_EQ(m.expires_unix_ns, 0);

    ASSERT_TRUE(db->Get("d", &v).ok());
    EXPECT_EQ(v, "value-d");
    ASSERT_TRUE(db->Meta("d", &m).ok());
    EXPECT_EQ(m.mode, 0100644);
    EXPECT_EQ(m.timestamp_unix_ns, 888);

    ASSERT_TRUE(db->Get("e", &v).ok());
    EXPECT_EQ(v, std::string(3000, 'e'));
    ASSERT_TRUE(db->Meta("e", &m).ok());
    EXPECT_EQ(m.expires_unix_ns, t0 + 9000 * kSec);
    EXPECT_EQ(m.value_size, 3000u);

    ASSERT_TRUE(db->Get("f", &v).ok());
    EXPECT_EQ(v, "value-f");
    ASSERT_TRUE(db->Meta("f", &m).ok());
    EXPECT_EQ(m.mode, 0120777);
    EXPECT_EQ(m.timestamp_unix_ns, 1234567);

    EXPECT_TRUE(db->Get("g", &v).IsNotFound());
    EXPECT_FALSE(db->Has("g"));

    ASSERT_TRUE(db->Get("h", &v).ok());
    EXPECT_EQ(v, "value-h");
    ASSERT_TRUE(db->Meta("h", &m).ok());
    EXPECT_EQ(m.mode, 0100644);
    EXPECT_EQ(m.timestamp_unix_ns, 1234567);
  };
  check("before merge");
  const Listing before = ListStore(dir.path());
  MergeOptions mo;
  mo.force = true;
  MergeResult r;
  ASSERT_TRUE(db->Merge(mo, &r).ok());
  for (uint32_t id : before.data) ASSERT_EQ(ListStore(dir.path()).data.count(id), 0u);
  check("after merge");
  uint64_t dead, total;
  double ratio;
  db->Reclaimable(&dead, &total, &ratio);
  EXPECT_EQ(dead, 0u) << "metadata records must be folded into the copies";
  ASSERT_TRUE(db->Close().ok());

  ReopenWithAndWithoutHints(dir.path(), o, &db, check);
  // A metadata update after the merge (the key's record is in a merge
  // output), then another merge and reopen.
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  ASSERT_TRUE(db->SetMeta("h", 0100400, 999).ok());
  ASSERT_TRUE(db->Merge(mo, &r).ok());
  ASSERT_TRUE(db->Reopen().ok());
  RecordMeta m;
  ASSERT_TRUE(db->Meta("h", &m).ok());
  EXPECT_EQ(m.mode, 0100400);
  EXPECT_EQ(m.timestamp_unix_ns, 999);
  std::string v;
  ASSERT_TRUE(db->Get("h", &v).ok());
  EXPECT_EQ(v, "value-h");
  ASSERT_TRUE(db->Close().ok());
}

TEST(MergeTest, FileIdsAreNeverReused) {
  TempDir dir;
  FakeClockEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 8 << 10;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  std::set<uint32_t> ever;  // every id seen so far
  Model model;
  for (int round = 0; round < 6; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    for (int i = 0; i < 300; i++) {
      const std::string v = RandomValue(Mix(round * 1000 + i), 60 + i % 90);
      ASSERT_TRUE(db->Put(Key("k", i % 200), v).ok());
      model[Key("k", i % 200)] = v;
    }
    const Listing before = ListStore(dir.path());
    ever.insert(before.data.begin(), before.data.end());
    const uint32_t max_before = *ever.rbegin();
    MergeOptions mo;
    mo.force = true;
    ASSERT_TRUE(db->Merge(mo, nullptr).ok());
    const Listing after = ListStore(dir.path());
    ASSERT_FALSE(after.data.empty());
    EXPECT_GT(*after.data.begin(), max_before)
        << "before " << IdList(before.data) << " after " << IdList(after.data);
    for (uint32_t id : after.hint) EXPECT_GT(id, max_before);
    ever.insert(after.data.begin(), after.data.end());
    if (round % 2 == 1) {
      ASSERT_TRUE(db->Close().ok());
      ASSERT_TRUE(Open(dir.path(), o, &db).ok());
      const Listing reopened = ListStore(dir.path());
      for (uint32_t id : reopened.data) {
        EXPECT_TRUE(after.data.count(id) || id > *ever.rbegin()) << id;
      }
      ever.insert(reopened.data.begin(), reopened.data.end());
    }
    EXPECT_TRUE(SameAsModel(db.get(), model));
  }
  ASSERT_TRUE(db->Close().ok());
}

// ---- Writers and readers during a large merge.
//
// Key i has a sequence of operations 1, 2, ...; operation n's effect is a
// function of (i, n) alone (a put of ValueAt(i, n), or a delete), so a reader
// can check any value it gets: the key's state must be that of an operation
// between the last one finished before the read and the last one begun after.
namespace concurrent {

constexpr int kKeys = 200000;
constexpr int kWriters = 2;
constexpr int kReaders = 2;

bool IsDelete(int i, uint32_t n) { return n >= 2 && Mix(uint64_t(i) * 1000003u + n) % 6 == 0; }

std::string ValueAt(int i, uint32_t n) {
  char head[32];
  int len = std::snprintf(head, sizeof(head), "%07d|%u|", i, n);
  const size_t size = 100 + Mix(uint64_t(i) << 20 ^ n) % 101;  // 100..200 bytes
  std::string v = RandomValue(Mix(uint64_t(i) * 7919u + n), size);
  std::copy(head, head + len, v.begin());
  return v;
}

// "" when ok, else what is wrong.
std::string CheckRead(int i, const Status& s, const std::string& v, uint32_t lo, uint32_t hi) {
  if (s.ok()) {
    unsigned key = 0, n = 0;
    if (std::sscanf(v.c_str(), "%7u|%u|", &key, &n) != 2 || key != unsigned(i)) {
      return "value of key " + std::to_string(i) + " is not one of its values";
    }
    if (n < lo || n > hi) {
      return "key " + std::to_string(i) + " returned op " + std::to_string(n) + ", expected " +
             std::to_string(lo) + ".." + std::to_string(hi);
    }
    if (IsDelete(i, n) || v != ValueAt(i, n)) {
      return "key " + std::to_string(i) + " op " + std::to_string(n) + ": wrong bytes";
    }
    return "";
  }
  if (s.IsNotFound()) {
    for (uint32_t n = lo; n <= hi; n++) {
      if (n == 0 || IsDelete(i, n)) return "";
    }
    return "key " + std::to_string(i) + " NotFound but ops " + std::to_string(lo) + ".." +
           std::to_string(hi) + " are all puts";
  }
  return "key " + std::to_string(i) + ": " + s.ToString();
}

}  // namespace concurrent

TEST(MergeTest, WritersAndReadersDuringALargeMergeAreNeitherWrongNorBlocked) {
  using namespace concurrent;
  TempDir dir;
  Options o = BaseOptions(nullptr);
  o.max_data_file_size = 4 << 20;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());

  std::vector<std::atomic<uint32_t>> begun(kKeys), done(kKeys);
  // Preload: every key once, then about 60% of them again (garbage).
  for (uint32_t n = 1; n <= 2; n++) {
    WriteBatch b;
    for (int i = 0; i < kKeys; i++) {
      if (n == 2 && Mix(i) % 10 >= 6) continue;
      if (IsDelete(i, n)) {
        b.Delete(Key("k", i));
      } else {
        b.Put(Key("k", i), ValueAt(i, n));
      }
      begun[i] = n;
      done[i] = n;
      if (b.Count() == 2000) {
        ASSERT_TRUE(db->Write(WriteOptions(), b).ok());
        b.Clear();
      }
    }
    if (b.Count() > 0) {
      ASSERT_TRUE(db->Write(WriteOptions(), b).ok());
    }
  }
  uint64_t dead0, total0;
  double ratio0;
  db->Reclaimable(&dead0, &total0, &ratio0);
  std::printf("[ store ] %.1f MiB in %zu files, %.0f%% dead\n", total0 / 1048576.0,
              ListStore(dir.path()).data.size(), ratio0 * 100);

  std::atomic<bool> stop{false}, merging{false};
  std::atomic<uint64_t> errors{0}, writes{0}, writes_during_merge{0}, reads{0};
  std::atomic<int64_t> worst_ns_merge{0}, worst_ns_all{0};
  std::mutex err_mu;
  std::vector<std::string> first_errors;
  auto fail = [&](const std::string& what) {
    errors++;
    std::lock_guard<std::mutex> l(err_mu);
    if (first_errors.size() < 10) first_errors.push_back(what);
  };
  auto bump = [](std::atomic<int64_t>& a, int64_t v) {
    int64_t cur = a.load();
    while (v > cur && !a.compare_exchange_weak(cur, v)) {
    }
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; w++) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(100 + w);
      uint64_t count = 0;
      while (!stop) {
        const int i = static_cast<int>(rng() % (kKeys / kWriters)) * kWriters + w;
        const uint32_t n = done[i].load() + 1;
        begun[i].store(n);
        const std::string k = Key("k", i);
        const bool during = merging.load();
        const auto t0 = Clock::now();
        Status s = IsDelete(i, n) ? db->Delete(k) : db->Put(k, ValueAt(i, n));
        const int64_t ns = std::chrono::duration_cast<nanoseconds>(Clock::now() - t0).count();
        if (!s.ok()) {
          fail("write of key " + std::to_string(i) + ": " + s.ToString());
          continue;
        }
        done[i].store(n);
        writes++;
        bump(worst_ns_all, ns);
        if (during && merging.load()) {
          bump(worst_ns_merge, ns);
          writes_during_merge++;
        }
        // Leave the merge some CPU on a small machine.
        if (++count % 32 == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    });
  }
  for (int rd = 0; rd < kReaders; rd++) {
    threads.emplace_back([&, rd] {
      std::mt19937 rng(200 + rd);
      std::string v;
      uint64_t count = 0;
      while (!stop) {
        const int i = static_cast<int>(rng() % kKeys);
        const uint32_t lo = done[i].load();
        v.clear();
        Status s = db->Get(Key("k", i), &v);
        const uint32_t hi = begun[i].load();
        std::string err = CheckRead(i, s, v, lo, hi);
        if (!err.empty()) fail(err);
        reads++;
        if (++count % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    });
  }

  // A reader that walks 10 keys at a time with Iter (streaming) or Scan
  // (snapshot): every key seen once, with a value it had during the walk;
  // a key not seen must have been absent at some point of the walk.
  std::atomic<uint64_t> walks{0};
  threads.emplace_back([&] {
    std::mt19937 rng(300);
    while (!stop) {
      const int base = static_cast<int>(rng() % (kKeys / 10)) * 10;
      const std::string prefix = Key("k", base).substr(0, 6);
      uint32_t lo[10];
      bool seen[10] = {};
      for (int j = 0; j < 10; j++) lo[j] = done[base + j].load();
      auto visit = [&](std::string_view k, std::string_view v) {
        const int i = std::atoi(std::string(k.substr(1)).c_str());
        if (k.size() != 7 || i < base || i >= base + 10 || seen[i - base]) {
          fail("walk of " + prefix + " visited " + std::string(k) + (k.size() == 7 && i >= base && i < base + 10 ? " twice" : ""));
          return true;
        }
        seen[i - base] = true;
        const std::string err = CheckRead(i, Status::OK(), std::string(v), lo[i - base],
                                          begun[i].load());
        if (!err.empty()) fail("walk: " + err);
        return true;
      };
      Status s = rng() % 2 ? db->Scan(prefix, visit)
                           : db->Iter(prefix, [&](std::string_view k, std::string_view v,
                                                  const RecordMeta&) { return visit(k, v); });
      if (!s.ok()) fail("walk of " + prefix + ": " + s.ToString());
      for (int j = 0; j < 10; j++) {
        if (seen[j]) continue;
        const std::string err =
            CheckRead(base + j, Status::NotFound(""), "", lo[j], begun[base + j].load());
        if (!err.empty()) fail("walk (key not visited): " + err);
      }
      walks++;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });

  std::this_thread::sleep_for(milliseconds(300));
  const Listing before = ListStore(dir.path());
  MergeResult r;
  MergeOptions mo;
  mo.force = true;
  merging = true;
  const auto m0 = Clock::now();
  Status ms = db->Merge(mo, &r);
  const double merge_s = std::chrono::duration<double>(Clock::now() - m0).count();
  merging = false;
  std::this_thread::sleep_for(milliseconds(300));
  stop = true;
  for (auto& t : threads) t.join();

  std::printf("[ merge ] %.2f s: %u files (%.1f MiB) into %u (%.1f MiB), %llu records\n",
              merge_s, r.files_in, r.bytes_in / 1048576.0, r.files_out,
              r.bytes_out / 1048576.0, static_cast<unsigned long long>(r.records_copied));
  std::printf("[ load  ] %llu writes (%llu during the merge), %llu reads, %llu walks\n",
              static_cast<unsigned long long>(writes.load()),
              static_cast<unsigned long long>(writes_during_merge.load()),
              static_cast<unsigned long long>(reads.load()),
              static_cast<unsigned long long>(walks.load()));
  std::printf("[ latency ] worst single write during the merge: %.3f ms (overall %.3f ms)\n",
              worst_ns_merge.load() / 1e6, worst_ns_all.load() / 1e6);
  ASSERT_TRUE(ms.ok()) << ms.ToString();
  for (const auto& e : first_errors) ADD_FAILURE() << e;
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_GT(writes_during_merge.load(), 100u) << "the writers did not run during the merge";
  EXPECT_LT(worst_ns_merge.load(), 2 * kSec) << "a writer was blocked for most of the merge";
  const Listing after = ListStore(dir.path());
  for (uint32_t id : before.data) EXPECT_EQ(after.data.count(id), 0u) << id;

  auto verify_all = [&](const char* when) {
    SCOPED_TRACE(when);
    uint64_t live = 0, bad = 0;
    std::string v;
    for (int i = 0; i < kKeys; i++) {
      const uint32_t n = done[i].load();
      ASSERT_EQ(n, begun[i].load());
      Status s = db->Get(Key("k", i), &v);
      std::string err = CheckRead(i, s, v, n, n);
      if (!err.empty() && bad++ < 10) ADD_FAILURE() << err;
      if (s.ok()) live++;
    }
    EXPECT_EQ(bad, 0u);
    DBStats st;
    ASSERT_TRUE(db->Stats(&st).ok());
    EXPECT_EQ(st.keys, live);
  };
  verify_all("after merge");
  ASSERT_TRUE(db->Close().ok());
  Status s = Open(dir.path(), o, &db);
  ASSERT_TRUE(s.ok()) << s.ToString();
  verify_all("after reopen");
  ASSERT_TRUE(db->Close().ok());
}

TEST(MergeTest, BackgroundMergeRunsWithoutBeingCalled) {
  TempDir dir;
  Options bg = BaseOptions(nullptr);
  bg.max_data_file_size = 64 << 10;
  bg.merge_interval = milliseconds(100);
  bg.merge_min_total = 256 << 10;
  bg.merge_trigger_ratio = 0.3;
  Options quiet = bg;
  quiet.merge_interval = milliseconds(0);
  Model model;
  auto overwrite = [&](DB* db, int keys, int versions, int salt) {
    for (int v = 0; v < versions; v++) {
      for (int i = 0; i < keys; i++) {
        const std::string val = RandomValue(Mix(i * 10 + v + salt), 200);
        ASSERT_TRUE(db->Put(Key("k", i), val).ok());
        model[Key("k", i)] = val;
      }
    }
  };
  std::unique_ptr<DB> db;
  // 1. Below merge_min_total: no background merge even though 75% is dead.
  ASSERT_TRUE(Open(dir.path(), bg, &db).ok());
  overwrite(db.get(), 200, 4, 0);
  ASSERT_FALSE(HasFailure());
  std::this_thread::sleep_for(milliseconds(500));
  DBStats st;
  ASSERT_TRUE(db->Stats(&st).ok());
  EXPECT_EQ(st.last_merge_unix_ns, 0) << st.last_merge_status;
  ASSERT_TRUE(db->Close().ok());

  // 2. Garbage made with no merge thread running.
  ASSERT_TRUE(Open(dir.path(), quiet, &db).ok());
  overwrite(db.get(), 2000, 4, 5);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(db->Close().ok());
  const Listing before = ListStore(dir.path());

  // 3. Opened with merge_interval 100 ms: a merge follows within seconds.
  ASSERT_TRUE(Open(dir.path(), bg, &db).ok());
  uint64_t dead0, total0;
  double ratio0;
  db->Reclaimable(&dead0, &total0, &ratio0);
  EXPECT_GT(ratio0, 0.6);
  EXPECT_GT(total0, bg.merge_min_total);
  uint64_t dead, total;
  double ratio;
  const auto t0 = Clock::now();
  const bool merged = PollUntil(
      [&] {
        DBStats s;  // the merge is over once its outcome is recorded
        if (!db->Stats(&s).ok() || s.last_merge_unix_ns == 0) return false;
        db->Reclaimable(&dead, &total, &ratio);
        return dead == 0;
      },
      milliseconds(10000));
  std::printf("[ bg merge ] dead bytes %llu -> %llu after %.2f s\n",
              static_cast<unsigned long long>(dead0), static_cast<unsigned long long>(dead),
              std::chrono::duration<double>(Clock::now() - t0).count());
  EXPECT_TRUE(merged) << "dead/total still " << ratio << " (" << dead << " of " << total << ")";
  ASSERT_TRUE(db->Stats(&st).ok());
  EXPECT_GT(st.last_merge_unix_ns, 0);
  EXPECT_TRUE(StartsWith(st.last_merge_status, "ok")) << st.last_merge_status;
  EXPECT_LT(total, total0 / 2);
  const Listing after = ListStore(dir.path());
  for (uint32_t id : before.data) EXPECT_EQ(after.data.count(id), 0u) << id;
  EXPECT_TRUE(SameAsModel(db.get(), model));

  // 4. New garbage while it runs is merged too.
  overwrite(db.get(), 2000, 3, 9);
  ASSERT_FALSE(HasFailure());
  EXPECT_TRUE(PollUntil(
      [&] {
        db->Reclaimable(&dead, &total, &ratio);
        return ratio < bg.merge_trigger_ratio;
      },
      milliseconds(10000)))
      << "ratio stays at " << ratio;
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Close().ok());
  ASSERT_TRUE(Open(dir.path(), quiet, &db).ok());
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Close().ok());
}

TEST(MergeTest, MergeOnOpenRunsWhenTriggersAreMet) {
  TempDir dir;
  Options o = BaseOptions(nullptr);
  o.max_data_file_size = 64 << 10;
  Model model;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  for (int v = 0; v < 3; v++) {
    for (int i = 0; i < 2000; i++) {
      const std::string val = RandomValue(Mix(i * 10 + v), 200);
      ASSERT_TRUE(db->Put(Key("k", i), val).ok());
      model[Key("k", i)] = val;
    }
  }
  ASSERT_TRUE(db->Close().ok());
  const Listing before = ListStore(dir.path());

  // Triggers not met (min_total too high): merge_on_open does nothing.
  Options o2 = o;
  o2.merge_on_open = true;
  o2.merge_trigger_ratio = 0.3;
  o2.merge_min_total = 1ull << 30;
  ASSERT_TRUE(Open(dir.path(), o2, &db).ok());
  std::this_thread::sleep_for(milliseconds(500));
  DBStats st;
  ASSERT_TRUE(db->Stats(&st).ok());
  EXPECT_EQ(st.last_merge_unix_ns, 0);
  EXPECT_EQ(ListStore(dir.path()).data.count(*before.data.begin()), 1u);
  ASSERT_TRUE(db->Close().ok());

  // Triggers met: it merges, with no Merge call.
  o2.merge_min_total = 64 << 10;
  ASSERT_TRUE(Open(dir.path(), o2, &db).ok());
  const bool merged = PollUntil(
      [&] {
        DBStats s;
        return db->Stats(&s).ok() && s.last_merge_unix_ns > 0;
      },
      milliseconds(10000));
  ASSERT_TRUE(merged) << "no merge at open";
  ASSERT_TRUE(db->Stats(&st).ok());
  EXPECT_TRUE(StartsWith(st.last_merge_status, "ok")) << st.last_merge_status;
  uint64_t dead, total;
  double ratio;
  db->Reclaimable(&dead, &total, &ratio);
  EXPECT_LT(ratio, 0.05);
  const Listing after = ListStore(dir.path());
  for (uint32_t id : before.data) EXPECT_EQ(after.data.count(id), 0u) << id;
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Close().ok());
}

// Builds ~n_files files of live data (and as much garbage) for the slow tests.
void FillForSlowMerge(DB* db, Model* model, int keys, size_t value_size) {
  for (int v = 0; v < 2; v++) {
    WriteBatch b;
    for (int i = 0; i < keys; i++) {
      const std::string val = RandomValue(Mix(i * 3 + v), value_size);
      b.Put(Key("k", i), val);
      (*model)[Key("k", i)] = val;
      if (b.Count() == 500) {
        ASSERT_TRUE(db->Write(WriteOptions(), b).ok());
        b.Clear();
      }
    }
    if (b.Count()) {
      ASSERT_TRUE(db->Write(WriteOptions(), b).ok());
    }
  }
}

// Close() during a merge of many input files: the merge stops, Close returns
// promptly, and everything is there after reopening.
TEST(MergeTest, CloseDuringALargeMergeCancelsItAndReturnsPromptly) {
  TempDir dir;
  SlowReadEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 256 << 10;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  Model model;
  FillForSlowMerge(db.get(), &model, 20000, 200);  // ~9 MiB in ~36 files
  ASSERT_FALSE(HasFailure());
  const Listing before = ListStore(dir.path());
  ASSERT_GT(before.data.size(), 20u);

  // Every record read by the merge now costs 100 us: the whole merge would
  // take more than 2 s (20000 live records); one input file about 0.06 s.
  env.read_delay_us = 100;
  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  Status merge_status;
  MergeResult r;
  std::atomic<bool> merge_done{false};
  std::thread merger([&] {
    MergeOptions mo;
    mo.force = true;
    mo.progress = [&](uint64_t, uint64_t) {
      std::lock_guard<std::mutex> l(mu);
      started = true;
      cv.notify_all();
    };
    merge_status = db->Merge(mo, &r);
    merge_done = true;
  });
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, seconds(30), [&] { return started; }));
  }
  const auto t0 = Clock::now();
  Status cs = db->Close();
  const double close_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const bool merge_stopped = merge_done.load();
  merger.join();
  env.read_delay_us = 0;
  std::printf("[ close ] Close() took %.3f s during the merge; merge: %s (%u outputs "
              "installed)\n",
              close_s, merge_status.ToString().c_str(), r.files_out);
  EXPECT_TRUE(cs.ok()) << cs.ToString();
  EXPECT_LT(close_s, 1.0);
  EXPECT_TRUE(merge_stopped) << "Close() returned while the merge still ran";
  EXPECT_FALSE(merge_status.ok()) << "the merge was not cancelled";
  std::string v;
  EXPECT_TRUE(db->Get(Key("k", 1), &v).IsClosed());

  Status s = Open(dir.path(), o, &db);
  ASSERT_TRUE(s.ok()) << s.ToString();
  // No unfinished merge output survives the reopen (a .hint.tmp may be in
  // the making by the background thread).
  for (const std::string& name : ListStore(dir.path()).tmp) {
    EXPECT_EQ(name.find(".data.tmp"), std::string::npos) << name;
  }
  EXPECT_TRUE(SameAsModel(db.get(), model));
  // And a full merge afterwards works and keeps everything.
  MergeOptions mo;
  mo.force = true;
  ASSERT_TRUE(db->Merge(mo, &r).ok());
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Close().ok());
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Close().ok());
}

// The same with one large input file (the default max_data_file_size keeps a
// store of tens of MiB in a single file): Close must not wait for the whole
// file to be copied.
TEST(MergeTest, CloseDuringAMergeOfOneLargeFileReturnsPromptly) {
  TempDir dir;
  SlowReadEnv env;
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  Model model;
  FillForSlowMerge(db.get(), &model, 30000, 200);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(ListStore(dir.path()).data.size(), 1u);

  env.read_delay_us = 100;  // 30000 live records: > 3 s for the whole merge
  std::atomic<bool> merge_done{false};
  Status merge_status;
  std::thread merger([&] {
    MergeOptions mo;
    mo.force = true;
    merge_status = db->Merge(mo, nullptr);
    merge_done = true;
  });
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_FALSE(merge_done.load());
  const auto t0 = Clock::now();
  Status cs = db->Close();
  const double close_s = std::chrono::duration<double>(Clock::now() - t0).count();
  merger.join();
  env.read_delay_us = 0;
  std::printf("[ close ] Close() took %.3f s during a merge of one large file; merge: %s\n",
              close_s, merge_status.ToString().c_str());
  EXPECT_TRUE(cs.ok()) << cs.ToString();
  EXPECT_LT(close_s, 1.0 * test::kSanitizerSlowdown)
      << "Close() waited for the merge of a whole input file";
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Close().ok());
}

TEST(MergeTest, SnapshotIteratorReadsItsValuesAfterMergeRemovedTheirFiles) {
  TempDir dir;
  FakeClockEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 16 << 10;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  Model model;
  for (int v = 0; v < 2; v++) {
    for (int i = 0; i < 1500; i++) {
      const std::string val = RandomValue(Mix(i * 10 + v), 50 + i % 400);
      ASSERT_TRUE(db->Put(Key("it", i), val).ok());
      model[Key("it", i)] = val;
    }
  }
  ASSERT_TRUE(db->Put("other", "not in the prefix").ok());
  std::unique_ptr<Iterator> it;
  ASSERT_TRUE(db->NewIterator("it", &it).ok());
  const Model snapshot = model;
  const Listing before = ListStore(dir.path());

  // Change half the keys after the snapshot, then merge the old files away.
  for (int i = 0; i < 1500; i += 2) {
    if (i % 4 == 0) {
      ASSERT_TRUE(db->Delete(Key("it", i)).ok());
      model.erase(Key("it", i));
    } else {
      const std::string val = RandomValue(Mix(i * 10 + 9), 77);
      ASSERT_TRUE(db->Put(Key("it", i), val).ok());
      model[Key("it", i)] = val;
    }
  }
  MergeOptions mo;
  mo.force = true;
  ASSERT_TRUE(db->Merge(mo, nullptr).ok());
  const Listing after = ListStore(dir.path());
  for (uint32_t id : before.data) ASSERT_EQ(after.data.count(id), 0u) << id;

  size_t n = 0;
  auto want = snapshot.begin();
  std::string v;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++want, ++n) {
    ASSERT_NE(want, snapshot.end());
    ASSERT_EQ(std::string(it->key()), want->first);
    Status s = it->value(&v);
    ASSERT_TRUE(s.ok()) << want->first << ": " << s.ToString();
    ASSERT_EQ(v, want->second) << want->first;
    EXPECT_EQ(it->meta().value_size, want->second.size());
  }
  EXPECT_EQ(n, snapshot.size());
  // Seek and read again after a second merge.
  ASSERT_TRUE(db->Merge(mo, nullptr).ok());
  it->Seek(Key("it", 700));
  ASSERT_TRUE(it->Valid());
  ASSERT_EQ(std::string(it->key()), Key("it", 700));
  ASSERT_TRUE(it->value(&v).ok());
  EXPECT_EQ(v, snapshot.at(Key("it", 700)));
  it.reset();

  // A new iterator sees the new state.
  std::unique_ptr<Iterator> it2;
  ASSERT_TRUE(db->NewIterator("it", &it2).ok());
  Model seen;
  for (; it2->Valid(); it2->Next()) {
    ASSERT_TRUE(it2->value(&v).ok());
    seen[std::string(it2->key())] = v;
  }
  model.erase("other");
  EXPECT_EQ(seen, model);
  it2.reset();
  ASSERT_TRUE(db->Close().ok());
}

// Metadata updates (SetMeta, Expire, Persist) while merges copy the keys'
// records: an update that lands between a record's copy and the install of
// its output must not be lost, in memory or after reopening.
TEST(MergeTest, MetadataUpdatesDuringMergesAreKept) {
  TempDir dir;
  SlowReadEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 64 << 10;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  constexpr int kN = 3000;
  for (int v = 0; v < 2; v++) {
    for (int i = 0; i < kN; i++) ASSERT_TRUE(db->Put(Key("m", i), RandomValue(i, 120)).ok());
  }
  struct Want {
    uint16_t mode = 0;
    int64_t ts = 0;
    int64_t expires = 0;
  };
  std::vector<Want> want(kN);
  for (int i = 0; i < kN; i++) {
    RecordMeta m;
    ASSERT_TRUE(db->Meta(Key("m", i), &m).ok());
    want[i] = Want{m.mode, m.timestamp_unix_ns, m.expires_unix_ns};
  }
  env.read_delay_us = 20;  // widen the copy-to-install window
  std::atomic<bool> stop{false};
  std::atomic<int> merges{0};
  Status merge_err;
  std::thread merger([&] {
    MergeOptions mo;
    mo.force = true;
    while (!stop) {
      Status s = db->Merge(mo, nullptr);
      if (!s.ok()) {
        merge_err = s;
        return;
      }
      merges++;
    }
  });
  std::mt19937 rng(11);
  const int64_t far = 4102444800LL * kSec;  // 2100-01-01
  uint64_t updates = 0;
  const auto deadline = Clock::now() + seconds(3);
  while (Clock::now() < deadline || merges.load() < 3) {
    const int i = static_cast<int>(rng() % kN);
    const std::string k = Key("m", i);
    Status s;
    switch (rng() % 3) {
      case 0: {
        const uint16_t mode = static_cast<uint16_t>(rng());
        const int64_t ts = 1 + static_cast<int64_t>(rng());
        s = db->SetMeta(k, mode, ts);
        want[i].mode = mode;
        want[i].ts = ts;
        break;
      }
      case 1: {
        const int64_t at = far + static_cast<int64_t>(rng());
        s = db->ExpireAt(k, at);
        want[i].expires = at;
        break;
      }
      default:
        s = db->Persist(k);
        want[i].expires = 0;
    }
    ASSERT_TRUE(s.ok()) << s.ToString();
    updates++;
    if (updates % 64 == 0) std::this_thread::sleep_for(milliseconds(1));
  }
  stop = true;
  merger.join();
  env.read_delay_us = 0;
  std::printf("[ meta ] %llu metadata updates during %d merges\n",
              static_cast<unsigned long long>(updates), merges.load());
  ASSERT_TRUE(merge_err.ok()) << merge_err.ToString();
  auto verify = [&](const char* when) {
    SCOPED_TRACE(when);
    int bad = 0;
    for (int i = 0; i < kN; i++) {
      RecordMeta m;
      std::string v;
      Status s = db->Meta(Key("m", i), &m);
      if (!s.ok() || m.mode != want[i].mode || m.timestamp_unix_ns != want[i].ts ||
          m.expires_unix_ns != want[i].expires || !db->Get(Key("m", i), &v).ok() ||
          v != RandomValue(i, 120)) {
        if (bad++ < 5) {
          ADD_FAILURE() << Key("m", i) << ": " << s.ToString() << " mode " << m.mode << " want "
                        << want[i].mode << ", ts " << m.timestamp_unix_ns << " want "
                        << want[i].ts << ", expires " << m.expires_unix_ns << " want "
                        << want[i].expires;
        }
      }
    }
    EXPECT_EQ(bad, 0);
  };
  verify("after the merges");
  ASSERT_TRUE(db->Close().ok());
  ReopenWithAndWithoutHints(dir.path(), o, &db, verify);
}

// Conditional writes (CompareAndSwap, DeleteIf, PutIfAbsent) read the current
// value; a merge that removes the file it is in meanwhile must not make them
// fail. Only this test's thread changes the keys, so every one must succeed.
TEST(MergeTest, ConditionalWritesDuringMergesNeverFailSpuriously) {
  TempDir dir;
  Options o = BaseOptions(nullptr);
  o.max_data_file_size = 16 << 10;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  constexpr int kN = 64;
  std::vector<std::string> cur(kN);
  for (int i = 0; i < kN; i++) {
    cur[i] = "v0-" + std::to_string(i) + std::string(300, 'x');
    ASSERT_TRUE(db->Put(Key("c", i), cur[i]).ok());
  }
  for (int i = 0; i < 3000; i++) ASSERT_TRUE(db->Put(Key("fill", i % 500), RandomValue(i, 200)).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> merges{0};
  Status merge_err;
  std::thread merger([&] {
    MergeOptions mo;
    mo.force = true;
    while (!stop) {
      Status s = db->Merge(mo, nullptr);
      if (!s.ok()) {
        merge_err = s;
        return;
      }
      merges++;
    }
  });
  std::thread filler([&] {
    int i = 0;
    while (!stop) {
      i++;
      db->Put(Key("fill", i % 500), RandomValue(i, 200));
      if (i % 16 == 0) std::this_thread::sleep_for(milliseconds(1));
    }
  });
  std::mt19937 rng(7);
  uint64_t ops = 0, bad = 0;
  const auto deadline = Clock::now() + seconds(3) * test::kSanitizerSlowdown;
  while (Clock::now() < deadline) {
    const int i = static_cast<int>(rng() % kN);
    const std::string k = Key("c", i);
    const std::string next = "v" + std::to_string(ops) + "-" + std::to_string(i) +
                             std::string(200 + rng() % 200, 'y');
    Status s;
    const int kind = static_cast<int>(ops % 3);
    if (kind == 0) {
      s = db->CompareAndSwap(k, cur[i], next);
      if (s.ok()) cur[i] = next;
    } else if (kind == 1) {
      s = db->DeleteIf(k, cur[i]);
      if (s.ok()) s = db->PutIfAbsent(k, next);
      if (s.ok()) cur[i] = next;
    } else {
      auto txn = db->BeginTransaction();
      std::string v;
      s = txn->Get(k, &v);
      if (s.ok() && v != cur[i]) s = Status::Corruption("transaction read a wrong value");
      if (s.ok()) {
        txn->Put(k, next);
        s = txn->Commit();
      }
      if (s.ok()) cur[i] = next;
    }
    if (!s.ok() && bad++ < 5) {
      ADD_FAILURE() << "op " << ops << " kind " << kind << " on " << k << ": " << s.ToString();
    }
    ops++;
  }
  stop = true;
  merger.join();
  filler.join();
  std::printf("[ cond ] %llu conditional ops during %llu merges, %llu failed\n",
              static_cast<unsigned long long>(ops), static_cast<unsigned long long>(merges.load()),
              static_cast<unsigned long long>(bad));
  EXPECT_TRUE(merge_err.ok()) << merge_err.ToString();
  EXPECT_EQ(bad, 0u);
  EXPECT_GT(merges.load(), 5u);
  for (int i = 0; i < kN; i++) {
    std::string v;
    ASSERT_TRUE(db->Get(Key("c", i), &v).ok());
    EXPECT_EQ(v, cur[i]);
  }
  ASSERT_TRUE(db->Close().ok());
}

// A store written with large data files and reopened with a small
// max_data_file_size: a merge has to split each input into many outputs.
TEST(MergeTest, MergeAfterShrinkingMaxDataFileSize) {
  TempDir dir;
  FakeClockEnv env;
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  Model model;
  for (int i = 0; i < 3000; i++) {
    const std::string v = RandomValue(i, 150);
    ASSERT_TRUE(db->Put(Key("k", i), v).ok());
    model[Key("k", i)] = v;
  }
  ASSERT_TRUE(db->Close().ok());
  ASSERT_EQ(ListStore(dir.path()).data.size(), 1u);  // ~550 KiB in one file

  o.max_data_file_size = 16 << 10;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  MergeOptions mo;
  mo.force = true;
  MergeResult r;
  Status s = db->Merge(mo, &r);
  EXPECT_TRUE(s.ok()) << s.ToString();
  DBStats st;
  ASSERT_TRUE(db->Stats(&st).ok());
  EXPECT_TRUE(StartsWith(st.last_merge_status, "ok")) << st.last_merge_status;
  EXPECT_GT(r.files_out, 20u);
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Close().ok());
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Close().ok());
}

// The same without changing any option: one atomic batch (a single append)
// makes a data file far larger than max_data_file_size, which the merge
// splits into many outputs.
TEST(MergeTest, MergeOfALargeBatchWithSmallDataFiles) {
  TempDir dir;
  FakeClockEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 4096;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  Model model;
  WriteBatch b;
  for (int i = 0; i < 200; i++) {
    const std::string v = RandomValue(i, 100);
    b.Put(Key("k", i), v);
    model[Key("k", i)] = v;
  }
  ASSERT_TRUE(db->Write(WriteOptions(), b).ok());  // ~27 KiB in one file
  MergeOptions mo;
  mo.force = true;
  MergeResult r;
  Status s = db->Merge(mo, &r);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(r.files_out, 6u);
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Reopen().ok());
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Close().ok());
}

// With the default merge_interval a merge thread waits on the same condition
// variable as the background thread that writes hint files; the wake-up a
// rotation sends must still get the closed file's hint written. Each round
// closes one file and waits for its hint.
TEST(MergeTest, MergeThreadDoesNotDelayHintFilesOfRotatedFiles) {
  TempDir dir;
  Options o;  // defaults: merge_interval 10 min, so a merge thread exists
  o.sync_on_put = false;
  o.max_data_file_size = 16 << 10;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  int next = 0;
  int late = 0;
  std::string first_late;
  for (int round = 0; round < 12; round++) {
    const uint32_t active = *ListStore(dir.path()).data.rbegin();
    while (*ListStore(dir.path()).data.rbegin() == active) {
      ASSERT_TRUE(db->Put(Key("k", next), RandomValue(next, 150)).ok());
      next++;
    }
    // `active` is closed now: its hint must follow shortly.
    const bool hinted = PollUntil([&] { return ListStore(dir.path()).hint.count(active) == 1; },
                                  milliseconds(1000));
    if (!hinted && late++ == 0) {
      first_late = "round " + std::to_string(round) + ": data file " + std::to_string(active) +
                   " closed, no hint after 1 s";
    }
  }
  EXPECT_EQ(late, 0) << late << " of 12 closed files got no hint within 1 s; first: "
                     << first_late;
  ASSERT_TRUE(db->Close().ok());
}

// The merge finds what to copy by walking the keydir (engine/merge.cc): it
// copies exactly the records the keydir points at, over several batches and
// walk chunks, whatever their kind: values with an owner block or an owner
// given later, values stored with block checksums, one larger than a copy
// piece, records of a batch, keys with a TTL. Deleted keys whose older values
// sit in earlier files stay deleted.
TEST(MergeTest, MergeCopiesExactlyTheRecordsTheKeydirPointsAt) {
  TempDir dir;
  FakeClockEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 256 << 10;
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  Model model;
  std::map<std::string, Owner> owners;
  std::mt19937 rng(77);
  constexpr int kKeys = 20000;  // several copy batches
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < kKeys; i++) {
      if (round > 0 && rng() % 5 < 2) continue;
      const std::string k = Key("k", i);
      const std::string v = RandomValue(Mix(i * 7 + round), 20 + rng() % 120);
      WriteOptions wo;
      if (i % 97 == 0) wo.owner = Owner{1000u + i, 2000u + round};
      ASSERT_TRUE(db->Put(wo, k, v).ok());
      model[k] = v;
      if (wo.owner) {
        owners[k] = *wo.owner;
      } else {
        owners.erase(k);
      }
    }
  }
  for (int i = 0; i < kKeys; i += 11) {  // tombstones in later files than the values
    ASSERT_TRUE(db->Delete(Key("k", i)).ok());
    model.erase(Key("k", i));
    owners.erase(Key("k", i));
  }
  for (int i = 5; i < kKeys; i += 301) {  // an owner given later, to keys with and without one
    const std::string k = Key("k", i);
    if (!model.count(k)) continue;
    ASSERT_TRUE(db->SetMeta(k, -1, -1, Owner{7u, 8u + i}).ok());
    owners[k] = Owner{7u, 8u + i};
  }
  const std::string blocks = RandomValue(1, 200 << 10);  // stored with block checksums
  const std::string huge = RandomValue(2, 1536 << 10);   // copied a piece at a time
  ASSERT_TRUE(db->Put("blocks", RandomValue(3, 150 << 10)).ok());
  ASSERT_TRUE(db->Put("blocks", blocks).ok());
  WriteOptions huge_wo;
  huge_wo.owner = Owner{5u, 6u};
  ASSERT_TRUE(db->Put(huge_wo, "huge", huge).ok());
  model["blocks"] = blocks;
  model["huge"] = huge;
  owners["huge"] = Owner{5u, 6u};
  WriteBatch b;
  for (int i = 0; i < 300; i++) {
    const std::string v = RandomValue(Mix(i + 555), 60);
    b.Put(Key("k", i * 3), v);
    model[Key("k", i * 3)] = v;
    owners.erase(Key("k", i * 3));
  }
  b.Delete(Key("k", 1));
  model.erase(Key("k", 1));
  owners.erase(Key("k", 1));
  ASSERT_TRUE(db->Write(WriteOptions(), b).ok());
  ASSERT_TRUE(db->PutWithTTL("ttl-short", "gone", seconds(5)).ok());
  ASSERT_TRUE(db->PutWithTTL("ttl-long", "kept", seconds(3600)).ok());
  model["ttl-long"] = "kept";
  env.Advance(10 * kSec);

  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    EXPECT_TRUE(SameAsModel(db.get(), model));
    for (const auto& kv : model) {
      RecordMeta m;
      ASSERT_TRUE(db->Meta(kv.first, &m).ok()) << kv.first;
      auto it = owners.find(kv.first);
      ASSERT_EQ(m.owner.has_value(), it != owners.end()) << kv.first;
      if (m.owner) {
        ASSERT_EQ(*m.owner, it->second) << kv.first;
      }
    }
    std::string v;
    EXPECT_TRUE(db->Get("ttl-short", &v).IsNotFound());
  };
  ASSERT_TRUE(db->RunGC(nullptr).ok());  // Stats().keys counts expired keys until then
  check("before the merge");
  MergeOptions mo;
  mo.force = true;
  MergeResult r;
  Status s = db->Merge(mo, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.records_copied, model.size());
  uint64_t dead, total;
  double ratio;
  db->Reclaimable(&dead, &total, &ratio);
  EXPECT_EQ(dead, 0u);
  check("after the merge");
  ASSERT_TRUE(db->Close().ok());
  ReopenWithAndWithoutHints(dir.path(), o, &db, check);
  ValidateReport vr;
  ASSERT_TRUE(DB::Validate(dir.path(), &vr).ok());
  EXPECT_TRUE(vr.ok());
}

// Flips one byte of the first data file that holds `marker`, in the middle of
// it. Returns false when no data file holds it.
bool DamageDataFile(const std::string& root, const std::string& marker) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root + "/data", ec)) {
    const std::string path = e.path().string();
    if (path.size() < 5 || path.compare(path.size() - 5, 5, ".data") != 0) continue;
    std::string bytes;
    {
      std::FILE* f = std::fopen(path.c_str(), "rb");
      if (!f) continue;
      char buf[65536];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.append(buf, n);
      std::fclose(f);
    }
    const size_t at = bytes.find(marker);
    if (at == std::string::npos) continue;
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    if (!f) return false;
    const long pos = static_cast<long>(at + marker.size() / 2);
    const char flipped = static_cast<char>(bytes[at + marker.size() / 2] ^ 0x20);
    const bool ok = std::fseek(f, pos, SEEK_SET) == 0 && std::fwrite(&flipped, 1, 1, f) == 1;
    return std::fclose(f) == 0 && ok;
  }
  return false;
}

// A merge reads only live records: damage in a dead one is dropped with it,
// damage in a live one fails the merge (naming the file, pointing to repair)
// and leaves the store as it was, every other value readable.
TEST(MergeTest, MergeFailsOnADamagedLiveRecordAndDropsADamagedDeadOne) {
  TempDir dir;
  SlowReadEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 16 << 10;
  o.compression_threshold = 0;  // the markers must be on disk as written
  std::unique_ptr<DB> db;
  ASSERT_TRUE(Open(dir.path(), o, &db).ok());
  Model model;
  const std::string dead_marker(200, 'D'), live_marker(200, 'L');
  ASSERT_TRUE(db->Put("victim", dead_marker).ok());
  ASSERT_TRUE(db->Put("victim", "overwritten").ok());
  model["victim"] = "overwritten";
  for (int i = 0; i < 300; i++) {
    const std::string v = RandomValue(i, 100);
    ASSERT_TRUE(db->Put(Key("k", i), v).ok());
    model[Key("k", i)] = v;
  }
  ASSERT_TRUE(DamageDataFile(dir.path(), dead_marker));
  MergeOptions mo;
  mo.force = true;
  MergeResult r;
  Status s = db->Merge(mo, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.records_copied, model.size());
  EXPECT_TRUE(SameAsModel(db.get(), model));

  ASSERT_TRUE(db->Put("zz-live", live_marker).ok());
  for (int i = 0; i < 300; i++) ASSERT_TRUE(db->Put(Key("f", i), RandomValue(i + 9, 100)).ok());
  for (int i = 0; i < 300; i++) model[Key("f", i)] = RandomValue(i + 9, 100);
  ASSERT_TRUE(DamageDataFile(dir.path(), live_marker));
  const Listing before = ListStore(dir.path());
  env.read_delay_us = 1000;  // "zz-live" is copied last: the merge fails after 0.6 s
  s = db->Merge(mo, &r);
  env.read_delay_us = 0;
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find("repair"), std::string::npos) << s.ToString();
  const Listing after = ListStore(dir.path());
  for (uint32_t id : before.data) EXPECT_EQ(after.data.count(id), 1u) << id;
  for (const std::string& name : after.tmp) {  // (a hint of a closed file may be in flight)
    EXPECT_EQ(name.find(".data."), std::string::npos) << name << " left by the failed merge";
  }
  std::string v;
  EXPECT_TRUE(db->Get("zz-live", &v).IsCorruption());
  std::vector<std::string> keys;
  ASSERT_TRUE(db->Keys(&keys).ok());
  EXPECT_EQ(keys.size(), model.size() + 1);  // "zz-live" is still there, only unreadable
  // The file the merge's cut closed gets its hint after all: the background
  // thread gave it up while the merge ran, the failed merge scheduled it again.
  const uint32_t cut = *before.data.rbegin();
  EXPECT_TRUE(PollUntil([&] { return ListStore(dir.path()).hint.count(cut) == 1; },
                        milliseconds(5000)))
      << "no hint for data file " << cut << " after the failed merge";
  for (const auto& kv : model) {
    ASSERT_TRUE(db->Get(kv.first, &v).ok()) << kv.first;
    ASSERT_EQ(v, kv.second) << kv.first;
  }
  // Rewritten, the key is whole again and the next merge succeeds.
  ASSERT_TRUE(db->Put("zz-live", "again").ok());
  model["zz-live"] = "again";
  s = db->Merge(mo, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Reopen().ok());
  EXPECT_TRUE(SameAsModel(db.get(), model));
  ASSERT_TRUE(db->Close().ok());
}

}  // namespace
}  // namespace bitgask
