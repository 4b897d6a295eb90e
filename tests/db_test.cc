// Unit tests for bitgask::DB (engine/db_impl.cc) through the public API.
//
// Every test runs in its own temporary directory and most inject a fake clock
// (an EnvWrapper overriding NowUnixNanos) so that TTLs and timestamps are exact.
// File sizes are read straight from ROOT/data to check what reached the log.
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
#include "test_util.h"

namespace bitgask {
namespace {

namespace fs = std::filesystem;
using test::FakeClockEnv;
using test::TempDir;
using test::FileIds;
using test::FileSize;
using test::FlipByte;
using test::NumberedName;
using test::ReadWholeFile;
using test::WriteWholeFile;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr int64_t kStartNs = 1700000000LL * 1000000000LL;  // the fake clock's start
constexpr int64_t kSec = 1000000000LL;
constexpr uint64_t kHeader = 32;  // record header bytes (engine/record.h)
constexpr uint64_t kMetaRecordFixed = kHeader + 1;  // header + the one-byte mask

// ------------------------------------------------------------------ helpers

std::string AllBytes() {
  std::string s;
  for (int i = 0; i < 256; i++) s.push_back(static_cast<char>(i));
  return s;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

std::string Compressible(size_t n) {
  std::string s;
  s.reserve(n);
  const std::string phrase = "bitgask is a bitcask-style key-value store; ";
  while (s.size() < n) s += phrase;
  s.resize(n);
  return s;
}

// Compares possibly huge or binary strings without dumping them whole.
::testing::AssertionResult SameBytes(const std::string& want, const std::string& got) {
  if (want == got) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) i++;
  return ::testing::AssertionFailure()
         << "values differ: want " << want.size() << " bytes, got " << got.size()
         << " bytes, first difference at byte " << i;
}

std::string Hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::string MetaToString(const RecordMeta& m) {
  std::ostringstream os;
  os << "{ts=" << m.timestamp_unix_ns << " expires=" << m.expires_unix_ns
     << " size=" << m.value_size << " mode=" << std::oct << m.mode << std::dec << "}";
  return os.str();
}

bool MetaEq(const RecordMeta& a, const RecordMeta& b) {
  return a.timestamp_unix_ns == b.timestamp_unix_ns && a.expires_unix_ns == b.expires_unix_ns &&
         a.value_size == b.value_size && a.mode == b.mode;
}

// What a store holds for one key, for comparing two opens of the same store.
struct KeyState {
  bool found = false;
  std::string value;
  RecordMeta meta;
  bool operator==(const KeyState& o) const {
    return found == o.found && value == o.value && (!found || MetaEq(meta, o.meta));
  }
};

class DBTest : public ::testing::Test {
 protected:
  DBTest() : root_(tmp_.path() + "/db"), data_dir_(root_ + "/data") {
    options_.env = &clock_;
  }
  ~DBTest() override {
    if (db_) db_->Close();
  }

  Status TryOpen() {
    db_.reset();
    return DB::Open(root_, options_, &db_);
  }
  void Open() {
    Status s = TryOpen();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_NE(db_, nullptr);
  }
  void Close() {
    if (db_) {
      Status s = db_->Close();
      EXPECT_TRUE(s.ok()) << s.ToString();
      db_.reset();
    }
  }
  void Reopen() {
    Close();
    Open();
  }

  std::string Get(std::string_view key) {
    std::string v;
    Status s = db_->Get(key, &v);
    if (s.IsNotFound()) return "NOT_FOUND";
    if (!s.ok()) return "ERROR: " + s.ToString();
    return v;
  }
  RecordMeta MetaOf(std::string_view key) {
    RecordMeta m;
    Status s = db_->Meta(key, &m);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return m;
  }
  // The status of a Get (the value is discarded).
  Status GetStatus(std::string_view key) {
    std::string v;
    return db_->Get(key, &v);
  }
  DBStats GetStats() {
    DBStats st;
    Status s = db_->Stats(&st);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return st;
  }

  // Bytes in every data file on disk.
  uint64_t DataBytesOnDisk() {
    uint64_t n = 0;
    for (uint32_t id : FileIds(data_dir_, ".data")) {
      n += FileSize(data_dir_ + "/" + NumberedName(id, ".data"));
    }
    return n;
  }
  std::vector<uint32_t> DataIds() { return FileIds(data_dir_, ".data"); }
  std::vector<uint32_t> HintIds() { return FileIds(data_dir_, ".hint"); }
  std::string DataPath(uint32_t id) { return data_dir_ + "/" + NumberedName(id, ".data"); }

  // Waits (real time) until every data file but the newest has a hint file.
  bool WaitForHints(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::vector<uint32_t> data = DataIds();
      std::vector<uint32_t> hints = HintIds();
      bool all = true;
      for (size_t i = 0; i + 1 < data.size(); i++) {
        if (!std::binary_search(hints.begin(), hints.end(), data[i])) all = false;
      }
      if (all) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  KeyState StateOf(const std::string& key) {
    KeyState ks;
    Status s = db_->Get(key, &ks.value);
    if (s.ok()) {
      ks.found = true;
      Status m = db_->Meta(key, &ks.meta);
      EXPECT_TRUE(m.ok()) << m.ToString();
    } else {
      EXPECT_TRUE(s.IsNotFound()) << Hex(key) << ": " << s.ToString();
      ks.value.clear();
    }
    return ks;
  }
  std::map<std::string, KeyState> Snapshot(const std::set<std::string>& keys) {
    std::map<std::string, KeyState> m;
    for (const std::string& k : keys) m[k] = StateOf(k);
    return m;
  }
  void ExpectSameSnapshot(const std::map<std::string, KeyState>& want,
                          const std::map<std::string, KeyState>& got, const char* what) {
    ASSERT_EQ(want.size(), got.size()) << what;
    size_t diffs = 0;
    for (const auto& [k, w] : want) {
      const KeyState& g = got.at(k);
      if (!(w == g) && diffs++ < 10) {
        ADD_FAILURE() << what << ": key " << Hex(k) << " was found=" << w.found << " "
                      << MetaToString(w.meta) << " " << w.value.size() << " bytes; now found="
                      << g.found << " " << MetaToString(g.meta) << " " << g.value.size()
                      << " bytes";
      }
    }
    EXPECT_EQ(0u, diffs) << what;
  }

  TempDir tmp_{"bitgask_db_test"};
  const std::string root_;
  const std::string data_dir_;
  FakeClockEnv clock_;
  Options options_;
  std::unique_ptr<Env> owned_env_;  // an Env a test installs; outlives db_
  std::unique_ptr<DB> db_;
};

// ------------------------------------------------------------- open/create

TEST_F(DBTest, OpenCreatesStoreLayout) {
  Open();
  EXPECT_TRUE(fs::is_regular_file(root_ + "/LOCK"));
  EXPECT_TRUE(fs::is_directory(data_dir_));
  const std::string meta = ReadWholeFile(data_dir_ + "/bitgask.meta");
  EXPECT_NE(std::string::npos, meta.find("\"format\": \"bitgask\"")) << meta;
  EXPECT_NE(std::string::npos, meta.find("\"format_version\": " + std::to_string(kFormatVersion)))
      << meta;
  EXPECT_EQ(1u, DataIds().size());
}

TEST_F(DBTest, CreateIfMissingFalseRefusesNewStore) {
  options_.create_if_missing = false;
  Status s = TryOpen();
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(nullptr, db_);
  EXPECT_FALSE(fs::exists(root_)) << "a refused open must not create the store";
}

TEST_F(DBTest, ErrorIfMissingRefusesNewStore) {
  options_.error_if_missing = true;
  Status s = TryOpen();
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(nullptr, db_);
  EXPECT_FALSE(fs::exists(root_));

  // An existing but empty directory is not a store either.
  ASSERT_TRUE(fs::create_directory(root_));
  s = TryOpen();
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_TRUE(fs::is_empty(root_)) << "a refused open must leave the directory as it was";
}

TEST_F(DBTest, ExistingStoreOpensWithoutCreateOrWithErrorIfMissing) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  Close();

  options_.create_if_missing = false;
  Open();
  EXPECT_EQ("v", Get("k"));
  Close();

  options_.create_if_missing = true;
  options_.error_if_missing = true;
  Open();
  EXPECT_EQ("v", Get("k"));
}

TEST_F(DBTest, SecondOpenOfSameStoreIsLocked) {
  Open();
  std::unique_ptr<DB> other;
  Status s = DB::Open(root_, options_, &other);
  EXPECT_TRUE(s.IsLocked()) << s.ToString();
  EXPECT_EQ(nullptr, other);
  Close();
  s = DB::Open(root_, options_, &other);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (other) other->Close();
}

TEST_F(DBTest, ApiShapeFromReadmeCompiles) {
  const std::string path = root_;
  // The README's example, with only the path changed:
  bitgask::Options opts;  // opts.sync_on_put = false; ...
  std::unique_ptr<bitgask::DB> db;
  bitgask::Status s = bitgask::DB::Open(path, opts, &db);
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = db->Put("greeting", "hello");
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string value;
  s = db->Get("greeting", &value);  // s.IsNotFound() when absent
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ("hello", value);
  s = db->PutWithTTL("session", "abc", std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = db->Delete("greeting");
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = db->Get("greeting", &value);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_EQ("hello", value);
  // And with std::string key and value, as the brief's API shape has it.
  std::string key = "key";
  std::string val = "value";
  s = db->Put(key, val);
  ASSERT_TRUE(s.ok()) << s.ToString();
  val.clear();
  s = db->Get(key, &val);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ("value", val);
  s = db->Delete(key);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(db->Close().ok());
}

TEST_F(DBTest, DestructorClosesTheStore) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  db_.reset();  // no Close(): the destructor syncs and releases the lock
  Open();
  EXPECT_EQ("v", Get("k"));
}

// ------------------------------------------------------- put/get/delete

TEST_F(DBTest, PutGetRoundTrip) {
  Open();
  ASSERT_TRUE(db_->Put("alpha", "1").ok());
  ASSERT_TRUE(db_->Put("beta", "22").ok());
  EXPECT_EQ("1", Get("alpha"));
  EXPECT_EQ("22", Get("beta"));
  Reopen();
  EXPECT_EQ("1", Get("alpha"));
  EXPECT_EQ("22", Get("beta"));
}

TEST_F(DBTest, BinaryKeysAndValues) {
  Open();
  const std::string all = AllBytes();
  const std::string k_nul = std::string("a\0b", 3);
  const std::string k_nul2 = std::string("a\0c", 3);
  const std::string k_only_nul = std::string(1, '\0');
  const std::string k_nuls = std::string(4, '\0');
  const std::string k_ff = std::string(3, '\xff');
  std::map<std::string, std::string> want = {
      {"a", "plain"},
      {k_nul, std::string("v\0\0x", 4)},
      {k_nul2, all},
      {k_only_nul, std::string(1000, '\0')},
      {k_nuls, std::string("\xff\x00\x7f\x80", 4)},
      {k_ff, all + all},
      {all, "key of all 256 byte values"},
  };
  for (const auto& [k, v] : want) {
    Status s = db_->Put(k, v);
    ASSERT_TRUE(s.ok()) << Hex(k) << ": " << s.ToString();
  }
  for (int pass = 0; pass < 3; pass++) {
    for (const auto& [k, v] : want) {
      std::string got;
      Status s = db_->Get(k, &got);
      ASSERT_TRUE(s.ok()) << "pass " << pass << " key " << Hex(k) << ": " << s.ToString();
      EXPECT_TRUE(SameBytes(v, got)) << "pass " << pass << " key " << Hex(k);
      EXPECT_EQ(v.size(), MetaOf(k).value_size);
    }
    EXPECT_EQ(want.size(), GetStats().keys);
    EXPECT_EQ("NOT_FOUND", Get(std::string("a\0", 2)));  // prefix of "a\0b", never written
    EXPECT_EQ("NOT_FOUND", Get(std::string(2, '\0')));
    if (pass == 0) Reopen();
    if (pass == 1) {
      options_.validate_on_open = true;
      Reopen();
    }
  }
}

TEST_F(DBTest, EmptyValue) {
  Open();
  ASSERT_TRUE(db_->Put("empty", "").ok());
  std::string v = "garbage";
  ASSERT_TRUE(db_->Get("empty", &v).ok());
  EXPECT_EQ("", v);
  EXPECT_TRUE(db_->Has("empty"));
  EXPECT_EQ(0u, MetaOf("empty").value_size);
  EXPECT_EQ(kHeader + 5, DataBytesOnDisk());
  Reopen();
  v = "garbage";
  ASSERT_TRUE(db_->Get("empty", &v).ok());
  EXPECT_EQ("", v);
  EXPECT_TRUE(db_->Has("empty"));
}

TEST_F(DBTest, OverwriteKeepsNewestValue) {
  Open();
  ASSERT_TRUE(db_->Put("k", "first").ok());
  ASSERT_TRUE(db_->Put("k", "second value").ok());
  EXPECT_EQ("second value", Get("k"));
  ASSERT_TRUE(db_->Put("k", "").ok());
  EXPECT_EQ("", Get("k"));
  ASSERT_TRUE(db_->Put("k", "third").ok());
  EXPECT_EQ("third", Get("k"));
  EXPECT_EQ(1u, GetStats().keys);
  Reopen();
  EXPECT_EQ("third", Get("k"));
  EXPECT_EQ(1u, GetStats().keys);
}

TEST_F(DBTest, GetMissingKeyLeavesValueUnchanged) {
  Open();
  ASSERT_TRUE(db_->Put("present", "x").ok());
  std::string v = "sentinel";
  Status s = db_->Get("absent", &v);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_FALSE(s.IsExpired());
  EXPECT_EQ("sentinel", v);

  ASSERT_TRUE(db_->Delete("present").ok());
  s = db_->Get("present", &v);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_EQ("sentinel", v);
}

TEST_F(DBTest, Has) {
  Open();
  EXPECT_FALSE(db_->Has("k"));
  ASSERT_TRUE(db_->Put("k", "v").ok());
  EXPECT_TRUE(db_->Has("k"));
  EXPECT_FALSE(db_->Has("k2"));
  EXPECT_FALSE(db_->Has(""));
  ASSERT_TRUE(db_->Delete("k").ok());
  EXPECT_FALSE(db_->Has("k"));
}

TEST_F(DBTest, DeleteRemovesKeyDurably) {
  Open();
  ASSERT_TRUE(db_->Put("a", "1").ok());
  ASSERT_TRUE(db_->Put("b", "2").ok());
  ASSERT_TRUE(db_->Delete("a").ok());
  EXPECT_EQ("NOT_FOUND", Get("a"));
  EXPECT_EQ("2", Get("b"));
  EXPECT_EQ(1u, GetStats().keys);
  Reopen();
  EXPECT_EQ("NOT_FOUND", Get("a"));
  EXPECT_EQ("2", Get("b"));
  EXPECT_EQ(1u, GetStats().keys);
  // Put after delete brings it back.
  ASSERT_TRUE(db_->Put("a", "again").ok());
  Reopen();
  EXPECT_EQ("again", Get("a"));
}

TEST_F(DBTest, DeleteOfMissingKeyWritesNothing) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  const uint64_t before = DataBytesOnDisk();
  const DBStats st0 = GetStats();
  Status s = db_->Delete("never-written");
  EXPECT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(db_->Delete("k").ok());
  const uint64_t after_one = DataBytesOnDisk();
  EXPECT_EQ(before + kHeader + 1, after_one) << "one tombstone for the key that existed";
  s = db_->Delete("k");  // already deleted
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(after_one, DataBytesOnDisk());
  const DBStats st = GetStats();
  EXPECT_EQ(st0.total_bytes + kHeader + 1, st.total_bytes);
  EXPECT_EQ(st0.write_groups + 1, st.write_groups);
}

TEST_F(DBTest, EmptyKeyIsInvalidArgument) {
  Open();
  std::string v = "unchanged";
  RecordMeta m;
  EXPECT_TRUE(db_->Put("", "v").IsInvalidArgument());
  EXPECT_TRUE(db_->PutWithTTL("", "v", seconds(1)).IsInvalidArgument());
  EXPECT_TRUE(db_->Get("", &v).IsInvalidArgument());
  EXPECT_EQ("unchanged", v);
  EXPECT_TRUE(db_->Delete("").IsInvalidArgument());
  EXPECT_TRUE(db_->Meta("", &m).IsInvalidArgument());
  EXPECT_TRUE(db_->Expire("", seconds(1)).IsInvalidArgument());
  EXPECT_TRUE(db_->Persist("").IsInvalidArgument());
  EXPECT_FALSE(db_->Has(""));
  EXPECT_EQ(0u, DataBytesOnDisk());
}

TEST_F(DBTest, KeyOverMaxKeySizeIsTooLarge) {
  options_.max_key_size = 16;
  Open();
  const std::string ok_key(16, 'k');
  const std::string big_key(17, 'k');
  EXPECT_TRUE(db_->Put(ok_key, "v").ok());
  Status s = db_->Put(big_key, "v");
  EXPECT_TRUE(s.IsTooLarge()) << s.ToString();
  std::string v;
  EXPECT_TRUE(db_->Get(big_key, &v).IsTooLarge());
  EXPECT_EQ(kHeader + 16 + 1, DataBytesOnDisk()) << "the refused put wrote nothing";
  EXPECT_EQ("v", Get(ok_key));
}

TEST_F(DBTest, DefaultMaxKeySizeIs4096) {
  Open();
  EXPECT_TRUE(db_->Put(std::string(4096, 'k'), "v").ok());
  EXPECT_TRUE(db_->Put(std::string(4097, 'k'), "v").IsTooLarge());
  EXPECT_EQ("v", Get(std::string(4096, 'k')));
}

TEST_F(DBTest, ValueOverMaxValueSizeIsTooLarge) {
  options_.max_value_size = 100;
  Open();
  EXPECT_TRUE(db_->Put("k", std::string(100, 'v')).ok());
  Status s = db_->Put("k", std::string(101, 'w'));
  EXPECT_TRUE(s.IsTooLarge()) << s.ToString();
  EXPECT_TRUE(db_->PutWithTTL("k", std::string(101, 'w'), seconds(5)).IsTooLarge());
  EXPECT_EQ(std::string(100, 'v'), Get("k"));
  EXPECT_EQ(kHeader + 1 + 100, DataBytesOnDisk());
}

TEST_F(DBTest, GetRange) {
  Open();
  const std::string v = "0123456789";
  ASSERT_TRUE(db_->Put("k", v).ok());
  std::string out;
  ASSERT_TRUE(db_->GetRange("k", 2, 3, &out).ok());
  EXPECT_EQ("234", out);
  ASSERT_TRUE(db_->GetRange("k", 8, 100, &out).ok());
  EXPECT_EQ("89", out);
  ASSERT_TRUE(db_->GetRange("k", 10, 5, &out).ok());
  EXPECT_EQ("", out);
  const std::string big = Compressible(100000);
  ASSERT_TRUE(db_->Put("big", big).ok());
  ASSERT_TRUE(db_->GetRange("big", 50000, 1000, &out).ok());
  EXPECT_EQ(big.substr(50000, 1000), out);
  out = "x";
  EXPECT_TRUE(db_->GetRange("missing", 0, 1, &out).IsNotFound());
  EXPECT_EQ("x", out);
}

// With sync off, the background thread flushes the active file every 8 MiB of
// appends, so the fsync that closes a full file has little left to write.
class FlushCountingEnv : public FakeClockEnv {
 public:
  Status FlushFile(const std::string& p) override {
    flushes++;
    return FakeClockEnv::FlushFile(p);
  }
  std::atomic<int> flushes{0};
};

TEST_F(DBTest, BackgroundFlushesTheActiveFileWhenSyncIsOff) {
  auto* env = new FlushCountingEnv;
  owned_env_.reset(env);
  options_.env = env;
  options_.sync_on_put = false;
  Open();
  const std::string value = RandomBytes(64 << 10, 23);  // incompressible: stored whole
  for (int i = 0; i < 100; i++) {  // 6.4 MiB: below the threshold
    ASSERT_TRUE(db_->Put("a" + std::to_string(i), value).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(env->flushes.load(), 0);
  for (int i = 0; i < 100; i++) {  // 12.8 MiB in all: one flush due
    ASSERT_TRUE(db_->Put("b" + std::to_string(i), value).ok());
  }
  for (int i = 0; i < 200 && env->flushes.load() == 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(env->flushes.load(), 1);
}

// Counts the bytes read through RandomAccessFiles of data files.
class ReadCountingEnv : public FakeClockEnv {
 public:
  Status NewRandomAccessFile(const std::string& p,
                             std::unique_ptr<RandomAccessFile>* f) override {
    Status s = FakeClockEnv::NewRandomAccessFile(p, f);
    if (s.ok()) f->reset(new File(this, std::move(*f)));
    return s;
  }
  std::atomic<uint64_t> bytes_read{0};

 private:
  class File : public RandomAccessFile {
   public:
    File(ReadCountingEnv* env, std::unique_ptr<RandomAccessFile> base)
        : env_(env), base_(std::move(base)) {}
    Status Read(uint64_t offset, size_t n, char* scratch,
                std::string_view* result) const override {
      Status s = base_->Read(offset, n, scratch, result);
      if (s.ok()) env_->bytes_read += result->size();
      return s;
    }

   private:
    ReadCountingEnv* env_;
    std::unique_ptr<RandomAccessFile> base_;
  };
};

// db.h: "For an uncompressed value only that range is read from disk", at the
// granularity of its 64 KiB checksummed blocks (docs/Format.md).
TEST_F(DBTest, GetRangeOfUncompressedValueReadsOnlyTheRange) {
  auto* env = new ReadCountingEnv;
  owned_env_.reset(env);
  options_.env = env;
  Open();
  const std::string value = RandomBytes(1 << 20, 21);  // incompressible: stored as is
  ASSERT_TRUE(db_->Put("k", value).ok());
  const uint64_t before = env->bytes_read.load();
  std::string out;
  ASSERT_TRUE(db_->GetRange("k", 500000, 100, &out).ok());
  EXPECT_EQ(value.substr(500000, 100), out);
  const uint64_t read = env->bytes_read.load() - before;
  std::printf("GetRange of 100 bytes of a 1 MiB value read %llu bytes\n",
              static_cast<unsigned long long>(read));
  // 500000..500100 lies in one block: that block and its 4-byte checksum.
  EXPECT_EQ(read, (64u << 10) + 4) << "GetRange read more than the block holding the range";
}

// A damaged byte inside one block of a large value: a range in that block is
// Corruption, a range in another block still reads, and Get of the whole
// value is Corruption. Never wrong bytes.
TEST_F(DBTest, GetRangeChecksEachBlockItReads) {
  options_.max_data_file_size = 4096;  // the value gets a file of its own...
  Open();
  const std::string value = RandomBytes(300000, 22);  // 5 blocks, stored raw
  ASSERT_TRUE(db_->Put("k", value).ok());
  ASSERT_TRUE(db_->Put("z", "next").ok());  // ...closed by this write: damage there is not a tail
  ASSERT_TRUE(db_->Close().ok());
  db_.reset();
  // Flip a byte in block 2 (value offset 140000) of the only record.
  const std::string path = root_ + "/data/000000001.data";
  const long at = 32 + 1 + 140000;
  FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fseek(f, at, SEEK_SET), 0);
  int c = std::fgetc(f);
  ASSERT_EQ(std::fseek(f, at, SEEK_SET), 0);
  std::fputc(c ^ 0x40, f);
  std::fclose(f);
  Open();
  std::string out = "unchanged";
  Status s = db_->GetRange("k", 139990, 20, &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(out, "unchanged");
  ASSERT_TRUE(db_->GetRange("k", 10, 20, &out).ok());  // block 0
  EXPECT_EQ(out, value.substr(10, 20));
  ASSERT_TRUE(db_->GetRange("k", 299990, 100, &out).ok());  // the short last block, clamped
  EXPECT_EQ(out, value.substr(299990));
  ASSERT_TRUE(db_->GetRange("k", 65530, 20, &out).ok());  // across blocks 0 and 1
  EXPECT_EQ(out, value.substr(65530, 20));
  EXPECT_TRUE(db_->Get("k", &out).IsCorruption());
}

// ------------------------------------------------------------- compression

TEST_F(DBTest, CompressibleValueIsStoredCompressed) {
  Open();
  const std::string value = Compressible(1 << 20);
  ASSERT_TRUE(db_->Put("big", value).ok());
  const uint64_t on_disk = DataBytesOnDisk();
  EXPECT_LT(on_disk, value.size() / 4) << "a 1 MiB repetitive value should compress well";
  EXPECT_EQ(on_disk, GetStats().total_bytes);
  std::string got;
  ASSERT_TRUE(db_->Get("big", &got).ok());
  EXPECT_TRUE(SameBytes(value, got));
  EXPECT_EQ(value.size(), MetaOf("big").value_size) << "Meta reports the logical size";
  Reopen();  // the newest file is scanned: the logical size comes from the snappy preamble
  got.clear();
  ASSERT_TRUE(db_->Get("big", &got).ok());
  EXPECT_TRUE(SameBytes(value, got));
  EXPECT_EQ(value.size(), MetaOf("big").value_size);
}

TEST_F(DBTest, IncompressibleValueRoundTrips) {
  Open();
  const std::string value = RandomBytes(64 << 10, 7);
  ASSERT_TRUE(db_->Put("rnd", value).ok());
  EXPECT_EQ(kHeader + 3 + value.size(), DataBytesOnDisk())
      << "an incompressible value is stored as is";
  std::string got;
  ASSERT_TRUE(db_->Get("rnd", &got).ok());
  EXPECT_TRUE(SameBytes(value, got));
  Reopen();
  ASSERT_TRUE(db_->Get("rnd", &got).ok());
  EXPECT_TRUE(SameBytes(value, got));
  EXPECT_EQ(value.size(), MetaOf("rnd").value_size);
}

TEST_F(DBTest, CompressionThresholdZeroDisablesCompression) {
  options_.compression_threshold = 0;
  Open();
  const std::string value = Compressible(1 << 20);
  ASSERT_TRUE(db_->Put("big", value).ok());
  // Stored raw, with a 4-byte checksum per 64 KiB block (docs/Format.md).
  EXPECT_EQ(kHeader + 3 + value.size() + 4 * (value.size() / (64 << 10)), DataBytesOnDisk());
  std::string got;
  ASSERT_TRUE(db_->Get("big", &got).ok());
  EXPECT_TRUE(SameBytes(value, got));
}

TEST_F(DBTest, ValuesBelowThresholdAreNotCompressed) {
  options_.compression_threshold = 256;
  Open();
  ASSERT_TRUE(db_->Put("a", std::string(255, 'a')).ok());
  EXPECT_EQ(kHeader + 1 + 255, DataBytesOnDisk());
  ASSERT_TRUE(db_->Put("b", std::string(256, 'b')).ok());
  EXPECT_LT(DataBytesOnDisk(), 2 * (kHeader + 1) + 255 + 256) << "256 bytes reach the threshold";
  EXPECT_EQ(std::string(255, 'a'), Get("a"));
  EXPECT_EQ(std::string(256, 'b'), Get("b"));
  EXPECT_EQ(256u, MetaOf("b").value_size);
}

// ------------------------------------------------------------------- Meta

TEST_F(DBTest, MetaReportsWriteOptions) {
  Open();
  WriteOptions wo;
  wo.mode = 0100644;
  wo.timestamp_unix_ns = 1234567890123LL;
  ASSERT_TRUE(db_->Put(wo, "file", "contents").ok());
  RecordMeta m = MetaOf("file");
  EXPECT_EQ(0100644, m.mode);
  EXPECT_EQ(1234567890123LL, m.timestamp_unix_ns);
  EXPECT_EQ(0, m.expires_unix_ns);
  EXPECT_EQ(8u, m.value_size);

  // Defaults: timestamp is "now", mode 0.
  clock_.Advance(5 * kSec);
  ASSERT_TRUE(db_->Put("plain", "xyz").ok());
  m = MetaOf("plain");
  EXPECT_EQ(clock_.Now(), m.timestamp_unix_ns);
  EXPECT_EQ(0, m.mode);
  EXPECT_EQ(3u, m.value_size);

  Reopen();
  m = MetaOf("file");
  EXPECT_EQ(0100644, m.mode);
  EXPECT_EQ(1234567890123LL, m.timestamp_unix_ns);
  EXPECT_EQ(8u, m.value_size);
  RecordMeta missing;
  missing.value_size = 77;
  Status s = db_->Meta("nope", &missing);
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(77u, missing.value_size);
}

TEST_F(DBTest, MetaDoesNotReadTheValue) {
  Open();
  WriteOptions wo;
  wo.mode = 0100600;
  wo.timestamp_unix_ns = 42;
  ASSERT_TRUE(db_->Put(wo, "key", RandomBytes(1000, 3)).ok());
  // Damage the value on disk: a read sees it, the keydir-only Meta does not.
  const std::vector<uint32_t> ids = DataIds();
  ASSERT_EQ(1u, ids.size());
  FlipByte(DataPath(ids[0]), kHeader + 3 + 500);
  std::string got = "unchanged";
  Status s = db_->Get("key", &got);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ("unchanged", got) << "a corrupt record's bytes are never returned";
  RecordMeta m;
  s = db_->Meta("key", &m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(1000u, m.value_size);
  EXPECT_EQ(42, m.timestamp_unix_ns);
  EXPECT_EQ(0100600, m.mode);
  EXPECT_EQ(0, m.expires_unix_ns);
}

// --------------------------------------------------------------------- TTL

TEST_F(DBTest, PutWithTTLExpires) {
  Open();
  const int64_t t0 = clock_.Now();
  ASSERT_TRUE(db_->PutWithTTL("k", "v", seconds(10)).ok());
  ASSERT_TRUE(db_->Put("forever", "f").ok());
  EXPECT_EQ(t0 + 10 * kSec, MetaOf("k").expires_unix_ns);
  clock_.Advance(10 * kSec - 1);
  EXPECT_EQ("v", Get("k"));
  EXPECT_TRUE(db_->Has("k"));
  clock_.Advance(1);  // now == expiry: expired
  std::string v = "unchanged";
  Status s = db_->Get("k", &v);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_TRUE(s.IsExpired()) << "the first read after expiry says so: " << s.ToString();
  EXPECT_EQ("unchanged", v);
  s = db_->Get("k", &v);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_FALSE(s.IsExpired()) << "later reads are plain NotFound: " << s.ToString();
  EXPECT_FALSE(db_->Has("k"));
  RecordMeta m;
  EXPECT_TRUE(db_->Meta("k", &m).IsNotFound());
  EXPECT_EQ("f", Get("forever"));
  EXPECT_EQ(1u, GetStats().keys);
}

TEST_F(DBTest, HasAndMetaAfterExpiry) {
  Open();
  ASSERT_TRUE(db_->PutWithTTL("a", "v", seconds(1)).ok());
  ASSERT_TRUE(db_->PutWithTTL("b", "v", seconds(1)).ok());
  clock_.Advance(2 * kSec);
  EXPECT_FALSE(db_->Has("a"));
  EXPECT_TRUE(GetStatus("a").IsNotFound());
  RecordMeta m;
  Status s = db_->Meta("b", &m);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_TRUE(s.IsExpired()) << s.ToString();
  EXPECT_EQ(0u, GetStats().keys);
}

TEST_F(DBTest, InvalidTTLs) {
  Open();
  EXPECT_TRUE(db_->PutWithTTL("k", "v", nanoseconds(0)).IsInvalidArgument());
  EXPECT_TRUE(db_->PutWithTTL("k", "v", seconds(-1)).IsInvalidArgument());
  WriteOptions wo;
  wo.ttl = seconds(-5);
  EXPECT_TRUE(db_->Put(wo, "k", "v").IsInvalidArgument());
  wo = WriteOptions();
  wo.expires_at_unix_ns = -1;
  EXPECT_TRUE(db_->Put(wo, "k", "v").IsInvalidArgument());
  EXPECT_FALSE(db_->Has("k"));
  EXPECT_EQ(0u, DataBytesOnDisk());
}

TEST_F(DBTest, WriteOptionsExpiry) {
  Open();
  const int64_t t0 = clock_.Now();
  WriteOptions wo;
  wo.ttl = seconds(3);
  ASSERT_TRUE(db_->Put(wo, "rel", "r").ok());
  wo = WriteOptions();
  wo.expires_at_unix_ns = t0 + 7 * kSec;
  ASSERT_TRUE(db_->Put(wo, "abs", "a").ok());
  EXPECT_EQ(t0 + 3 * kSec, MetaOf("rel").expires_unix_ns);
  EXPECT_EQ(t0 + 7 * kSec, MetaOf("abs").expires_unix_ns);
  clock_.Advance(5 * kSec);
  EXPECT_EQ("NOT_FOUND", Get("rel"));
  EXPECT_EQ("a", Get("abs"));
  clock_.Advance(5 * kSec);
  EXPECT_EQ("NOT_FOUND", Get("abs"));
}

TEST_F(DBTest, DefaultTTLOption) {
  options_.default_ttl = seconds(60);
  Open();
  const int64_t t0 = clock_.Now();
  ASSERT_TRUE(db_->Put("d", "default").ok());
  ASSERT_TRUE(db_->PutWithTTL("short", "s", seconds(5)).ok());
  EXPECT_EQ(t0 + 60 * kSec, MetaOf("d").expires_unix_ns);
  EXPECT_EQ(t0 + 5 * kSec, MetaOf("short").expires_unix_ns);
  clock_.Advance(30 * kSec);
  EXPECT_EQ("default", Get("d"));
  EXPECT_EQ("NOT_FOUND", Get("short"));
  ASSERT_TRUE(db_->Persist("d").ok());
  clock_.Advance(60 * kSec);
  EXPECT_EQ("default", Get("d"));
  ASSERT_TRUE(db_->Put("e", "x").ok());
  EXPECT_EQ(clock_.Now() + 60 * kSec, MetaOf("e").expires_unix_ns);
  clock_.Advance(61 * kSec);
  Status s = GetStatus("e");
  EXPECT_TRUE(s.IsExpired()) << s.ToString();
}

TEST_F(DBTest, NegativeDefaultTTLIsInvalid) {
  options_.default_ttl = seconds(-1);
  Status s = TryOpen();
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
}

TEST_F(DBTest, ExpiredKeysAreGoneAfterReopen) {
  Open();
  ASSERT_TRUE(db_->PutWithTTL("short", "s", seconds(5)).ok());
  ASSERT_TRUE(db_->PutWithTTL("long", "l", seconds(500)).ok());
  ASSERT_TRUE(db_->Put("none", "n").ok());
  Close();
  clock_.Advance(10 * kSec);
  Open();
  EXPECT_EQ(2u, GetStats().keys);
  Status s = GetStatus("short");
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_EQ("l", Get("long"));
  EXPECT_EQ("n", Get("none"));
  EXPECT_EQ(clock_.Now() - 10 * kSec + 500 * kSec, MetaOf("long").expires_unix_ns);
}

// ---------------------------------------------------- Expire/Persist/SetMeta

TEST_F(DBTest, ExpireChangesExpiryWithoutRewritingValue) {
  Open();
  const std::string value = RandomBytes(1 << 20, 11);  // 1 MiB, stored as is
  const std::string key = "the-key";
  ASSERT_TRUE(db_->Put(key, value).ok());
  const uint64_t per_op = kMetaRecordFixed + key.size();

  uint64_t before = DataBytesOnDisk();
  ASSERT_GT(before, value.size());
  ASSERT_TRUE(db_->Expire(key, seconds(100)).ok());
  EXPECT_EQ(before + per_op, DataBytesOnDisk()) << "Expire appends only a metadata record";
  EXPECT_EQ(clock_.Now() + 100 * kSec, MetaOf(key).expires_unix_ns);

  before = DataBytesOnDisk();
  ASSERT_TRUE(db_->ExpireAt(key, kStartNs + 5000 * kSec).ok());
  EXPECT_EQ(before + per_op, DataBytesOnDisk());
  EXPECT_EQ(kStartNs + 5000 * kSec, MetaOf(key).expires_unix_ns);

  before = DataBytesOnDisk();
  ASSERT_TRUE(db_->Persist(key).ok());
  EXPECT_EQ(before + per_op, DataBytesOnDisk());
  EXPECT_EQ(0, MetaOf(key).expires_unix_ns);

  before = DataBytesOnDisk();
  ASSERT_TRUE(db_->SetMeta(key, 0100755, 99).ok());
  EXPECT_EQ(before + per_op, DataBytesOnDisk());

  // The same cost for a tiny value.
  ASSERT_TRUE(db_->Put("small", "s").ok());
  before = DataBytesOnDisk();
  ASSERT_TRUE(db_->Expire("small", seconds(1)).ok());
  EXPECT_EQ(before + kMetaRecordFixed + 5, DataBytesOnDisk());

  std::string got;
  ASSERT_TRUE(db_->Get(key, &got).ok());
  EXPECT_TRUE(SameBytes(value, got));
  RecordMeta m = MetaOf(key);
  EXPECT_EQ(value.size(), m.value_size);
  EXPECT_EQ(0100755, m.mode);
  EXPECT_EQ(99, m.timestamp_unix_ns);
}

TEST_F(DBTest, ExpireMakesKeyExpire) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  ASSERT_TRUE(db_->Expire("k", seconds(2)).ok());
  clock_.Advance(1 * kSec);
  EXPECT_EQ("v", Get("k"));
  clock_.Advance(1 * kSec);
  Status s = GetStatus("k");
  EXPECT_TRUE(s.IsNotFound() && s.IsExpired()) << s.ToString();
  EXPECT_EQ("NOT_FOUND", Get("k"));
}

TEST_F(DBTest, ExpireAtInThePastRemovesKey) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  ASSERT_TRUE(db_->ExpireAt("k", clock_.Now() - kSec).ok());
  EXPECT_FALSE(db_->Has("k"));
  EXPECT_TRUE(GetStatus("k").IsNotFound());
  EXPECT_EQ(0u, GetStats().keys);
  Reopen();
  EXPECT_FALSE(db_->Has("k"));
}

TEST_F(DBTest, ExpireOnMissingOrExpiredKeyIsNotFound) {
  Open();
  EXPECT_TRUE(db_->Expire("missing", seconds(1)).IsNotFound());
  EXPECT_TRUE(db_->ExpireAt("missing", clock_.Now() + kSec).IsNotFound());
  EXPECT_TRUE(db_->Persist("missing").IsNotFound());
  EXPECT_TRUE(db_->SetMeta("missing", 0644, 1).IsNotFound());
  ASSERT_TRUE(db_->Put("gone", "v").ok());
  ASSERT_TRUE(db_->Delete("gone").ok());
  EXPECT_TRUE(db_->Expire("gone", seconds(1)).IsNotFound());

  ASSERT_TRUE(db_->PutWithTTL("ttl", "v", seconds(1)).ok());
  clock_.Advance(2 * kSec);
  const uint64_t before = DataBytesOnDisk();
  Status s = db_->Expire("ttl", seconds(100));
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_TRUE(db_->Persist("ttl").IsNotFound());
  EXPECT_TRUE(db_->ExpireAt("ttl", clock_.Now() + kSec).IsNotFound());
  EXPECT_TRUE(db_->SetMeta("ttl", 1, 1).IsNotFound());
  EXPECT_EQ(before, DataBytesOnDisk()) << "nothing written for a key that is not live";
  EXPECT_EQ("NOT_FOUND", Get("ttl"));
}

TEST_F(DBTest, ExpireRejectsNonPositiveTimes) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  EXPECT_TRUE(db_->Expire("k", nanoseconds(0)).IsInvalidArgument());
  EXPECT_TRUE(db_->Expire("k", seconds(-3)).IsInvalidArgument());
  EXPECT_TRUE(db_->ExpireAt("k", 0).IsInvalidArgument());
  EXPECT_TRUE(db_->ExpireAt("k", -10).IsInvalidArgument());
  EXPECT_EQ(0, MetaOf("k").expires_unix_ns);
}

// Builds a store whose metadata records sit in closed (hinted) data files and
// in the active one, then checks every way of reopening sees the same.
TEST_F(DBTest, ExpiryAndMetaChangesSurviveReopenWithHintsAndScan) {
  options_.max_data_file_size = 4096;
  Open();
  const int64_t t0 = clock_.Now();
  WriteOptions wo;
  wo.mode = 0100644;
  wo.timestamp_unix_ns = 1000;
  ASSERT_TRUE(db_->Put(wo, "expire", "e").ok());
  ASSERT_TRUE(db_->Put(wo, "expireat", "ea").ok());
  ASSERT_TRUE(db_->PutWithTTL("persist", "p", seconds(100)).ok());
  ASSERT_TRUE(db_->Put(wo, "mode", "m").ok());
  ASSERT_TRUE(db_->Put(wo, "ts", "t").ok());
  ASSERT_TRUE(db_->Put(wo, "both", "b").ok());
  ASSERT_TRUE(db_->Expire("expire", seconds(300)).ok());
  ASSERT_TRUE(db_->ExpireAt("expireat", t0 + 400 * kSec).ok());
  ASSERT_TRUE(db_->Persist("persist").ok());
  ASSERT_TRUE(db_->SetMeta("mode", 0100700, -1).ok());
  ASSERT_TRUE(db_->SetMeta("ts", -1, 2222).ok());
  ASSERT_TRUE(db_->SetMeta("both", 0040755, 3333).ok());
  // Fill past the file limit so the records above are in a closed file.
  for (int i = 0; i < 40; i++) {
    ASSERT_TRUE(db_->Put("fill" + std::to_string(i), RandomBytes(200, i)).ok());
  }
  ASSERT_GT(DataIds().size(), 1u);
  // And a second round in the active file.
  ASSERT_TRUE(db_->Put(wo, "late", "l").ok());
  ASSERT_TRUE(db_->Expire("late", seconds(50)).ok());
  ASSERT_TRUE(db_->SetMeta("late", 0100444, 4444).ok());

  auto check = [&](const char* how) {
    SCOPED_TRACE(how);
    RecordMeta m = MetaOf("expire");
    EXPECT_EQ(t0 + 300 * kSec, m.expires_unix_ns);
    EXPECT_EQ(0100644, m.mode);
    EXPECT_EQ(1000, m.timestamp_unix_ns);
    EXPECT_EQ(t0 + 400 * kSec, MetaOf("expireat").expires_unix_ns);
    EXPECT_EQ(0, MetaOf("persist").expires_unix_ns);
    m = MetaOf("mode");
    EXPECT_EQ(0100700, m.mode);
    EXPECT_EQ(1000, m.timestamp_unix_ns);
    EXPECT_EQ(0, m.expires_unix_ns);
    m = MetaOf("ts");
    EXPECT_EQ(0100644, m.mode);
    EXPECT_EQ(2222, m.timestamp_unix_ns);
    m = MetaOf("both");
    EXPECT_EQ(0040755, m.mode);
    EXPECT_EQ(3333, m.timestamp_unix_ns);
    EXPECT_EQ(1u, m.value_size);
    m = MetaOf("late");
    EXPECT_EQ(t0 + 50 * kSec, m.expires_unix_ns);
    EXPECT_EQ(0100444, m.mode);
    EXPECT_EQ(4444, m.timestamp_unix_ns);
    EXPECT_EQ("e", Get("expire"));
    EXPECT_EQ("ea", Get("expireat"));
    EXPECT_EQ("p", Get("persist"));
    EXPECT_EQ("m", Get("mode"));
    EXPECT_EQ("t", Get("ts"));
    EXPECT_EQ("b", Get("both"));
    EXPECT_EQ("l", Get("late"));
    EXPECT_EQ(47u, GetStats().keys);
  };
  check("before reopen");
  Reopen();
  check("first reopen");
  ASSERT_TRUE(WaitForHints()) << "hint files for closed data files were not written";
  Reopen();
  check("reopen with hints");
  options_.validate_on_open = true;
  Reopen();
  check("reopen with validate_on_open");
  options_.validate_on_open = false;
  options_.use_hint_files = false;
  Reopen();
  check("reopen without hint files");
}

// An expiry changed before the original one passed must still hold after a
// reopen that happens later than the original expiry.
TEST_F(DBTest, PersistedKeySurvivesReopenAfterItsOriginalExpiry) {
  Open();
  ASSERT_TRUE(db_->PutWithTTL("persisted", "p", seconds(10)).ok());
  ASSERT_TRUE(db_->PutWithTTL("extended", "e", seconds(10)).ok());
  ASSERT_TRUE(db_->Persist("persisted").ok());
  ASSERT_TRUE(db_->Expire("extended", seconds(1000)).ok());
  clock_.Advance(20 * kSec);
  EXPECT_EQ("p", Get("persisted"));
  EXPECT_EQ("e", Get("extended"));
  Reopen();  // scans the file
  EXPECT_EQ("p", Get("persisted")) << "Persist was lost on reopen";
  EXPECT_EQ("e", Get("extended")) << "the extended expiry was lost on reopen";
  EXPECT_EQ(2u, GetStats().keys);
}

TEST_F(DBTest, PersistedKeySurvivesReopenFromHintsAfterItsOriginalExpiry) {
  options_.max_data_file_size = 4096;
  Open();
  ASSERT_TRUE(db_->PutWithTTL("persisted", "p", seconds(10)).ok());
  ASSERT_TRUE(db_->Persist("persisted").ok());
  for (int i = 0; i < 30; i++) {
    ASSERT_TRUE(db_->Put("f" + std::to_string(i), RandomBytes(200, i)).ok());
  }
  Reopen();
  ASSERT_TRUE(WaitForHints());
  Close();
  clock_.Advance(20 * kSec);
  Open();
  EXPECT_EQ("p", Get("persisted")) << "Persist was lost on reopen from hint files";
}

TEST_F(DBTest, SetMetaChangesModeAndTimestamp) {
  Open();
  WriteOptions wo;
  wo.mode = 0100644;
  wo.timestamp_unix_ns = 1000;
  wo.ttl = seconds(500);
  ASSERT_TRUE(db_->Put(wo, "k", "value").ok());
  const int64_t exp = MetaOf("k").expires_unix_ns;
  ASSERT_EQ(clock_.Now() + 500 * kSec, exp);

  ASSERT_TRUE(db_->SetMeta("k", 0100755, -1).ok());
  RecordMeta m = MetaOf("k");
  EXPECT_EQ(0100755, m.mode);
  EXPECT_EQ(1000, m.timestamp_unix_ns) << "-1 keeps the timestamp";
  EXPECT_EQ(exp, m.expires_unix_ns) << "SetMeta keeps the expiry";

  ASSERT_TRUE(db_->SetMeta("k", -1, 2000).ok());
  m = MetaOf("k");
  EXPECT_EQ(0100755, m.mode) << "-1 keeps the mode";
  EXPECT_EQ(2000, m.timestamp_unix_ns);

  ASSERT_TRUE(db_->SetMeta("k", 0, 0).ok());
  m = MetaOf("k");
  EXPECT_EQ(0, m.mode);
  EXPECT_EQ(0, m.timestamp_unix_ns);

  ASSERT_TRUE(db_->SetMeta("k", 0xFFFF, 3000).ok());
  EXPECT_EQ("value", Get("k"));
  Reopen();
  m = MetaOf("k");
  EXPECT_EQ(0xFFFF, m.mode);
  EXPECT_EQ(3000, m.timestamp_unix_ns);
  EXPECT_EQ(exp, m.expires_unix_ns);
  EXPECT_EQ(5u, m.value_size);
  EXPECT_EQ("value", Get("k"));
}

TEST_F(DBTest, SetMetaRejectsModeOver16Bits) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  EXPECT_TRUE(db_->SetMeta("k", 0x10000, -1).IsInvalidArgument());
  EXPECT_EQ(0, MetaOf("k").mode);
}

// db.h: SetMeta is "NotFound when absent", also when both fields are kept.
TEST_F(DBTest, SetMetaKeepingBothFieldsOnMissingKeyIsNotFound) {
  Open();
  Status s = db_->SetMeta("missing", -1, -1);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  EXPECT_TRUE(db_->SetMeta("k", -1, -1).ok());
}

// ------------------------------------------------------------ GC and stats

TEST_F(DBTest, RunGCRemovesExpiredKeys) {
  Open();
  for (int i = 0; i < 5; i++) {
    ASSERT_TRUE(db_->PutWithTTL("short" + std::to_string(i), "s", seconds(10)).ok());
  }
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(db_->PutWithTTL("long" + std::to_string(i), "l", seconds(1000)).ok());
  }
  ASSERT_TRUE(db_->Put("none0", "n").ok());
  ASSERT_TRUE(db_->Put("none1", "n").ok());
  uint64_t removed = 99;
  ASSERT_TRUE(db_->RunGC(&removed).ok());
  EXPECT_EQ(0u, removed);

  clock_.Advance(50 * kSec);
  const DBStats before = GetStats();
  EXPECT_EQ(10u, before.keys) << "expired keys stay in the keydir until read or collected";
  ASSERT_TRUE(db_->RunGC(&removed).ok());
  EXPECT_EQ(5u, removed);
  const DBStats after = GetStats();
  EXPECT_EQ(5u, after.keys);
  EXPECT_EQ(before.total_bytes, after.total_bytes);
  EXPECT_EQ(before.dead_bytes + 5 * (kHeader + 6 + 1), after.dead_bytes);
  for (int i = 0; i < 5; i++) EXPECT_EQ("NOT_FOUND", Get("short" + std::to_string(i)));
  EXPECT_EQ("l", Get("long0"));
  EXPECT_EQ("n", Get("none1"));

  ASSERT_TRUE(db_->RunGC(&removed).ok());
  EXPECT_EQ(0u, removed);
  ASSERT_TRUE(db_->RunGC(nullptr).ok());
  clock_.Advance(1000 * kSec);
  ASSERT_TRUE(db_->RunGC(&removed).ok());
  EXPECT_EQ(3u, removed);
  EXPECT_EQ(2u, GetStats().keys);
}

TEST_F(DBTest, StatsFields) {
  options_.compression_threshold = 0;
  Open();
  DBStats st = GetStats();
  EXPECT_EQ(0u, st.keys);
  EXPECT_EQ(0u, st.total_bytes);
  EXPECT_EQ(0u, st.dead_bytes);
  EXPECT_EQ(1u, st.data_files);
  EXPECT_EQ(0, st.last_merge_unix_ns);
  EXPECT_EQ(0u, st.puts);
  EXPECT_EQ(0u, st.gets);
  EXPECT_EQ(0u, st.deletes);
  EXPECT_EQ(0u, st.write_groups);
  EXPECT_EQ(0u, st.syncs);

  ASSERT_TRUE(db_->Put("a", "12345").ok());       // 32+1+5 = 38
  ASSERT_TRUE(db_->Put("bb", "1234567890").ok());  // 32+2+10 = 44
  ASSERT_TRUE(db_->Put("a", "xyz").ok());          // 36; 38 dead
  ASSERT_TRUE(db_->Delete("bb").ok());             // 34 dead; 44 dead
  std::string v;
  EXPECT_TRUE(db_->Get("a", &v).ok());
  EXPECT_TRUE(db_->Get("bb", &v).IsNotFound());
  EXPECT_TRUE(db_->Get("zz", &v).IsNotFound());
  st = GetStats();
  EXPECT_EQ(1u, st.keys);
  EXPECT_EQ(38u + 44 + 36 + 34, st.total_bytes);
  EXPECT_EQ(DataBytesOnDisk(), st.total_bytes);
  EXPECT_EQ(38u + 44 + 34, st.dead_bytes);
  EXPECT_EQ(1u, st.data_files);
  EXPECT_GT(st.keydir_bytes, 0u);
  EXPECT_EQ(3u, st.puts);
  EXPECT_EQ(3u, st.gets);
  EXPECT_EQ(1u, st.deletes);
  EXPECT_EQ(4u, st.write_groups);
  EXPECT_EQ(4u, st.syncs) << "sync_on_put and sync_on_delete fsync every write";

  // A write that asks not to sync, then an explicit Sync().
  WriteOptions nosync;
  nosync.sync = WriteOptions::Sync::kNever;
  ASSERT_TRUE(db_->Put(nosync, "c", "c").ok());
  st = GetStats();
  EXPECT_EQ(5u, st.write_groups);
  EXPECT_EQ(4u, st.syncs);
  ASSERT_TRUE(db_->Sync().ok());
  st = GetStats();
  EXPECT_EQ(5u, st.write_groups) << "a pure sync writes nothing";
  EXPECT_EQ(5u, st.syncs);
  EXPECT_EQ(4u, st.puts);

  // Counters are since open; sizes are recomputed from the files.
  Reopen();
  st = GetStats();
  EXPECT_EQ(2u, st.keys);
  EXPECT_EQ(38u + 44 + 36 + 34 + 34, st.total_bytes);
  EXPECT_EQ(38u + 44 + 34, st.dead_bytes);
  EXPECT_EQ(0u, st.puts);
  EXPECT_EQ(0u, st.gets);
  EXPECT_EQ(0u, st.deletes);
  EXPECT_EQ(0u, st.write_groups);
}

TEST_F(DBTest, SyncOnPutFalseDoesNotSync) {
  options_.sync_on_put = false;
  options_.sync_on_delete = false;
  Open();
  ASSERT_TRUE(db_->Put("a", "1").ok());
  ASSERT_TRUE(db_->Delete("a").ok());
  EXPECT_EQ(0u, GetStats().syncs);
  WriteOptions always;
  always.sync = WriteOptions::Sync::kAlways;
  ASSERT_TRUE(db_->Put(always, "b", "2").ok());
  EXPECT_EQ(1u, GetStats().syncs);
  ASSERT_TRUE(db_->Delete(always, "b").ok());
  EXPECT_EQ(2u, GetStats().syncs);
  ASSERT_TRUE(db_->Sync().ok());  // nothing unsynced: no fsync needed
  EXPECT_EQ(2u, GetStats().syncs);
  ASSERT_TRUE(db_->Put("c", "3").ok());
  ASSERT_TRUE(db_->Sync().ok());
  EXPECT_EQ(3u, GetStats().syncs);
  ASSERT_TRUE(db_->Delete("c").ok());
  Reopen();
  EXPECT_EQ("NOT_FOUND", Get("a"));
  EXPECT_EQ("NOT_FOUND", Get("b"));
}

TEST_F(DBTest, ReclaimableRatioAfterOverwrites) {
  options_.compression_threshold = 0;
  Open();
  uint64_t dead = 1, total = 1;
  double ratio = 1;
  db_->Reclaimable(&dead, &total, &ratio);
  EXPECT_EQ(0u, dead);
  EXPECT_EQ(0u, total);
  EXPECT_EQ(0.0, ratio);

  for (int i = 0; i < 10; i++) ASSERT_TRUE(db_->Put("k", RandomBytes(1000, i)).ok());
  const uint64_t rec = kHeader + 1 + 1000;
  db_->Reclaimable(&dead, &total, &ratio);
  EXPECT_EQ(10 * rec, total);
  EXPECT_EQ(9 * rec, dead);
  EXPECT_DOUBLE_EQ(0.9, ratio);
  const DBStats st = GetStats();
  EXPECT_EQ(dead, st.dead_bytes);
  EXPECT_EQ(total, st.total_bytes);

  ASSERT_TRUE(db_->Delete("k").ok());
  db_->Reclaimable(&dead, &total, &ratio);
  EXPECT_EQ(10 * rec + kHeader + 1, total);
  EXPECT_EQ(total, dead);
  EXPECT_DOUBLE_EQ(1.0, ratio);

  ASSERT_TRUE(db_->Put("k", RandomBytes(1000, 99)).ok());
  Reopen();  // dead bytes are recomputed at open
  db_->Reclaimable(&dead, &total, &ratio);
  EXPECT_EQ(11 * rec + kHeader + 1, total);
  EXPECT_EQ(10 * rec + kHeader + 1, dead);
  EXPECT_DOUBLE_EQ(static_cast<double>(dead) / total, ratio);
}

// ---------------------------------------------------------------- rotation

TEST_F(DBTest, SmallFilesRotateAndReopenIdentically) {
  options_.max_data_file_size = 4096;
  Open();
  std::mt19937 rng(1234);
  std::set<std::string> keys;
  for (int i = 0; i < 600; i++) {
    const std::string key = "key" + std::to_string(rng() % 300);
    keys.insert(key);
    switch (rng() % 10) {
      case 0:
        ASSERT_TRUE(db_->Delete(key).ok());
        break;
      case 1:
        if (db_->Has(key)) {
          ASSERT_TRUE(db_->SetMeta(key, rng() % 0x10000, rng() % 100000).ok());
        }
        break;
      case 2:
        if (db_->Has(key)) {
          ASSERT_TRUE(db_->Expire(key, seconds(1000 + rng() % 1000)).ok());
        }
        break;
      case 3:
        ASSERT_TRUE(db_->Put(key, Compressible(300 + rng() % 2000)).ok());
        break;
      default:
        ASSERT_TRUE(db_->Put(key, RandomBytes(rng() % 200, rng())).ok());
        break;
    }
  }
  const std::vector<uint32_t> ids = DataIds();
  EXPECT_GT(ids.size(), 10u);
  EXPECT_EQ(ids.size(), GetStats().data_files);
  for (uint32_t id : ids) EXPECT_LE(FileSize(DataPath(id)), 4096u) << NumberedName(id, ".data");
  EXPECT_EQ(DataBytesOnDisk(), GetStats().total_bytes);
  const auto want = Snapshot(keys);
  const DBStats want_stats = GetStats();
  size_t live = 0;
  for (const auto& kv : want) live += kv.second.found;
  EXPECT_EQ(live, want_stats.keys);
  EXPECT_GT(live, 100u);

  Reopen();
  ExpectSameSnapshot(want, Snapshot(keys), "after reopen");
  ASSERT_TRUE(WaitForHints()) << "hints for closed data files did not appear";
  {
    const std::vector<uint32_t> data = DataIds();
    const std::vector<uint32_t> hints = HintIds();
    // Every closed file has its hint, and the active one keeps the hint the
    // clean Close wrote (it goes before the first append), unless open found
    // the newest file full and started an empty one.
    std::vector<uint32_t> want_hints = data;
    if (FileSize(DataPath(data.back())) == 0) want_hints.pop_back();
    EXPECT_EQ(want_hints, hints);
  }
  auto stats_match = [&](const char* how) {
    DBStats st = GetStats();
    EXPECT_EQ(want_stats.keys, st.keys) << how;
    EXPECT_EQ(want_stats.total_bytes, st.total_bytes) << how;
    EXPECT_EQ(want_stats.dead_bytes, st.dead_bytes) << how;
  };
  Reopen();
  ExpectSameSnapshot(want, Snapshot(keys), "reopen with hints");
  stats_match("reopen with hints");
  options_.validate_on_open = true;
  Reopen();
  ExpectSameSnapshot(want, Snapshot(keys), "reopen with validate_on_open");
  stats_match("reopen with validate_on_open");
  options_.validate_on_open = false;
  options_.use_hint_files = false;
  Reopen();
  ExpectSameSnapshot(want, Snapshot(keys), "reopen without hints");
  stats_match("reopen without hints");
}

TEST_F(DBTest, ValueLargerThanFileLimitGetsItsOwnFile) {
  options_.max_data_file_size = 4096;
  Open();
  const std::string big = RandomBytes(10000, 5);
  ASSERT_TRUE(db_->Put("small1", "a").ok());
  ASSERT_TRUE(db_->Put("big", big).ok());
  ASSERT_TRUE(db_->Put("small2", "b").ok());
  const std::vector<uint32_t> ids = DataIds();
  ASSERT_EQ(3u, ids.size());
  EXPECT_EQ(kHeader + 6 + 1, FileSize(DataPath(ids[0])));
  EXPECT_EQ(kHeader + 3 + big.size(), FileSize(DataPath(ids[1])));
  EXPECT_EQ(kHeader + 6 + 1, FileSize(DataPath(ids[2])));
  std::string got;
  ASSERT_TRUE(db_->Get("big", &got).ok());
  EXPECT_TRUE(SameBytes(big, got));
  Reopen();
  ASSERT_TRUE(db_->Get("big", &got).ok());
  EXPECT_TRUE(SameBytes(big, got));
  EXPECT_EQ("a", Get("small1"));
  EXPECT_EQ("b", Get("small2"));
  ASSERT_TRUE(WaitForHints());
  Reopen();
  ASSERT_TRUE(db_->Get("big", &got).ok());
  EXPECT_TRUE(SameBytes(big, got));
}

TEST_F(DBTest, ReopenWithFullNewestFileStartsANewOne) {
  options_.max_data_file_size = 4096;
  Open();
  ASSERT_TRUE(db_->Put("big", RandomBytes(5000, 1)).ok());
  Reopen();
  ASSERT_TRUE(db_->Put("next", "n").ok());
  const std::vector<uint32_t> ids = DataIds();
  ASSERT_EQ(2u, ids.size());
  EXPECT_EQ(kHeader + 4 + 1, FileSize(DataPath(ids[1])));
  Reopen();
  EXPECT_EQ("n", Get("next"));
  EXPECT_EQ(5000u, MetaOf("big").value_size);
}

// ------------------------------------------------------------ group commit

TEST_F(DBTest, ConcurrentSyncPutsAreGroupCommitted) {
  Open();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; i++) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!db_->Put(key, "value-" + key).ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(0, failures.load());
  const DBStats st = GetStats();
  const uint64_t total = kThreads * kPerThread;
  EXPECT_EQ(total, st.keys);
  EXPECT_EQ(total, st.puts);
  std::printf("group commit: %llu sync puts, %llu write groups, %llu fsyncs (%.2f puts/fsync)\n",
              static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(st.write_groups),
              static_cast<unsigned long long>(st.syncs),
              st.syncs ? static_cast<double>(total) / st.syncs : 0.0);
  EXPECT_LT(st.syncs, total) << "concurrent sync writers should share fsyncs";
  EXPECT_LE(st.write_groups, total);
  EXPECT_LE(st.syncs, st.write_groups) << "every group that wrote synced at most once";
  for (int t = 0; t < kThreads; t++) {
    for (int i = 0; i < kPerThread; i++) {
      const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
      ASSERT_EQ("value-" + key, Get(key));
    }
  }
  Reopen();
  EXPECT_EQ(total, GetStats().keys);
  for (int t = 0; t < kThreads; t++) {
    for (int i = 0; i < kPerThread; i++) {
      const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
      ASSERT_EQ("value-" + key, Get(key));
    }
  }
}

// Readers running while writers overwrite, delete and rotate files must only
// ever see complete values that some writer wrote for that key.
TEST_F(DBTest, ConcurrentReadersSeeWholeValuesWhileFilesRotate) {
  options_.max_data_file_size = 4096;
  options_.sync_on_put = false;
  options_.sync_on_delete = false;
  Open();
  // value(key, version): self-describing, so a reader can check it entirely.
  auto make_value = [](int key, int version) {
    std::string v = "k" + std::to_string(key) + "v" + std::to_string(version) + ":";
    std::mt19937 rng(key * 100003 + version);
    v.resize(v.size() + rng() % 600, static_cast<char>('a' + rng() % 26));
    return v;
  };
  constexpr int kKeys = 40;
  constexpr int kWriters = 2;
  constexpr int kVersions = 150;
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, errors{0}, reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; r++) {
    readers.emplace_back([&, r] {
      std::mt19937 rng(r);
      std::string v;
      while (!stop.load()) {
        const int k = static_cast<int>(rng() % kKeys);
        Status s = db_->Get("key" + std::to_string(k), &v);
        reads++;
        if (s.IsNotFound()) continue;
        if (!s.ok()) {
          errors++;
          continue;
        }
        int key = -1, version = -1;
        if (std::sscanf(v.c_str(), "k%dv%d:", &key, &version) != 2 || key != k ||
            v != make_value(key, version)) {
          bad++;
        }
      }
    });
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; w++) {
    writers.emplace_back([&, w] {
      for (int ver = 0; ver < kVersions; ver++) {
        for (int k = w; k < kKeys; k += kWriters) {
          Status s = ver % 7 == 6 ? db_->Delete("key" + std::to_string(k))
                                  : db_->Put("key" + std::to_string(k), make_value(k, ver));
          if (!s.ok()) errors++;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(0, bad.load()) << "a reader saw a value no writer wrote";
  EXPECT_EQ(0, errors.load());
  EXPECT_GT(reads.load(), 0);
  EXPECT_GT(DataIds().size(), 20u);
  for (int k = 0; k < kKeys; k++) {
    EXPECT_EQ(make_value(k, kVersions - 1), Get("key" + std::to_string(k)));
  }
  Reopen();
  for (int k = 0; k < kKeys; k++) {
    EXPECT_EQ(make_value(k, kVersions - 1), Get("key" + std::to_string(k)));
  }
}

// An Env that tracks, per data file, the end offset of each appended record
// (by key) and the size covered by the last completed fsync; a sync writer
// can then check that its record was durable when its Put returned.
class SyncTrackingEnv : public FakeClockEnv {
 public:
  Status NewWritableFile(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = FakeClockEnv::NewWritableFile(p, f);
    if (s.ok() && IsData(p)) f->reset(new File(this, p, std::move(*f)));
    return s;
  }
  Status NewAppendableFile(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = FakeClockEnv::NewAppendableFile(p, f);
    if (s.ok() && IsData(p)) f->reset(new File(this, p, std::move(*f)));
    return s;
  }
  // True when the record of key was covered by an fsync of its file.
  bool Durable(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = ends_.find(key);
    if (it == ends_.end()) return false;
    return synced_[it->second.first] >= it->second.second;
  }
  bool Appended(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    return ends_.count(key) > 0;
  }

 private:
  static bool IsData(const std::string& p) {
    return p.size() > 5 && p.compare(p.size() - 5, 5, ".data") == 0;
  }
  class File : public WritableFile {
   public:
    File(SyncTrackingEnv* env, std::string path, std::unique_ptr<WritableFile> base)
        : env_(env), path_(std::move(path)), base_(std::move(base)) {}
    Status Append(std::string_view data) override { return AppendV(&data, 1); }
    Status AppendV(const std::string_view* pieces, size_t n) override {
      uint64_t off = base_->Size();
      Status s = base_->AppendV(pieces, n);
      if (!s.ok()) return s;
      std::lock_guard<std::mutex> l(env_->mu_);
      for (size_t i = 0; i < n; i++) {
        std::string_view p = pieces[i];
        while (p.size() >= kHeader) {  // walk the records of this piece
          const auto* u = reinterpret_cast<const unsigned char*>(p.data());
          uint32_t klen = u[20] | u[21] << 8 | u[22] << 16 | static_cast<uint32_t>(u[23]) << 24;
          uint32_t vlen = u[24] | u[25] << 8 | u[26] << 16 | static_cast<uint32_t>(u[27]) << 24;
          uint64_t rec = kHeader + klen + static_cast<uint64_t>(vlen);
          if (rec > p.size()) break;
          off += rec;
          env_->ends_[std::string(p.substr(kHeader, klen))] = {path_, off};
          p.remove_prefix(rec);
        }
        off += p.size();
      }
      return s;
    }
    Status Sync() override {
      uint64_t size = base_->Size();
      Status s = base_->Sync();
      if (s.ok()) {
        std::lock_guard<std::mutex> l(env_->mu_);
        uint64_t& synced = env_->synced_[path_];
        synced = std::max(synced, size);
      }
      return s;
    }
    Status Close() override { return base_->Close(); }
    uint64_t Size() const override { return base_->Size(); }

   private:
    SyncTrackingEnv* env_;
    std::string path_;
    std::unique_ptr<WritableFile> base_;
  };

  std::mutex mu_;
  std::map<std::string, std::pair<std::string, uint64_t>> ends_;  // key -> file, record end
  std::map<std::string, uint64_t> synced_;                         // file -> bytes fsynced
};

TEST_F(DBTest, SyncWritesAreDurableWhenAcknowledgedAmongNonSyncWriters) {
  auto* tracking = new SyncTrackingEnv;
  owned_env_.reset(tracking);
  SyncTrackingEnv& env = *tracking;
  options_.env = tracking;
  options_.sync_on_put = false;  // the default writes do not sync...
  Open();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  std::atomic<int> failures{0}, not_durable{0}, not_seen{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      WriteOptions wo;
      // ...half the writers ask for sync on every write, the others never do
      wo.sync = t % 2 == 0 ? WriteOptions::Sync::kAlways : WriteOptions::Sync::kNever;
      for (int i = 0; i < kPerThread; i++) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        Status s;
        if (i % 10 == 9) {
          s = db_->Delete(wo, "t" + std::to_string(t) + "-" + std::to_string(i - 1));
        } else {
          s = db_->Put(wo, key, "v" + key);
        }
        if (!s.ok()) {
          failures++;
          continue;
        }
        if (t % 2 == 0 && i % 10 != 9) {
          if (!env.Appended(key)) {
            not_seen++;
          } else if (!env.Durable(key)) {
            not_durable++;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(0, failures.load());
  EXPECT_EQ(0, not_seen.load());
  EXPECT_EQ(0, not_durable.load()) << "sync Puts returned before an fsync covered them";
  const DBStats st = GetStats();
  std::printf("mixed writers: %llu groups, %llu fsyncs\n",
              static_cast<unsigned long long>(st.write_groups),
              static_cast<unsigned long long>(st.syncs));
  EXPECT_GT(st.syncs, 0u);
  EXPECT_LT(st.syncs, st.write_groups) << "non-sync groups do not fsync";

  auto check = [&](const char* how) {
    SCOPED_TRACE(how);
    size_t live = 0;
    for (int t = 0; t < kThreads; t++) {
      for (int i = 0; i < kPerThread; i++) {
        if (i % 10 == 9) continue;
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        const bool deleted = i % 10 == 8;
        ASSERT_EQ(deleted ? "NOT_FOUND" : "v" + key, Get(key)) << key;
        live += !deleted;
      }
    }
    EXPECT_EQ(live, GetStats().keys);
  };
  check("before reopen");
  Reopen();
  check("after reopen");
}

// ------------------------------------------------------- close and sync

TEST_F(DBTest, CloseTwiceIsOkAndLaterCallsReturnClosed) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  EXPECT_TRUE(db_->Close().ok());
  EXPECT_TRUE(db_->Close().ok());
  std::string v = "unchanged";
  RecordMeta m;
  DBStats st;
  uint64_t removed = 0;
  EXPECT_TRUE(db_->Put("k", "w").IsClosed());
  EXPECT_TRUE(db_->Put(WriteOptions(), "k2", "w").IsClosed());
  EXPECT_TRUE(db_->PutWithTTL("k", "w", seconds(1)).IsClosed());
  Status s = db_->Get("k", &v);
  EXPECT_TRUE(s.IsClosed()) << s.ToString();
  EXPECT_EQ("unchanged", v);
  EXPECT_TRUE(db_->GetRange("k", 0, 1, &v).IsClosed());
  EXPECT_TRUE(db_->Meta("k", &m).IsClosed());
  EXPECT_FALSE(db_->Has("k"));
  EXPECT_TRUE(db_->Delete("k").IsClosed());
  EXPECT_TRUE(db_->Delete("missing").IsClosed());
  EXPECT_TRUE(db_->Expire("k", seconds(1)).IsClosed());
  EXPECT_TRUE(db_->ExpireAt("k", clock_.Now() + kSec).IsClosed());
  EXPECT_TRUE(db_->Persist("k").IsClosed());
  EXPECT_TRUE(db_->SetMeta("k", 1, 1).IsClosed());
  EXPECT_TRUE(db_->Sync().IsClosed());
  EXPECT_TRUE(db_->RunGC(&removed).IsClosed());
  EXPECT_TRUE(db_->Stats(&st).IsClosed());
  db_.reset();
  Open();
  EXPECT_EQ("v", Get("k"));
}

TEST_F(DBTest, SyncWorks) {
  options_.sync_on_put = false;
  Open();
  ASSERT_TRUE(db_->Sync().ok());
  ASSERT_TRUE(db_->Put("k", "v").ok());
  const uint64_t syncs = GetStats().syncs;
  ASSERT_TRUE(db_->Sync().ok());
  EXPECT_EQ(syncs + 1, GetStats().syncs);
  EXPECT_EQ("v", Get("k"));
  Reopen();
  EXPECT_EQ("v", Get("k"));
}

TEST_F(DBTest, BackgroundSyncInterval) {
  options_.sync_on_put = false;
  options_.sync_interval = milliseconds(10);
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (GetStats().syncs == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_GT(GetStats().syncs, 0u) << "the background thread syncs unsynced writes";
}

// ------------------------------------------------------ option validation

TEST_F(DBTest, OptionsValidation) {
  struct Case {
    const char* what;
    std::function<void(Options*)> set;
  };
  const std::vector<Case> bad = {
      {"max_data_file_size 4095", [](Options* o) { o->max_data_file_size = 4095; }},
      {"max_data_file_size 0", [](Options* o) { o->max_data_file_size = 0; }},
      {"max_data_file_size 4 GiB", [](Options* o) { o->max_data_file_size = 1ull << 32; }},
      {"max_key_size 0", [](Options* o) { o->max_key_size = 0; }},
      {"max_key_size 65536", [](Options* o) { o->max_key_size = 65536; }},
      {"merge_trigger_ratio 1.5", [](Options* o) { o->merge_trigger_ratio = 1.5; }},
      {"merge_trigger_ratio -0.1", [](Options* o) { o->merge_trigger_ratio = -0.1; }},
  };
  for (const Case& c : bad) {
    Options o = options_;
    c.set(&o);
    std::unique_ptr<DB> db;
    Status s = DB::Open(root_, o, &db);
    EXPECT_TRUE(s.IsInvalidArgument()) << c.what << ": " << s.ToString();
    EXPECT_EQ(nullptr, db) << c.what;
    EXPECT_FALSE(fs::exists(root_)) << c.what << ": a refused open created the store";
  }
  const std::vector<Case> good = {
      {"max_data_file_size 4096", [](Options* o) { o->max_data_file_size = 4096; }},
      {"max_data_file_size 4 GiB - 1", [](Options* o) { o->max_data_file_size = 0xFFFFFFFFull; }},
      {"max_key_size 1", [](Options* o) { o->max_key_size = 1; }},
      {"max_key_size 65535", [](Options* o) { o->max_key_size = 65535; }},
  };
  for (const Case& c : good) {
    Options o = options_;
    c.set(&o);
    std::unique_ptr<DB> db;
    Status s = DB::Open(root_, o, &db);
    EXPECT_TRUE(s.ok()) << c.what << ": " << s.ToString();
    if (db) {
      EXPECT_TRUE(db->Close().ok());
    }
  }
}

TEST_F(DBTest, MaxKeySize65535Works) {
  options_.max_key_size = 65535;
  Open();
  const std::string key(65535, 'k');
  ASSERT_TRUE(db_->Put(key, "v").ok());
  EXPECT_TRUE(db_->Put(std::string(65536, 'k'), "v").IsTooLarge());
  Reopen();
  EXPECT_EQ("v", Get(key));
}

// ------------------------------------------------------------- locking

TEST_F(DBTest, LockTimeoutWaitsThenReportsLocked) {
  options_.env = nullptr;  // the real clock: Open's wait is measured in it
  Open();
  Options o = options_;
  o.lock_timeout = milliseconds(200);
  std::unique_ptr<DB> other;
  const auto t0 = std::chrono::steady_clock::now();
  Status s = DB::Open(root_, o, &other);
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(s.IsLocked()) << s.ToString();
  EXPECT_EQ(nullptr, other);
  EXPECT_GE(waited, milliseconds(150));
  EXPECT_LT(waited, seconds(10));
}

TEST_F(DBTest, LockTimeoutSucceedsWhenTheHolderCloses) {
  options_.env = nullptr;
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  Options o = options_;
  o.lock_timeout = seconds(20);
  std::thread closer([this] {
    std::this_thread::sleep_for(milliseconds(100));
    db_->Close();
  });
  std::unique_ptr<DB> other;
  Status s = DB::Open(root_, o, &other);
  closer.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string v;
  ASSERT_TRUE(other->Get("k", &v).ok());
  EXPECT_EQ("v", v);
  EXPECT_TRUE(other->Close().ok());
}

// Writers racing with Close(): every write acknowledged OK is in the store
// afterwards; the others fail with Closed.
TEST_F(DBTest, CloseWhileWritingKeepsAcknowledgedWrites) {
  options_.sync_on_put = false;
  Open();
  constexpr int kThreads = 4;
  std::vector<std::vector<std::string>> acked(kThreads);
  std::atomic<int> other_errors{0};
  std::atomic<int> acked_total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100000; i++) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        Status s = db_->Put(key, "v" + key);
        if (s.ok()) {
          acked[t].push_back(key);
          acked_total++;
        } else {
          if (!s.IsClosed()) other_errors++;
          break;
        }
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  while (acked_total.load() < 100 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_TRUE(db_->Close().ok());
  for (auto& th : threads) th.join();
  EXPECT_EQ(0, other_errors.load());
  db_.reset();
  Open();
  size_t n = 0;
  for (int t = 0; t < kThreads; t++) {
    for (const std::string& key : acked[t]) {
      ASSERT_EQ("v" + key, Get(key));
      n++;
    }
  }
  EXPECT_GT(n, 0u);
  EXPECT_EQ(n, GetStats().keys) << "nothing unacknowledged was applied after Close";
}

// --------------------------------------------------------------- corruption

TEST_F(DBTest, CorruptRecordInClosedFileIsReportedWithFileAndOffset) {
  options_.max_data_file_size = 4096;
  options_.compression_threshold = 0;
  Open();
  for (int i = 0; i < 30; i++) {
    ASSERT_TRUE(db_->Put("key" + std::to_string(i), std::string(300, 'a' + i % 26)).ok());
  }
  const std::vector<uint32_t> ids = DataIds();
  ASSERT_GT(ids.size(), 2u);
  Reopen();
  ASSERT_TRUE(WaitForHints());
  Close();
  // Damage the value of the second record of the first file.
  const uint64_t second = kHeader + 4 + 300;
  FlipByte(DataPath(ids[0]), second + kHeader + 4 + 10);

  // With hints the store opens; reading the damaged record says Corruption.
  Open();
  std::string v = "unchanged";
  Status s = db_->Get("key1", &v);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ("unchanged", v);
  EXPECT_NE(std::string::npos, s.message().find(NumberedName(ids[0], ".data"))) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find(std::to_string(second))) << s.ToString();
  EXPECT_EQ(std::string(300, 'a'), Get("key0"));
  Close();

  // A full scan refuses the store, naming file and offset.
  options_.validate_on_open = true;
  s = TryOpen();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find(NumberedName(ids[0], ".data"))) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("offset " + std::to_string(second)))
      << s.ToString();
}

// ------------------------------------------------------------- meta file

TEST_F(DBTest, OtherFormatVersionFailsClearly) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  Close();
  const std::string meta_path = data_dir_ + "/bitgask.meta";
  std::string meta = ReadWholeFile(meta_path);
  const std::string want = "\"format_version\": " + std::to_string(kFormatVersion);
  const size_t at = meta.find(want);
  ASSERT_NE(std::string::npos, at) << meta;
  meta.replace(at, want.size(), "\"format_version\": 7");
  WriteWholeFile(meta_path, meta);
  Status s = TryOpen();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(nullptr, db_);
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("version 7")) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("version " + std::to_string(kFormatVersion)))
      << s.ToString();
  // The data is untouched: restoring the file makes the store readable again.
  meta.replace(at, std::string("\"format_version\": 7").size(), want);
  WriteWholeFile(meta_path, meta);
  Open();
  EXPECT_EQ("v", Get("k"));
}

TEST_F(DBTest, TruncatedMetaFileFailsClearly) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  Close();
  const std::string meta_path = data_dir_ + "/bitgask.meta";
  const std::string meta = ReadWholeFile(meta_path);
  const size_t cut = meta.find("\"format_version\": ") + std::string("\"format_version\": ").size();
  for (size_t len : {static_cast<size_t>(0), static_cast<size_t>(10), cut}) {
    WriteWholeFile(meta_path, meta.substr(0, len));
    Status s = TryOpen();
    EXPECT_FALSE(s.ok()) << "meta cut to " << len << " bytes";
    EXPECT_TRUE(s.IsCorruption()) << len << ": " << s.ToString();
    EXPECT_NE(std::string::npos, s.message().find("bitgask.meta")) << s.ToString();
  }
  WriteWholeFile(meta_path, meta);
  Open();
  EXPECT_EQ("v", Get("k"));
}

TEST_F(DBTest, MissingMetaFileWithDataFailsClearly) {
  Open();
  ASSERT_TRUE(db_->Put("k", "v").ok());
  Close();
  ASSERT_TRUE(fs::remove(data_dir_ + "/bitgask.meta"));
  Status s = TryOpen();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("bitgask.meta")) << s.ToString();
}

// Hint files are written in key order and open applies them in that order
// (fast), while a scan applies records in log order: both must give the same
// store. A random history over a small key space (so a key has several
// records in one file), with TTLs, deletes, metadata and owner updates,
// batches, a merge and a DeleteAll, in many small files.
TEST_F(DBTest, RandomStoreOpensTheSameFromKeyOrderedHintsAsFromScans) {
  options_.max_data_file_size = 4096;
  Open();
  std::mt19937_64 rng(7);
  std::set<std::string> keys;
  auto key = [&]() { return "k" + std::to_string(rng() % 300); };
  for (int i = 0; i < 6000; i++) {
    const std::string k = key();
    keys.insert(k);
    const int op = static_cast<int>(rng() % 100);
    Status s;
    if (op < 45) {
      WriteOptions wo;
      wo.mode = static_cast<int32_t>(rng() % 0777);
      if (rng() % 4 == 0) wo.ttl = seconds(1 + rng() % 100);
      s = db_->Put(wo, k, RandomBytes(rng() % 120, static_cast<uint32_t>(i)));
    } else if (op < 60) {
      s = db_->Delete(k);
      if (s.IsNotFound()) s = Status::OK();
    } else if (op < 70) {
      s = db_->Expire(k, seconds(1 + rng() % 100));
    } else if (op < 75) {
      s = db_->Persist(k);
    } else if (op < 85) {
      s = db_->SetMeta(k, static_cast<int32_t>(rng() % 0777), static_cast<int64_t>(rng() % 5000),
                       Owner{static_cast<uint32_t>(rng() % 3), static_cast<uint32_t>(rng() % 3)});
    } else {
      WriteBatch b;
      b.Put(k, RandomBytes(rng() % 50, static_cast<uint32_t>(i) + 1));
      const std::string other = key();
      keys.insert(other);
      b.Delete(other);
      s = db_->Write(WriteOptions(), b);
    }
    if (s.ok() && i == 1500) s = db_->DeleteAll();  // a kClear: that file's hint stays in log order
    if (s.ok() && i == 3000) {
      MergeOptions mo;
      mo.force = true;
      s = db_->Merge(mo, nullptr);
    }
    if (s.IsNotFound()) s = Status::OK();  // Expire, Persist or SetMeta of an absent key
    ASSERT_TRUE(s.ok()) << "op " << i << ": " << s.ToString();
    if (rng() % 500 == 0) clock_.Advance(30 * kSec);  // some expire on the way
  }
  ASSERT_GT(DataIds().size(), 5u);
  Close();
  Open();  // writes hints for files that had none yet
  ASSERT_TRUE(WaitForHints());
  // Close writes the active file's hint only after an open that wrote.
  ASSERT_TRUE(db_->Put("written-before-close", "v").ok());
  const DBStats scan_free_stats = GetStats();
  auto owners = [&]() {
    std::map<std::string, std::string> m;
    for (const std::string& k : keys) {
      RecordMeta meta;
      if (db_->Meta(k, &meta).ok() && meta.owner) {
        m[k] = std::to_string(meta.owner->uid) + ":" + std::to_string(meta.owner->gid);
      }
    }
    return m;
  };
  Close();
  ASSERT_GT(HintIds().size(), 4u);
  ASSERT_EQ(HintIds(), DataIds()) << "a clean Close leaves the active file a hint too";
  Open();  // every file from its hint, the newest (active) one included
  const auto from_hints = Snapshot(keys);
  const auto owners_from_hints = owners();
  const DBStats hint_stats = GetStats();
  options_.use_hint_files = false;
  Reopen();
  const auto from_scan = Snapshot(keys);
  const DBStats scan_stats = GetStats();
  ExpectSameSnapshot(from_scan, from_hints, "hints against scan");
  EXPECT_EQ(owners(), owners_from_hints);
  EXPECT_EQ(scan_stats.keys, hint_stats.keys);
  EXPECT_EQ(scan_stats.dead_bytes, hint_stats.dead_bytes);
  EXPECT_EQ(scan_free_stats.keys, hint_stats.keys);
  size_t found = 0;
  for (const auto& [k, st] : from_scan) found += st.found;
  EXPECT_GT(found, 50u);  // the history left a store worth comparing

  // Hints in key order are applied together (a k-way merge across files);
  // a file whose hint is damaged is scanned in its place, between the files
  // before and after it, and a file whose hint is in log order (the one with
  // the DeleteAll) splits the merge the same way.
  options_.use_hint_files = true;
  Close();
  const std::vector<uint32_t> hinted = HintIds();
  ASSERT_GT(hinted.size(), 4u);
  for (size_t pick : {size_t{1}, hinted.size() / 2}) {
    const std::string path = data_dir_ + "/" + NumberedName(hinted[pick], ".hint");
    FlipByte(path, 5);
    Open();
    ExpectSameSnapshot(from_scan, Snapshot(keys), "a damaged hint among good ones");
    EXPECT_EQ(owners(), owners_from_hints);
    EXPECT_EQ(GetStats().keys, scan_stats.keys);
    EXPECT_EQ(GetStats().dead_bytes, scan_stats.dead_bytes);
    Close();
  }
}

// A store of more data files than open merges at once (64): the hints are
// merged in runs of consecutive files, each run applied before the next, and
// the keydir is still the one a scan builds (overwrites and deletes across
// files and across runs).
TEST_F(DBTest, ManySmallFilesOpenFromHintsInRunsAsFromScans) {
  options_.max_data_file_size = 4096;
  options_.sync_on_put = false;
  options_.sync_on_delete = false;
  Open();
  std::mt19937_64 rng(11);
  std::set<std::string> keys;
  for (int i = 0; i < 12000; i++) {
    const std::string k = "key" + std::to_string(rng() % 700);
    keys.insert(k);
    if (rng() % 5 == 0) {
      Status s = db_->Delete(k);
      ASSERT_TRUE(s.ok() || s.IsNotFound()) << s.ToString();
    } else {
      ASSERT_TRUE(db_->Put(k, RandomBytes(10 + rng() % 40, static_cast<uint32_t>(i))).ok());
    }
  }
  ASSERT_TRUE(db_->Put("last", "v").ok());  // Close writes the active file's hint
  Close();
  Open();
  ASSERT_TRUE(WaitForHints());
  Close();
  ASSERT_GT(HintIds().size(), 2 * 64u);
  ASSERT_EQ(HintIds(), DataIds());
  Open();
  const auto from_hints = Snapshot(keys);
  const DBStats hint_stats = GetStats();
  options_.use_hint_files = false;
  Reopen();
  ExpectSameSnapshot(Snapshot(keys), from_hints, "hints in runs against scan");
  EXPECT_EQ(GetStats().keys, hint_stats.keys);
  EXPECT_EQ(GetStats().dead_bytes, hint_stats.dead_bytes);
  size_t found = 0;
  for (const auto& [k, st] : from_hints) found += st.found;
  EXPECT_GT(found, 300u);
}

// Put and Delete reuse a per-thread record buffer (engine/db_impl.h,
// ThreadBuffers): records of every size, owner and none, refused puts in
// between, from several threads at once, must each land whole under their
// own key, in the store as it is and after a reopen (which scans or reads
// hints of what was written).
TEST_F(DBTest, PutsFromReusedBuffersKeepEveryRecordWhole) {
  options_.sync_on_put = false;
  options_.sync_on_delete = false;
  options_.max_value_size = 3 << 20;
  Open();
  auto value = [](int t, int i) {
    const size_t sizes[] = {0, 1, 100, 5000, 70000, 1536 << 10};  // the last: above a group
    return RandomBytes(sizes[(t + i) % 6], static_cast<uint32_t>(t * 1000 + i));
  };
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 3; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 36; i++) {
        const std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        WriteOptions wo;
        if (i % 3 == 0) wo.owner = Owner{static_cast<uint32_t>(t), static_cast<uint32_t>(i)};
        if (!db_->Put(wo, key, value(t, i)).ok()) failures++;
        if (!db_->Put(key, std::string(4 << 20, 'x')).IsTooLarge()) failures++;  // refused
        if (i % 5 == 4 && !db_->Delete(key).ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  for (int round = 0; round < 2; round++) {
    for (int t = 0; t < 3; t++) {
      for (int i = 0; i < 36; i++) {
        const std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        ASSERT_EQ(Get(key), i % 5 == 4 ? "NOT_FOUND" : value(t, i)) << key << " round " << round;
        if (i % 5 != 4 && i % 3 == 0) {
          ASSERT_TRUE(MetaOf(key).owner.has_value()) << key;
          EXPECT_EQ(MetaOf(key).owner->gid, static_cast<uint32_t>(i)) << key;
        }
      }
    }
    Reopen();
  }
}

}  // namespace
}  // namespace bitgask
