// Tests of the maintenance calls of bitgask::DB: Backup, Validate, Repair,
// DeleteAll, Reopen and Digest (engine/maintenance.cc, engine/repair.cc,
// engine/db_impl.cc).
//
// Damage is made by hand in the files under ROOT/data (records are walked by
// their 32-byte headers, docs/Format.md). Every test runs in its own mkdtemp
// directory with a fake clock.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
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
using test::RawRecord;
using test::ReadWholeFile;
using test::WalkRecords;
using test::WriteWholeFile;
using std::chrono::nanoseconds;

constexpr int64_t kStartNs = 1700000000LL * 1000000000LL;
constexpr int64_t kSec = 1000000000LL;
constexpr uint64_t kHeader = 32;

// Every regular file under root: size, mtime, inode and bytes.
struct FileState {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  ino_t ino = 0;
  std::string bytes;
  bool operator==(const FileState& o) const {
    return size == o.size && mtime_ns == o.mtime_ns && ino == o.ino && bytes == o.bytes;
  }
};
std::map<std::string, FileState> TreeState(const std::string& root) {
  std::map<std::string, FileState> out;
  std::error_code ec;
  for (const auto& de : fs::recursive_directory_iterator(root, ec)) {
    if (!de.is_regular_file()) continue;
    struct stat st;
    const std::string p = de.path().string();
    if (::stat(p.c_str(), &st) != 0) continue;
    FileState f;
    f.size = static_cast<uint64_t>(st.st_size);
    f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * kSec + st.st_mtim.tv_nsec;
    f.ino = st.st_ino;
    f.bytes = ReadWholeFile(p);
    out[p.substr(root.size())] = f;
  }
  return out;
}
std::string DescribeTreeDiff(const std::map<std::string, FileState>& a,
                             const std::map<std::string, FileState>& b) {
  std::string out;
  for (const auto& [name, st] : a) {
    auto it = b.find(name);
    if (it == b.end()) {
      out += " removed:" + name;
    } else if (!(it->second == st)) {
      out += " changed:" + name;
    }
  }
  for (const auto& [name, st] : b) {
    if (!a.count(name)) out += " added:" + name;
  }
  return out;
}

std::string Value(const std::string& key, int version, size_t len = 60) {
  std::string v = "value of " + key + " v" + std::to_string(version) + ":";
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>()(key) + version));
  while (v.size() < len) v.push_back(static_cast<char>('!' + rng() % 90));
  return v;
}

using Contents = std::map<std::string, std::string>;

class MaintenanceTest : public ::testing::Test {
 protected:
  MaintenanceTest() : root_(tmp_.path() + "/db"), data_dir_(root_ + "/data") {
    options_.env = &clock_;
    options_.sync_on_put = false;
    options_.sync_on_delete = false;
    options_.merge_interval = std::chrono::milliseconds(0);
  }
  ~MaintenanceTest() override {
    if (db_) db_->Close();
  }
  Status TryOpen() {
    db_.reset();
    return DB::Open(root_, options_, &db_);
  }
  void Open() {
    Status s = TryOpen();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Close() {
    if (db_) {
      Status s = db_->Close();
      EXPECT_TRUE(s.ok()) << s.ToString();
      db_.reset();
    }
  }
  void Put(const std::string& k, const std::string& v) {
    Status s = db_->Put(k, v);
    ASSERT_TRUE(s.ok()) << k << ": " << s.ToString();
    model_[k] = v;
  }
  void Del(const std::string& k) {
    ASSERT_TRUE(db_->Delete(k).ok()) << k;
    model_.erase(k);
  }
  std::string Get(std::string_view key) { return GetFrom(db_.get(), key); }
  static std::string GetFrom(DB* db, std::string_view key) {
    std::string v;
    Status s = db->Get(key, &v);
    if (s.IsNotFound()) return "NOT_FOUND";
    if (!s.ok()) return "ERROR: " + s.ToString();
    return v;
  }
  static Contents ContentsOf(DB* db) {
    Contents c;
    Status s = db->Fold([&](std::string_view k, std::string_view v) {
      c.emplace(std::string(k), std::string(v));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    // Cross-check with point reads.
    for (const auto& kv : c) EXPECT_EQ(kv.second, GetFrom(db, kv.first)) << kv.first;
    return c;
  }
  // Opens another store (e.g. a backup) with the test's options.
  std::unique_ptr<DB> OpenOther(const std::string& path) {
    std::unique_ptr<DB> db;
    Status s = DB::Open(path, options_, &db);
    EXPECT_TRUE(s.ok()) << path << ": " << s.ToString();
    return db;
  }
  std::string DigestOf(DB* db) {
    std::string d;
    Status s = db->Digest(&d);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return d;
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
  std::string DataPath(uint32_t id) const { return data_dir_ + "/" + NumberedName(id, ".data"); }
  std::string HintPath(uint32_t id) const { return data_dir_ + "/" + NumberedName(id, ".hint"); }

  // A store of several data files (4 KiB each) with overwrites, deletes and
  // a TTL key; every closed file has its hint. Returns with the store open.
  void BuildMultiFileStore(int keys = 150) {
    options_.max_data_file_size = 4096;
    Open();
    for (int i = 0; i < keys; i++) Put("key" + std::to_string(1000 + i), Value("k" + std::to_string(i), 0));
    for (int i = 0; i < keys; i += 7) Put("key" + std::to_string(1000 + i), Value("k" + std::to_string(i), 1));
    for (int i = 3; i < keys; i += 11) Del("key" + std::to_string(1000 + i));
    ASSERT_TRUE(db_->PutWithTTL("ttl-key", "ttl-value", nanoseconds(1000 * kSec)).ok());
    model_["ttl-key"] = "ttl-value";
    ASSERT_GE(FileIds(data_dir_, ".data").size(), 4u);
    ASSERT_TRUE(WaitForHints());
  }

  TempDir tmp_{"bitgask_maintenance_test"};
  const std::string root_;
  const std::string data_dir_;
  FakeClockEnv clock_;
  Options options_;
  std::unique_ptr<DB> db_;
  Contents model_;
};

// ----------------------------------------------------------------- Backup

TEST_F(MaintenanceTest, BackupIntoAbsentAndEmptyDirsRestoresTheContents) {
  BuildMultiFileStore();
  const std::string absent = tmp_.path() + "/backup-absent";
  const std::string empty = tmp_.path() + "/backup-empty";
  ASSERT_TRUE(fs::create_directory(empty));
  Status s = db_->Backup(absent);
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = db_->Backup(empty);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::string live_digest = DigestOf(db_.get());
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  for (const std::string& dir : {absent, empty}) {
    SCOPED_TRACE(dir);
    ValidateReport vr;
    ASSERT_TRUE(DB::Validate(dir, &vr).ok());
    EXPECT_TRUE(vr.ok()) << (vr.corrupt.empty() ? vr.hint_problems[0].what : vr.corrupt[0].what);
    std::unique_ptr<DB> b = OpenOther(dir);
    ASSERT_NE(nullptr, b);
    EXPECT_EQ(model_, ContentsOf(b.get()));
    EXPECT_EQ(live_digest, DigestOf(b.get()));
    RecordMeta m;
    ASSERT_TRUE(b->Meta("ttl-key", &m).ok());
    EXPECT_EQ(kStartNs + 1000 * kSec, m.expires_unix_ns);
    // The restored store is a working store.
    ASSERT_TRUE(b->Put("restored-write", "x").ok());
    ASSERT_TRUE(b->Close().ok());
    b = OpenOther(dir);
    EXPECT_EQ("x", GetFrom(b.get(), "restored-write"));
  }
  EXPECT_EQ("NOT_FOUND", Get("restored-write"));
  // The live store goes on working.
  Put("after-backups", "y");
  Close();
  Open();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
}

TEST_F(MaintenanceTest, BackupIntoNonEmptyDirFails) {
  Open();
  Put("k", "v");
  const std::string dir = tmp_.path() + "/occupied";
  ASSERT_TRUE(fs::create_directory(dir));
  WriteWholeFile(dir + "/precious.txt", "do not touch");
  const auto before = TreeState(dir);
  Status s = db_->Backup(dir);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ("", DescribeTreeDiff(before, TreeState(dir))) << "a refused backup changed dst";
  // A non-empty dir that is a store itself.
  const std::string other = tmp_.path() + "/backup1";
  ASSERT_TRUE(db_->Backup(other).ok());
  s = db_->Backup(other);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  std::unique_ptr<DB> b = OpenOther(other);
  ASSERT_NE(nullptr, b);
  EXPECT_EQ("v", GetFrom(b.get(), "k"));
  // Closed store.
  b.reset();
  Close();
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(root_, options_, &db).ok());
  ASSERT_TRUE(db->Close().ok());
  EXPECT_TRUE(db->Backup(tmp_.path() + "/never").IsClosed());
  EXPECT_FALSE(fs::exists(tmp_.path() + "/never"));
}

TEST_F(MaintenanceTest, WritesAfterBackupAreNotInIt) {
  BuildMultiFileStore();
  const Contents at_backup = model_;
  const std::string dir = tmp_.path() + "/backup";
  ASSERT_TRUE(db_->Backup(dir).ok());
  const auto backup_files = TreeState(dir);
  // Change the live store every way there is.
  Put("key1000", "changed after backup");
  Del("key1001");
  Put("brand-new", "after backup");
  for (int i = 0; i < 100; i++) Put("more" + std::to_string(i), std::string(200, 'm'));
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  Put("after-merge", "x");
  // The backup's files are untouched by all of that.
  EXPECT_EQ("", DescribeTreeDiff(backup_files, TreeState(dir)));
  std::unique_ptr<DB> b = OpenOther(dir);
  ASSERT_NE(nullptr, b);
  EXPECT_EQ(at_backup, ContentsOf(b.get()));
  b.reset();
  // DeleteAll on the live store does not reach the backup either.
  ASSERT_TRUE(db_->DeleteAll().ok());
  b = OpenOther(dir);
  ASSERT_NE(nullptr, b);
  EXPECT_EQ(at_backup, ContentsOf(b.get()));
}

TEST_F(MaintenanceTest, BackupSharesNoInodesWithTheLiveStore) {
  BuildMultiFileStore();
  const std::string dir = tmp_.path() + "/backup";
  ASSERT_TRUE(db_->Backup(dir).ok());
  std::set<ino_t> live_inodes;
  for (const auto& [name, st] : TreeState(root_)) live_inodes.insert(st.ino);
  size_t backup_data_files = 0;
  for (const auto& [name, st] : TreeState(dir)) {
    struct stat s;
    ASSERT_EQ(0, ::stat((dir + name).c_str(), &s));
    EXPECT_EQ(1u, s.st_nlink) << name << " is hard-linked";
    EXPECT_FALSE(live_inodes.count(st.ino)) << name << " shares an inode with the live store";
    if (name.size() > 5 && name.substr(name.size() - 5) == ".data") backup_data_files++;
  }
  EXPECT_GE(backup_data_files, 4u);
  // Appending to the live store's files leaves the backup's bytes alone.
  const auto before = TreeState(dir);
  for (int i = 0; i < 50; i++) Put("key" + std::to_string(1000 + i), "overwritten");
  ASSERT_TRUE(db_->Sync().ok());
  EXPECT_EQ("", DescribeTreeDiff(before, TreeState(dir)));
}

TEST_F(MaintenanceTest, BackupDuringConcurrentWritesIsAPrefixOfThem) {
  options_.max_data_file_size = 16 << 10;
  Open();
  std::atomic<int> acked{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 1000000; i++) {
      char k[16];
      std::snprintf(k, sizeof(k), "seq%07d", i);
      if (!db_->Put(k, std::string(50, 'w')).ok()) break;
      acked = i + 1;
    }
  });
  while (acked < 2000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const int acked_before = acked;
  const std::string dir = tmp_.path() + "/backup";
  Status s = db_->Backup(dir);
  const int acked_after = acked;
  stop = true;
  writer.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<DB> b = OpenOther(dir);
  ASSERT_NE(nullptr, b);
  std::vector<std::string> keys;
  ASSERT_TRUE(b->Keys(&keys).ok());
  // Keys are seq0000000.. with no gap: the backup is one point in the log.
  for (size_t i = 0; i < keys.size(); i++) {
    char k[32];
    std::snprintf(k, sizeof(k), "seq%07d", static_cast<int>(i));
    ASSERT_EQ(k, keys[i]) << "gap in the backup at " << i;
  }
  EXPECT_GE(static_cast<int>(keys.size()), acked_before);
  EXPECT_LE(static_cast<int>(keys.size()), acked_after + 1);
}

// --------------------------------------------------------------- Validate

TEST_F(MaintenanceTest, ValidateHealthyStoreCountsAndChangesNothing) {
  options_.max_data_file_size = 4096;
  Open();
  uint64_t records = 0;
  for (int i = 0; i < 200; i++, records++) Put("k" + std::to_string(i), Value("k", i));
  for (int i = 0; i < 200; i += 5, records++) Del("k" + std::to_string(i));
  for (int i = 1; i < 200; i += 5, records++) Put("k" + std::to_string(i), Value("k", -i));
  ASSERT_TRUE(WaitForHints());
  Close();
  const std::vector<uint32_t> data = FileIds(data_dir_, ".data");
  const std::vector<uint32_t> hints = FileIds(data_dir_, ".hint");
  ASSERT_GE(data.size(), 5u);
  ASSERT_EQ(data.size(), hints.size());  // the active file's too, written by Close
  uint64_t bytes = 0;
  for (uint32_t id : data) bytes += FileSize(DataPath(id));
  const auto before = TreeState(root_);
  ValidateReport r;
  Status s = DB::Validate(root_, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.corrupt.empty());
  EXPECT_TRUE(r.hint_problems.empty());
  EXPECT_EQ(data.size(), r.data_files);
  EXPECT_EQ(hints.size(), r.hint_files);
  EXPECT_EQ(records, r.records);
  EXPECT_EQ(bytes, r.bytes);
  EXPECT_EQ("", DescribeTreeDiff(before, TreeState(root_))) << "Validate changed the store";
  // Not a store.
  EXPECT_FALSE(DB::Validate(tmp_.path() + "/nothing-here", &r).ok());
}

TEST_F(MaintenanceTest, ValidateReportsAFlippedByteWithFileAndOffset) {
  BuildMultiFileStore();
  Close();
  const std::vector<uint32_t> data = FileIds(data_dir_, ".data");
  const std::string victim = DataPath(data[1]);  // an older file
  std::vector<RawRecord> recs = WalkRecords(victim);
  ASSERT_GE(recs.size(), 5u);
  const RawRecord& bad = recs[recs.size() / 2];
  FlipByte(victim, bad.offset + bad.size - 3);  // in the value
  const auto before = TreeState(root_);
  ValidateReport r;
  ASSERT_TRUE(DB::Validate(root_, &r).ok());
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(1u, r.corrupt.size());
  EXPECT_NE(std::string::npos, r.corrupt[0].file.find(NumberedName(data[1], ".data")))
      << r.corrupt[0].file;
  EXPECT_EQ(bad.offset, r.corrupt[0].offset) << r.corrupt[0].what;
  EXPECT_FALSE(r.corrupt[0].what.empty());
  EXPECT_EQ("", DescribeTreeDiff(before, TreeState(root_))) << "Validate changed the store";
  // A header byte (the key length) too: same file and record offset.
  const RawRecord& bad2 = recs[1];
  FlipByte(victim, bad2.offset + 21);
  ASSERT_TRUE(DB::Validate(root_, &r).ok());
  EXPECT_FALSE(r.ok());
  ASSERT_GE(r.corrupt.size(), 1u);
  EXPECT_EQ(bad2.offset, r.corrupt[0].offset);
  bool found_second = false;
  for (const auto& p : r.corrupt) found_second = found_second || p.offset == bad.offset;
  EXPECT_TRUE(found_second) << "the scan must resume after the first damage";
  // Opened from hints, the damaged record is only found when read: Get
  // returns Corruption, never the bytes.
  Open();
  std::string v;
  Status s = db_->Get(bad.key, &v);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  Close();
  // An open that scans every data file refuses the store, naming the file.
  options_.validate_on_open = true;
  s = TryOpen();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string::npos, s.ToString().find(NumberedName(data[1], ".data"))) << s.ToString();
}

TEST_F(MaintenanceTest, ValidateReportsDamagedAndMismatchingHints) {
  BuildMultiFileStore();
  Close();
  const std::vector<uint32_t> data = FileIds(data_dir_, ".data");
  ASSERT_GE(data.size(), 4u);
  const std::string pristine = tmp_.path() + "/pristine";
  CopyTree(root_, pristine);
  auto check = [&](const char* what, const std::function<void()>& damage,
                   uint32_t damaged_id) {
    SCOPED_TRACE(what);
    CopyTree(pristine, root_);
    damage();
    const auto before = TreeState(root_);
    ValidateReport r;
    ASSERT_TRUE(DB::Validate(root_, &r).ok());
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.corrupt.empty());
    ASSERT_FALSE(r.hint_problems.empty());
    EXPECT_NE(std::string::npos,
              r.hint_problems[0].file.find(NumberedName(damaged_id, ".hint")))
        << r.hint_problems[0].file;
    EXPECT_EQ("", DescribeTreeDiff(before, TreeState(root_))) << "Validate changed the store";
    // Open copes with a damaged hint (scans the data file instead).
    Open();
    EXPECT_EQ(model_, ContentsOf(db_.get()));
    Close();
  };
  const std::string h0 = HintPath(data[0]);
  const std::string h1 = HintPath(data[1]);
  check("truncated hint", [&] {
    ASSERT_EQ(0, ::truncate(h0.c_str(), static_cast<off_t>(FileSize(h0) - 7)));
  }, data[0]);
  check("hint cut to half", [&] {
    ASSERT_EQ(0, ::truncate(h1.c_str(), static_cast<off_t>(FileSize(h1) / 2)));
  }, data[1]);
  check("flipped hint byte", [&] { FlipByte(h0, 10); }, data[0]);
  check("flipped trailer byte", [&] { FlipByte(h1, FileSize(h1) - 15); }, data[1]);
  check("empty hint", [&] { WriteWholeFile(h0, ""); }, data[0]);
  // A hint that is sound in itself but belongs to another data file.
  {
    SCOPED_TRACE("hint of another file");
    CopyTree(pristine, root_);
    WriteWholeFile(h1, ReadWholeFile(h0));
    ValidateReport r;
    ASSERT_TRUE(DB::Validate(root_, &r).ok());
    EXPECT_FALSE(r.ok());
    ASSERT_FALSE(r.hint_problems.empty());
    EXPECT_NE(std::string::npos, r.hint_problems[0].file.find(NumberedName(data[1], ".hint")));
  }
  // A missing hint is no problem.
  {
    CopyTree(pristine, root_);
    ASSERT_TRUE(fs::remove(h1));
    ValidateReport r;
    ASSERT_TRUE(DB::Validate(root_, &r).ok());
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(data.size() - 1, r.hint_files);
  }
}

// ----------------------------------------------------------------- Repair

TEST_F(MaintenanceTest, RepairSalvagesEverythingButTheDamagedRecord) {
  options_.max_data_file_size = 4096;
  Open();
  // Unique keys, each written once, so a lost record cannot be masked.
  for (int i = 0; i < 240; i++) Put("r" + std::to_string(10000 + i), Value("r", i));
  ASSERT_TRUE(WaitForHints());
  Close();
  const std::vector<uint32_t> data = FileIds(data_dir_, ".data");
  ASSERT_GE(data.size(), 4u);
  const std::string victim = DataPath(data[1]);
  std::vector<RawRecord> recs = WalkRecords(victim);
  ASSERT_GE(recs.size(), 10u);
  const RawRecord bad = recs[recs.size() / 2];
  const std::string lost_key = bad.key;
  FlipByte(victim, bad.offset + kHeader + bad.key.size() + 5);  // a value byte
  uint64_t total_records = 0;
  for (uint32_t id : data) total_records += WalkRecords(DataPath(id)).size();

  options_.validate_on_open = true;  // scan every data file, ignore hints
  Status s = TryOpen();
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  RepairReport rr;
  s = DB::Repair(root_, options_, &rr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(data.size(), rr.files_checked);
  EXPECT_EQ(1u, rr.files_rewritten);
  EXPECT_EQ(1u, rr.damaged_regions);
  EXPECT_EQ(bad.size, rr.bytes_dropped);
  EXPECT_EQ(total_records - 1, rr.records_kept);
  EXPECT_EQ(data.size() - 1, rr.hints_rebuilt);
  EXPECT_FALSE(rr.notes.empty());
  // Hints for every closed data file, and the store validates.
  std::vector<uint32_t> data_after = FileIds(data_dir_, ".data");
  std::vector<uint32_t> hints_after = FileIds(data_dir_, ".hint");
  EXPECT_EQ(data, data_after);
  EXPECT_EQ(std::vector<uint32_t>(data.begin(), data.end() - 1), hints_after);
  EXPECT_EQ(FileSize(victim), WalkRecords(victim).back().offset + WalkRecords(victim).back().size);
  ValidateReport vr;
  ASSERT_TRUE(DB::Validate(root_, &vr).ok());
  EXPECT_TRUE(vr.ok()) << (vr.corrupt.empty() ? "" : vr.corrupt[0].what);
  EXPECT_EQ(total_records - 1, vr.records);
  // Every key but the damaged one, incl. those written after it in the same file.
  Open();
  Contents want = model_;
  ASSERT_EQ(1u, want.erase(lost_key));
  EXPECT_EQ(want, ContentsOf(db_.get()));
  EXPECT_EQ("NOT_FOUND", Get(lost_key));
  EXPECT_EQ(model_.at(recs.back().key), Get(recs.back().key));
  EXPECT_EQ(model_.at(recs[recs.size() / 2 + 1].key), Get(recs[recs.size() / 2 + 1].key));
  Close();
  // Once more with hints only: the rebuilt hints agree with the data.
  options_.validate_on_open = false;
  Open();
  EXPECT_EQ(want, ContentsOf(db_.get()));
}

TEST_F(MaintenanceTest, RepairHandlesSeveralDamagedRegionsAndHeaderDamage) {
  options_.max_data_file_size = 8192;
  Open();
  for (int i = 0; i < 300; i++) Put("h" + std::to_string(10000 + i), Value("h", i));
  Close();
  const std::vector<uint32_t> data = FileIds(data_dir_, ".data");
  ASSERT_GE(data.size(), 3u);
  const std::string victim = DataPath(data[0]);
  std::vector<RawRecord> recs = WalkRecords(victim);
  ASSERT_GE(recs.size(), 20u);
  // Region 1: the key-length field of record 3 (a wild length). Region 2: two
  // adjacent records 10 and 11. Region 3: the very first record's CRC.
  // Region 4: the file's last record.
  const size_t last = recs.size() - 1;
  FlipByte(victim, recs[3].offset + 22);
  FlipByte(victim, recs[10].offset + kHeader);
  FlipByte(victim, recs[11].offset + kHeader + 2);
  FlipByte(victim, recs[0].offset + 1);
  FlipByte(victim, recs[last].offset + recs[last].size - 1);
  const uint64_t dropped =
      recs[0].size + recs[3].size + recs[10].size + recs[11].size + recs[last].size;
  RepairReport rr;
  ASSERT_TRUE(DB::Repair(root_, options_, &rr).ok());
  EXPECT_EQ(4u, rr.damaged_regions);
  EXPECT_EQ(dropped, rr.bytes_dropped);
  EXPECT_EQ(1u, rr.files_rewritten);
  Open();
  Contents want = model_;
  for (size_t r : {size_t{0}, size_t{3}, size_t{10}, size_t{11}, last}) {
    ASSERT_EQ(1u, want.erase(recs[r].key)) << r;
  }
  EXPECT_EQ(want, ContentsOf(db_.get()));
  Close();
  ValidateReport vr;
  ASSERT_TRUE(DB::Validate(root_, &vr).ok());
  EXPECT_TRUE(vr.ok());
}

// Damage in the middle of the newest file: Repair resyncs past it too.
TEST_F(MaintenanceTest, RepairSalvagesPastDamageInTheNewestFile) {
  Open();
  for (int i = 0; i < 50; i++) Put("n" + std::to_string(100 + i), Value("n", i));
  Close();
  ASSERT_EQ(std::vector<uint32_t>{1}, FileIds(data_dir_, ".data"));
  std::vector<RawRecord> recs = WalkRecords(DataPath(1));
  ASSERT_EQ(50u, recs.size());
  FlipByte(DataPath(1), recs[20].offset + recs[20].size - 2);
  RepairReport rr;
  ASSERT_TRUE(DB::Repair(root_, options_, &rr).ok());
  EXPECT_EQ(1u, rr.damaged_regions);
  EXPECT_EQ(recs[20].size, rr.bytes_dropped);
  EXPECT_EQ(49u, rr.records_kept);
  Open();
  Contents want = model_;
  want.erase(recs[20].key);
  EXPECT_EQ(want, ContentsOf(db_.get()));
}

// Open truncates a newest file that is damaged in the middle and saves the
// good records after the damage in a side file, logging "run `bitgask
// repair` to recover them". A Repair afterwards must then bring them back.
TEST_F(MaintenanceTest, RepairRecoversWhatOpenSetAside) {
  Open();
  for (int i = 0; i < 50; i++) Put("n" + std::to_string(100 + i), Value("n", i));
  Close();
  std::vector<RawRecord> recs = WalkRecords(DataPath(1));
  ASSERT_EQ(50u, recs.size());
  FlipByte(DataPath(1), recs[20].offset + recs[20].size - 2);
  // Without the hint Close left (which open would trust), as after a crash.
  ASSERT_TRUE(fs::remove(HintPath(1)));
  Open();  // truncates at record 20; records 21..49 go to a side file
  EXPECT_EQ("NOT_FOUND", Get(recs[30].key));
  Close();
  bool side_file = false;
  for (const auto& de : fs::directory_iterator(data_dir_)) {
    side_file = side_file || de.path().filename().string().find(".damaged-") != std::string::npos;
  }
  ASSERT_TRUE(side_file) << "open did not set the tail aside";
  RepairReport rr;
  ASSERT_TRUE(DB::Repair(root_, options_, &rr).ok());
  Open();
  Contents want = model_;
  want.erase(recs[20].key);
  Contents got = ContentsOf(db_.get());
  size_t missing = 0;
  for (const auto& kv : want) missing += got.count(kv.first) ? 0 : 1;
  EXPECT_EQ(0u, missing) << "records set aside by open (the \"repair recovers them\" log) are "
                            "still missing after Repair";
}

TEST_F(MaintenanceTest, RepairDropsADamagedBatchWhole) {
  options_.max_data_file_size = 4096;
  Open();
  Put("before1", "b1");
  Put("before2", "b2");
  WriteBatch b;
  for (int i = 0; i < 5; i++) b.Put("batch" + std::to_string(i), Value("batch", i));
  b.Delete("before1");
  ASSERT_TRUE(db_->Write(WriteOptions(), b).ok());
  Put("after1", "a1");
  for (int i = 0; i < 60; i++) Put("fill" + std::to_string(i), Value("fill", i));  // more files
  Close();
  const std::vector<uint32_t> data = FileIds(data_dir_, ".data");
  ASSERT_GE(data.size(), 2u);
  std::vector<RawRecord> recs = WalkRecords(DataPath(data[0]));
  ASSERT_GE(recs.size(), 10u);
  ASSERT_EQ("batch2", recs[4].key);
  FlipByte(DataPath(data[0]), recs[4].offset + recs[4].size - 1);
  RepairReport rr;
  ASSERT_TRUE(DB::Repair(root_, options_, &rr).ok());
  EXPECT_GE(rr.damaged_regions, 1u);
  Open();
  for (int i = 0; i < 5; i++) {
    EXPECT_EQ("NOT_FOUND", Get("batch" + std::to_string(i))) << "part of a damaged batch survived";
  }
  EXPECT_EQ("b1", Get("before1")) << "the batch's delete must be dropped with it";
  EXPECT_EQ("b2", Get("before2"));
  EXPECT_EQ("a1", Get("after1"));
  for (int i = 0; i < 60; i++) EXPECT_EQ(Value("fill", i), Get("fill" + std::to_string(i)));
}

TEST_F(MaintenanceTest, RepairOfAHealthyStoreChangesNoData) {
  BuildMultiFileStore();
  Close();
  std::map<std::string, std::string> data_bytes;
  for (uint32_t id : FileIds(data_dir_, ".data")) data_bytes[DataPath(id)] = ReadWholeFile(DataPath(id));
  FlipByte(HintPath(FileIds(data_dir_, ".hint")[0]), 3);  // only a hint is damaged
  RepairReport rr;
  ASSERT_TRUE(DB::Repair(root_, options_, &rr).ok());
  EXPECT_EQ(0u, rr.damaged_regions);
  EXPECT_EQ(0u, rr.bytes_dropped);
  EXPECT_EQ(0u, rr.files_rewritten);
  EXPECT_EQ(FileIds(data_dir_, ".data").size() - 1, rr.hints_rebuilt);
  for (const auto& [path, bytes] : data_bytes) EXPECT_EQ(bytes, ReadWholeFile(path)) << path;
  ValidateReport vr;
  ASSERT_TRUE(DB::Validate(root_, &vr).ok());
  EXPECT_TRUE(vr.ok());
  Open();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
}

// The meta file policy (engine/repair.cc, CheckMetaFile): a damaged or
// missing bitgask.meta is written afresh when the data files are recognisably
// ours, the damaged one kept aside; another format version, or data files with
// no valid record, make Repair fail and change nothing.
TEST_F(MaintenanceTest, RepairRewritesADamagedMetaFileOnlyForOurData) {
  BuildMultiFileStore();
  Close();
  const std::string meta = data_dir_ + "/bitgask.meta";
  const std::string good_meta = ReadWholeFile(meta);
  for (const std::string& damaged : {std::string(), std::string("{\"format\": \"bitg"),
                                    std::string(300, '\0')}) {
    SCOPED_TRACE("meta of " + std::to_string(damaged.size()) + " bytes");
    WriteWholeFile(meta, damaged);
    ASSERT_FALSE(TryOpen().ok()) << "a damaged meta file was accepted";
    RepairReport rr;
    Status s = DB::Repair(root_, options_, &rr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_FALSE(rr.notes.empty());
    EXPECT_NE(std::string::npos, rr.notes[0].find("bitgask.meta was damaged"));
    EXPECT_EQ(damaged, ReadWholeFile(meta + ".damaged-1")) << "the damaged meta was not kept";
    Open();
    EXPECT_EQ(model_, ContentsOf(db_.get()));
    Close();
    ValidateReport vr;
    ASSERT_TRUE(DB::Validate(root_, &vr).ok());
    EXPECT_TRUE(vr.ok());
    fs::remove(meta + ".damaged-1");
  }

  // Missing: written again, with a note.
  fs::remove(meta);
  RepairReport rr;
  ASSERT_TRUE(DB::Repair(root_, options_, &rr).ok());
  EXPECT_EQ("wrote the missing bitgask.meta", rr.notes.at(0));
  Open();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  Close();

  // Another format version: refused, nothing changed.
  std::string newer = good_meta;
  const size_t at = newer.find("\"format_version\": ");
  ASSERT_NE(std::string::npos, at);
  newer.replace(at, std::string("\"format_version\": 1").size(), "\"format_version\": 99");
  WriteWholeFile(meta, newer);
  auto before = TreeState(data_dir_);
  Status s = DB::Repair(root_, options_, &rr);
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  EXPECT_NE(std::string::npos, s.ToString().find("format version 99")) << s.ToString();
  EXPECT_EQ("", DescribeTreeDiff(before, TreeState(data_dir_)));

  // Damaged meta and no data file with a valid record: not ours, refused.
  WriteWholeFile(meta, "garbage");
  for (uint32_t id : FileIds(data_dir_, ".data")) {
    WriteWholeFile(DataPath(id), std::string(100, static_cast<char>(0x5a)));
  }
  before = TreeState(data_dir_);
  s = DB::Repair(root_, options_, &rr);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string::npos, s.ToString().find("no data file holds a valid")) << s.ToString();
  EXPECT_EQ("", DescribeTreeDiff(before, TreeState(data_dir_)));
}

TEST_F(MaintenanceTest, RepairOfAnOpenStoreIsLocked) {
  BuildMultiFileStore();
  const auto before = TreeState(data_dir_);
  RepairReport rr;
  Status s = DB::Repair(root_, options_, &rr);
  EXPECT_TRUE(s.IsLocked()) << s.ToString();
  EXPECT_EQ("", DescribeTreeDiff(before, TreeState(data_dir_)));
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  Close();
  s = DB::Repair(root_, options_, &rr);
  EXPECT_TRUE(s.ok()) << s.ToString();
  // Not a store.
  EXPECT_FALSE(DB::Repair(tmp_.path() + "/nothing", options_, &rr).ok());
}

// -------------------------------------------------------------- DeleteAll

TEST_F(MaintenanceTest, DeleteAllRemovesEverythingDurably) {
  BuildMultiFileStore();
  const std::vector<uint32_t> old_ids = FileIds(data_dir_, ".data");
  const uint32_t max_old = old_ids.back();
  Status s = db_->DeleteAll();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(ContentsOf(db_.get()).empty());
  for (const auto& kv : model_) EXPECT_EQ("NOT_FOUND", Get(kv.first)) << kv.first;
  DBStats st;
  ASSERT_TRUE(db_->Stats(&st).ok());
  EXPECT_EQ(0u, st.keys);
  // Every older data file is gone.
  for (uint32_t id : FileIds(data_dir_, ".data")) EXPECT_GT(id, max_old) << "old file " << id << " kept";
  // New writes work, and nothing old comes back on reopen.
  model_.clear();
  Put("new1", "n1");
  Put("key1000", "reborn");
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  Close();
  for (uint32_t id : FileIds(data_dir_, ".data")) EXPECT_GT(id, max_old) << "old file " << id;
  Open();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  for (uint32_t id : FileIds(data_dir_, ".data")) EXPECT_GT(id, max_old);
  for (uint32_t id : FileIds(data_dir_, ".hint")) EXPECT_GT(id, max_old) << "old hint " << id;
  // Past the marker's file (hinted) and a merge: still nothing old.
  for (int i = 0; i < 60; i++) Put("fill" + std::to_string(i), Value("fill", i));
  ASSERT_TRUE(WaitForHints());
  Close();
  Open();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  Close();
  Open();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  // DeleteAll twice in a row, and on an empty store.
  ASSERT_TRUE(db_->DeleteAll().ok());
  ASSERT_TRUE(db_->DeleteAll().ok());
  EXPECT_TRUE(ContentsOf(db_.get()).empty());
  Close();
  Open();
  EXPECT_TRUE(ContentsOf(db_.get()).empty());
  ASSERT_TRUE(db_->Close().ok());
  EXPECT_TRUE(db_->DeleteAll().IsClosed());
}

TEST_F(MaintenanceTest, DeleteAllSurvivesACrashBeforeOldFilesAreRemoved) {
  BuildMultiFileStore();
  Close();
  // Keep the files as they are before DeleteAll.
  const std::string saved = tmp_.path() + "/saved";
  CopyTree(data_dir_, saved);
  Open();
  ASSERT_TRUE(db_->DeleteAll().ok());
  Put("post1", "p1");
  // A crash right after DeleteAll: copy the live files without closing.
  const std::string crashed = tmp_.path() + "/crashed";
  ASSERT_TRUE(db_->Sync().ok());
  CopyTree(root_, crashed);
  fs::remove(crashed + "/LOCK");
  Close();
  {
    std::unique_ptr<DB> c = OpenOther(crashed);
    ASSERT_NE(nullptr, c);
    Contents got = ContentsOf(c.get());
    EXPECT_EQ((Contents{{"post1", "p1"}}), got);
  }
  // The old files (and hints) come back, as if the crash hit before their
  // removal: the clear-all marker must still hide every key in them.
  for (const auto& de : fs::directory_iterator(saved)) {
    const std::string name = de.path().filename().string();
    if (name == "bitgask.meta") continue;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".data") {
      ASSERT_FALSE(fs::exists(data_dir_ + "/" + name)) << name;
    }
    fs::copy_file(de.path(), data_dir_ + "/" + name, fs::copy_options::overwrite_existing);
  }
  Open();
  EXPECT_EQ((Contents{{"post1", "p1"}}), ContentsOf(db_.get()));
  Close();
  options_.validate_on_open = true;
  Open();
  EXPECT_EQ((Contents{{"post1", "p1"}}), ContentsOf(db_.get()));
  // And a merge of that situation keeps it so.
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  Close();
  options_.validate_on_open = false;
  Open();
  EXPECT_EQ((Contents{{"post1", "p1"}}), ContentsOf(db_.get()));
}

// An Env in which the next hint file to be finished after arming takes a
// while to appear (its final rename is delayed), as on a busy disk.
class SlowHintEnv : public EnvWrapper {
 public:
  explicit SlowHintEnv(Env* target) : EnvWrapper(target) {}
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (to.size() > 5 && to.compare(to.size() - 5, 5, ".hint") == 0 && armed_.exchange(false)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
    }
    return EnvWrapper::RenameFile(from, to);
  }
  std::atomic<bool> armed_{false};
};

// DeleteAll (and a merge) remove data files; the hint of a removed file must
// not appear afterwards (written by the background thread for the file the
// rotation just closed).
TEST_F(MaintenanceTest, NoHintIsLeftForARemovedDataFile) {
  SlowHintEnv slow(&clock_);
  options_.env = &slow;
  BuildMultiFileStore();
  const uint32_t max_old = FileIds(data_dir_, ".data").back();
  slow.armed_ = true;
  ASSERT_TRUE(db_->DeleteAll().ok());
  model_.clear();
  Put("new", "n");
  Close();  // waits for the background thread
  for (uint32_t id : FileIds(data_dir_, ".data")) EXPECT_GT(id, max_old) << "data file " << id;
  for (uint32_t id : FileIds(data_dir_, ".hint")) {
    EXPECT_GT(id, max_old) << "hint " << id << " left behind for a data file DeleteAll removed";
  }
  ValidateReport vr;
  ASSERT_TRUE(DB::Validate(root_, &vr).ok());
  EXPECT_TRUE(vr.ok());
  EXPECT_TRUE(vr.notes.empty()) << vr.notes[0];
  // The same through a merge of every file.
  Open();
  for (int i = 0; i < 80; i++) Put("m" + std::to_string(i), Value("m", i));
  ASSERT_TRUE(WaitForHints());
  const uint32_t max_before_merge = FileIds(data_dir_, ".data").back();
  slow.armed_ = true;
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  Close();
  std::vector<uint32_t> data = FileIds(data_dir_, ".data");
  for (uint32_t id : FileIds(data_dir_, ".hint")) {
    EXPECT_TRUE(std::binary_search(data.begin(), data.end(), id))
        << "hint " << id << " left behind for a data file the merge removed (inputs were <= "
        << max_before_merge << ")";
  }
  Open();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
}

// Validate is ok() for a sound store holding every kind of record, with
// every closed file hinted (hints written by rotation, recovery and merge).
TEST_F(MaintenanceTest, ValidateIsOkForEveryKindOfRecord) {
  options_.max_data_file_size = 4096;
  Open();
  for (int i = 0; i < 40; i++) Put("p" + std::to_string(i), Value("p", i));
  Put("big", std::string(3000, 'c'));  // compressed
  WriteBatch b;
  for (int i = 0; i < 10; i++) b.Put("b" + std::to_string(i), Value("b", i));
  b.Delete("p1");
  ASSERT_TRUE(db_->Write(WriteOptions(), b).ok());
  for (int i = 0; i < 10; i++) model_["b" + std::to_string(i)] = Value("b", i);
  model_.erase("p1");
  ASSERT_TRUE(db_->Expire("p2", nanoseconds(500 * kSec)).ok());
  ASSERT_TRUE(db_->Persist("p2").ok());
  ASSERT_TRUE(db_->SetMeta("p3", 0100644, 5).ok());
  ASSERT_TRUE(db_->PutWithTTL("ttl", "t", nanoseconds(900 * kSec)).ok());
  model_["ttl"] = "t";
  Del("p4");
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  for (int i = 0; i < 40; i++) Put("q" + std::to_string(i), Value("q", i));
  ASSERT_TRUE(db_->DeleteAll().ok());
  model_.clear();
  for (int i = 0; i < 80; i++) Put("r" + std::to_string(i), Value("r", i));
  WriteBatch b2;
  b2.Put("r0", "batched");
  b2.Delete("r1");
  ASSERT_TRUE(db_->Write(WriteOptions(), b2).ok());
  model_["r0"] = "batched";
  model_.erase("r1");
  ASSERT_TRUE(db_->SetMeta("r2", 0100600, -1).ok());
  for (int i = 0; i < 40; i++) Put("s" + std::to_string(i), Value("s", i));
  ASSERT_TRUE(WaitForHints());
  Close();
  ValidateReport vr;
  ASSERT_TRUE(DB::Validate(root_, &vr).ok());
  EXPECT_TRUE(vr.ok()) << (vr.corrupt.empty() ? (vr.hint_problems.empty() ? ""
                                                                          : vr.hint_problems[0].what)
                                              : vr.corrupt[0].what);
  const size_t data_files = FileIds(data_dir_, ".data").size();
  EXPECT_EQ(data_files, vr.data_files);
  EXPECT_EQ(data_files, vr.hint_files);  // the active file's too, written by Close
  // Hints and a full scan rebuild the same contents.
  Open();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  RecordMeta m;
  ASSERT_TRUE(db_->Meta("r2", &m).ok());
  EXPECT_EQ(0100600, m.mode);
  Close();
  options_.validate_on_open = true;
  Open();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  ASSERT_TRUE(db_->Meta("r2", &m).ok());
  EXPECT_EQ(0100600, m.mode);
}

// ----------------------------------------------------------------- Reopen

TEST_F(MaintenanceTest, ReopenKeepsContentsAndKeepsWorking) {
  BuildMultiFileStore();
  const std::string digest = DigestOf(db_.get());
  Status s = db_->Reopen();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  EXPECT_EQ(digest, DigestOf(db_.get()));
  RecordMeta m;
  ASSERT_TRUE(db_->Meta("ttl-key", &m).ok());
  EXPECT_EQ(kStartNs + 1000 * kSec, m.expires_unix_ns);
  // Writes, deletes, iteration, merge, backup after Reopen.
  Put("after-reopen", "x");
  Del("key1000");
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  ASSERT_TRUE(db_->Reopen().ok());
  ASSERT_TRUE(db_->Reopen().ok());
  EXPECT_EQ(model_, ContentsOf(db_.get()));
  Put("after-second", "y");
  DBStats st;
  ASSERT_TRUE(db_->Stats(&st).ok());
  EXPECT_EQ(model_.size(), st.keys);
  // The lock is held again.
  std::unique_ptr<DB> other;
  EXPECT_TRUE(DB::Open(root_, options_, &other).IsLocked());
  Close();
  Open();
  EXPECT_EQ(model_, ContentsOf(db_.get()));
}

// Runs fn in a forked child (the parent has no other threads then), so that
// a crash fails this test instead of ending the whole binary. Returns
// "exit 0" when fn returned true, else how the child ended.
std::string RunInChild(const std::function<bool()>& fn) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    bool ok = fn();
    fflush(stdout);
    fflush(stderr);
    _exit(ok ? 0 : 1);
  }
  if (pid < 0) return "fork failed";
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return "waitpid failed";
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended oddly";
}

// Point reads racing with Reopen: each must return the right value or Closed
// (and never crash). Run in a child process: a crash is the failure mode.
TEST_F(MaintenanceTest, CallsDuringReopenSucceedOrReportClosed) {
  const std::string result = RunInChild([&]() -> bool {
    std::unique_ptr<DB> db;
    Status s = DB::Open(root_, options_, &db);
    if (!s.ok()) {
      fprintf(stderr, "open: %s\n", s.ToString().c_str());
      return false;
    }
    std::vector<std::string> keys, values;
    for (int i = 0; i < 500; i++) {
      keys.push_back("c" + std::to_string(i));
      values.push_back(Value("c", i));
      if (!db->Put(keys[i], values[i]).ok()) return false;
    }
    std::atomic<bool> stop{false};
    std::atomic<int> wrong{0}, oks{0}, closed{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; t++) {  // more readers than cores: they get preempted anywhere
      readers.emplace_back([&, t] {
        std::mt19937 rng(t);
        while (!stop) {
          const int i = static_cast<int>(rng() % 500);
          std::string v;
          Status g = db->Get(keys[i], &v);
          if (g.ok() && v == values[i]) {
            oks++;
          } else if (g.IsClosed()) {
            closed++;
          } else if (wrong++ < 5) {
            fprintf(stderr, "Get during Reopen: %s (value of %zu bytes)\n", g.ToString().c_str(),
                    v.size());
          }
        }
      });
    }
    bool reopened = true;
    for (int r = 0; r < 300 && reopened; r++) {
      s = db->Reopen();
      if (!s.ok()) {
        fprintf(stderr, "Reopen: %s\n", s.ToString().c_str());
        reopened = false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    stop = true;
    for (auto& t : readers) t.join();
    std::string v;
    const bool after = db->Get(keys[7], &v).ok() && v == values[7];
    fprintf(stderr, "%d ok, %d closed, %d wrong\n", oks.load(), closed.load(), wrong.load());
    return reopened && wrong == 0 && oks > 0 && after;
  });
  EXPECT_EQ("exit 0", result) << "Get racing with Reopen (see stderr above); Reopen's "
                                 "ResetState/Recover rebuild the keydir without its lock";
}

// An Env that can hold the next LockFile call (made by Recover, i.e. by
// Reopen after it closed the store and cleared its state) until released.
class LockGateEnv : public EnvWrapper {
 public:
  explicit LockGateEnv(Env* target) : EnvWrapper(target) {}
  Status LockFile(const std::string& p, std::unique_ptr<FileLock>* l) override {
    {
      std::unique_lock<std::mutex> g(mu_);
      if (armed_) {
        armed_ = false;
        entered_ = true;
        cv_.notify_all();
        cv_.wait(g, [&] { return released_; });
      }
    }
    return EnvWrapper::LockFile(p, l);
  }
  void Arm() {
    std::lock_guard<std::mutex> g(mu_);
    armed_ = true;
    entered_ = released_ = false;
  }
  // Waits until a LockFile call is held; false on timeout.
  bool WaitEntered(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> g(mu_);
    return cv_.wait_for(g, timeout, [&] { return entered_; });
  }
  void Release() {
    std::lock_guard<std::mutex> g(mu_);
    armed_ = false;
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, entered_ = false, released_ = false;
};

// A streaming walk (IterKeys, Iter) that spans a Reopen must either fail with
// Closed or see the unchanged contents whole. Reopen waits for calls in
// progress, so it must not get as far as rebuilding the store (re-taking the
// lock) while the walk is paused in its callback.
TEST_F(MaintenanceTest, StreamingWalkAcrossReopen) {
  LockGateEnv gate(&clock_);
  options_.env = &gate;
  Open();
  const int n = 3000;
  for (int i = 0; i < n; i++) {
    char k[16];
    std::snprintf(k, sizeof(k), "w%05d", i);
    Put(k, Value(k, 0, 20));
  }
  for (int rep = 0; rep < 2; rep++) {
    const char* what = rep == 0 ? "IterKeys" : "Iter";
    SCOPED_TRACE(what);
    std::atomic<bool> go{false};
    std::thread reopener([&] {
      while (!go) std::this_thread::yield();
      Status s = db_->Reopen();
      EXPECT_TRUE(s.ok()) << "Reopen: " << s.ToString();
    });
    // At the last key of the first chunk (1024 keys), start a Reopen and let
    // it get as far as re-taking the lock, then continue the walk.
    bool held = false;
    auto pace = [&](size_t visited) {
      if (visited == 1024) {
        gate.Arm();
        go = true;
        held = gate.WaitEntered(std::chrono::seconds(1));
      }
    };
    std::vector<std::string> seen;
    Status s;
    if (rep == 0) {
      s = db_->IterKeys([&](std::string_view k) {
        seen.emplace_back(k);
        pace(seen.size());
        return true;
      });
    } else {
      s = db_->Iter("", [&](std::string_view k, std::string_view v, const RecordMeta&) {
        EXPECT_EQ(model_.at(std::string(k)), v) << k;
        seen.emplace_back(k);
        pace(seen.size());
        return true;
      });
    }
    gate.Release();
    reopener.join();
    EXPECT_FALSE(held) << "Reopen rebuilt the store while a walk was in progress";
    for (size_t i = 1; i < seen.size(); i++) {
      ASSERT_LT(seen[i - 1], seen[i]) << "walk went back or repeated a key";
    }
    if (s.ok()) {
      EXPECT_EQ(static_cast<size_t>(n), seen.size())
          << what << " returned OK after " << seen.size() << " of " << n
          << " keys: it went on reading the keydir while Reopen had cleared it";
    } else {
      EXPECT_TRUE(s.IsClosed()) << s.ToString();
    }
    EXPECT_EQ(model_, ContentsOf(db_.get()));
  }
  Close();  // while `gate` (the store's Env, which must outlive it) is alive
}

// ------------------------------------------------------------------ RunGC

// RunGC walks the keydir a chunk of keys per lock hold (so writers do not
// wait for the whole walk): across many chunks it still removes exactly the
// expired keys, and a key rewritten by a writer during the walk survives.
TEST_F(MaintenanceTest, RunGCRemovesExactlyTheExpiredKeysWhileAWriterRuns) {
  Open();
  constexpr int kKeys = 30000;  // several of SweepExpired's chunks
  auto key = [](int i) {
    char b[16];
    std::snprintf(b, sizeof(b), "g%06d", i);
    return std::string(b);
  };
  std::set<std::string> expiring;
  for (int i = 0; i < kKeys; i++) {
    const std::string k = key(i);
    if (i % 3 == 0) {
      ASSERT_TRUE(db_->PutWithTTL(k, Value(k, 0), nanoseconds(10 * kSec)).ok()) << k;
      expiring.insert(k);
    } else {
      Put(k, Value(k, 0));
    }
  }
  clock_.Advance(20 * kSec);
  // The writer rewrites (without a TTL) every 30th expired key, from the
  // end backwards, and adds new keys, while RunGC runs: a rewritten key may
  // be removed before its rewrite (and counted), never after.
  std::set<std::string> rewritten;
  std::atomic<bool> writer_ok{true};
  std::thread writer([&] {
    for (int i = kKeys - 3; i >= 0; i -= 90) {
      const std::string k = key(i);
      if (!db_->Put(k, Value(k, 1)).ok()) writer_ok = false;
      rewritten.insert(k);
      const std::string n = "n" + k;
      if (!db_->Put(n, Value(n, 1)).ok()) writer_ok = false;
    }
  });
  uint64_t removed = 0;
  ASSERT_TRUE(db_->RunGC(&removed).ok());
  writer.join();
  ASSERT_TRUE(writer_ok);
  for (const std::string& k : rewritten) {
    model_[k] = Value(k, 1);
    model_["n" + k] = Value("n" + k, 1);
  }
  EXPECT_LE(removed, expiring.size());
  EXPECT_GE(removed, expiring.size() - rewritten.size());
  uint64_t again = 1;
  ASSERT_TRUE(db_->RunGC(&again).ok());
  EXPECT_EQ(again, 0u) << "the first walk missed expired keys";
  DBStats st;
  ASSERT_TRUE(db_->Stats(&st).ok());
  EXPECT_EQ(st.keys, model_.size()) << "a rewritten key was removed, or an expired one kept";
  EXPECT_EQ(ContentsOf(db_.get()), model_);
  for (const std::string& k : expiring) {
    if (!rewritten.count(k)) {
      EXPECT_EQ(Get(k), "NOT_FOUND") << k;
    }
  }
}

// ----------------------------------------------------------------- Digest

bool IsHex32(const std::string& s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST_F(MaintenanceTest, DigestIsOrderAndHistoryIndependent) {
  // Store A: a long history.
  options_.max_data_file_size = 4096;
  Open();
  for (int i = 0; i < 300; i++) Put("d" + std::to_string(i), Value("d", 0));
  for (int i = 0; i < 300; i += 3) Put("d" + std::to_string(i), Value("d", i));
  for (int i = 1; i < 300; i += 10) Del("d" + std::to_string(i));
  ASSERT_TRUE(db_->PutWithTTL("gone-soon", "x", nanoseconds(5 * kSec)).ok());
  Put("temp", "t");
  Del("temp");
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  Put("d2", Value("d", 2));  // rewrite with the same value
  Put("big", std::string(5000, 'b'));  // compressed on disk
  clock_.Advance(5 * kSec);  // gone-soon expires
  const std::string a = DigestOf(db_.get());
  EXPECT_TRUE(IsHex32(a)) << a;

  // Store B: the same final contents written directly, in reverse order,
  // without compression.
  Options ob = options_;
  ob.compression_threshold = 0;
  ob.max_data_file_size = 1 << 20;
  std::unique_ptr<DB> b;
  ASSERT_TRUE(DB::Open(tmp_.path() + "/b", ob, &b).ok());
  for (auto it = model_.rbegin(); it != model_.rend(); ++it) {
    ASSERT_TRUE(b->Put(it->first, it->second).ok());
  }
  EXPECT_EQ(model_, ContentsOf(b.get()));
  EXPECT_EQ(a, DigestOf(b.get()));

  // Different by one byte of one value, by a key, by swapped values.
  std::string v = model_["d5"];
  v[v.size() - 1] ^= 1;
  ASSERT_TRUE(b->Put("d5", v).ok());
  const std::string changed = DigestOf(b.get());
  EXPECT_NE(a, changed);
  ASSERT_TRUE(b->Put("d5", model_["d5"]).ok());
  EXPECT_EQ(a, DigestOf(b.get())) << "same contents again, same digest";
  ASSERT_TRUE(b->Put("extra", "").ok());
  EXPECT_NE(a, DigestOf(b.get())) << "a key with an empty value must count";
  ASSERT_TRUE(b->Delete("extra").ok());
  EXPECT_EQ(a, DigestOf(b.get()));

  // A put changes A's digest; stable across reopen and merge.
  Put("d0", "something else");
  const std::string a2 = DigestOf(db_.get());
  EXPECT_NE(a, a2);
  EXPECT_EQ(a2, DigestOf(db_.get()));
  Close();
  Open();
  EXPECT_EQ(a2, DigestOf(db_.get()));
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  EXPECT_EQ(a2, DigestOf(db_.get()));
  ASSERT_TRUE(db_->Reopen().ok());
  EXPECT_EQ(a2, DigestOf(db_.get()));
}

TEST_F(MaintenanceTest, DigestSeparatesKeysFromValues) {
  auto digest_of = [&](const Contents& c, const std::string& name) {
    std::unique_ptr<DB> db;
    EXPECT_TRUE(DB::Open(tmp_.path() + "/" + name, options_, &db).ok());
    for (const auto& kv : c) EXPECT_TRUE(db->Put(kv.first, kv.second).ok());
    std::string d = DigestOf(db.get());
    EXPECT_TRUE(IsHex32(d)) << d;
    return d;
  };
  const std::string empty1 = digest_of({}, "e1");
  EXPECT_EQ(empty1, digest_of({}, "e2"));
  const std::string ab_c = digest_of({{"ab", "c"}}, "s1");
  const std::string a_bc = digest_of({{"a", "bc"}}, "s2");
  EXPECT_NE(ab_c, a_bc) << "key/value boundary must matter";
  const std::string swap1 = digest_of({{"a", "1"}, {"b", "2"}}, "s3");
  const std::string swap2 = digest_of({{"a", "2"}, {"b", "1"}}, "s4");
  EXPECT_NE(swap1, swap2) << "which value belongs to which key must matter";
  EXPECT_NE(empty1, digest_of({{"k", ""}}, "s5"));
  EXPECT_EQ(digest_of({{"x", "1"}, {"y", "2"}, {"z", "3"}}, "s6"),
            digest_of({{"z", "3"}, {"y", "2"}, {"x", "1"}}, "s7"));
  // Closed store.
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(tmp_.path() + "/closed", options_, &db).ok());
  ASSERT_TRUE(db->Close().ok());
  std::string d;
  EXPECT_TRUE(db->Digest(&d).IsClosed());
}

}  // namespace
}  // namespace bitgask
