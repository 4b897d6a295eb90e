// DB::PutFrom and WriteBatch::Copy: values written a piece at a time.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstring>
#include <random>

#include "bitgask/db.h"
#include "fault_injection_env.h"
#include "test_util.h"

namespace bitgask {
namespace {

using test::TempDir;

// A deterministic value: byte i of value `seed`.
char ByteAt(uint32_t seed, uint64_t i) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
  x ^= x >> 29;
  return static_cast<char>(x * 0xBF58476D1CE4E5B9ull >> 56);
}

std::string MakeValue(uint32_t seed, uint64_t n) {
  std::string v(n, '\0');
  for (uint64_t i = 0; i < n; i++) v[i] = ByteAt(seed, i);
  return v;
}

// A reader over MakeValue(seed, ...) that records the largest piece asked for.
struct GeneratedValue {
  uint32_t seed;
  size_t largest_piece = 0;
  int calls = 0;
  ValueReader Reader() {
    return [this](uint64_t off, size_t n, char* dst) {
      largest_piece = std::max(largest_piece, n);
      calls++;
      for (size_t i = 0; i < n; i++) dst[i] = ByteAt(seed, off + i);
      return Status::OK();
    };
  }
};

class StreamTest : public ::testing::Test {
 protected:
  void Open(Options o = Options()) {
    db_.reset();
    Status s = DB::Open(dir_.path(), o, &db_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string Get(const std::string& key) {
    std::string v;
    Status s = db_->Get(key, &v);
    return s.ok() ? v : "<" + s.ToString() + ">";
  }
  // Closes the store, then checks every record of it with DB::Validate.
  void CloseAndValidate() {
    db_.reset();
    ValidateReport report;
    Status s = DB::Validate(dir_.path(), &report);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(report.ok());
  }
  TempDir dir_{"stream_test"};
  std::unique_ptr<DB> db_;
};

TEST_F(StreamTest, PutFromStoresTheValueInBoundedPieces) {
  Open();
  const uint64_t n = (3 << 20) + 17;  // several pieces and a partial block
  GeneratedValue gen{7};
  WriteOptions wo;
  wo.mode = 0100640;
  ASSERT_TRUE(db_->PutFrom(wo, "big", n, gen.Reader()).ok());
  EXPECT_LE(gen.largest_piece, 1u << 20);
  const std::string want = MakeValue(7, n);
  EXPECT_EQ(Get("big"), want);
  std::string range;
  ASSERT_TRUE(db_->GetRange("big", n - 100, 4096, &range).ok());
  EXPECT_EQ(range, want.substr(n - 100));
  RecordMeta m;
  ASSERT_TRUE(db_->Meta("big", &m).ok());
  EXPECT_EQ(m.value_size, n);
  EXPECT_EQ(m.mode, 0100640);

  // Recovery reads it back both by scan and through a hint.
  ASSERT_TRUE(db_->Put("after", "x").ok());
  Options scan;
  scan.validate_on_open = true;
  Open(scan);
  EXPECT_EQ(Get("big"), want);
  EXPECT_EQ(Get("after"), "x");
  CloseAndValidate();
}

TEST_F(StreamTest, PutFromSmallAndEmptyValues) {
  Open();
  for (uint64_t n : {0ull, 1ull, 100ull, 65536ull, 65537ull}) {
    GeneratedValue gen{static_cast<uint32_t>(n)};
    std::string key = "k" + std::to_string(n);
    ASSERT_TRUE(db_->PutFrom(WriteOptions(), key, n, gen.Reader()).ok()) << n;
    EXPECT_EQ(Get(key), MakeValue(static_cast<uint32_t>(n), n)) << n;
  }
  Open();
  for (uint64_t n : {0ull, 1ull, 100ull, 65536ull, 65537ull}) {
    EXPECT_EQ(Get("k" + std::to_string(n)), MakeValue(static_cast<uint32_t>(n), n)) << n;
  }
}

TEST_F(StreamTest, PutFromRefusesWhatDoesNotFit) {
  Options o;
  o.max_value_size = 1000;
  Open(o);
  GeneratedValue gen{1};
  EXPECT_TRUE(db_->PutFrom(WriteOptions(), "k", 1001, gen.Reader()).IsTooLarge());
  EXPECT_EQ(gen.calls, 0);
  EXPECT_TRUE(db_->PutFrom(WriteOptions(), "", 10, gen.Reader()).IsInvalidArgument());
  Open();
  EXPECT_TRUE(db_->PutFrom(WriteOptions(), "k", 0xFFFFFFFFull, gen.Reader()).IsTooLarge());
  EXPECT_EQ(gen.calls, 0);
}

TEST_F(StreamTest, ReaderFailingInTheFirstPassWritesNothing) {
  Open();
  ASSERT_TRUE(db_->Put("k", "old").ok());
  ValueReader failing = [](uint64_t off, size_t n, char* dst) {
    if (off > 0) return Status::IOError("disk gone", EIO);
    std::memset(dst, 'a', n);
    return Status::OK();
  };
  Status s = db_->PutFrom(WriteOptions(), "k", 4 << 20, failing);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(Get("k"), "old");
  ASSERT_TRUE(db_->Put("k2", "still writable").ok());
  Open();
  EXPECT_EQ(Get("k"), "old");
  EXPECT_EQ(Get("k2"), "still writable");
}

TEST_F(StreamTest, ReaderChangingInTheSecondPassStopsWritesAndRecoveryDropsTheRecord) {
  Open();
  ASSERT_TRUE(db_->Put("acked", "value").ok());
  std::atomic<int> pass_bytes{0};
  const uint64_t n = 3 << 20;
  ValueReader fickle = [&](uint64_t off, size_t len, char* dst) {
    // The second time through (after n bytes), byte 0 of the value differs.
    const bool second = pass_bytes.fetch_add(static_cast<int>(len)) >= static_cast<int>(n);
    for (size_t i = 0; i < len; i++) dst[i] = ByteAt(3, off + i);
    if (second && off == 0) dst[0] ^= 1;
    return Status::OK();
  };
  Status s = db_->PutFrom(WriteOptions(), "big", n, fickle);
  EXPECT_TRUE(s.IsIOError() || s.IsCorruption()) << s.ToString();
  EXPECT_FALSE(db_->Put("later", "x").ok());  // sticky: nothing after the torn record
  Open();
  EXPECT_EQ(Get("acked"), "value");
  EXPECT_TRUE(!db_->Has("big"));
  ASSERT_TRUE(db_->Put("later", "x").ok());
  CloseAndValidate();
}

// The child puts acknowledged keys, then streams a value slowly; the parent
// kills it part way through the stream.
TEST_F(StreamTest, KillDuringPutFromKeepsEveryAcknowledgedWrite) {
  for (int iteration = 0; iteration < 3; iteration++) {
    int fds[2];
    ASSERT_EQ(0, ::pipe(fds));
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      std::unique_ptr<DB> db;
      Options o;
      o.sync_on_put = iteration % 2 == 0;
      if (!DB::Open(dir_.path(), o, &db).ok()) ::_exit(2);
      for (int i = 0; i < 20; i++) {
        std::string k = "it" + std::to_string(iteration) + "-" + std::to_string(i);
        if (!db->Put(k, MakeValue(i, 1000)).ok()) ::_exit(3);
      }
      std::atomic<int> pieces{0};
      ValueReader slow = [&](uint64_t off, size_t len, char* dst) {
        for (size_t i = 0; i < len; i++) dst[i] = ByteAt(9, off + i);
        if (++pieces == 20) {  // 16 pieces per pass: the second pass is under way
          char c = 'k';
          if (::write(fds[1], &c, 1) != 1) ::_exit(4);
        }
        if (pieces >= 20) ::usleep(20000);
        return Status::OK();
      };
      db->PutFrom(WriteOptions(), "big", 16 << 20, slow);
      ::_exit(0);
    }
    ::close(fds[1]);
    char c;
    ASSERT_EQ(1, ::read(fds[0], &c, 1));
    ::usleep(30000 + iteration * 20000);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child ended before the kill: " << status;

    Open();
    for (int it = 0; it <= iteration; it++) {
      for (int i = 0; i < 20; i++) {
        std::string k = "it" + std::to_string(it) + "-" + std::to_string(i);
        EXPECT_EQ(Get(k), MakeValue(i, 1000)) << k;
      }
    }
    std::string v;
    Status s = db_->Get("big", &v);
    EXPECT_TRUE(s.IsNotFound()) << s.ToString();  // never acknowledged, never torn
    db_.reset();
  }
}

// ---- PutFromFile: a value copied from a file, with or without the caller's
// block CRCs.

// Writes v to path and opens it for reading.
int ValueFile(const std::string& path, const std::string& v) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::pwrite(fd, v.data(), v.size(), 0) != static_cast<ssize_t>(v.size())) return -1;
  return fd;
}
int ValueFile(const std::string& path, uint32_t seed, uint64_t n) {
  return ValueFile(path, MakeValue(seed, n));
}

// zlib's CRC-32 of each DB::kValueBlockBytes block of v.
std::vector<uint32_t> BlockCrcs(const std::string& v) {
  const uint64_t n = v.size();
  std::vector<uint32_t> crcs;
  for (uint64_t off = 0; off < n; off += DB::kValueBlockBytes) {
    const uint64_t len = std::min<uint64_t>(DB::kValueBlockBytes, n - off);
    crcs.push_back(static_cast<uint32_t>(
        ::crc32(0, reinterpret_cast<const Bytef*>(v.data() + off), static_cast<uInt>(len))));
  }
  return crcs;
}
std::vector<uint32_t> BlockCrcs(uint32_t seed, uint64_t n) { return BlockCrcs(MakeValue(seed, n)); }

TEST_F(StreamTest, PutFromFileStoresTheFileWithOrWithoutCrcs) {
  const std::vector<uint64_t> sizes = {0, 1, 100, 65536, 65537, (3 << 20) + 17};
  for (bool mapped : {true, false}) {
    Options o;
    o.mmap_writes = mapped;
    Open(o);
    for (size_t i = 0; i < sizes.size(); i++) {
      const uint64_t n = sizes[i];
      const uint32_t seed = static_cast<uint32_t>(100 + i);
      const std::string key = "f" + std::to_string(n) + (mapped ? "m" : "p");
      const int fd = ValueFile(dir_.path() + "/value", seed, n);
      ASSERT_GE(fd, 0);
      const std::vector<uint32_t> crcs = BlockCrcs(seed, n);
      WriteOptions wo;
      wo.mode = 0100600;
      Status s = db_->PutFromFile(wo, key, fd, n, i % 2 == 0 ? &crcs : nullptr);
      ::close(fd);
      ASSERT_TRUE(s.ok()) << n << ": " << s.ToString();
      // A plain put right after lands behind it (the active file's mapping
      // is taken afresh after the copy).
      ASSERT_TRUE(db_->Put(key + "-after", "next " + key).ok());
      EXPECT_EQ(Get(key), MakeValue(seed, n)) << key;
      RecordMeta m;
      ASSERT_TRUE(db_->Meta(key, &m).ok());
      EXPECT_EQ(m.value_size, n);
      EXPECT_EQ(m.mode, 0100600);
    }
    std::string range;
    const uint64_t big = sizes.back();
    ASSERT_TRUE(db_->GetRange(std::string("f") + std::to_string(big) + (mapped ? "m" : "p"),
                              big - 70000, 4096, &range)
                    .ok());
    EXPECT_EQ(range, MakeValue(105, big).substr(big - 70000, 4096));
  }
  // Every record reads back after a scan that checks each one, and validates.
  Options scan;
  scan.validate_on_open = true;
  Open(scan);
  for (bool mapped : {true, false}) {
    for (size_t i = 0; i < sizes.size(); i++) {
      const std::string key = "f" + std::to_string(sizes[i]) + (mapped ? "m" : "p");
      EXPECT_EQ(Get(key), MakeValue(static_cast<uint32_t>(100 + i), sizes[i])) << key;
      EXPECT_EQ(Get(key + "-after"), "next " + key);
    }
  }
  CloseAndValidate();
}

TEST_F(StreamTest, PutFromFileRefusesBadArgumentsAndWritesNothing) {
  Open();
  ASSERT_TRUE(db_->Put("k", "old").ok());
  const uint64_t n = 200000;  // 4 blocks
  const int fd = ValueFile(dir_.path() + "/value", 1, n);
  ASSERT_GE(fd, 0);
  std::vector<uint32_t> crcs = BlockCrcs(1, n);
  crcs.pop_back();
  EXPECT_TRUE(db_->PutFromFile(WriteOptions(), "k", fd, n, &crcs).IsInvalidArgument());
  EXPECT_TRUE(db_->PutFromFile(WriteOptions(), "k", -1, n, nullptr).IsInvalidArgument());
  // A file shorter than the size: read fails before anything is written.
  Status s = db_->PutFromFile(WriteOptions(), "k", fd, n + 1, nullptr);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  ::close(fd);
  EXPECT_EQ(Get("k"), "old");
  ASSERT_TRUE(db_->Put("k2", "still writable").ok());
  Open();
  EXPECT_EQ(Get("k"), "old");
  EXPECT_EQ(Get("k2"), "still writable");
}

// Block CRCs that do not match the file's bytes (a caller's bug, or a file
// changed under the copy): the copy is checked as it landed, so the put
// fails, the key keeps its old value, writes stop until a reopen, and what
// is acknowledged after the reopen is kept: the failed record never costs
// other keys their data.
TEST_F(StreamTest, PutFromFileWithCrcsThatDoNotMatchFailsAndLosesNothing) {
  struct Case {
    bool mapped;
    uint64_t n;
    size_t wrong_block;
  };
  const Case cases[] = {{true, 300000, 2}, {false, 300000, 2}, {true, 1000, 0},
                        {false, (9 << 20) + 5, 140}};  // 140: in the second 8 MiB piece
  int round = 0;
  for (const Case& c : cases) {
    const std::string id = std::to_string(round++);
    Options o;
    o.mmap_writes = c.mapped;
    Open(o);
    ASSERT_TRUE(db_->Put("k" + id, "old").ok());
    ASSERT_TRUE(db_->Put("before" + id, "acked").ok());
    const int fd = ValueFile(dir_.path() + "/value", 2, c.n);
    ASSERT_GE(fd, 0);
    std::vector<uint32_t> crcs = BlockCrcs(2, c.n);
    crcs[c.wrong_block] ^= 1;  // the caller got one block wrong
    Status s = db_->PutFromFile(WriteOptions(), "k" + id, fd, c.n, &crcs);
    EXPECT_FALSE(s.ok()) << id;
    EXPECT_NE(s.ToString().find("changed while being stored"), std::string::npos)
        << s.ToString();
    EXPECT_EQ(Get("k" + id), "old");  // never the record that failed
    EXPECT_FALSE(db_->Put("after" + id, "x").ok());  // sticky until reopened
    Open(o);
    EXPECT_EQ(Get("k" + id), "old");
    EXPECT_EQ(Get("before" + id), "acked");
    // Acknowledged after the failure: kept by the next reopen, as is a
    // correct PutFromFile of the same file.
    ASSERT_TRUE(db_->Put("after" + id, "acked after " + id).ok());
    crcs[c.wrong_block] ^= 1;
    ASSERT_TRUE(db_->PutFromFile(WriteOptions(), "k" + id, fd, c.n, &crcs).ok());
    ASSERT_TRUE(db_->Put("last" + id, "acked last " + id).ok());
    ::close(fd);
    Open(o);
    EXPECT_EQ(Get("k" + id), MakeValue(2, c.n));
    EXPECT_EQ(Get("after" + id), "acked after " + id);
    EXPECT_EQ(Get("last" + id), "acked last " + id);
  }
  for (int i = 0; i < round; i++) {
    EXPECT_EQ(Get("before" + std::to_string(i)), "acked");
    EXPECT_EQ(Get("after" + std::to_string(i)), "acked after " + std::to_string(i));
  }
  CloseAndValidate();
}

// An append of the copy fails part way (through an Env that sees every
// append: the copy then goes through WritableFile::Append): the error is
// returned, writes stop, and after a reopen the old value and every
// acknowledged write are there.
TEST_F(StreamTest, PutFromFileFailingMidwayLosesNothingAcknowledged) {
  test::FaultInjectionEnv env;
  Options o;
  o.env = &env;
  o.mmap_writes = false;
  Open(o);
  ASSERT_TRUE(db_->Put("big", "old").ok());
  for (int i = 0; i < 10; i++) ASSERT_TRUE(db_->Put("acked" + std::to_string(i), "v").ok());
  const uint64_t n = 5 << 20;
  const int fd = ValueFile(dir_.path() + "/value", 3, n);
  ASSERT_GE(fd, 0);
  const std::vector<uint32_t> crcs = BlockCrcs(3, n);
  test::Fault f;
  f.err = ENOSPC;
  f.skip = 2;  // the record head and a piece of the value get through
  f.partial_bytes = 1000;
  f.name_contains = ".data";
  env.InjectFault(test::FaultOp::kAppend, f);
  Status s = db_->PutFromFile(WriteOptions(), "big", fd, n, &crcs);
  ::close(fd);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(s.errno_value(), ENOSPC);
  EXPECT_EQ(env.FaultsTriggered(test::FaultOp::kAppend), 1u);
  EXPECT_FALSE(db_->Put("later", "x").ok());  // sticky until reopened
  env.ClearAllFaults();
  Open(o);
  EXPECT_EQ(Get("big"), "old");
  for (int i = 0; i < 10; i++) EXPECT_EQ(Get("acked" + std::to_string(i)), "v");
  ASSERT_TRUE(db_->Put("later", "x").ok());
  CloseAndValidate();
}

// A power cut after an unsynced PutFromFile keeps the old value or the new
// one whole (a random prefix of what was not synced survives), and every
// synced write.
TEST_F(StreamTest, PowerLossAfterPutFromFileKeepsTheOldOrTheNewValue) {
  const uint64_t n = (2 << 20) + 3;
  const std::string value = MakeValue(4, n);
  const std::vector<uint32_t> crcs = BlockCrcs(4, n);
  int saw_new = 0, saw_old = 0;
  for (uint64_t seed = 1; seed <= 6; seed++) {
    TempDir dir("stream_power");
    test::FaultInjectionEnv env;
    env.SetFastSync(true);
    Options o;
    o.env = &env;
    o.mmap_writes = false;
    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(dir.path(), o, &db).ok());
    WriteOptions synced;
    synced.sync = WriteOptions::Sync::kAlways;
    ASSERT_TRUE(db->Put(synced, "big", "old").ok());
    ASSERT_TRUE(db->Put(synced, "acked", "kept").ok());
    const int fd = ValueFile(dir.path() + "/value", 4, n);
    ASSERT_GE(fd, 0);
    WriteOptions unsynced;
    unsynced.sync = WriteOptions::Sync::kNever;
    ASSERT_TRUE(db->PutFromFile(unsynced, "big", fd, n, &crcs).ok());
    ::close(fd);
    env.SetFilesystemActive(false);
    db.reset();
    test::PowerLossOptions plo;
    plo.tail = seed % 2 ? test::PowerLossOptions::Tail::kRandomPrefix
                        : test::PowerLossOptions::Tail::kTornPage;
    plo.seed = seed;
    ASSERT_TRUE(env.DropUnsyncedData(plo).ok());
    env.SetFilesystemActive(true);
    ASSERT_TRUE(DB::Open(dir.path(), o, &db).ok());
    std::string v;
    ASSERT_TRUE(db->Get("big", &v).ok()) << seed;
    if (v == "old") {
      saw_old++;
    } else {
      EXPECT_EQ(v.size(), n) << seed;
      EXPECT_TRUE(v == value) << "seed " << seed << ": a value that is neither old nor new";
      saw_new++;
    }
    ASSERT_TRUE(db->Get("acked", &v).ok());
    EXPECT_EQ(v, "kept");
  }
  EXPECT_GT(saw_old, 0);  // random prefixes of 2 MiB: some cut the record
}

// The child acknowledges keys, then stores a 64 MiB file; the parent kills
// it at a random moment around the copy. After a reopen the acknowledged
// keys are there and the big value is absent, or whole if the child
// reported it stored.
TEST_F(StreamTest, KillDuringPutFromFileKeepsEveryAcknowledgedWrite) {
  const uint64_t n = 64 << 20;
  const std::string path = dir_.path() + "/value";
  const std::string value = MakeValue(5, n);
  {
    const int fd = ValueFile(path, value);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  const std::vector<uint32_t> crcs = BlockCrcs(value);
  std::mt19937 rng(12345);
  int stored = 0, cut = 0;
  for (int iteration = 0; iteration < 4; iteration++) {
    int fds[2];
    ASSERT_EQ(0, ::pipe(fds));
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      std::unique_ptr<DB> db;
      Options o;
      o.sync_on_put = iteration % 2 == 0;
      if (!DB::Open(dir_.path() + "/db", o, &db).ok()) ::_exit(2);
      for (int i = 0; i < 20; i++) {
        std::string k = "it" + std::to_string(iteration) + "-" + std::to_string(i);
        if (!db->Put(k, MakeValue(i, 1000)).ok()) ::_exit(3);
      }
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      char c = 'k';
      if (fd < 0 || ::write(fds[1], &c, 1) != 1) ::_exit(4);
      if (!db->PutFromFile(WriteOptions(), "big" + std::to_string(iteration), fd, n, &crcs).ok())
        ::_exit(5);
      c = 'd';
      if (::write(fds[1], &c, 1) != 1) ::_exit(6);
      ::pause();
      ::_exit(0);
    }
    ::close(fds[1]);
    char c;
    ASSERT_EQ(1, ::read(fds[0], &c, 1));
    ::usleep(std::uniform_int_distribution<int>(0, 150000)(rng));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const bool acked = ::read(fds[0], &c, 1) == 1 && c == 'd';
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child ended before the kill: " << status;

    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(dir_.path() + "/db", Options(), &db).ok());
    for (int it = 0; it <= iteration; it++) {
      for (int i = 0; i < 20; i++) {
        std::string k = "it" + std::to_string(it) + "-" + std::to_string(i);
        std::string v;
        ASSERT_TRUE(db->Get(k, &v).ok()) << k;
        EXPECT_EQ(v, MakeValue(i, 1000)) << k;
      }
    }
    std::string v;
    Status s = db->Get("big" + std::to_string(iteration), &v);
    if (s.ok()) {
      EXPECT_TRUE(v == value) << "iteration " << iteration << ": torn value";
      stored++;
    } else {
      EXPECT_TRUE(s.IsNotFound()) << s.ToString();  // never torn, never corrupt
      EXPECT_FALSE(acked) << "iteration " << iteration << ": acknowledged, then lost";
      cut++;
    }
  }
  std::printf("kills: %d values stored whole, %d cut (dropped)\n", stored, cut);
}

TEST_F(StreamTest, CopyKeepsValueAndMetadataForEverySize) {
  Open();
  struct Case {
    std::string key;
    std::string value;
  };
  std::vector<Case> cases = {
      {"small", "hello"},
      {"compressible", std::string(200000, 'z')},          // stored compressed
      {"blocks", MakeValue(5, (2 << 20) + 3)},              // block checksums, streamed
      {"inline-blocks", MakeValue(6, 65 * 1024)},           // just over one block
  };
  for (const Case& c : cases) {
    WriteOptions wo;
    wo.mode = 0100600;
    wo.timestamp_unix_ns = 1234567890;
    wo.ttl = std::chrono::hours(1);
    ASSERT_TRUE(db_->Put(wo, c.key, c.value).ok());
  }
  ASSERT_TRUE(db_->SetMeta("small", 0100644, -1).ok());  // a later meta update is copied too
  for (const Case& c : cases) {
    WriteBatch b;
    b.Copy(c.key, "moved/" + c.key);
    b.Delete(c.key);
    Status s = db_->Write(WriteOptions(), b);
    ASSERT_TRUE(s.ok()) << c.key << ": " << s.ToString();
  }
  auto check = [&] {
    for (const Case& c : cases) {
      EXPECT_FALSE(db_->Has(c.key)) << c.key;
      EXPECT_EQ(Get("moved/" + c.key), c.value) << c.key;
      RecordMeta m;
      ASSERT_TRUE(db_->Meta("moved/" + c.key, &m).ok());
      EXPECT_EQ(m.mode, c.key == "small" ? 0100644 : 0100600) << c.key;
      EXPECT_EQ(m.timestamp_unix_ns, 1234567890) << c.key;
      EXPECT_GT(m.expires_unix_ns, 0) << c.key;
      EXPECT_EQ(m.value_size, c.value.size()) << c.key;
    }
  };
  check();
  std::string range;
  ASSERT_TRUE(db_->GetRange("moved/blocks", 1 << 20, 10, &range).ok());
  EXPECT_EQ(range, cases[2].value.substr(1 << 20, 10));
  Options scan;
  scan.validate_on_open = true;
  Open(scan);
  check();
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  check();
}

TEST_F(StreamTest, CopyOfAMissingKeyWritesNothing) {
  Open();
  ASSERT_TRUE(db_->Put("a", "1").ok());
  WriteBatch b;
  b.Put("x", "should not land");
  b.Copy("absent", "b");
  b.Delete("a");
  Status s = db_->Write(WriteOptions(), b);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_EQ(Get("a"), "1");
  EXPECT_FALSE(db_->Has("x"));
  EXPECT_FALSE(db_->Has("b"));
}

TEST_F(StreamTest, CopyOfACorruptValueIsRefusedAndTheStoreGoesOn) {
  // Small files, so each value ends up in an older file behind a hint (damage
  // there is found when the record is read, not at open).
  Options o;
  o.max_data_file_size = 64 << 10;
  Open(o);
  const std::string big = MakeValue(11, 300000);  // streamed when copied
  ASSERT_TRUE(db_->Put("big", big).ok());           // file 1
  ASSERT_TRUE(db_->Put("small", "tiny value").ok());  // file 2
  ASSERT_TRUE(db_->Put("filler", MakeValue(12, 70000)).ok());  // file 3
  db_.reset();
  std::vector<uint32_t> ids = test::FileIds(dir_.path() + "/data", ".data");
  ASSERT_EQ(ids.size(), 3u);
  const std::string f1 = dir_.path() + "/data/" + test::NumberedName(ids[0], ".data");
  const std::string f2 = dir_.path() + "/data/" + test::NumberedName(ids[1], ".data");
  test::FlipByte(f1, 32 + 3 + 150000);        // inside big's value
  test::FlipByte(f2, test::FileSize(f2) - 3);  // inside small's value
  Open(o);
  for (const char* key : {"big", "small"}) {
    WriteBatch b;
    b.Copy(key, std::string(key) + "2");
    b.Delete(key);
    Status s = db_->Write(WriteOptions(), b);
    EXPECT_TRUE(s.IsCorruption()) << key << ": " << s.ToString();
    EXPECT_NE(s.message().find(".data offset"), std::string::npos) << s.message();
    EXPECT_FALSE(db_->Has(std::string(key) + "2"));
  }
  ASSERT_TRUE(db_->Put("other", "ok").ok());
  EXPECT_EQ(Get("other"), "ok");
}

TEST_F(StreamTest, MergeCopiesLargeRecordsWithTheirNewMetadata) {
  Options o;
  o.max_data_file_size = 1 << 20;
  Open(o);
  const std::string raw = MakeValue(21, (5 << 20) + 11);     // block checksums
  const std::string packed(48 << 20, 'a');                   // compressed, still > 1 MiB
  ASSERT_TRUE(db_->Put("raw", raw).ok());
  ASSERT_TRUE(db_->Put("packed", packed).ok());
  ASSERT_TRUE(db_->SetMeta("raw", 0100600, 42).ok());
  ASSERT_TRUE(db_->Expire("packed", std::chrono::hours(2)).ok());
  for (int i = 0; i < 50; i++) ASSERT_TRUE(db_->Put("garbage", MakeValue(i, 50000)).ok());
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  ASSERT_TRUE(db_->Merge(mo, &mr).ok());
  ASSERT_GE(mr.records_copied, 2u);
  auto check = [&] {
    EXPECT_EQ(Get("raw"), raw);
    EXPECT_EQ(Get("packed"), packed);
    RecordMeta m;
    ASSERT_TRUE(db_->Meta("raw", &m).ok());
    EXPECT_EQ(m.mode, 0100600);
    EXPECT_EQ(m.timestamp_unix_ns, 42);
    ASSERT_TRUE(db_->Meta("packed", &m).ok());
    EXPECT_GT(m.expires_unix_ns, 0);
  };
  check();
  Options scan = o;
  scan.validate_on_open = true;
  Open(scan);
  check();
  CloseAndValidate();
}

}  // namespace
}  // namespace bitgask
