// Tests of atomic and conditional writes of bitgask::DB: WriteBatch (DB::Write),
// PutIfAbsent, CompareAndSwap, DeleteIf and optimistic transactions
// (engine/db_impl.cc WriteIf, engine/transaction.cc, engine/data_file.cc's
// batch handling in RecordScanner).
//
// Crash atomicity is checked at the byte level: a batch is written to a closed
// store's newest data file, then a copy of the store is cut at every offset
// inside the batch's records (or has a byte of it flipped) and reopened; the
// batch must be visible whole or not at all.
//
// Every test runs in its own mkdtemp directory with a fake clock.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
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
#include "bitgask/write_batch.h"
#include "test_util.h"

namespace bitgask {
namespace {

namespace fs = std::filesystem;
using test::FakeClockEnv;
using test::TempDir;
using test::CopyTree;
using test::FileIds;
using test::FileSize;
using test::FlipByte;
using test::NumberedName;
using test::ReadWholeFile;
using test::RawRecord;
using test::WalkRecords;
using std::chrono::nanoseconds;

constexpr int64_t kStartNs = 1700000000LL * 1000000000LL;
constexpr int64_t kSec = 1000000000LL;
constexpr uint64_t kHeader = 32;

std::string Compressible(size_t n) {
  std::string s;
  const std::string phrase = "a batch value that compresses well; ";
  while (s.size() < n) s += phrase;
  s.resize(n);
  return s;
}

class BatchTest : public ::testing::Test {
 protected:
  BatchTest() : root_(tmp_.path() + "/db"), data_dir_(root_ + "/data") {
    options_.env = &clock_;
    options_.merge_interval = std::chrono::milliseconds(0);
  }
  ~BatchTest() override {
    if (db_) db_->Close();
  }
  Status TryOpen(const std::string& root) {
    db_.reset();
    return DB::Open(root, options_, &db_);
  }
  void Open() {
    Status s = TryOpen(root_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Close() {
    if (db_) {
      Status s = db_->Close();
      EXPECT_TRUE(s.ok()) << s.ToString();
      db_.reset();
    }
  }
  std::string Get(std::string_view key) {
    std::string v;
    Status s = db_->Get(key, &v);
    if (s.IsNotFound()) return "NOT_FOUND";
    if (!s.ok()) return "ERROR: " + s.ToString();
    return v;
  }
  DBStats Stats() {
    DBStats st;
    EXPECT_TRUE(db_->Stats(&st).ok());
    return st;
  }
  uint64_t DataBytes() {
    uint64_t n = 0;
    for (uint32_t id : FileIds(data_dir_, ".data")) {
      n += FileSize(data_dir_ + "/" + NumberedName(id, ".data"));
    }
    return n;
  }
  bool WaitForHints() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      std::vector<uint32_t> data = FileIds(data_dir_, ".data");
      std::vector<uint32_t> hints = FileIds(data_dir_, ".hint");
      bool all = true;
      for (size_t i = 0; i + 1 < data.size(); i++) {
        if (!std::binary_search(hints.begin(), hints.end(), data[i])) all = false;
      }
      if (all) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  TempDir tmp_{"bitgask_batch_test"};
  const std::string root_;
  const std::string data_dir_;
  FakeClockEnv clock_;
  Options options_;
  std::unique_ptr<DB> db_;
};

// ------------------------------------------------------------ WriteBatch

// The batch used by several tests, applied to a store holding a=1 b=2 c=3.
WriteBatch MixedBatch(int64_t now) {
  WriteBatch b;
  b.Put("x", "new-x");
  b.Delete("a");
  b.PutWithTTL("t", "ttl-value", nanoseconds(10 * kSec));
  b.PutWithMeta("m", "meta-value", now + 100 * kSec, 0100640, 987654321);
  b.Put("b", "overwritten");
  b.Delete("absent-key");        // harmless
  b.Put("dup", "first");
  b.Put("dup", "second");        // last wins
  b.Put("pd", "put-then-delete");
  b.Delete("pd");
  b.Delete("dp");
  b.Put("dp", "delete-then-put");
  b.Put("big", Compressible(20000));
  return b;
}

void ExpectMixedBatchApplied(const std::function<std::string(std::string_view)>& get, DB* db,
                             bool ttl_expired) {
  EXPECT_EQ("new-x", get("x"));
  EXPECT_EQ("NOT_FOUND", get("a"));
  EXPECT_EQ("overwritten", get("b"));
  EXPECT_EQ("3", get("c"));
  EXPECT_EQ(ttl_expired ? "NOT_FOUND" : "ttl-value", get("t"));
  EXPECT_EQ("meta-value", get("m"));
  EXPECT_EQ("NOT_FOUND", get("absent-key"));
  EXPECT_EQ("second", get("dup"));
  EXPECT_EQ("NOT_FOUND", get("pd"));
  EXPECT_EQ("delete-then-put", get("dp"));
  EXPECT_EQ(Compressible(20000), get("big"));
  RecordMeta m;
  ASSERT_TRUE(db->Meta("m", &m).ok());
  EXPECT_EQ(kStartNs + 100 * kSec, m.expires_unix_ns);
  EXPECT_EQ(0100640, m.mode);
  EXPECT_EQ(987654321, m.timestamp_unix_ns);
  EXPECT_EQ(10u, m.value_size);
  if (!ttl_expired) {
    ASSERT_TRUE(db->Meta("t", &m).ok());
    EXPECT_EQ(kStartNs + 10 * kSec, m.expires_unix_ns);
    EXPECT_EQ(kStartNs, m.timestamp_unix_ns);
  }
  ASSERT_TRUE(db->Meta("big", &m).ok());
  EXPECT_EQ(20000u, m.value_size);
  std::vector<std::string> keys;
  ASSERT_TRUE(db->Keys(&keys).ok());
  keys.erase(std::remove(keys.begin(), keys.end(), "after"), keys.end());  // filler, see below
  std::vector<std::string> want = {"b", "big", "c", "dp", "dup", "m"};
  if (!ttl_expired) want.push_back("t");
  want.push_back("x");
  EXPECT_EQ(want, keys);
}

TEST_F(BatchTest, MixedBatchAppliesEveryOperation) {
  Open();
  ASSERT_TRUE(db_->Put("a", "1").ok());
  ASSERT_TRUE(db_->Put("b", "2").ok());
  ASSERT_TRUE(db_->Put("c", "3").ok());
  Status s = db_->Write(WriteOptions(), MixedBatch(clock_.Now()));
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto get = [this](std::string_view k) { return Get(k); };
  ExpectMixedBatchApplied(get, db_.get(), false);

  // Reopen: the newest file is scanned.
  Close();
  Open();
  ExpectMixedBatchApplied(get, db_.get(), false);

  // Make the batch's file a closed one with a hint, then reopen from the hint.
  options_.max_data_file_size = 4096;
  Close();
  Open();  // the newest file is over the limit now: a new one is started
  std::string incompressible(5000, '\0');
  std::mt19937 rng(5);
  for (auto& ch : incompressible) ch = static_cast<char>(rng());
  ASSERT_TRUE(db_->Put("after", incompressible).ok());
  ASSERT_TRUE(WaitForHints());
  Close();
  std::vector<uint32_t> data = FileIds(data_dir_, ".data");
  std::vector<uint32_t> hints = FileIds(data_dir_, ".hint");
  ASSERT_GE(data.size(), 2u);
  ASSERT_TRUE(std::binary_search(hints.begin(), hints.end(), data.front()))
      << "no hint for the batch's file";
  // Damage the value of "c" (written before the batch, same file): a scan of
  // that file would now fail, so opening OK proves the hint was used.
  std::vector<RawRecord> recs = WalkRecords(data_dir_ + "/" + NumberedName(data.front(), ".data"));
  ASSERT_GE(recs.size(), 3u);
  ASSERT_EQ("c", recs[2].key);
  FlipByte(data_dir_ + "/" + NumberedName(data.front(), ".data"), recs[2].offset + recs[2].size - 1);
  Open();
  auto get_no_c = [this](std::string_view k) { return k == "c" ? std::string("3") : Get(k); };
  ExpectMixedBatchApplied(get_no_c, db_.get(), false);
  std::string cv;
  s = db_->Get("c", &cv);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();

  // Expiry of the batch's TTL put.
  clock_.Advance(10 * kSec);
  ExpectMixedBatchApplied(get_no_c, db_.get(), true);
}

TEST_F(BatchTest, EmptyBatchAndAbsentDeletesWriteNothingHarmful) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  const DBStats before = Stats();
  const uint64_t bytes = DataBytes();
  WriteBatch empty;
  EXPECT_EQ(0u, empty.Count());
  EXPECT_TRUE(db_->Write(WriteOptions(), empty).ok());
  EXPECT_EQ(bytes, DataBytes()) << "an empty batch must write nothing";
  EXPECT_EQ(before.syncs, Stats().syncs);
  WriteBatch dels;
  dels.Delete("nope1");
  dels.Delete("nope2");
  EXPECT_TRUE(db_->Write(WriteOptions(), dels).ok());
  EXPECT_EQ("v", Get("k"));
  EXPECT_EQ("NOT_FOUND", Get("nope1"));
  std::vector<std::string> keys;
  ASSERT_TRUE(db_->Keys(&keys).ok());
  EXPECT_EQ(std::vector<std::string>{"k"}, keys);
  Close();
  Open();
  EXPECT_EQ("v", Get("k"));
  EXPECT_EQ("NOT_FOUND", Get("nope2"));
  // Batch API bookkeeping.
  WriteBatch b;
  b.Put("k1", "abc");
  b.Delete("k2");
  EXPECT_EQ(2u, b.Count());
  EXPECT_EQ(2u + 3u + 2u, b.ApproximateSize());
  b.Clear();
  EXPECT_EQ(0u, b.Count());
}

TEST_F(BatchTest, InvalidOpFailsTheWholeBatch) {
  options_.max_key_size = 16;
  Open();
  ASSERT_TRUE(db_->Put("keep", "1").ok());
  const uint64_t bytes = DataBytes();
  WriteBatch b;
  b.Put("ok1", "v");
  b.Delete("keep");
  b.Put(std::string(17, 'k'), "too long a key");
  b.Put("ok2", "v");
  Status s = db_->Write(WriteOptions(), b);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(bytes, DataBytes());
  EXPECT_EQ("NOT_FOUND", Get("ok1"));
  EXPECT_EQ("1", Get("keep"));
  WriteBatch e;
  e.Put("", "empty key");
  e.Put("ok3", "v");
  EXPECT_FALSE(db_->Write(WriteOptions(), e).ok());
  EXPECT_EQ("NOT_FOUND", Get("ok3"));
}

TEST_F(BatchTest, OneFsyncPerBatch) {
  options_.sync_on_put = true;
  Open();
  for (int ops : {1, 2, 100}) {
    WriteBatch b;
    for (int i = 0; i < ops; i++) {
      b.Put("k" + std::to_string(i), std::string(100, 'v'));
      if (i % 3 == 0) b.Delete("k" + std::to_string(i / 2));
    }
    const DBStats before = Stats();
    ASSERT_TRUE(db_->Write(WriteOptions(), b).ok());
    const DBStats after = Stats();
    EXPECT_EQ(before.syncs + 1, after.syncs) << ops << " ops";
    EXPECT_EQ(before.write_groups + 1, after.write_groups) << ops << " ops";
  }
  // Per-write override: no sync at all.
  WriteOptions nosync;
  nosync.sync = WriteOptions::Sync::kNever;
  WriteBatch b;
  b.Put("n1", "v");
  b.Put("n2", "v");
  DBStats before = Stats();
  ASSERT_TRUE(db_->Write(nosync, b).ok());
  EXPECT_EQ(before.syncs, Stats().syncs);
  Close();
  // Store without sync_on_put: kAlways still syncs exactly once.
  options_.sync_on_put = false;
  options_.sync_on_delete = false;
  Open();
  WriteOptions always;
  always.sync = WriteOptions::Sync::kAlways;
  before = Stats();
  ASSERT_TRUE(db_->Write(always, b).ok());
  EXPECT_EQ(before.syncs + 1, Stats().syncs);
  before = Stats();
  ASSERT_TRUE(db_->Write(WriteOptions(), b).ok());
  EXPECT_EQ(before.syncs, Stats().syncs);
}

// ----------------------------------------------------- crash atomicity

class BatchCrashTest : public BatchTest {
 protected:
  // Builds the store: base keys, then (in the same, newest file) the batch.
  // Returns the batch's start and end offsets in data file 1.
  void Build(uint64_t* batch_start, uint64_t* batch_end) {
    options_.sync_on_put = false;
    Open();
    for (int i = 1; i <= 5; i++) {
      ASSERT_TRUE(db_->Put("base" + std::to_string(i), "base-value-" + std::to_string(i)).ok());
    }
    Close();
    ASSERT_EQ(std::vector<uint32_t>{1}, FileIds(data_dir_, ".data"));
    *batch_start = FileSize(DataFile());
    Open();
    WriteBatch b;
    b.Put("new1", "batch-value-1");
    b.Put("base1", "batch-overwrite");
    b.Delete("base2");
    b.PutWithTTL("new2", "batch-ttl", nanoseconds(1000 * kSec));
    b.Put("new3", Compressible(3000));  // compressed on disk
    b.Put("new4", "batch-value-4");
    ASSERT_TRUE(db_->Write(WriteOptions(), b).ok());
    Close();
    ASSERT_EQ(std::vector<uint32_t>{1}, FileIds(data_dir_, ".data"));
    *batch_end = FileSize(DataFile());
    ASSERT_GT(*batch_end, *batch_start);
  }
  std::string DataFile() const { return data_dir_ + "/" + NumberedName(1, ".data"); }

  // "before", "after", or a description of a partial state.
  std::string StateOf(DB* db) {
    struct Want {
      std::string key, before, after;
    };
    const std::vector<Want> wants = {
        {"base1", "base-value-1", "batch-overwrite"}, {"base2", "base-value-2", "NOT_FOUND"},
        {"base3", "base-value-3", "base-value-3"},    {"base4", "base-value-4", "base-value-4"},
        {"base5", "base-value-5", "base-value-5"},    {"new1", "NOT_FOUND", "batch-value-1"},
        {"new2", "NOT_FOUND", "batch-ttl"},           {"new3", "NOT_FOUND", Compressible(3000)},
        {"new4", "NOT_FOUND", "batch-value-4"},
    };
    bool all_before = true, all_after = true;
    std::string desc;
    for (const Want& w : wants) {
      std::string v;
      Status s = db->Get(w.key, &v);
      std::string got = s.ok() ? v : s.IsNotFound() ? "NOT_FOUND" : "ERROR " + s.ToString();
      all_before = all_before && got == w.before;
      all_after = all_after && got == w.after;
      desc += " " + w.key + "=" + (got.size() > 20 ? got.substr(0, 20) + "..." : got);
    }
    std::vector<std::string> keys;
    Status s = db->Keys(&keys);
    keys.erase(std::remove(keys.begin(), keys.end(), "later"), keys.end());  // written after
    const size_t want_keys_before = 5, want_keys_after = 8;
    if (!s.ok() || (all_before && keys.size() != want_keys_before) ||
        (all_after && keys.size() != want_keys_after)) {
      return "bad key list:" + desc;
    }
    if (all_before) return "before";
    if (all_after) return "after";
    return "PARTIAL:" + desc;
  }
};

TEST_F(BatchCrashTest, TruncationAtEveryByteOfTheBatchIsAllOrNothing) {
  uint64_t start = 0, end = 0;
  Build(&start, &end);
  const std::string pristine = tmp_.path() + "/pristine";
  CopyTree(root_, pristine);
  const std::string trial = tmp_.path() + "/trial";
  const std::string trial_file = trial + "/data/" + NumberedName(1, ".data");
  // The batch: its records, then a commit record.
  std::vector<RawRecord> recs = WalkRecords(DataFile(), start);
  ASSERT_EQ(7u, recs.size()) << "6 ops + a commit record";
  ASSERT_EQ(end, recs.back().offset + recs.back().size);
  int failures = 0;
  for (uint64_t cut = start; cut <= end && failures < 5; cut++) {
    CopyTree(pristine, trial);
    ASSERT_EQ(0, ::truncate(trial_file.c_str(), static_cast<off_t>(cut)));
    std::unique_ptr<DB> db;
    Status s = DB::Open(trial, options_, &db);
    if (!s.ok()) {
      ADD_FAILURE() << "cut at " << cut << ": open failed: " << s.ToString();
      failures++;
      continue;
    }
    EXPECT_EQ(cut == end ? end : start, FileSize(trial_file))
        << "cut at " << cut << ": recovery must cut a partial batch off at its start";
    const std::string state = StateOf(db.get());
    const std::string want = cut == end ? "after" : "before";
    if (state != want) {
      ADD_FAILURE() << "cut at " << cut << " (batch " << start << ".." << end << "): " << state;
      failures++;
    }
    // The store works on after recovery, and the torn tail is gone.
    if (cut % 16 == 0 || cut + 1 >= end) {
      ASSERT_TRUE(db->Put("later", "x").ok());
      ASSERT_TRUE(db->Close().ok());
      db.reset();
      ASSERT_TRUE(DB::Open(trial, options_, &db).ok());
      std::string v;
      EXPECT_TRUE(db->Get("later", &v).ok()) << "cut " << cut;
      EXPECT_EQ(want, StateOf(db.get())) << "cut " << cut << " after a second open";
    }
    db->Close();
  }
  EXPECT_EQ(0, failures);
}

TEST_F(BatchCrashTest, TornTailIsTruncatedToTheBatchStart) {
  uint64_t start = 0, end = 0;
  Build(&start, &end);
  std::vector<RawRecord> recs = WalkRecords(DataFile(), start);
  ASSERT_EQ(7u, recs.size());
  // Cut inside the commit record, and exactly before it.
  for (uint64_t cut : {recs[6].offset, recs[6].offset + 5, recs[3].offset + recs[3].size}) {
    const std::string trial = tmp_.path() + "/trial";
    CopyTree(root_, trial);
    const std::string f = trial + "/data/" + NumberedName(1, ".data");
    ASSERT_EQ(0, ::truncate(f.c_str(), static_cast<off_t>(cut)));
    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(trial, options_, &db).ok());
    EXPECT_EQ("before", StateOf(db.get())) << cut;
    EXPECT_EQ(start, FileSize(f)) << "the partial batch must be cut off at its start (cut " << cut
                                  << ")";
    db->Close();
  }
}

TEST_F(BatchCrashTest, FlippedByteInsideTheBatchDropsAllOfIt) {
  uint64_t start = 0, end = 0;
  Build(&start, &end);
  std::vector<RawRecord> recs = WalkRecords(DataFile(), start);
  ASSERT_EQ(7u, recs.size());
  // One byte in the middle of each record in turn (header, key and value),
  // incl. the commit record.
  const std::string trial = tmp_.path() + "/trial";
  const std::string f = trial + "/data/" + NumberedName(1, ".data");
  for (size_t r = 0; r < recs.size(); r++) {
    for (uint64_t at : {recs[r].offset + 1, recs[r].offset + kHeader,
                        recs[r].offset + recs[r].size / 2, recs[r].offset + recs[r].size - 1}) {
      CopyTree(root_, trial);
      FlipByte(f, at);
      // Close left the file a hint, which open would trust (as it trusts an
      // older file's); without it the file is scanned, as after a crash.
      ASSERT_EQ(0, ::unlink((trial + "/data/" + NumberedName(1, ".hint")).c_str()));
      std::unique_ptr<DB> db;
      Status s = DB::Open(trial, options_, &db);
      ASSERT_TRUE(s.ok()) << "record " << r << " byte " << at << ": " << s.ToString();
      EXPECT_EQ("before", StateOf(db.get())) << "record " << r << " byte " << at;
      db->Close();
    }
  }
}

// A batch cut off at a record boundary before its commit record is the
// ordinary torn tail a crash leaves: recovery drops it (checked above) and
// must not mistake the batch's own complete records for good records found
// after mid-file damage (no ".damaged-" side file, no "run repair" error);
// Validate must report it as one torn tail, not as damage in mid-file.
TEST_F(BatchCrashTest, TornBatchIsOneTornTailNotMidFileDamage) {
  uint64_t start = 0, end = 0;
  Build(&start, &end);
  std::vector<RawRecord> recs = WalkRecords(DataFile(), start);
  ASSERT_EQ(7u, recs.size());
  const std::string trial = tmp_.path() + "/trial";
  const std::string f = trial + "/data/" + NumberedName(1, ".data");
  for (size_t whole : {2u, 6u}) {  // records of the batch left whole
    SCOPED_TRACE(std::to_string(whole) + " whole records before the cut");
    CopyTree(root_, trial);
    ASSERT_EQ(0, ::truncate(f.c_str(), static_cast<off_t>(recs[whole].offset)));
    ValidateReport vr;
    ASSERT_TRUE(DB::Validate(trial, &vr).ok());
    EXPECT_FALSE(vr.ok());
    EXPECT_EQ(1u, vr.corrupt.size()) << "one torn batch, reported as " << vr.corrupt.size()
                                     << " damaged regions";
    for (const auto& p : vr.corrupt) {
      EXPECT_NE(std::string::npos, p.what.find("torn tail"))
          << "reported as mid-file damage at " << p.offset << ": " << p.what;
    }
    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(trial, options_, &db).ok());
    EXPECT_EQ("before", StateOf(db.get()));
    db->Close();
    for (const auto& de : fs::directory_iterator(trial + "/data")) {
      EXPECT_EQ(std::string::npos, de.path().filename().string().find(".damaged-"))
          << "a torn batch was set aside as damage: " << de.path().filename();
    }
  }
}

// -------------------------------------------------- conditional writes

TEST_F(BatchTest, PutIfAbsent) {
  Open();
  EXPECT_TRUE(db_->PutIfAbsent("k", "first").ok());
  EXPECT_EQ("first", Get("k"));
  const uint64_t bytes = DataBytes();
  Status s = db_->PutIfAbsent("k", "second");
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ("first", Get("k"));
  EXPECT_EQ(bytes, DataBytes()) << "a conflict must write nothing";
  ASSERT_TRUE(db_->Delete("k").ok());
  EXPECT_TRUE(db_->PutIfAbsent("k", "third").ok());
  EXPECT_EQ("third", Get("k"));
  // An expired key counts as absent.
  ASSERT_TRUE(db_->PutWithTTL("e", "old", nanoseconds(kSec)).ok());
  EXPECT_TRUE(db_->PutIfAbsent("e", "x").IsConflict());
  clock_.Advance(kSec);
  EXPECT_TRUE(db_->PutIfAbsent("e", "new").ok());
  EXPECT_EQ("new", Get("e"));
  RecordMeta m;
  ASSERT_TRUE(db_->Meta("e", &m).ok());
  EXPECT_EQ(0, m.expires_unix_ns);
  // Empty value; invalid key.
  EXPECT_TRUE(db_->PutIfAbsent("empty", "").ok());
  EXPECT_EQ("", Get("empty"));
  EXPECT_TRUE(db_->PutIfAbsent("empty", "").IsConflict());
  EXPECT_FALSE(db_->PutIfAbsent("", "v").ok());
  Close();
  Open();
  EXPECT_EQ("third", Get("k"));
  EXPECT_EQ("new", Get("e"));
}

TEST_F(BatchTest, CompareAndSwap) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v1").ok());
  EXPECT_TRUE(db_->CompareAndSwap("k", "v1", "v2").ok());
  EXPECT_EQ("v2", Get("k"));
  const uint64_t bytes = DataBytes();
  Status s = db_->CompareAndSwap("k", "v1", "v3");
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ("v2", Get("k"));
  // Differing only in length, or by a prefix.
  EXPECT_TRUE(db_->CompareAndSwap("k", "v", "x").IsConflict());
  EXPECT_TRUE(db_->CompareAndSwap("k", "v22", "x").IsConflict());
  EXPECT_TRUE(db_->CompareAndSwap("k", "", "x").IsConflict());
  EXPECT_EQ("v2", Get("k"));
  // Absent key: Conflict, and it stays absent.
  s = db_->CompareAndSwap("nope", "", "x");
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_TRUE(db_->CompareAndSwap("nope", "v2", "x").IsConflict());
  EXPECT_EQ("NOT_FOUND", Get("nope"));
  EXPECT_EQ(bytes, DataBytes()) << "conflicts must write nothing";
  // Empty values compare equal; binary and compressed values compare whole.
  ASSERT_TRUE(db_->Put("e", "").ok());
  EXPECT_TRUE(db_->CompareAndSwap("e", "", "filled").ok());
  EXPECT_EQ("filled", Get("e"));
  std::string big = Compressible(10000);
  ASSERT_TRUE(db_->Put("big", big).ok());
  std::string almost = big;
  almost[9999] ^= 1;
  EXPECT_TRUE(db_->CompareAndSwap("big", almost, "x").IsConflict());
  EXPECT_TRUE(db_->CompareAndSwap("big", big, std::string("bin\0ary", 7)).ok());
  EXPECT_EQ(std::string("bin\0ary", 7), Get("big"));
  EXPECT_TRUE(db_->CompareAndSwap("big", "bin", "x").IsConflict());
  // Expired: Conflict.
  ASSERT_TRUE(db_->PutWithTTL("t", "tv", nanoseconds(kSec)).ok());
  clock_.Advance(kSec);
  EXPECT_TRUE(db_->CompareAndSwap("t", "tv", "x").IsConflict());
  EXPECT_EQ("NOT_FOUND", Get("t"));
  Close();
  Open();
  EXPECT_EQ("v2", Get("k"));
  EXPECT_EQ(std::string("bin\0ary", 7), Get("big"));
}

TEST_F(BatchTest, DeleteIf) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v1").ok());
  const uint64_t bytes = DataBytes();
  EXPECT_TRUE(db_->DeleteIf("k", "other").IsConflict());
  EXPECT_TRUE(db_->DeleteIf("k", "").IsConflict());
  EXPECT_EQ("v1", Get("k"));
  EXPECT_TRUE(db_->DeleteIf("absent", "v1").IsConflict());
  EXPECT_EQ(bytes, DataBytes());
  EXPECT_TRUE(db_->DeleteIf("k", "v1").ok());
  EXPECT_EQ("NOT_FOUND", Get("k"));
  EXPECT_TRUE(db_->DeleteIf("k", "v1").IsConflict());
  Close();
  Open();
  EXPECT_EQ("NOT_FOUND", Get("k"));
}

TEST_F(BatchTest, ConcurrentCompareAndSwapIncrementsAreNeverLost) {
  options_.sync_on_put = false;
  Open();
  ASSERT_TRUE(db_->Put("counter", "0").ok());
  const int threads = 4, per_thread = 300;
  std::atomic<int> conflicts{0}, errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&] {
      for (int i = 0; i < per_thread;) {
        std::string cur;
        Status s = db_->Get("counter", &cur);
        if (!s.ok()) {
          errors++;
          return;
        }
        s = db_->CompareAndSwap("counter", cur, std::to_string(std::stoll(cur) + 1));
        if (s.ok()) {
          i++;
        } else if (s.IsConflict()) {
          conflicts++;
        } else {
          ADD_FAILURE() << s.ToString();
          errors++;
          return;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(0, errors.load());
  EXPECT_EQ(std::to_string(threads * per_thread), Get("counter"));
  Close();
  Open();
  EXPECT_EQ(std::to_string(threads * per_thread), Get("counter"));
}

TEST_F(BatchTest, ConcurrentPutIfAbsentHasExactlyOneWinnerPerKey) {
  options_.sync_on_put = false;
  Open();
  const int threads = 4, keys = 300;
  std::vector<std::vector<int>> won(threads);
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, t] {
      for (int k = 0; k < keys; k++) {
        Status s = db_->PutIfAbsent("pia" + std::to_string(k), "winner" + std::to_string(t));
        if (s.ok()) {
          won[t].push_back(k);
        } else if (!s.IsConflict()) {
          errors++;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(0, errors.load());
  std::map<int, int> winner;
  for (int t = 0; t < threads; t++) {
    for (int k : won[t]) {
      EXPECT_TRUE(winner.emplace(k, t).second) << "key " << k << " had two winners";
    }
  }
  EXPECT_EQ(static_cast<size_t>(keys), winner.size());
  for (const auto& [k, t] : winner) {
    EXPECT_EQ("winner" + std::to_string(t), Get("pia" + std::to_string(k)));
  }
}

// CAS and PutIfAbsent while merges move the records they compare against.
TEST_F(BatchTest, ConditionalWritesDuringMerges) {
  options_.sync_on_put = false;
  options_.max_data_file_size = 8192;
  Open();
  const int counters = 4;
  for (int c = 0; c < counters; c++) {
    ASSERT_TRUE(db_->Put("ctr" + std::to_string(c), "0").ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<int> merges{0};
  std::thread merger([&] {
    while (!stop) {
      MergeOptions mo;
      mo.force = true;
      MergeResult mr;
      Status s = db_->Merge(mo, &mr);
      EXPECT_TRUE(s.ok()) << s.ToString();
      merges++;
    }
  });
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  const int per_thread = 1500;
  for (int t = 0; t < 2; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread;) {
        const std::string key = "ctr" + std::to_string((i + t) % counters);
        std::string cur;
        Status s = db_->Get(key, &cur);
        if (s.ok()) {
          s = db_->CompareAndSwap(key, cur, std::to_string(std::stoll(cur) + 1));
        }
        if (s.ok()) {
          i++;
        } else if (!s.IsConflict()) {
          if (errors++ < 5) ADD_FAILURE() << key << ": " << s.ToString();
          i++;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  stop = true;
  merger.join();
  EXPECT_GT(merges.load(), 0);
  EXPECT_EQ(0, errors.load()) << "a conditional write failed with something else than Conflict";
  long long total = 0;
  for (int c = 0; c < counters; c++) total += std::stoll(Get("ctr" + std::to_string(c)));
  EXPECT_EQ(2 * per_thread - errors.load(), total);
}

// ------------------------------------------------------- transactions

TEST_F(BatchTest, TransactionReadYourWrites) {
  Open();
  ASSERT_TRUE(db_->Put("a", "A0").ok());
  ASSERT_TRUE(db_->Put("b", "B0").ok());
  std::unique_ptr<Transaction> txn = db_->BeginTransaction();
  std::string v;
  ASSERT_TRUE(txn->Get("a", &v).ok());
  EXPECT_EQ("A0", v);
  txn->Put("a", "A1");
  ASSERT_TRUE(txn->Get("a", &v).ok());
  EXPECT_EQ("A1", v);
  txn->Put("c", "C1");
  ASSERT_TRUE(txn->Get("c", &v).ok());
  EXPECT_EQ("C1", v);
  txn->Delete("b");
  v = "unchanged";
  EXPECT_TRUE(txn->Get("b", &v).IsNotFound());
  EXPECT_EQ("unchanged", v);
  txn->Put("b", "B2");
  ASSERT_TRUE(txn->Get("b", &v).ok());
  EXPECT_EQ("B2", v);
  txn->Delete("b");
  EXPECT_TRUE(txn->Get("b", &v).IsNotFound());
  EXPECT_TRUE(txn->Get("never", &v).IsNotFound());
  txn->PutWithTTL("t", "T1", nanoseconds(5 * kSec));
  // Nothing reaches the store before Commit.
  EXPECT_EQ("A0", Get("a"));
  EXPECT_EQ("B0", Get("b"));
  EXPECT_EQ("NOT_FOUND", Get("c"));
  EXPECT_EQ("NOT_FOUND", Get("t"));
  Status s = txn->Commit();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ("A1", Get("a"));
  EXPECT_EQ("NOT_FOUND", Get("b"));
  EXPECT_EQ("C1", Get("c"));
  EXPECT_EQ("T1", Get("t"));
  RecordMeta m;
  ASSERT_TRUE(db_->Meta("t", &m).ok());
  EXPECT_EQ(kStartNs + 5 * kSec, m.expires_unix_ns);
  // Commit twice: an error, and nothing is written again.
  const uint64_t bytes = DataBytes();
  s = txn->Commit();
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(bytes, DataBytes());
  // After commit the transaction refuses reads.
  EXPECT_FALSE(txn->Get("a", &v).ok());
  clock_.Advance(5 * kSec);
  EXPECT_EQ("NOT_FOUND", Get("t"));
  Close();
  Open();
  EXPECT_EQ("A1", Get("a"));
  EXPECT_EQ("NOT_FOUND", Get("b"));
  EXPECT_EQ("C1", Get("c"));
}

TEST_F(BatchTest, TransactionConflictOnChangedRead) {
  Open();
  ASSERT_TRUE(db_->Put("a", "A0").ok());
  ASSERT_TRUE(db_->Put("b", "B0").ok());
  std::unique_ptr<Transaction> txn = db_->BeginTransaction();
  std::string v;
  ASSERT_TRUE(txn->Get("a", &v).ok());
  txn->Put("b", "B1");
  txn->Put("new", "N1");
  txn->Delete("b2");
  ASSERT_TRUE(db_->Put("a", "A-other").ok());  // someone else changes what was read
  // The transaction still sees its own read.
  ASSERT_TRUE(txn->Get("a", &v).ok());
  EXPECT_EQ("A0", v);
  const uint64_t bytes = DataBytes();
  Status s = txn->Commit();
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(bytes, DataBytes()) << "a conflicting commit must write nothing";
  EXPECT_EQ("B0", Get("b"));
  EXPECT_EQ("NOT_FOUND", Get("new"));
  EXPECT_EQ("A-other", Get("a"));
  // A deleted read key conflicts too.
  txn = db_->BeginTransaction();
  ASSERT_TRUE(txn->Get("b", &v).ok());
  txn->Put("x", "X");
  ASSERT_TRUE(db_->Delete("b").ok());
  EXPECT_TRUE(txn->Commit().IsConflict());
  EXPECT_EQ("NOT_FOUND", Get("x"));
  // A key that expired after the read conflicts.
  ASSERT_TRUE(db_->PutWithTTL("e", "E", nanoseconds(kSec)).ok());
  txn = db_->BeginTransaction();
  ASSERT_TRUE(txn->Get("e", &v).ok());
  txn->Put("y", "Y");
  clock_.Advance(kSec);
  EXPECT_TRUE(txn->Commit().IsConflict());
  EXPECT_EQ("NOT_FOUND", Get("y"));
}

TEST_F(BatchTest, TransactionConflictWhenReadAbsentKeyIsCreated) {
  Open();
  std::unique_ptr<Transaction> txn = db_->BeginTransaction();
  std::string v;
  EXPECT_TRUE(txn->Get("k", &v).IsNotFound());
  txn->Put("k", "mine");
  txn->Put("other", "mine");
  ASSERT_TRUE(db_->Put("k", "theirs").ok());
  EXPECT_TRUE(txn->Commit().IsConflict());
  EXPECT_EQ("theirs", Get("k"));
  EXPECT_EQ("NOT_FOUND", Get("other"));
  // Created and deleted again before the commit: still absent, no conflict.
  txn = db_->BeginTransaction();
  EXPECT_TRUE(txn->Get("z", &v).IsNotFound());
  txn->Put("z", "mine");
  ASSERT_TRUE(db_->Put("z", "theirs").ok());
  ASSERT_TRUE(db_->Delete("z").ok());
  Status s = txn->Commit();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ("mine", Get("z"));
}

TEST_F(BatchTest, TransactionDiscardAndBlindAndReadOnly) {
  Open();
  ASSERT_TRUE(db_->Put("a", "A0").ok());
  std::unique_ptr<Transaction> txn = db_->BeginTransaction();
  std::string v;
  ASSERT_TRUE(txn->Get("a", &v).ok());
  txn->Put("a", "A1");
  txn->Put("b", "B1");
  txn->Discard();
  EXPECT_FALSE(txn->Commit().ok()) << "Commit after Discard must fail";
  EXPECT_EQ("A0", Get("a"));
  EXPECT_EQ("NOT_FOUND", Get("b"));

  // Blind writes (nothing read) commit whatever happens meanwhile.
  txn = db_->BeginTransaction();
  txn->Put("a", "blind");
  ASSERT_TRUE(db_->Put("a", "other").ok());
  EXPECT_TRUE(txn->Commit().ok());
  EXPECT_EQ("blind", Get("a"));

  // Read-only: OK when unchanged, Conflict when changed.
  txn = db_->BeginTransaction();
  ASSERT_TRUE(txn->Get("a", &v).ok());
  EXPECT_TRUE(txn->Get("missing", &v).IsNotFound());
  EXPECT_TRUE(txn->Commit().ok());
  txn = db_->BeginTransaction();
  ASSERT_TRUE(txn->Get("a", &v).ok());
  ASSERT_TRUE(db_->Put("a", "changed").ok());
  EXPECT_TRUE(txn->Commit().IsConflict());
  txn = db_->BeginTransaction();
  EXPECT_TRUE(txn->Get("missing", &v).IsNotFound());
  ASSERT_TRUE(db_->Put("missing", "now here").ok());
  EXPECT_TRUE(txn->Commit().IsConflict());
  // An empty transaction commits.
  txn = db_->BeginTransaction();
  EXPECT_TRUE(txn->Commit().ok());
}

TEST_F(BatchTest, ConcurrentTransfersKeepTheTotal) {
  options_.sync_on_put = false;
  options_.sync_on_delete = false;
  options_.max_data_file_size = 16 << 10;
  Open();
  const int accounts = 8;
  const long long initial = 1000;
  auto name = [](int i) { return "acct" + std::to_string(i); };
  for (int i = 0; i < accounts; i++) ASSERT_TRUE(db_->Put(name(i), std::to_string(initial)).ok());
  const long long total = initial * accounts;
  std::atomic<int> conflicts{0}, errors{0}, audits_ok{0}, bad_audits{0};
  std::atomic<bool> stop_audit{false};
  auto worker = [&](int seed) {
    std::mt19937 rng(seed);
    for (int done = 0; done < 250;) {
      int a = static_cast<int>(rng() % accounts);
      int b = static_cast<int>(rng() % (accounts - 1));
      if (b >= a) b++;
      const long long amount = rng() % 60;
      std::unique_ptr<Transaction> txn = db_->BeginTransaction();
      std::string va, vb;
      if (!txn->Get(name(a), &va).ok() || !txn->Get(name(b), &vb).ok()) {
        errors++;
        return;
      }
      long long ba = std::stoll(va), bb = std::stoll(vb);
      if (ba < 0 || bb < 0) errors++;
      if (ba >= amount) {
        txn->Put(name(a), std::to_string(ba - amount));
        txn->Put(name(b), std::to_string(bb + amount));
      }
      Status s = txn->Commit();
      if (s.ok()) {
        done++;
      } else if (s.IsConflict()) {
        conflicts++;
      } else {
        errors++;
        return;
      }
    }
  };
  // A read-only auditor: whenever its commit succeeds, what it read was one
  // consistent state, so the sum must be the total.
  std::thread auditor([&] {
    while (!stop_audit) {
      std::unique_ptr<Transaction> txn = db_->BeginTransaction();
      long long sum = 0;
      bool ok = true;
      for (int i = 0; i < accounts && ok; i++) {
        std::string v;
        ok = txn->Get(name(i), &v).ok();
        if (ok) sum += std::stoll(v);
        std::this_thread::yield();
      }
      if (!ok) {
        errors++;
        break;
      }
      Status s = txn->Commit();
      if (s.ok()) {
        audits_ok++;
        if (sum != total) bad_audits++;
      } else if (!s.IsConflict()) {
        errors++;
      }
    }
  });
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++) ts.emplace_back(worker, 100 + t);
  for (auto& t : ts) t.join();
  stop_audit = true;
  auditor.join();
  EXPECT_EQ(0, errors.load());
  EXPECT_EQ(0, bad_audits.load()) << "a committed read-only transaction saw an inconsistent sum ("
                                  << audits_ok.load() << " audits committed)";
  auto sum_all = [&] {
    long long sum = 0;
    for (int i = 0; i < accounts; i++) {
      const std::string v = Get(name(i));
      EXPECT_NE("NOT_FOUND", v);
      if (v != "NOT_FOUND") {
        EXPECT_GE(std::stoll(v), 0) << name(i);
        sum += std::stoll(v);
      }
    }
    return sum;
  };
  EXPECT_EQ(total, sum_all());
  Close();
  Open();
  EXPECT_EQ(total, sum_all()) << "after reopen";
  // And after a merge and another reopen (from hints).
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  Close();
  Open();
  EXPECT_EQ(total, sum_all()) << "after merge and reopen";
}

}  // namespace
}  // namespace bitgask
