// Point reads through memory-mapped data files (Options::mmap_reads; the
// "Memory maps" contract in engine/db_impl.h): RandomAccessFile::Map on its
// own, then every kind of record read through a mapping (and with mmap_reads
// off through pread, with the same results), records past the mapping's end,
// damage found through a mapping, and reads racing merges that delete files.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bitgask/db.h"
#include "bitgask/env.h"
#include "bitgask/options.h"
#include "test_util.h"

namespace bitgask {
namespace {

using test::FakeClockEnv;
using test::FileIds;
using test::FlipByte;
using test::NumberedName;
using test::TempDir;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

std::string Compressible(size_t n) {
  std::string s;
  while (s.size() < n) s += "a value snappy shrinks well; ";
  s.resize(n);
  return s;
}

// Counts the preads of data files the engine has mapped (other readers,
// such as the hint writer's scans, open files of their own); passes Map
// through, so the engine maps files as with the plain POSIX Env.
class PreadCountingEnv : public FakeClockEnv {
 public:
  Status NewRandomAccessFile(const std::string& p,
                             std::unique_ptr<RandomAccessFile>* f) override {
    Status s = FakeClockEnv::NewRandomAccessFile(p, f);
    if (s.ok() && p.size() > 5 && p.compare(p.size() - 5, 5, ".data") == 0) {
      f->reset(new File(this, std::move(*f)));
    }
    return s;
  }
  std::atomic<uint64_t> mapped_preads{0};

 private:
  class File : public RandomAccessFile {
   public:
    File(PreadCountingEnv* env, std::unique_ptr<RandomAccessFile> base)
        : env_(env), base_(std::move(base)) {}
    Status Read(uint64_t offset, size_t n, char* scratch,
                std::string_view* result) const override {
      if (mapped_) env_->mapped_preads++;
      return base_->Read(offset, n, scratch, result);
    }
    std::string_view Map(uint64_t len) override {
      std::string_view map = base_->Map(len);
      mapped_ = !map.empty();
      return map;
    }

   private:
    bool mapped_ = false;  // set before the engine shares the file
    PreadCountingEnv* env_;
    std::unique_ptr<RandomAccessFile> base_;
  };
};

// ------------------------------------------------------------- Env level

class MapTest : public ::testing::Test {
 protected:
  TempDir dir_{"bitgask-map"};
  Env* env_ = Env::Default();
  std::string Path(const char* name) const { return dir_.path() + "/" + name; }
};

TEST_F(MapTest, MappingShowsLaterAppendsAndOutlivesUnlink) {
  std::unique_ptr<WritableFile> w;
  ASSERT_TRUE(env_->NewWritableFile(Path("f"), &w).ok());
  ASSERT_TRUE(w->Append("first").ok());
  std::unique_ptr<RandomAccessFile> r;
  ASSERT_TRUE(env_->NewRandomAccessFile(Path("f"), &r).ok());
  const std::string_view map = r->Map(1 << 20);  // far past the end: room to grow
  ASSERT_EQ(map.size(), 1u << 20);
  EXPECT_EQ(map.substr(0, 5), "first");
  ASSERT_TRUE(w->Append("second").ok());  // through another descriptor
  EXPECT_EQ(map.substr(0, 11), "firstsecond");
  EXPECT_TRUE(r->Map(4096).empty()) << "a second Map must fail";
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(env_->RemoveFile(Path("f")).ok());
  EXPECT_EQ(map.substr(0, 11), "firstsecond") << "the mapping outlives the name";
}

TEST_F(MapTest, EmptyLengthAndWrappersDoNotMap) {
  std::unique_ptr<WritableFile> w;
  ASSERT_TRUE(env_->NewWritableFile(Path("f"), &w).ok());
  ASSERT_TRUE(w->Append("x").ok());
  std::unique_ptr<RandomAccessFile> r;
  ASSERT_TRUE(env_->NewRandomAccessFile(Path("f"), &r).ok());
  EXPECT_TRUE(r->Map(0).empty());
  // A RandomAccessFile that does not override Map (a wrapper that must see
  // every read) has no mapping.
  class Plain : public RandomAccessFile {
   public:
    Status Read(uint64_t, size_t, char*, std::string_view* result) const override {
      *result = std::string_view();
      return Status::OK();
    }
  } plain;
  EXPECT_TRUE(plain.Map(4096).empty());
}

// -------------------------------------------------------------- DB level

class MappedReadTest : public ::testing::TestWithParam<bool> {
 protected:
  MappedReadTest() {
    options_.env = &env_;
    options_.sync_on_put = false;
    options_.merge_interval = std::chrono::milliseconds(0);
    options_.mmap_reads = GetParam();
  }
  void Open() {
    db_.reset();
    ASSERT_TRUE(DB::Open(dir_.path(), options_, &db_).ok());
  }
  std::string DataPath(uint32_t id) const {
    return dir_.path() + "/data/" + NumberedName(id, ".data");
  }
  // Checks every key of want, by Get and by GetRange over the whole value
  // and a slice across a 64 KiB block boundary. With mmap_reads and
  // `all_mapped`, no record of up to 64 KiB may be read by pread (larger
  // ones are, by design).
  void ExpectAll(const std::map<std::string, std::string>& want, const char* when,
                 bool all_mapped) {
    SCOPED_TRACE(when);
    for (const auto& [key, value] : want) {
      const uint64_t preads = env_.mapped_preads.load();
      std::string got;
      Status s = db_->Get(key, &got);
      ASSERT_TRUE(s.ok()) << key << ": " << s.ToString();
      EXPECT_EQ(got, value) << key;
      ASSERT_TRUE(db_->GetRange(key, 0, value.size() + 1, &got).ok()) << key;
      EXPECT_EQ(got, value) << key;
      if (value.size() > 70000) {
        ASSERT_TRUE(db_->GetRange(key, 65530, 20, &got).ok()) << key;
        EXPECT_EQ(got, value.substr(65530, 20)) << key;
      }
      if (GetParam() && all_mapped && value.size() < 60000) {
        EXPECT_EQ(env_.mapped_preads.load(), preads) << key << ": read by pread";
      }
    }
  }

  PreadCountingEnv env_;
  TempDir dir_{"bitgask-mapped"};
  Options options_;
  std::unique_ptr<DB> db_;
};

// Every kind of record, in the active file, in closed files, after a
// reopen (the newest file mapped with room for appends) and after a merge:
// the same bytes whether read through mappings or by pread.
TEST_P(MappedReadTest, EveryRecordKindReadsTheSame) {
  options_.max_data_file_size = 256 << 10;  // a few files
  Open();
  std::map<std::string, std::string> want;
  auto put = [&](const std::string& key, const std::string& value, const WriteOptions& wo) {
    ASSERT_TRUE(db_->Put(wo, key, value).ok()) << key;
    want[key] = value;
  };
  WriteOptions plain, owned, ttl, moded;
  owned.owner = Owner{1000, 100};
  ttl.ttl = std::chrono::hours(1);
  moded.mode = 0100644;
  for (int i = 0; i < 300; i++) {
    const std::string k = "key" + std::to_string(i);
    put(k + "/small", RandomBytes(100, i), plain);
    put(k + "/empty", "", plain);
    put(k + "/compressed", Compressible(3000 + i), plain);
    put(k + "/owner", RandomBytes(50, i + 7), owned);
    put(k + "/owner-compressed", Compressible(1000), owned);
    put(k + "/ttl", RandomBytes(20, i + 9), ttl);
    put(k + "/mode", RandomBytes(30, i + 11), moded);
  }
  for (int i = 0; i < 4; i++) {  // block checksums (> 64 KiB, incompressible)
    put("large" + std::to_string(i), RandomBytes(150000 + i, 99 + i), plain);
  }
  // Metadata updates change the entry, not where the value starts.
  ASSERT_TRUE(db_->SetMeta("key7/small", 0100600, 12345, Owner{5, 6}).ok());
  ASSERT_TRUE(db_->SetMeta("key8/owner", 0100600, -1, Owner{7, 8}).ok());
  ASSERT_GE(FileIds(dir_.path() + "/data", ".data").size(), 3u);

  ExpectAll(want, "as written", true);
  Open();
  ExpectAll(want, "after reopen", true);
  for (int i = 0; i < 300; i += 2) put("key" + std::to_string(i) + "/small", "new", plain);
  ExpectAll(want, "after appends to the reopened newest file", true);
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  ASSERT_TRUE(mr.ran);
  ExpectAll(want, "after merge", true);
}

// A record larger than max_data_file_size starts a file whose mapping (as
// the active file, max_data_file_size bytes) ends inside the record: it is
// read by pread, and small records around it through the mappings.
TEST_P(MappedReadTest, RecordPastTheMappingsEndIsRead) {
  options_.max_data_file_size = 4096;
  Open();
  std::map<std::string, std::string> want;
  want["before"] = RandomBytes(100, 1);
  want["spanning"] = RandomBytes(10000, 2);  // small enough to be mapped if it fit
  want["after"] = RandomBytes(100, 3);
  for (const char* k : {"before", "spanning", "after"}) ASSERT_TRUE(db_->Put(k, want[k]).ok());
  const uint64_t before = env_.mapped_preads.load();
  ExpectAll({{"before", want["before"]}, {"after", want["after"]}}, "active", true);
  EXPECT_EQ(env_.mapped_preads.load(), before);
  ExpectAll(want, "active", false);
  if (GetParam()) {
    EXPECT_GT(env_.mapped_preads.load(), before) << "the spanning record needs pread";
  }
  Open();
  ExpectAll(want, "after reopen", false);
}

// Damage under a mapped record is found by the CRC: Corruption, and the
// caller's buffer is left as it was.
TEST_P(MappedReadTest, DamageIsFoundThroughTheMapping) {
  Open();
  ASSERT_TRUE(db_->Put("k", RandomBytes(100, 5)).ok());
  ASSERT_TRUE(db_->Put("c", Compressible(5000)).ok());
  std::string got;
  ASSERT_TRUE(db_->Get("k", &got).ok());  // mapped and cached before the damage
  const std::vector<uint32_t> ids = FileIds(dir_.path() + "/data", ".data");
  ASSERT_EQ(ids.size(), 1u);
  FlipByte(DataPath(ids[0]), 32 + 1 + 50);  // in k's value
  got = "unchanged";
  Status s = db_->Get("k", &got);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(got, "unchanged");
  s = db_->GetRange("k", 0, 10, &got);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  ASSERT_TRUE(db_->Get("c", &got).ok());
  EXPECT_EQ(got, Compressible(5000));
}

// A plain value read through a mapping is copied once and checked as
// copied: a flipped byte anywhere in its record (header, key, owner block,
// value) is Corruption, the caller's buffer stays as it was, and the record
// reads back once the byte is restored.
TEST_P(MappedReadTest, DamageAnywhereInAPlainRecordIsFound) {
  Open();
  WriteOptions owned;
  owned.owner = Owner{1000, 100};
  const std::string value = RandomBytes(100, 6);
  ASSERT_TRUE(db_->Put(owned, "key", value).ok());
  std::string got;
  ASSERT_TRUE(db_->Get("key", &got).ok());
  ASSERT_EQ(got, value);
  const std::vector<uint32_t> ids = FileIds(dir_.path() + "/data", ".data");
  ASSERT_EQ(ids.size(), 1u);
  // The record is the file's first: header 32, key 3, owner 8, value 100.
  const struct { const char* what; uint64_t at; } places[] = {
      {"crc", 1}, {"timestamp", 6}, {"mode", 31}, {"key", 32 + 1},
      {"owner", 32 + 3 + 2}, {"first value byte", 43}, {"last value byte", 142}};
  for (const auto& p : places) {
    SCOPED_TRACE(p.what);
    FlipByte(DataPath(ids[0]), p.at);
    got = "unchanged";
    Status s = db_->Get("key", &got);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_EQ(got, "unchanged");
    FlipByte(DataPath(ids[0]), p.at);  // restored
    ASSERT_TRUE(db_->Get("key", &got).ok());
    EXPECT_EQ(got, value);
  }
}

// A torn record at the end of the newest file is cut off at open before the
// file is mapped; what came before reads back, and so do appends after it.
TEST_P(MappedReadTest, TornTailIsCutBeforeMapping) {
  Open();
  ASSERT_TRUE(db_->Put("a", RandomBytes(300, 1)).ok());
  ASSERT_TRUE(db_->Put("b", RandomBytes(300, 2)).ok());
  db_.reset();
  const std::string path = DataPath(FileIds(dir_.path() + "/data", ".data").back());
  const uint64_t size = test::FileSize(path);
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size - 100)), 0);  // b torn
  Open();
  std::string got;
  ASSERT_TRUE(db_->Get("a", &got).ok());
  EXPECT_EQ(got, RandomBytes(300, 1));
  EXPECT_TRUE(db_->Get("b", &got).IsNotFound());
  ASSERT_TRUE(db_->Put("c", RandomBytes(300, 3)).ok());
  ASSERT_TRUE(db_->Get("c", &got).ok());
  EXPECT_EQ(got, RandomBytes(300, 3));
}

// Readers race merges that rewrite every file and delete the old ones while
// a read may still be copying out of them: every read must find its key and
// a value written for it.
TEST_P(MappedReadTest, ReadsRaceMergesThatDeleteFiles) {
  options_.max_data_file_size = 64 << 10;
  Open();
  constexpr int kKeys = 500;
  auto value = [](int key, int round) {
    return "key" + std::to_string(key) + ":round" + std::to_string(round) + ":" +
           std::string(100, static_cast<char>('a' + round % 26));
  };
  for (int k = 0; k < kKeys; k++) ASSERT_TRUE(db_->Put("k" + std::to_string(k), value(k, 0)).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; t++) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::string got;
      while (!stop) {
        const int k = static_cast<int>(rng() % kKeys);
        Status s = db_->Get("k" + std::to_string(k), &got);
        const std::string prefix = "key" + std::to_string(k) + ":round";
        if (!s.ok() || got.compare(0, prefix.size(), prefix) != 0 || got.size() < 110) bad++;
        reads++;
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  int merges = 0;
  for (int round = 1; std::chrono::steady_clock::now() < deadline || merges < 3; round++) {
    for (int k = 0; k < kKeys; k++) {
      ASSERT_TRUE(db_->Put("k" + std::to_string(k), value(k, round)).ok());
    }
    MergeOptions mo;
    mo.force = true;
    MergeResult mr;
    ASSERT_TRUE(db_->Merge(mo, &mr).ok());
    merges += mr.ran ? 1 : 0;
  }
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_GE(merges, 3);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(bad.load(), 0u) << "of " << reads.load() << " reads";
}

INSTANTIATE_TEST_SUITE_P(MmapOnAndOff, MappedReadTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "mmap" : "pread";
                         });

}  // namespace
}  // namespace bitgask
