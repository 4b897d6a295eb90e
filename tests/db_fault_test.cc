// Fault injection tests: power loss, failed writes and fsyncs, full disks,
// torn tails, bit flips, damaged hints, the store lock and the format version.
//
// The rule every test checks: nothing acknowledged is lost, and nothing
// corrupt is ever returned as data.
//
// Environment:
//   BITGASK_FAULT_ITERS=N  multiplies the iteration counts of the randomized
//                          tests by N (default 1: about 15-25 s on 2 cores).
//   BITGASK_FAULT_SEED=S   changes the base seed (each failure prints its seed).
//   BITGASK_FAULT_KEEP=1   keeps the temporary directories of failed tests.
//   BITGASK_FAULT_REAL_SYNC=1  really fsyncs (the tests skip it by default: the
//                          fault env's model decides what a power loss keeps).
//   BITGASK_LOG_LEVEL      the engine's log level; "off" here unless set.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bitgask/db.h"
#include "bitgask/env.h"
#include "bitgask/options.h"
#include "bitgask/status.h"
#include "fault_injection_env.h"

namespace fs = std::filesystem;

namespace bitgask {
namespace test {
namespace {

[[maybe_unused]] const bool kQuietLogs = [] {
  ::setenv("BITGASK_LOG_LEVEL", "off", /*overwrite=*/0);
  return true;
}();

// The fault env of these tests. What survives a simulated power loss is
// decided by its model, so the real fsyncs are skipped (they only cost time)
// unless BITGASK_FAULT_REAL_SYNC=1.
class TestEnv : public FaultInjectionEnv {
 public:
  TestEnv() {
    const char* r = std::getenv("BITGASK_FAULT_REAL_SYNC");
    SetFastSync(!(r && *r && *r != '0'));
  }
};

constexpr int64_t kMs = 1000 * 1000;
constexpr int64_t kT0 = 1700000000LL * 1000 * 1000 * 1000;  // the fake clock's start

// ------------------------------------------------------------------ helpers

int Iters(int base) {
  const char* s = std::getenv("BITGASK_FAULT_ITERS");
  long f = s ? std::atol(s) : 1;
  return base * static_cast<int>(f > 1 ? f : 1);
}

uint64_t BaseSeed() {
  const char* s = std::getenv("BITGASK_FAULT_SEED");
  return s ? std::strtoull(s, nullptr, 0) : 0xB17CA5Cull;
}

class TempDir {
 public:
  TempDir() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/bitgask_fault_test.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
      return;
    }
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (path_.empty()) return;
    if (KeepFiles() && ::testing::Test::HasFailure()) {
      std::fprintf(stderr, "kept %s\n", path_.c_str());
      return;
    }
    fs::remove_all(path_, ec);
  }
  // BITGASK_FAULT_KEEP=1: keep the directories of failed tests for inspection.
  static bool KeepFiles() {
    const char* k = std::getenv("BITGASK_FAULT_KEEP");
    return k && *k && *k != '0';
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteBytes(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

void FlipBit(const std::string& path, uint64_t byte, int bit) {
  std::string d = ReadBytes(path);
  ASSERT_LT(byte, d.size());
  d[byte] = static_cast<char>(d[byte] ^ (1 << bit));
  WriteBytes(path, d);
}

void CopyTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::remove_all(to, ec);
  fs::copy(from, to, fs::copy_options::recursive, ec);
  ASSERT_FALSE(ec) << "copy " << from << " -> " << to << ": " << ec.message();
}

std::string DataDir(const std::string& root) { return root + "/data"; }

std::string FileName(uint32_t id, const char* ext) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%09u%s", id, ext);
  return buf;
}
std::string DataPath(const std::string& root, uint32_t id) {
  return DataDir(root) + "/" + FileName(id, ".data");
}
std::string HintPath(const std::string& root, uint32_t id) {
  return DataDir(root) + "/" + FileName(id, ".hint");
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// Ids of the store's NNNNNNNNN.data files, ascending.
std::vector<uint32_t> DataFileIds(const std::string& root) {
  std::vector<uint32_t> ids;
  for (const std::string& n : ListDir(DataDir(root))) {
    if (n.size() == 14 && n.compare(9, 5, ".data") == 0 &&
        std::all_of(n.begin(), n.begin() + 9, [](char c) { return c >= '0' && c <= '9'; })) {
      ids.push_back(static_cast<uint32_t>(std::stoul(n.substr(0, 9))));
    }
  }
  return ids;
}

std::vector<std::string> DamagedFiles(const std::string& root) {
  std::vector<std::string> out;
  for (const std::string& n : ListDir(DataDir(root))) {
    if (n.find(".damaged-") != std::string::npos) out.push_back(n);
  }
  return out;
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  uint64_t n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// A record as laid out on disk, decoded by hand (independent of the engine):
// crc(4) ts(8) expires(8) key_len(4) val_len(4) flags(1) codec(1) reserved(2).
struct Rec {
  uint32_t file_id = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string key;
  uint8_t flags = 0;
  bool Contains(uint64_t pos) const { return pos >= offset && pos < offset + size; }
};

uint32_t Dec32(const std::string& d, uint64_t at) {
  const auto* u = reinterpret_cast<const unsigned char*>(d.data() + at);
  return u[0] | (u[1] << 8) | (u[2] << 16) | (static_cast<uint32_t>(u[3]) << 24);
}

std::vector<Rec> ParseDataFile(const std::string& root, uint32_t id) {
  const std::string d = ReadBytes(DataPath(root, id));
  std::vector<Rec> out;
  uint64_t pos = 0;
  while (pos + 32 <= d.size()) {
    Rec r;
    r.file_id = id;
    r.offset = pos;
    r.size = 32 + static_cast<uint64_t>(Dec32(d, pos + 20)) + Dec32(d, pos + 24);
    if (pos + r.size > d.size()) break;
    r.key = d.substr(pos + 32, Dec32(d, pos + 20));
    r.flags = static_cast<uint8_t>(d[pos + 28]);
    out.push_back(r);
    pos += r.size;
  }
  EXPECT_EQ(pos, d.size()) << DataPath(root, id) << " is not a sequence of whole records";
  return out;
}

std::vector<Rec> ParseStore(const std::string& root) {
  std::vector<Rec> all;
  for (uint32_t id : DataFileIds(root)) {
    std::vector<Rec> r = ParseDataFile(root, id);
    all.insert(all.end(), r.begin(), r.end());
  }
  return all;
}

std::string Printable(const std::string& s, size_t max = 40) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 32 && c < 127) {
      out.push_back(static_cast<char>(c));
    } else {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    }
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

// ------------------------------------------------------------------ model

struct Val {
  std::string value;
  int64_t expires = 0;  // 0: never
  bool operator==(const Val& o) const { return value == o.value && expires == o.expires; }
  bool operator!=(const Val& o) const { return !(*this == o); }
};
using Model = std::map<std::string, Val>;  // what the store should hold (possibly expired)
using State = std::map<std::string, Val>;  // what is live at some instant

bool Alive(const Val& v, int64_t now) { return v.expires == 0 || v.expires > now; }

State Project(const Model& m, int64_t now) {
  State s;
  for (const auto& [k, v] : m) {
    if (Alive(v, now)) s[k] = v;
  }
  return s;
}

std::string Diff(const State& want, const State& got) {
  std::ostringstream os;
  int n = 0;
  std::set<std::string> keys;
  for (const auto& kv : want) keys.insert(kv.first);
  for (const auto& kv : got) keys.insert(kv.first);
  for (const std::string& k : keys) {
    auto w = want.find(k);
    auto g = got.find(k);
    if (w != want.end() && g != got.end() && w->second == g->second) continue;
    if (n++ == 6) {
      os << "  ...\n";
      break;
    }
    os << "  key " << Printable(k) << ": want ";
    if (w == want.end()) {
      os << "<absent>";
    } else {
      os << "\"" << Printable(w->second.value) << "\" exp " << w->second.expires;
    }
    os << ", got ";
    if (g == got.end()) {
      os << "<absent>";
    } else {
      os << "\"" << Printable(g->second.value) << "\" exp " << g->second.expires;
    }
    os << "\n";
  }
  return os.str();
}

// Reads every key: Get and Meta must agree, and nothing but OK or NotFound is
// acceptable (a Corruption or I/O error here means bad data reached a reader).
::testing::AssertionResult ReadState(DB* db, const std::vector<std::string>& keys, State* out) {
  out->clear();
  for (const std::string& k : keys) {
    std::string v = "<unchanged>";
    Status s = db->Get(k, &v);
    if (s.IsNotFound()) {
      if (v != "<unchanged>") {
        return ::testing::AssertionFailure() << "Get(" << Printable(k) << ") NotFound changed *value";
      }
      continue;
    }
    if (!s.ok()) {
      return ::testing::AssertionFailure() << "Get(" << Printable(k) << "): " << s.ToString();
    }
    RecordMeta m;
    s = db->Meta(k, &m);
    if (!s.ok()) {
      return ::testing::AssertionFailure()
             << "Meta(" << Printable(k) << ") after a successful Get: " << s.ToString();
    }
    if (m.value_size != v.size()) {
      return ::testing::AssertionFailure() << "Meta(" << Printable(k) << ").value_size "
                                           << m.value_size << " but Get returned " << v.size()
                                           << " bytes";
    }
    (*out)[k] = Val{v, m.expires_unix_ns};
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult StateIs(DB* db, const std::vector<std::string>& keys,
                                   const State& want) {
  State got;
  ::testing::AssertionResult r = ReadState(db, keys, &got);
  if (!r) return r;
  if (got != want) {
    return ::testing::AssertionFailure() << "store differs from the model:\n" << Diff(want, got);
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::string> MakeKeys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; i++) {
    char b[16];
    std::snprintf(b, sizeof(b), "key-%03d", i);
    keys.push_back(b);
  }
  keys.push_back(std::string("bin\0key\xff", 8));  // arbitrary bytes
  keys.push_back(std::string(700, 'L'));            // a long key
  return keys;
}

// Values of many shapes; each starts with a unique tag so that a stale or
// resurrected value cannot pass for the expected one.
std::string RandomValue(std::mt19937_64& rng, uint64_t tag) {
  std::string v = "v" + std::to_string(tag) + ":";
  switch (rng() % 7) {
    case 0:
      break;  // short
    case 1:
    case 2: {
      size_t n = rng() % 64;
      for (size_t i = 0; i < n; i++) v.push_back(static_cast<char>(rng()));
      break;
    }
    case 3: {
      size_t n = 64 + rng() % 700;
      for (size_t i = 0; i < n; i++) v.push_back(static_cast<char>(rng()));
      break;
    }
    case 4:
    case 5: {  // compressible: stored with snappy
      size_t n = 256 + rng() % 3000;
      std::string unit = "pattern-" + std::to_string(rng() % 1000) + "-";
      while (v.size() < n) v += unit;
      break;
    }
    case 6: {  // zeros
      v.append(100 + rng() % 300, '\0');
      break;
    }
  }
  return v;
}

Options BaseOptions(Env* env) {
  Options o;
  o.env = env;
  o.merge_interval = std::chrono::milliseconds(0);
  return o;
}

#define ASSERT_OK(expr)                                    \
  do {                                                     \
    ::bitgask::Status _s = (expr);                         \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                    \
  do {                                                     \
    ::bitgask::Status _s = (expr);                         \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)

// Cuts the power: nothing more reaches the disk, the DB is dropped, un-synced
// data is lost as `o` says, and the machine comes back.
void PowerLoss(FaultInjectionEnv* env, std::unique_ptr<DB>* db, const PowerLossOptions& o) {
  env->SetFilesystemActive(false);
  db->reset();
  Status s = env->DropUnsyncedData(o);
  env->SetFilesystemActive(true);
  env->ClearAllFaults();
  ASSERT_TRUE(s.ok()) << "DropUnsyncedData: " << s.ToString();
}

PowerLossOptions::Tail PickTail(uint64_t r) {
  switch (r % 3) {
    case 0: return PowerLossOptions::Tail::kSyncedOnly;
    case 1: return PowerLossOptions::Tail::kRandomPrefix;
    default: return PowerLossOptions::Tail::kTornPage;
  }
}

const char* TailName(PowerLossOptions::Tail t) {
  switch (t) {
    case PowerLossOptions::Tail::kSyncedOnly: return "synced-only";
    case PowerLossOptions::Tail::kRandomPrefix: return "random-prefix";
    case PowerLossOptions::Tail::kTornPage: return "torn-page";
  }
  return "?";
}

// One random write against the DB. *intended is the model as it would be if
// the write took effect (set whether or not it succeeded); *desc says what was
// done. `simple` restricts to Put/Delete honouring `sync`.
Status RandomWrite(DB* db, Env* env, std::mt19937_64& rng, const std::vector<std::string>& keys,
                   const Model& cur, uint64_t tag, bool allow_ttl, WriteOptions::Sync sync,
                   bool simple, Model* intended, std::string* desc) {
  *intended = cur;
  const int64_t now = env->NowUnixNanos();
  const std::string& key = keys[rng() % keys.size()];
  auto live = [&](const std::string& k) {
    auto it = cur.find(k);
    return it != cur.end() && Alive(it->second, now);
  };
  WriteOptions wo;
  wo.sync = sync;
  uint64_t pick = rng() % 100;
  if (!allow_ttl && pick >= 55 && pick < 65) pick = 0;
  if (simple && pick >= 85) pick = 0;
  if (pick < 55) {
    std::string v = RandomValue(rng, tag);
    (*intended)[key] = Val{v, 0};
    *desc = "Put " + Printable(key);
    return db->Put(wo, key, v);
  }
  if (pick < 65) {
    std::string v = RandomValue(rng, tag);
    const int64_t ttl = static_cast<int64_t>(1 + rng() % 200) * kMs;
    wo.ttl = std::chrono::nanoseconds(ttl);
    (*intended)[key] = Val{v, now + ttl};
    *desc = "PutWithTTL " + Printable(key);
    return db->Put(wo, key, v);
  }
  if (pick < 85) {
    intended->erase(key);
    *desc = "Delete " + Printable(key);
    return db->Delete(wo, key);
  }
  // Metadata records (they use the store's sync_on_put).
  if (!live(key)) {
    intended->erase(key);
    *desc = "Delete (for Expire) " + Printable(key);
    return db->Delete(wo, key);
  }
  if (pick < 93 && allow_ttl) {
    const int64_t ttl = static_cast<int64_t>(1 + rng() % 300) * kMs;
    (*intended)[key].expires = now + ttl;
    *desc = "Expire " + Printable(key);
    return db->Expire(key, std::chrono::nanoseconds(ttl));
  }
  (*intended)[key].expires = 0;
  *desc = "Persist " + Printable(key);
  return db->Persist(key);
}

// ============================================================ power loss

// Sync on: after power loss every acknowledged write is there, byte for byte;
// deletes and expiries stay in force. Random operation counts give random cut
// points; an optional last write is in flight (unsynced, or its fsync failed)
// and may land or not, but nothing else may differ.
TEST(DBFaultTest, PowerLossWithSyncOnKeepsEveryAcknowledgedWrite) {
  const int iters = Iters(20);
  const std::vector<std::string> keys = MakeKeys(24);
  for (int it = 0; it < iters; it++) {
    const uint64_t seed = BaseSeed() + 1000 + it;
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    env.EnableFakeClock(kT0);
    Options o = BaseOptions(&env);
    const uint64_t sizes[] = {4096, 8192, 1 << 20};
    o.max_data_file_size = sizes[rng() % 3];
    o.use_hint_files = rng() % 2 == 0;
    Model model;
    uint64_t tag = 0;
    for (int round = 0; round < 3; round++) {
      SCOPED_TRACE("round " + std::to_string(round));
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(root, o, &db));
      ASSERT_TRUE(StateIs(db.get(), keys, Project(model, env.NowUnixNanos())));
      const int nops = 1 + static_cast<int>(rng() % 150);
      for (int i = 0; i < nops; i++) {
        Model next;
        std::string desc;
        Status s = RandomWrite(db.get(), &env, rng, keys, model, ++tag, true,
                               WriteOptions::Sync::kDefault, false, &next, &desc);
        ASSERT_TRUE(s.ok()) << desc << ": " << s.ToString();
        model = next;
        // Acknowledged with sync on: on disk, and its file's name durable.
        ASSERT_EQ(env.UnsyncedBytes(FileClass::kData), 0u) << "after " << desc;
        ASSERT_TRUE(env.UndurableFiles(FileClass::kData).empty())
            << "after " << desc << ": " << env.UndurableFiles(FileClass::kData)[0];
        env.AdvanceNanos(kMs);
      }
      // A write in flight when the power goes.
      Model alt = model;
      const int inflight = static_cast<int>(rng() % 3);
      std::string desc = "none";
      if (inflight == 1) {  // acknowledged without fsync: may or may not survive
        Status s = RandomWrite(db.get(), &env, rng, keys, model, ++tag, false,
                               WriteOptions::Sync::kNever, true, &alt, &desc);
        ASSERT_TRUE(s.ok()) << desc << ": " << s.ToString();
      } else if (inflight == 2) {  // its fsync fails: not acknowledged
        Fault f;
        f.name_contains = ".data";
        const uint64_t triggered = env.FaultsTriggered(FaultOp::kSync);
        env.InjectFault(FaultOp::kSync, f);
        Status s = RandomWrite(db.get(), &env, rng, keys, model, ++tag, false,
                               WriteOptions::Sync::kDefault, true, &alt, &desc);
        if (env.FaultsTriggered(FaultOp::kSync) > triggered) {
          EXPECT_FALSE(s.ok()) << desc << " succeeded although its fsync failed";
        }
        env.ClearAllFaults();
      }
      PowerLossOptions plo;
      plo.tail = PickTail(rng());
      plo.seed = rng();
      SCOPED_TRACE(std::string("tail ") + TailName(plo.tail) + ", in flight: " + desc);
      PowerLoss(&env, &db, plo);
      if (TempDir::KeepFiles()) CopyTree(root, root + ".round" + std::to_string(round));

      ASSERT_OK(DB::Open(root, o, &db));
      State got;
      ASSERT_TRUE(ReadState(db.get(), keys, &got));
      const State want = Project(model, env.NowUnixNanos());
      const State want_alt = Project(alt, env.NowUnixNanos());
      if (got != want && got != want_alt) {
        FAIL() << "after power loss the store differs from every acknowledged state:\n"
               << Diff(want, got);
      }
      if (got != want) model = alt;
      // The recovered store takes writes, and they survive a clean reopen.
      Model next;
      Status s = RandomWrite(db.get(), &env, rng, keys, model, ++tag, false,
                             WriteOptions::Sync::kDefault, true, &next, &desc);
      ASSERT_TRUE(s.ok()) << desc << " after recovery: " << s.ToString();
      model = next;
      ASSERT_OK(db->Close());
      db.reset();
      ASSERT_OK(DB::Open(root, o, &db));
      ASSERT_TRUE(StateIs(db.get(), keys, Project(model, env.NowUnixNanos())));
      ASSERT_TRUE(DamagedFiles(root).empty()) << DamagedFiles(root)[0];
      PowerLoss(&env, &db, PowerLossOptions());  // nothing un-synced: nothing lost
    }
  }
}

// Sync off: an explicit Sync() makes everything before it durable. Later
// writes may be lost, but what survives is the state after some acknowledged
// write since that Sync() (a prefix of the log): never garbage, never a
// Corruption, and the store always opens.
TEST(DBFaultTest, PowerLossWithSyncOffKeepsEverythingUpToSync) {
  const int iters = Iters(20);
  const std::vector<std::string> keys = MakeKeys(16);
  for (int it = 0; it < iters; it++) {
    const uint64_t seed = BaseSeed() + 2000 + it;
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    env.EnableFakeClock(kT0);
    Options o = BaseOptions(&env);
    o.sync_on_put = false;
    o.sync_on_delete = false;
    o.max_data_file_size = rng() % 2 ? 4096 : (1 << 20);
    o.use_hint_files = rng() % 2 == 0;
    Model model;
    uint64_t tag = 0;
    for (int round = 0; round < 3; round++) {
      SCOPED_TRACE("round " + std::to_string(round));
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(root, o, &db));
      ASSERT_TRUE(StateIs(db.get(), keys, Project(model, env.NowUnixNanos())));
      std::vector<Model> since_sync{model};  // states any of which may survive
      env.ResetCounters();
      const int nops = 1 + static_cast<int>(rng() % 200);
      for (int i = 0; i < nops; i++) {
        Model next;
        std::string desc;
        Status s = RandomWrite(db.get(), &env, rng, keys, model, ++tag, true,
                               WriteOptions::Sync::kDefault, false, &next, &desc);
        ASSERT_TRUE(s.ok()) << desc << ": " << s.ToString();
        model = next;
        since_sync.push_back(model);
        if (rng() % 12 == 0) {
          ASSERT_OK(db->Sync());
          ASSERT_EQ(env.UnsyncedBytes(FileClass::kData), 0u) << "Sync() left data un-synced";
          since_sync.assign(1, model);
        }
        env.AdvanceNanos(kMs);
      }
      PowerLossOptions plo;
      plo.tail = PickTail(rng());
      plo.seed = rng();
      SCOPED_TRACE(std::string("tail ") + TailName(plo.tail));
      PowerLoss(&env, &db, plo);
      if (TempDir::KeepFiles()) CopyTree(root, root + ".round" + std::to_string(round));

      Status s = DB::Open(root, o, &db);
      ASSERT_TRUE(s.ok()) << "the store must open after power loss: " << s.ToString();
      State got;
      ASSERT_TRUE(ReadState(db.get(), keys, &got));
      const int64_t now = env.NowUnixNanos();
      int match = -1;
      for (int j = static_cast<int>(since_sync.size()) - 1; j >= 0; j--) {
        if (Project(since_sync[j], now) == got) {
          match = j;
          break;
        }
      }
      if (match < 0) {
        FAIL() << "the recovered store matches no state since the last Sync() ("
               << since_sync.size() << " candidates); against the synced state:\n"
               << Diff(Project(since_sync.front(), now), got) << "against the newest:\n"
               << Diff(Project(since_sync.back(), now), got);
      }
      // Continue from what survived (expired keys cannot come back, so the
      // live state is the whole model).
      model.clear();
      for (const auto& [k, v] : got) model[k] = v;
      ASSERT_OK(db->Close());
      db.reset();
    }
  }
}

// Many small files: power loss after rotations. Every new data file's name is
// made durable (directory fsync) before anything in it is acknowledged, and
// the store reopens with all synced data, hints and all.
TEST(DBFaultTest, PowerLossAfterRotations) {
  const int iters = Iters(4);
  const std::vector<std::string> keys = MakeKeys(60);
  for (int it = 0; it < iters; it++) {
    const uint64_t seed = BaseSeed() + 3000 + it;
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    Options o = BaseOptions(&env);
    o.max_data_file_size = 4096;
    o.compression_threshold = 0;
    Model model;
    uint64_t tag = 0;
    for (int round = 0; round < 2; round++) {
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(root, o, &db));
      ASSERT_TRUE(StateIs(db.get(), keys, Project(model, 0)));
      const size_t files_before = DataFileIds(root).size();
      const int nops = 100 + static_cast<int>(rng() % 150);
      for (int i = 0; i < nops; i++) {
        const std::string& key = keys[rng() % keys.size()];
        if (rng() % 5 == 0) {
          ASSERT_OK(db->Delete(key));
          model.erase(key);
        } else {
          std::string v = "v" + std::to_string(++tag) + ":" + std::string(100 + rng() % 800, static_cast<char>('a' + rng() % 26));
          ASSERT_OK(db->Put(key, v));
          model[key] = Val{v, 0};
        }
        ASSERT_EQ(env.UnsyncedBytes(FileClass::kData), 0u);
        std::vector<std::string> undurable = env.UndurableFiles(FileClass::kData);
        ASSERT_TRUE(undurable.empty()) << undurable[0] << " holds acknowledged data but its "
                                       << "directory entry was never synced";
      }
      ASSERT_GE(DataFileIds(root).size(), files_before + 5) << "expected many rotations";
      PowerLossOptions plo;
      plo.tail = PickTail(rng());
      plo.seed = rng();
      PowerLoss(&env, &db, plo);
      ASSERT_OK(DB::Open(root, o, &db));
      ASSERT_TRUE(StateIs(db.get(), keys, Project(model, 0)));
      ASSERT_OK(db->Close());
    }
  }
}

// Power cut at a random moment under concurrent sync writers (group commit,
// rotations and background hint writing all in flight). Each thread owns its
// keys; a thread stops at its first failed write, which may or may not land.
TEST(DBFaultTest, PowerLossDuringConcurrentWrites) {
  const int iters = Iters(8);
  constexpr int kThreads = 4;
  for (int it = 0; it < iters; it++) {
    const uint64_t seed = BaseSeed() + 4000 + it;
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    Options o = BaseOptions(&env);
    o.max_data_file_size = 4096 * (1 + rng() % 4);
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));

    struct ThreadResult {
      Model model;
      std::string uncertain_key;  // the key of the failed write, if any
      Val uncertain_val;          // its intended value (absent if uncertain_del)
      bool uncertain_del = false;
      uint64_t writes = 0;
    };
    std::vector<ThreadResult> results(kThreads);
    std::vector<std::vector<std::string>> tkeys(kThreads);
    std::vector<std::thread> threads;
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> acked{0};
    for (int t = 0; t < kThreads; t++) {
      for (int k = 0; k < 12; k++) tkeys[t].push_back("t" + std::to_string(t) + "-k" + std::to_string(k));
      threads.emplace_back([&, t, tseed = rng()] {
        std::mt19937_64 r(tseed);
        ThreadResult& res = results[t];
        uint64_t n = 0;
        while (!stop.load()) {
          const std::string& key = tkeys[t][r() % tkeys[t].size()];
          Status s;
          if (r() % 4 == 0) {
            s = db->Delete(key);
            if (!s.ok()) {
              res.uncertain_key = key;
              res.uncertain_del = true;
              return;
            }
            res.model.erase(key);
          } else {
            std::string v = "t" + std::to_string(t) + "v" + std::to_string(++n) + ":" +
                            std::string(r() % 600, static_cast<char>('a' + r() % 26));
            s = db->Put(key, v);
            if (!s.ok()) {
              res.uncertain_key = key;
              res.uncertain_val = Val{v, 0};
              return;
            }
            res.model[key] = Val{v, 0};
          }
          res.writes++;
          acked++;
        }
      });
    }
    // Let every thread get going (however loaded the machine), then cut the
    // power at a random moment.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (acked.load() < 4 * kThreads && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 30000));
    env.SetFilesystemActive(false);  // the power goes
    stop = true;
    for (std::thread& th : threads) th.join();
    PowerLossOptions plo;
    plo.tail = PickTail(rng());
    plo.seed = rng();
    SCOPED_TRACE(std::string("tail ") + TailName(plo.tail));
    PowerLoss(&env, &db, plo);

    ASSERT_OK(DB::Open(root, o, &db));
    uint64_t total = 0;
    for (int t = 0; t < kThreads; t++) {
      total += results[t].writes;
      State got;
      ASSERT_TRUE(ReadState(db.get(), tkeys[t], &got));
      State want = Project(results[t].model, 0);
      if (got == want) continue;
      if (!results[t].uncertain_key.empty()) {
        Model alt = results[t].model;
        if (results[t].uncertain_del) {
          alt.erase(results[t].uncertain_key);
        } else {
          alt[results[t].uncertain_key] = results[t].uncertain_val;
        }
        if (got == Project(alt, 0)) continue;
      }
      FAIL() << "thread " << t << " lost acknowledged writes:\n" << Diff(want, got);
    }
    EXPECT_GE(total, 4u * kThreads) << "too few writes completed before the power cut";
    ASSERT_OK(db->Close());
  }
}

// A brand-new store: the first acknowledged write must survive a power cut,
// which needs the store's directories themselves to be durable (data/ is
// created at open; its entry in the root directory needs an fsync of the root).
TEST(DBFaultTest, NewStoreInExistingDirectorySurvivesPowerLoss) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);  // the root exists (and is durable)
  TestEnv env;
  env.SetTrackDirectories(true);
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  ASSERT_OK(db->Put("first", "acknowledged"));
  PowerLoss(&env, &db, PowerLossOptions());
  EXPECT_TRUE(Exists(DataDir(root)))
      << "data/ vanished in the power loss: its creation was never made durable by an fsync "
         "of the root directory";
  ASSERT_OK(DB::Open(root, o, &db));
  std::string v;
  Status s = db->Get("first", &v);
  ASSERT_TRUE(s.ok()) << "an acknowledged write to a new store was lost: " << s.ToString();
  EXPECT_EQ(v, "acknowledged");
}

// The same when Open creates the root directory too (create_if_missing): its
// entry in the parent directory must be made durable as well.
TEST(DBFaultTest, NewStoreCreatedByOpenSurvivesPowerLoss) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  env.SetTrackDirectories(true);
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  ASSERT_OK(db->Put("first", "acknowledged"));
  PowerLoss(&env, &db, PowerLossOptions());
  EXPECT_TRUE(Exists(root))
      << "the store's root vanished in the power loss: its creation was never made durable by "
         "an fsync of its parent directory";
  EXPECT_TRUE(Exists(DataDir(root))) << "data/ vanished in the power loss";
  ASSERT_OK(DB::Open(root, o, &db));
  std::string v;
  Status s = db->Get("first", &v);
  ASSERT_TRUE(s.ok()) << "an acknowledged write to a new store was lost: " << s.ToString();
  EXPECT_EQ(v, "acknowledged");
}

// Sync off with sync_interval: the background thread makes writes durable by
// itself.
TEST(DBFaultTest, BackgroundSyncIntervalMakesWritesDurable) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  Options o = BaseOptions(&env);
  o.sync_on_put = false;
  o.sync_on_delete = false;
  o.sync_interval = std::chrono::milliseconds(10);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  ASSERT_OK(db->Put("a", "1"));
  ASSERT_OK(db->Put("b", std::string(5000, 'b')));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (env.UnsyncedBytes(FileClass::kData) > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(env.UnsyncedBytes(FileClass::kData), 0u) << "sync_interval never synced the data";
  PowerLoss(&env, &db, PowerLossOptions());
  ASSERT_OK(DB::Open(root, o, &db));
  ASSERT_TRUE(StateIs(db.get(), {"a", "b"}, State{{"a", {"1", 0}}, {"b", {std::string(5000, 'b'), 0}}}));
}

// ============================================================ counters

// Group commit: concurrent sync writers share fsyncs, and every acknowledged
// put survives a power cut. On the slow disk a leader gathering a synced
// group sleeps; on the fast one its wait is under kGatherYield
// (engine/db_impl.cc), so it only yields the CPU.
TEST(DBFaultTest, GroupCommitSharesFsyncs) {
  for (uint64_t sync_micros : {2000, 150}) {
    SCOPED_TRACE("fsync of " + std::to_string(sync_micros) + " us");
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    Options o = BaseOptions(&env);
    o.use_hint_files = false;
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    env.ResetCounters();
    env.SetSyncDelayMicros(sync_micros);  // writers queue behind each fsync
    constexpr int kThreads = 8, kPer = 25;
    auto key = [](int t, int i) { return "t" + std::to_string(t) + "-" + std::to_string(i); };
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; t++) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPer; i++) {
          if (!db->Put(key(t, i), "v" + key(t, i)).ok()) failures++;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    env.SetSyncDelayMicros(0);
    ASSERT_EQ(failures.load(), 0);
    const uint64_t syncs = env.Count(FaultOp::kSync, FileClass::kData);
    EXPECT_GE(syncs, 1u);
    EXPECT_LT(syncs, static_cast<uint64_t>(kThreads * kPer))
        << "group commit should need fewer fsyncs than writes";
    EXPECT_EQ(env.UnsyncedBytes(FileClass::kData), 0u);
    DBStats st;
    ASSERT_OK(db->Stats(&st));
    EXPECT_EQ(st.syncs, syncs) << "DBStats::syncs disagrees with the fsyncs the Env saw";
    EXPECT_LT(st.write_groups, static_cast<uint64_t>(kThreads * kPer));
    EXPECT_GE(st.write_groups, syncs);
    PowerLoss(&env, &db, PowerLossOptions());  // keeps exactly what was synced
    ASSERT_OK(DB::Open(root, o, &db));
    for (int t = 0; t < kThreads; t++) {
      for (int i = 0; i < kPer; i++) {
        std::string v;
        ASSERT_OK(db->Get(key(t, i), &v));
        EXPECT_EQ(v, "v" + key(t, i));
      }
    }
    ASSERT_OK(db->Close());
  }
}

// Sync off: puts never fsync; Sync() fsyncs once and leaves nothing un-synced.
TEST(DBFaultTest, SyncOffPutsDoNotFsyncUntilSync) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  Options o = BaseOptions(&env);
  o.sync_on_put = false;
  o.sync_on_delete = false;
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  env.ResetCounters();
  for (int i = 0; i < 100; i++) ASSERT_OK(db->Put("k" + std::to_string(i), "v"));
  ASSERT_OK(db->Delete("k1"));
  EXPECT_EQ(env.Count(FaultOp::kSync, FileClass::kData), 0u);
  EXPECT_GE(env.Count(FaultOp::kAppend, FileClass::kData), 1u);
  EXPECT_GT(env.UnsyncedBytes(FileClass::kData), 0u);
  ASSERT_OK(db->Sync());
  EXPECT_EQ(env.Count(FaultOp::kSync, FileClass::kData), 1u);
  EXPECT_EQ(env.UnsyncedBytes(FileClass::kData), 0u);
  // A sync put with sync off by default.
  WriteOptions wo;
  wo.sync = WriteOptions::Sync::kAlways;
  ASSERT_OK(db->Put(wo, "forced", "x"));
  EXPECT_EQ(env.Count(FaultOp::kSync, FileClass::kData), 2u);
  EXPECT_EQ(env.UnsyncedBytes(FileClass::kData), 0u);
}

// ============================================================ write failures

// Writes n keys "pre-i" with sync on and returns their model.
Model WriteKeys(DB* db, const std::string& prefix, int n, size_t value_size = 40) {
  Model m;
  for (int i = 0; i < n; i++) {
    std::string k = prefix + std::to_string(i);
    std::string v = "val-" + k + ":" + std::string(value_size, static_cast<char>('a' + i % 26));
    Status s = db->Put(k, v);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (s.ok()) m[k] = Val{v, 0};
  }
  return m;
}

std::vector<std::string> KeysOf(const Model& m, std::vector<std::string> extra = {}) {
  for (const auto& kv : m) extra.push_back(kv.first);
  return extra;
}

// Checks the sticky failure: every later write fails with an IOError that
// says to reopen; reads of earlier keys still work.
void ExpectWritesRefused(DB* db, const Model& before, int err) {
  Status s = db->Put("after-failure", "x");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("reopen"), std::string::npos) << s.ToString();
  if (err != 0) {
    EXPECT_EQ(s.errno_value(), err) << s.ToString();
  }
  ASSERT_FALSE(before.empty());
  s = db->Delete(before.begin()->first);
  EXPECT_TRUE(s.IsIOError()) << "Delete after a failed write: " << s.ToString();
  EXPECT_NE(s.message().find("reopen"), std::string::npos) << s.ToString();
  WriteOptions nosync;
  nosync.sync = WriteOptions::Sync::kNever;
  s = db->Put(nosync, "after-failure-nosync", "x");
  EXPECT_TRUE(s.IsIOError()) << "an unsynced Put after a failed write: " << s.ToString();
  s = db->Expire(before.begin()->first, std::chrono::seconds(100));
  EXPECT_TRUE(s.IsIOError()) << "Expire after a failed write: " << s.ToString();
  s = db->Sync();
  EXPECT_FALSE(s.ok()) << "Sync() after a failed write";
  std::string v;
  EXPECT_TRUE(db->Get("after-failure", &v).IsNotFound());
  EXPECT_TRUE(StateIs(db, KeysOf(before), Project(before, 0)));
}

// fsync fails: the write is not acknowledged, the store refuses further writes
// until reopened, reads go on, and after a reopen nothing acknowledged is
// missing and the failed write is absent or whole.
TEST(DBFaultTest, FailedFsyncStopsWritesUntilReopen) {
  for (int variant = 0; variant < 2; variant++) {
    SCOPED_TRACE(variant == 0 ? "reopen (page cache kept the write)" : "power loss after failure");
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    Options o = BaseOptions(&env);
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    Model before = WriteKeys(db.get(), "pre-", 20);
    Fault f;
    f.err = EIO;
    f.name_contains = ".data";
    env.InjectFault(FaultOp::kSync, f);
    const std::string failed_value(3000, 'F');
    Status s = db->Put("failed", failed_value);
    ASSERT_EQ(env.FaultsTriggered(FaultOp::kSync), 1u);
    ASSERT_FALSE(s.ok()) << "a Put whose fsync failed was acknowledged";
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_EQ(s.errno_value(), EIO) << s.ToString();
    std::string v;
    EXPECT_TRUE(db->Get("failed", &v).IsNotFound()) << "an unacknowledged write is visible";
    ExpectWritesRefused(db.get(), before, EIO);
    // The fault was one-shot: the disk works again, yet the store must not
    // trust it until reopened.
    EXPECT_TRUE(db->Put("still-refused", "x").IsIOError());

    if (variant == 0) {
      db->Close();
      db.reset();
    } else {
      PowerLoss(&env, &db, PowerLossOptions());
    }
    ASSERT_OK(DB::Open(root, o, &db));
    State got;
    ASSERT_TRUE(ReadState(db.get(), KeysOf(before, {"failed", "after-failure", "still-refused"}), &got));
    auto failed_it = got.find("failed");
    if (failed_it != got.end()) {
      EXPECT_EQ(failed_it->second.value, failed_value) << "the failed write came back damaged";
      EXPECT_EQ(variant, 0) << "an un-synced write survived power loss";
      got.erase(failed_it);
    }
    EXPECT_EQ(got, Project(before, 0)) << Diff(Project(before, 0), got);
    ASSERT_OK(db->Put("after-reopen", "works"));
    ASSERT_OK(db->Close());
    db.reset();
    ASSERT_OK(DB::Open(root, o, &db));
    ASSERT_OK(db->Get("after-reopen", &v));
    EXPECT_EQ(v, "works");
  }
}

// The background sync (sync_interval) failing also stops writes: a later
// write cannot be acknowledged on top of data whose fsync failed.
TEST(DBFaultTest, FailedBackgroundSyncStopsWrites) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  Options o = BaseOptions(&env);
  o.sync_on_put = false;
  o.sync_on_delete = false;
  o.sync_interval = std::chrono::milliseconds(5);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  Model before = WriteKeys(db.get(), "pre-", 5);
  ASSERT_OK(db->Sync());  // nothing left for the background sync until the next write
  Fault f;
  f.sticky = true;
  f.name_contains = ".data";
  env.InjectFault(FaultOp::kSync, f);
  ASSERT_OK(db->Put("unsynced", "x"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (env.FaultsTriggered(FaultOp::kSync) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_GE(env.FaultsTriggered(FaultOp::kSync), 1u) << "the background sync never ran";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // it records the failure
  Status s = db->Put("after", "y");
  EXPECT_TRUE(s.IsIOError()) << "a write after a failed background fsync: " << s.ToString();
  EXPECT_NE(s.message().find("reopen"), std::string::npos) << s.ToString();
  env.ClearAllFaults();
  db.reset();
  ASSERT_OK(DB::Open(root, o, &db));
  before["unsynced"] = Val{"x", 0};  // acknowledged (sync off) and the process did not crash
  EXPECT_TRUE(StateIs(db.get(), KeysOf(before, {"after"}), Project(before, 0)));
}

// ------------------------------------------- rotation without waiting (Rotate)

// Non-synced writes into 4 KiB files: every rotation retires the old file in
// the background.
Options UnsyncedSmallFiles(Env* env) {
  Options o = BaseOptions(env);
  o.sync_on_put = o.sync_on_delete = false;
  o.max_data_file_size = 4096;
  return o;
}

WriteOptions Synced() {
  WriteOptions wo;
  wo.sync = WriteOptions::Sync::kAlways;
  return wo;
}

// The keys of `acked` (written in that order) that the store holds must be a
// prefix of them: no write survives one before it that was lost. Returns how
// many are there.
size_t ExpectPrefixKept(DB* db, const std::vector<std::string>& acked) {
  std::string v;
  size_t kept = 0;
  while (kept < acked.size() && db->Get(acked[kept], &v).ok()) kept++;
  for (size_t i = kept; i < acked.size(); i++) {
    EXPECT_TRUE(db->Get(acked[i], &v).IsNotFound())
        << acked[i] << " survived though " << acked[kept] << " (written before it) did not";
  }
  return kept;
}

// A put that fills a data file under sync off does not sync the old file
// itself: the old file retires in the background. Its failed sync then stops
// writes (the put that rotated was acknowledged: it asked for no sync), reads
// still work, and a reopen loses nothing (variant 0: the page cache kept
// everything) or keeps every synced write and a prefix of the rest (variant
// 1: power loss).
TEST(DBFaultTest, FailedBackgroundRetirementStopsWrites) {
  for (int variant = 0; variant < 2; variant++) {
    SCOPED_TRACE(variant == 0 ? "reopen" : "power loss");
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    const Options o = UnsyncedSmallFiles(&env);
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    const WriteOptions synced = Synced();
    Model synced_keys;
    for (int i = 0; i < 4; i++) {
      const std::string k = "synced-" + std::to_string(i);
      ASSERT_OK(db->Put(synced, k, std::string(200, 's')));
      synced_keys[k] = Val{std::string(200, 's'), 0};
    }
    Fault f;
    f.sticky = true;
    f.name_contains = FileName(1, ".data");
    env.InjectFault(FaultOp::kSync, f);
    std::vector<std::string> acked;  // unsynced puts, in order
    bool rotated_by_ack = false;      // a put that started the new file succeeded
    Status s;
    for (int i = 0; i < 200 && s.ok(); i++) {
      const std::string k = "u-" + std::to_string(i);
      s = db->Put(k, std::string(200, 'u'));
      if (s.ok()) acked.push_back(k);
      if (s.ok() && DataFileIds(root).size() >= 2) rotated_by_ack = true;
      if (DataFileIds(root).size() >= 2 && env.FaultsTriggered(FaultOp::kSync) > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // it records the failure
      }
    }
    ASSERT_GE(DataFileIds(root).size(), 2u) << "no rotation";
    ASSERT_GE(env.FaultsTriggered(FaultOp::kSync), 1u) << "the old file was never synced";
    ASSERT_FALSE(s.ok()) << "writes go on after the old file's sync failed";
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_NE(s.message().find("reopen"), std::string::npos) << s.ToString();
    ASSERT_TRUE(rotated_by_ack) << "the put that rotated waited for the old file's sync";
    ExpectWritesRefused(db.get(), synced_keys, EIO);
    EXPECT_TRUE(db->Sync().IsIOError());
    std::string v;
    ASSERT_OK(db->Get(acked.back(), &v));  // reads still work, in both files
    ASSERT_OK(db->Get("synced-0", &v));

    if (variant == 0) {
      db.reset();
      env.ClearAllFaults();
    } else {
      PowerLoss(&env, &db, PowerLossOptions{PowerLossOptions::Tail::kTornPage, 7, 4096});
    }
    ASSERT_OK(DB::Open(root, o, &db));
    EXPECT_TRUE(StateIs(db.get(), KeysOf(synced_keys), Project(synced_keys, 0)));
    const size_t kept = ExpectPrefixKept(db.get(), acked);
    if (variant == 0) {
      EXPECT_EQ(kept, acked.size()) << "an acknowledged write was lost";
    }
    ASSERT_OK(db->Put(synced, "after-reopen", "works"));
  }
}

// A power cut while the old file's background sync is held up: the store
// opens with every synced write and a prefix of the others; what the newest
// file holds comes after the old file's lost tail, so it is set aside rather
// than applied. A synced write in the new file waits for the old file's sync.
TEST(DBFaultTest, PowerCutWhileTheOldFileRetires) {
  const PowerLossOptions::Tail tails[] = {PowerLossOptions::Tail::kSyncedOnly,
                                          PowerLossOptions::Tail::kSyncedOnly,
                                          PowerLossOptions::Tail::kRandomPrefix,
                                          PowerLossOptions::Tail::kTornPage};
  int set_aside = 0;
  for (int synced_in_new = 0; synced_in_new < 2; synced_in_new++) {
    for (size_t c = 0; c < 4; c++) {
      const PowerLossOptions::Tail tail = tails[c];
      // Case 0: the old file cut at its synced size (a record boundary: no
      // damage to see) while the new file's pages all reached the disk.
      const bool new_file_kept = c == 0;
      SCOPED_TRACE(std::string("tail ") + TailName(tail) +
                   (new_file_kept ? ", new file kept whole" : "") +
                   (synced_in_new ? ", a synced write in the new file" : ""));
      TempDir dir;
      const std::string root = dir.path() + "/db";
      TestEnv env;
      const Options o = UnsyncedSmallFiles(&env);
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(root, o, &db));
      const WriteOptions synced = Synced();
      ASSERT_OK(db->Put(synced, "synced-first", "s"));
      env.SetSyncDelayMicros(150 * 1000, FileName(1, ".data"));
      std::vector<std::string> acked;
      for (int i = 0; DataFileIds(root).size() < 2 || i < 30; i++) {
        ASSERT_LT(i, 100) << "no rotation";
        acked.push_back("u-" + std::to_string(i));
        ASSERT_OK(db->Put(acked.back(), std::string(200, 'u')));
      }
      ASSERT_EQ(DataFileIds(root).size(), 2u);
      const std::string marker = ReadBytes(DataPath(root, 2)).substr(0, 40);
      ASSERT_EQ(marker.size(), 40u);
      EXPECT_EQ(static_cast<uint8_t>(marker[28]), 0x11) << "no marker in the new file";
      EXPECT_EQ(Dec32(marker, 32), 1u) << "the marker names the old file";
      size_t synced_upto = 0;  // acked[0, synced_upto) were made durable by a synced write
      if (synced_in_new) {
        const auto t0 = std::chrono::steady_clock::now();
        ASSERT_OK(db->Put(synced, "synced-new", "s"));
        EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50))
            << "the synced write did not wait for the old file's sync";
        synced_upto = acked.size();
        acked.push_back("u-last");
        ASSERT_OK(db->Put(acked.back(), "after the synced write"));
      }
      const std::string new_file = ReadBytes(DataPath(root, 2));
      PowerLoss(&env, &db, PowerLossOptions{tail, 11, 4096});
      env.SetSyncDelayMicros(0);
      if (new_file_kept) WriteBytes(DataPath(root, 2), new_file);
      Status s = DB::Open(root, o, &db);
      ASSERT_TRUE(s.ok()) << "the store must open after the power cut: " << s.ToString();
      std::string v;
      ASSERT_OK(db->Get("synced-first", &v));
      if (synced_in_new) ASSERT_OK(db->Get("synced-new", &v));
      const size_t kept = ExpectPrefixKept(db.get(), acked);
      EXPECT_GE(kept, synced_upto) << "a write before a synced one was lost";
      if (!synced_in_new && kept < acked.size()) set_aside++;
      // The store goes on, and keeps what it is given from now on.
      ASSERT_OK(db->Put(synced, "after", "a"));
      db.reset();
      ASSERT_OK(DB::Open(root, o, &db));
      ASSERT_OK(db->Get("after", &v));
      if (synced_in_new) ASSERT_OK(db->Get("synced-new", &v));
    }
  }
  EXPECT_GT(set_aside, 0) << "no cut lost a write: the test saw nothing to set aside";
}

// A merge and a backup cut the log while the old file is still retiring: they
// wait for it (a merge input and a backed-up file must be closed) and lose
// nothing.
TEST(DBFaultTest, MergeAndBackupWaitForTheRetiringFile) {
  for (int backup = 0; backup < 2; backup++) {
    SCOPED_TRACE(backup ? "backup" : "merge");
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    const Options o = UnsyncedSmallFiles(&env);
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    env.SetSyncDelayMicros(100 * 1000, FileName(1, ".data"));
    Model want;
    for (int i = 0; DataFileIds(root).size() < 2; i++) {
      ASSERT_LT(i, 100) << "no rotation";
      const std::string k = "k" + std::to_string(i);
      ASSERT_OK(db->Put(k, std::string(200, 'v')));
      want[k] = Val{std::string(200, 'v'), 0};
    }
    const std::string dst = dir.path() + "/copy";
    if (backup) {
      ASSERT_OK(db->Backup(dst));
    } else {
      MergeOptions mo;
      mo.force = true;
      MergeResult r;
      ASSERT_OK(db->Merge(mo, &r));
      EXPECT_GE(r.files_in, 2u);
    }
    EXPECT_TRUE(StateIs(db.get(), KeysOf(want), Project(want, 0)));
    ASSERT_OK(db->Close());
    db.reset();
    env.SetSyncDelayMicros(0);
    ASSERT_OK(DB::Open(backup ? dst : root, o, &db));
    EXPECT_TRUE(StateIs(db.get(), KeysOf(want), Project(want, 0)));
  }
}

// The rule for damage before the newest file: accepted only when the newest
// file's marker names the damaged file (or the newest file has no valid first
// record: then only a torn tail). A store without markers (every rotation
// synced) fails open as before, and so does damage two files back.
TEST(DBFaultTest, DamageBeforeTheNewestFileNeedsItsMarker) {
  TempDir dir;
  TestEnv env;
  auto build = [&](const std::string& root, bool sync) {
    Options o = UnsyncedSmallFiles(&env);
    o.sync_on_put = o.sync_on_delete = sync;
    o.use_hint_files = false;
    o.compression_threshold = 0;
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    for (int i = 0; i < 60; i++) {
      ASSERT_OK(db->Put("k" + std::to_string(i), std::string(300, static_cast<char>('a' + i % 26))));
    }
    ASSERT_OK(db->Close());
  };
  // Garbles the last 10 bytes of file id (its last record: a torn tail).
  auto garble_tail = [&](const std::string& root, uint32_t id) {
    const uint64_t size = FileSize(DataPath(root, id));
    for (uint64_t i = size - 10; i < size; i++) FlipBit(DataPath(root, id), i, 3);
  };
  Options o = BaseOptions(&env);
  o.use_hint_files = false;
  o.max_data_file_size = 4096;
  std::unique_ptr<DB> db;

  const std::string old_style = dir.path() + "/synced";
  build(old_style, true);
  std::vector<uint32_t> ids = DataFileIds(old_style);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_NE(static_cast<uint8_t>(ReadBytes(DataPath(old_style, ids.back()))[28]), 0x11)
      << "a marker written by a synced rotation";
  garble_tail(old_style, ids[ids.size() - 2]);
  Status s = DB::Open(old_style, o, &db);
  EXPECT_TRUE(s.IsCorruption()) << "no marker: damage before the newest file must fail open: "
                                << s.ToString();

  const std::string marked = dir.path() + "/unsynced";
  build(marked, false);
  ids = DataFileIds(marked);
  ASSERT_GE(ids.size(), 4u);
  const std::string newest = ReadBytes(DataPath(marked, ids.back()));
  ASSERT_EQ(static_cast<uint8_t>(newest[28]), 0x11) << "no marker in the newest file";
  ASSERT_EQ(Dec32(newest, 32), ids[ids.size() - 2]);
  ASSERT_EQ(Dec32(newest, 36), FileSize(DataPath(marked, ids[ids.size() - 2])));

  const std::string third = dir.path() + "/third";
  CopyTree(marked, third);
  garble_tail(third, ids[ids.size() - 3]);
  s = DB::Open(third, o, &db);
  EXPECT_TRUE(s.IsCorruption()) << "damage two files back must fail open: " << s.ToString();

  // Repair salvages everything readable: it restates the newest file's
  // marker, so open keeps the newest file's records.
  {
    const std::string root = dir.path() + "/repaired";
    CopyTree(marked, root);
    garble_tail(root, ids[ids.size() - 2]);
    RepairReport rr;
    ASSERT_OK(DB::Repair(root, o, &rr));
    EXPECT_EQ(rr.damaged_regions, 1u);
    ASSERT_OK(DB::Open(root, o, &db));
    std::string v;
    int missing = 0;
    for (int i = 0; i < 60; i++) missing += db->Get("k" + std::to_string(i), &v).ok() ? 0 : 1;
    EXPECT_EQ(missing, 1) << "repair should lose only the damaged record";
    EXPECT_TRUE(DamagedFiles(root).empty());
    db.reset();
  }

  // Damage in the middle of the file before the newest: accepted with the
  // marker (what follows goes to a side file), refused without a first record.
  for (int empty_newest = 0; empty_newest < 2; empty_newest++) {
    for (int middle = 0; middle < 2; middle++) {
      SCOPED_TRACE(std::string(empty_newest ? "newest file emptied" : "newest file with marker") +
                   (middle ? ", damage mid-file" : ", torn tail"));
      const std::string root = dir.path() + "/case";
      CopyTree(marked, root);
      const uint32_t pred = ids[ids.size() - 2];
      if (middle) {
        FlipBit(DataPath(root, pred), 40, 1);  // the first record after the file's marker
      } else {
        garble_tail(root, pred);
      }
      if (empty_newest) {
        ASSERT_EQ(::truncate(DataPath(root, ids.back()).c_str(), 0), 0);
      }
      s = DB::Open(root, o, &db);
      if (empty_newest && middle) {
        EXPECT_TRUE(s.IsCorruption()) << s.ToString();
        continue;
      }
      ASSERT_TRUE(s.ok()) << s.ToString();
      // Keys are written in order: those of the newest file and of the
      // damaged record on are gone, all before are there.
      std::string v;
      int present = 0;
      while (present < 60 && db->Get("k" + std::to_string(present), &v).ok()) present++;
      EXPECT_GT(present, 0);
      EXPECT_LT(present, 60);
      for (int i = present; i < 60; i++) {
        EXPECT_TRUE(db->Get("k" + std::to_string(i), &v).IsNotFound()) << "k" << i;
      }
      EXPECT_EQ(FileSize(DataPath(root, ids.back())), 0u) << "the newest file was not emptied";
      if (!empty_newest) {
        EXPECT_FALSE(DamagedFiles(root).empty()) << "the newest file's records were not kept aside";
      }
      ASSERT_OK(db->Put("new", "n"));
      db.reset();
      ASSERT_OK(DB::Open(root, o, &db));
      ASSERT_OK(db->Get("new", &v));
      db.reset();
    }
  }
}

// ENOSPC or EIO on append, whole or after a short write: a clear error
// carrying the errno, a consistent store, and after "space is back" (the disk
// works again) a reopen that works and takes writes again. The torn partial
// record is cut off at open.
TEST(DBFaultTest, EnospcOrEioOnAppend) {
  const int64_t partials[] = {-1, 0, 1, 16, 31, 32, 33, 40, 100, 2999, 1 << 20};
  for (int err : {ENOSPC, EIO})
  for (int64_t partial : partials) {
    SCOPED_TRACE("errno " + std::to_string(err) + ", partial_bytes " + std::to_string(partial));
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    Options o = BaseOptions(&env);
    o.compression_threshold = 0;
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    Model before = WriteKeys(db.get(), "pre-", 10);
    const uint64_t size_before = FileSize(DataPath(root, 1));
    Fault f;
    f.err = err;
    f.sticky = true;  // the disk stays full (or broken)
    f.name_contains = ".data";
    f.partial_bytes = partial;
    env.InjectFault(FaultOp::kAppend, f);
    Status s = db->Put("big", std::string(3000, 'B'));
    ASSERT_FALSE(s.ok()) << "a Put whose append failed was acknowledged";
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_EQ(s.errno_value(), err) << s.ToString();
    if (partial > 0) {
      EXPECT_EQ(FileSize(DataPath(root, 1)), size_before + std::min<int64_t>(partial, 3000 + 32 + 3 - 1));
    }
    std::string v;
    EXPECT_TRUE(db->Get("big", &v).IsNotFound());
    ExpectWritesRefused(db.get(), before, err);
    db.reset();  // Close fails harmlessly or syncs what is there

    env.ClearAllFaults();  // space is back
    ASSERT_OK(DB::Open(root, o, &db));
    EXPECT_EQ(FileSize(DataPath(root, 1)), size_before) << "the torn record was not cut off";
    EXPECT_TRUE(StateIs(db.get(), KeysOf(before, {"big", "after-failure"}), Project(before, 0)));
    EXPECT_TRUE(DamagedFiles(root).empty());
    ASSERT_OK(db->Put("big", std::string(3000, 'B')));
    before["big"] = Val{std::string(3000, 'B'), 0};
    ASSERT_OK(db->Close());
    db.reset();
    ASSERT_OK(DB::Open(root, o, &db));
    EXPECT_TRUE(StateIs(db.get(), KeysOf(before, {"after-failure"}), Project(before, 0)));
  }
}

// ENOSPC reported by fsync (e.g. delayed allocation on a full disk): the same
// clear error, and the same refusal of later writes.
TEST(DBFaultTest, EnospcOnSync) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  Model before = WriteKeys(db.get(), "pre-", 5);
  Fault f;
  f.err = ENOSPC;
  f.name_contains = ".data";
  env.InjectFault(FaultOp::kSync, f);
  Status s = db->Put("x", "y");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.errno_value(), ENOSPC) << s.ToString();
  ExpectWritesRefused(db.get(), before, ENOSPC);
  db.reset();
  // Space is back (the fault was one-shot): the store reopens whole and
  // takes writes; the failed write is absent or whole.
  ASSERT_OK(DB::Open(root, o, &db));
  State got;
  ASSERT_TRUE(ReadState(db.get(), KeysOf(before, {"x", "after-failure"}), &got));
  if (got.count("x")) {
    EXPECT_EQ(got["x"].value, "y");
    got.erase("x");
  }
  EXPECT_EQ(got, Project(before, 0)) << Diff(Project(before, 0), got);
  ASSERT_OK(db->Put("after-reopen", "works"));
  db.reset();
  ASSERT_OK(DB::Open(root, o, &db));
  std::string v;
  ASSERT_OK(db->Get("after-reopen", &v));
  EXPECT_EQ(v, "works");
}

// A merge whose output cannot be created, written, synced or renamed into
// place (a full disk, an I/O error): Merge reports the errno and keeps its
// inputs, every key still reads its value, and writes go on (a merge failure
// is not a write failure). After the fault is cleared a reopen finds
// everything, and a merge then works.
TEST(DBFaultTest, FailedMergeIsReportedAndLeavesTheStoreWhole) {
  struct Case {
    FaultOp op;
    const char* filter;  // merge outputs are NNNNNNNNN.data.tmp, renamed to .data
  };
  const Case cases[] = {{FaultOp::kNewWritableFile, ".data.tmp"},
                        {FaultOp::kAppend, ".data.tmp"},
                        {FaultOp::kSync, ".data.tmp"},
                        {FaultOp::kRename, ".data"}};
  for (const Case& c : cases) {
    for (int err : {ENOSPC, EIO}) {
      SCOPED_TRACE(std::string("failing ") + FaultOpName(c.op) + " errno " + std::to_string(err));
      TempDir dir;
      const std::string root = dir.path() + "/db";
      TestEnv env;
      Options o = BaseOptions(&env);
      o.max_data_file_size = 4096;
      o.use_hint_files = false;
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(root, o, &db));
      Model model = WriteKeys(db.get(), "k-", 40, 150);
      Model again = WriteKeys(db.get(), "k-", 20, 170);  // overwrites: dead bytes to drop
      for (const auto& kv : again) model[kv.first] = kv.second;
      const std::vector<uint32_t> inputs = DataFileIds(root);
      ASSERT_GT(inputs.size(), 2u);
      Fault f;
      f.err = err;
      f.sticky = true;
      f.name_contains = c.filter;
      env.InjectFault(c.op, f);
      MergeOptions mo;
      mo.force = true;
      MergeResult result;
      Status s = db->Merge(mo, &result);
      ASSERT_FALSE(s.ok()) << "a merge whose output failed succeeded";
      EXPECT_GE(env.FaultsTriggered(c.op), 1u);
      EXPECT_EQ(s.errno_value(), err) << s.ToString();
      for (uint32_t id : inputs) {
        EXPECT_TRUE(fs::exists(DataPath(root, id))) << "merge input " << id << " was removed";
      }
      EXPECT_TRUE(StateIs(db.get(), KeysOf(model), Project(model, 0)));
      Model more = WriteKeys(db.get(), "after-", 5);  // writes go on
      model.insert(more.begin(), more.end());
      EXPECT_TRUE(StateIs(db.get(), KeysOf(model), Project(model, 0)));
      ASSERT_OK(db->Close());
      db.reset();

      env.ClearAllFaults();
      ASSERT_OK(DB::Open(root, o, &db));
      EXPECT_TRUE(StateIs(db.get(), KeysOf(model), Project(model, 0)));
      ASSERT_OK(db->Merge(mo, &result));
      EXPECT_TRUE(result.ran);
      ASSERT_OK(db->Put("after-merge", "works"));
      model["after-merge"] = Val{"works", 0};
      db.reset();
      ASSERT_OK(DB::Open(root, o, &db));
      EXPECT_TRUE(StateIs(db.get(), KeysOf(model), Project(model, 0)));
      EXPECT_TRUE(DamagedFiles(root).empty());
    }
  }
}

// Writing a hint file fails (its rename, or its creation, on a full or broken
// disk): hints are only an index, so writes go on and nothing is lost; the
// data file is scanned at the next open instead.
TEST(DBFaultTest, FailedHintWriteLosesNothing) {
  for (FaultOp op : {FaultOp::kRename, FaultOp::kNewWritableFile}) {
    for (int err : {ENOSPC, EIO}) {
      SCOPED_TRACE(std::string("failing ") + FaultOpName(op) + " errno " + std::to_string(err));
      TempDir dir;
      const std::string root = dir.path() + "/db";
      TestEnv env;
      Options o = BaseOptions(&env);
      o.max_data_file_size = 4096;
      Fault f;
      f.err = err;
      f.sticky = true;
      f.name_contains = ".hint";
      env.InjectFault(op, f);
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(root, o, &db));
      Model model = WriteKeys(db.get(), "k-", 60, 150);  // several rotations
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (env.FaultsTriggered(op) == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      ASSERT_GE(env.FaultsTriggered(op), 1u) << "no hint file was attempted";
      Model more = WriteKeys(db.get(), "after-", 5);
      model.insert(more.begin(), more.end());
      ASSERT_OK(db->Close());
      db.reset();
      env.ClearAllFaults();
      for (uint32_t id : DataFileIds(root)) {
        EXPECT_FALSE(fs::exists(HintPath(root, id))) << "a hint whose write failed is in place";
      }
      ASSERT_OK(DB::Open(root, o, &db));
      EXPECT_TRUE(StateIs(db.get(), KeysOf(model), Project(model, 0)));
    }
  }
}

// Rotation fails (the new data file cannot be created, its directory entry
// cannot be synced, or it cannot be opened for reading): a clear error, no
// acknowledged data lost, and a reopen that works and rotates again.
TEST(DBFaultTest, RotationFailure) {
  struct Case {
    FaultOp op;
    int err;
    const char* filter;
  };
  const Case cases[] = {
      {FaultOp::kNewWritableFile, ENOSPC, ".data"},
      {FaultOp::kNewWritableFile, EIO, ".data"},
      {FaultOp::kSyncDir, EIO, "data"},
      {FaultOp::kNewRandomAccessFile, EIO, ".data"},
  };
  for (const Case& c : cases) {
    for (int power_loss = 0; power_loss < 2; power_loss++) {
      SCOPED_TRACE(std::string("failing ") + FaultOpName(c.op) + " errno " + std::to_string(c.err) +
                   (power_loss ? ", then power loss" : ", then reopen"));
      TempDir dir;
      const std::string root = dir.path() + "/db";
      TestEnv env;
      Options o = BaseOptions(&env);
      o.max_data_file_size = 4096;
      o.use_hint_files = false;  // no background file activity to hit the fault
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(root, o, &db));
      Model before = WriteKeys(db.get(), "pre-", 5, 200);  // within the first file
      ASSERT_EQ(DataFileIds(root).size(), 1u);
      Fault f;
      f.err = c.err;
      f.name_contains = c.filter;
      env.InjectFault(c.op, f);
      Status s;
      int i = 0;
      std::string failed_key;
      for (; i < 100; i++) {
        std::string k = "more-" + std::to_string(i);
        std::string v(200, 'm');
        s = db->Put(k, v);
        if (!s.ok()) {
          failed_key = k;
          break;
        }
        before[k] = Val{v, 0};
      }
      ASSERT_FALSE(s.ok()) << "no rotation failure after 100 puts";
      ASSERT_EQ(env.FaultsTriggered(c.op), 1u);
      EXPECT_TRUE(s.IsIOError()) << s.ToString();
      EXPECT_EQ(s.errno_value(), c.err) << s.ToString();
      std::string v;
      EXPECT_TRUE(db->Get(failed_key, &v).IsNotFound());
      ExpectWritesRefused(db.get(), before, c.err);
      if (power_loss) {
        PowerLoss(&env, &db, PowerLossOptions());
      } else {
        db.reset();
      }
      ASSERT_OK(DB::Open(root, o, &db));
      EXPECT_TRUE(StateIs(db.get(), KeysOf(before, {failed_key, "after-failure"}), Project(before, 0)));
      // Writes work again, across rotations.
      const size_t files = DataFileIds(root).size();
      Model more = WriteKeys(db.get(), "again-", 60, 200);
      EXPECT_GT(DataFileIds(root).size(), files);
      ASSERT_OK(db->Close());
      db.reset();
      ASSERT_OK(DB::Open(root, o, &db));
      before.insert(more.begin(), more.end());
      EXPECT_TRUE(StateIs(db.get(), KeysOf(before), Project(before, 0)));
    }
  }
}

// The newest file is full at open, so open starts a new one, and that fails:
// open fails with the error and changes nothing; the next open works.
TEST(DBFaultTest, RotationAtOpenFails) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  Options o = BaseOptions(&env);
  o.use_hint_files = false;
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  Model before = WriteKeys(db.get(), "pre-", 40, 100);  // ~6 KB in one file
  ASSERT_OK(db->Close());
  db.reset();
  o.max_data_file_size = 4096;  // now the newest file is over the limit
  Fault f;
  f.err = ENOSPC;
  f.name_contains = ".data";
  env.InjectFault(FaultOp::kNewWritableFile, f);
  Status s = DB::Open(root, o, &db);
  ASSERT_FALSE(s.ok()) << "open succeeded although it could not create its data file";
  EXPECT_EQ(s.errno_value(), ENOSPC) << s.ToString();
  EXPECT_EQ(env.FaultsTriggered(FaultOp::kNewWritableFile), 1u);
  EXPECT_EQ(DataFileIds(root).size(), 1u);
  ASSERT_OK(DB::Open(root, o, &db));
  EXPECT_EQ(DataFileIds(root).size(), 2u);
  EXPECT_TRUE(StateIs(db.get(), KeysOf(before), Project(before, 0)));
  ASSERT_OK(db->Put("new", "file"));
  before["new"] = Val{"file", 0};
  db.reset();
  ASSERT_OK(DB::Open(root, o, &db));
  EXPECT_TRUE(StateIs(db.get(), KeysOf(before), Project(before, 0)));
}

// ============================================================ read failures

// Open cannot read a data file: the error says so; nothing is changed; a
// later open works.
TEST(DBFaultTest, OpenFailsCleanlyWhenADataFileCannotBeOpened) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  Model before = WriteKeys(db.get(), "pre-", 10);
  ASSERT_OK(db->Close());
  db.reset();
  Fault f;
  f.name_contains = ".data";
  env.InjectFault(FaultOp::kNewRandomAccessFile, f);
  Status s = DB::Open(root, o, &db);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(db, nullptr);
  ASSERT_OK(DB::Open(root, o, &db));
  EXPECT_TRUE(StateIs(db.get(), KeysOf(before), Project(before, 0)));
}

// Open meets ENOSPC or EIO: continuing the newest data file, opening a data
// file to read, or writing a new store's meta file (create, fsync, rename).
// Open fails with that errno and loses nothing; once the disk works again the
// store opens whole and takes writes.
TEST(DBFaultTest, FailedOpenReportsTheErrnoAndRecovers) {
  struct Case {
    FaultOp op;
    const char* filter;
    bool new_store;
    std::vector<int> errs;
  };
  const Case cases[] = {
      {FaultOp::kNewAppendableFile, ".data", false, {ENOSPC, EIO}},
      {FaultOp::kNewRandomAccessFile, ".data", false, {EIO}},
      {FaultOp::kNewWritableFile, "meta", true, {ENOSPC, EIO}},
      {FaultOp::kSync, "meta", true, {ENOSPC, EIO}},
      {FaultOp::kRename, "meta", true, {ENOSPC, EIO}},
  };
  for (const Case& c : cases) {
    for (int err : c.errs) {
      SCOPED_TRACE(std::string("failing ") + FaultOpName(c.op) + " errno " + std::to_string(err) +
                   (c.new_store ? " (new store)" : ""));
      TempDir dir;
      const std::string root = dir.path() + "/db";
      TestEnv env;
      Options o = BaseOptions(&env);
      std::unique_ptr<DB> db;
      Model before;
      if (!c.new_store) {
        ASSERT_OK(DB::Open(root, o, &db));
        before = WriteKeys(db.get(), "pre-", 10);
        ASSERT_OK(db->Close());
        db.reset();
      }
      Fault f;
      f.err = err;
      f.sticky = true;
      f.name_contains = c.filter;
      env.InjectFault(c.op, f);
      Status s = DB::Open(root, o, &db);
      ASSERT_FALSE(s.ok()) << "open succeeded although it could not do its I/O";
      EXPECT_EQ(db, nullptr);
      EXPECT_GE(env.FaultsTriggered(c.op), 1u);
      EXPECT_TRUE(s.IsIOError()) << s.ToString();
      EXPECT_EQ(s.errno_value(), err) << s.ToString();
      env.ClearAllFaults();
      ASSERT_OK(DB::Open(root, o, &db));
      EXPECT_TRUE(StateIs(db.get(), KeysOf(before, {"new"}), Project(before, 0)));
      ASSERT_OK(db->Put("new", "works"));
      before["new"] = Val{"works", 0};
      db.reset();
      ASSERT_OK(DB::Open(root, o, &db));
      EXPECT_TRUE(StateIs(db.get(), KeysOf(before), Project(before, 0)));
    }
  }
}

// A read error (EIO) is an I/O error, never data: Get reports it and returns
// the right bytes once the disk reads again.
TEST(DBFaultTest, ReadErrorOnGetIsReportedNotReturnedAsData) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  Model before = WriteKeys(db.get(), "pre-", 10);
  Fault f;
  f.sticky = true;
  f.name_contains = ".data";
  env.InjectFault(FaultOp::kRead, f);
  std::string v = "unchanged";
  Status s = db->Get("pre-3", &v);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(v, "unchanged");
  env.ClearAllFaults();
  EXPECT_TRUE(StateIs(db.get(), KeysOf(before), Project(before, 0)));
}

// A transient read error while open scans the newest data file is not
// damage: the file must not be truncated (or set aside) because of it. The
// open may fail with the I/O error, or succeed with all data; either way a
// later open has every record.
TEST(DBFaultTest, ReadErrorDuringRecoveryIsNotTreatedAsATornTail) {
  for (int sticky = 0; sticky < 2; sticky++) {
    SCOPED_TRACE(sticky ? "reads keep failing" : "one read fails");
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    Options o = BaseOptions(&env);
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    Model before = WriteKeys(db.get(), "pre-", 10);
    ASSERT_OK(db->Close());
    db.reset();
    const std::string pristine = ReadBytes(DataPath(root, 1));
    Fault f;
    f.sticky = sticky;
    f.name_contains = ".data";
    env.InjectFault(FaultOp::kRead, f);
    Status s = DB::Open(root, o, &db);
    env.ClearAllFaults();
    if (!s.ok()) {
      EXPECT_TRUE(s.IsIOError()) << "a read error reported as " << s.ToString();
      EXPECT_FALSE(s.IsCorruption()) << s.ToString();
    } else {
      EXPECT_TRUE(StateIs(db.get(), KeysOf(before), Project(before, 0)));
      db.reset();
    }
    EXPECT_EQ(ReadBytes(DataPath(root, 1)), pristine)
        << "open changed the newest data file because a read failed (now "
        << FileSize(DataPath(root, 1)) << " bytes, was " << pristine.size() << ")";
    EXPECT_TRUE(DamagedFiles(root).empty()) << DamagedFiles(root)[0];
    ASSERT_OK(DB::Open(root, o, &db));
    EXPECT_TRUE(StateIs(db.get(), KeysOf(before), Project(before, 0)));
  }
}

// ============================================================ torn tails

// A store with a known record sequence; ops[i] wrote record i (in file order).
struct Op {
  bool del = false;
  std::string key;
  std::string value;
};

Model ApplyOps(const std::vector<Op>& ops, size_t n) {
  Model m;
  for (size_t i = 0; i < n && i < ops.size(); i++) {
    if (ops[i].del) {
      m.erase(ops[i].key);
    } else {
      m[ops[i].key] = Val{ops[i].value, 0};
    }
  }
  return m;
}

void DoOps(DB* db, const std::vector<Op>& ops) {
  for (const Op& op : ops) {
    if (op.del) {
      ASSERT_OK(db->Delete(op.key));
    } else {
      ASSERT_OK(db->Put(op.key, op.value));
    }
  }
}

std::vector<std::string> KeysOfOps(const std::vector<Op>& ops) {
  std::set<std::string> s;
  for (const Op& op : ops) s.insert(op.key);
  return std::vector<std::string>(s.begin(), s.end());
}

// Checks that the parsed records are exactly the ops, in order.
void ExpectRecordsMatchOps(const std::vector<Rec>& recs, const std::vector<Op>& ops) {
  ASSERT_EQ(recs.size(), ops.size()) << "one record per write expected";
  for (size_t i = 0; i < ops.size(); i++) {
    ASSERT_EQ(recs[i].key, ops[i].key) << "record " << i;
    ASSERT_EQ((recs[i].flags & 0x01) != 0, ops[i].del) << "record " << i;
  }
}

// For every cut of the newest data file from its full size down through its
// last three records: open succeeds, every record before the cut is intact,
// the cut record is gone, and the file was really truncated (a write after
// the reopen survives another reopen).
TEST(DBFaultTest, TornTailAtEveryByte) {
  TempDir dir;
  const std::string pristine = dir.path() + "/pristine";
  const std::vector<Op> ops = {
      {false, "a", "alpha"},
      {false, "b", "bravo"},
      {false, "c", std::string(500, 'c')},
      {false, "a", "alpha-2"},
      {true, "b", ""},
      {false, "d", "delta"},
      {false, "big", std::string(2000, 'x') + "tail"},  // compressed
      {true, "c", ""},
      {false, "e", "echo-last"},
  };
  {
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(pristine, BaseOptions(Env::Default()), &db));
    DoOps(db.get(), ops);
    ASSERT_OK(db->Close());
  }
  const std::vector<Rec> recs = ParseStore(pristine);
  ExpectRecordsMatchOps(recs, ops);
  const std::vector<std::string> keys = KeysOfOps(ops);
  const uint64_t full = FileSize(DataPath(pristine, 1));
  const uint64_t lowest = recs[recs.size() - 3].offset;
  TestEnv env;
  Options o = BaseOptions(&env);
  int cuts = 0;
  for (uint64_t cut = full; cut + 1 > lowest; cut--) {
    SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(full));
    const std::string root = dir.path() + "/cut";
    CopyTree(pristine, root);
    ASSERT_EQ(::truncate(DataPath(root, 1).c_str(), static_cast<off_t>(cut)), 0);
    size_t whole = 0;  // records entirely before the cut
    while (whole < recs.size() && recs[whole].offset + recs[whole].size <= cut) whole++;
    const uint64_t good = whole == 0 ? 0 : recs[whole - 1].offset + recs[whole - 1].size;
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    EXPECT_EQ(FileSize(DataPath(root, 1)), good) << "the torn record was not cut off";
    EXPECT_TRUE(DamagedFiles(root).empty());
    Model m = ApplyOps(ops, whole);
    ASSERT_TRUE(StateIs(db.get(), keys, Project(m, 0)));
    ASSERT_OK(db->Put("after", "cut"));
    m["after"] = Val{"cut", 0};
    ASSERT_OK(db->Close());
    db.reset();
    ASSERT_OK(DB::Open(root, o, &db));
    std::vector<std::string> keys2 = keys;
    keys2.push_back("after");
    ASSERT_TRUE(StateIs(db.get(), keys2, Project(m, 0)));
    EXPECT_TRUE(DamagedFiles(root).empty());
    db.reset();
    cuts++;
  }
  EXPECT_GT(cuts, 60);
}

// Zeros or garbage after the last record (a file extended but never written,
// or a torn append): open cuts them off and keeps every record.
TEST(DBFaultTest, ZeroOrGarbageTailIsCutOff) {
  TempDir dir;
  const std::string pristine = dir.path() + "/pristine";
  const std::vector<Op> ops = {
      {false, "a", "alpha"}, {false, "b", std::string(300, 'b')}, {true, "a", ""}, {false, "c", "c"}};
  {
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(pristine, BaseOptions(Env::Default()), &db));
    DoOps(db.get(), ops);
    ASSERT_OK(db->Close());
  }
  const uint64_t full = FileSize(DataPath(pristine, 1));
  std::mt19937_64 rng(BaseSeed() + 5000);
  TestEnv env;
  Options o = BaseOptions(&env);
  for (int zeros = 0; zeros < 2; zeros++) {
    for (size_t n : {1, 7, 31, 32, 33, 100, 4096, 10000}) {
      SCOPED_TRACE(std::to_string(n) + (zeros ? " zero bytes" : " garbage bytes"));
      const std::string root = dir.path() + "/t";
      CopyTree(pristine, root);
      std::string tail(n, '\0');
      if (!zeros) {
        for (char& c : tail) c = static_cast<char>(rng());
      }
      WriteBytes(DataPath(root, 1), ReadBytes(DataPath(pristine, 1)) + tail);
      std::unique_ptr<DB> db;
      ASSERT_OK(DB::Open(root, o, &db));
      EXPECT_EQ(FileSize(DataPath(root, 1)), full);
      ASSERT_TRUE(StateIs(db.get(), KeysOfOps(ops), Project(ApplyOps(ops, ops.size()), 0)));
      ASSERT_OK(db->Put("z", "after"));
      db.reset();
      ASSERT_OK(DB::Open(root, o, &db));
      std::string v;
      ASSERT_OK(db->Get("z", &v));
      EXPECT_EQ(v, "after");
    }
  }
}

// ============================================================ bit flips

// Builds a store of several data files from random puts, overwrites and
// deletes (ops[i] is record i), then appends `newest_ops` more to the newest
// file. When `with_hints`, waits until every closed file has its hint.
void BuildStore(const std::string& root, std::mt19937_64& rng, int ops_in_small_files,
                int newest_ops, std::vector<Op>* ops) {
  TestEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 4096;
  const std::vector<std::string> keys = MakeKeys(30);
  std::set<std::string> live;
  auto gen = [&](int n) {
    std::vector<Op> out;
    for (int i = 0; i < n; i++) {
      Op op;
      op.key = keys[rng() % keys.size()];
      if (live.count(op.key) && rng() % 5 == 0) {
        op.del = true;
        live.erase(op.key);
      } else {
        op.value = RandomValue(rng, ops->size() + out.size());
        if (op.value.size() > 600) op.value.resize(600);  // several records per file
        live.insert(op.key);
      }
      out.push_back(op);
    }
    return out;
  };
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  std::vector<Op> first = gen(ops_in_small_files);
  DoOps(db.get(), first);
  ops->insert(ops->end(), first.begin(), first.end());
  ASSERT_OK(db->Close());
  db.reset();
  o.max_data_file_size = 1 << 20;  // the newest file keeps growing
  ASSERT_OK(DB::Open(root, o, &db));
  std::vector<Op> second = gen(newest_ops);
  DoOps(db.get(), second);
  ops->insert(ops->end(), second.begin(), second.end());
  // Wait for the background hint writer to cover every closed file.
  const std::vector<uint32_t> ids = DataFileIds(root);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    bool all = true;
    for (size_t i = 0; i + 1 < ids.size(); i++) all = all && Exists(HintPath(root, ids[i]));
    if (all) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "hint files were not written for every closed data file";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_OK(db->Close());
}

// The record index of each key's live value (the last put, if not deleted after).
std::map<std::string, size_t> LiveRecords(const std::vector<Op>& ops) {
  std::map<std::string, size_t> live;
  for (size_t i = 0; i < ops.size(); i++) {
    if (ops[i].del) {
      live.erase(ops[i].key);
    } else {
      live[ops[i].key] = i;
    }
  }
  return live;
}

// (a) A bit flip in an older data file. Scanned at open (no hints, or
// validate_on_open): open fails with Corruption naming the file and the
// damaged record's offset. Loaded from a valid hint: open succeeds; the key
// whose live record holds the flip reads as Corruption, all others read right.
TEST(DBFaultTest, BitFlipInOlderDataFile) {
  std::mt19937_64 rng(BaseSeed() + 6000);
  TempDir dir;
  const std::string pristine = dir.path() + "/pristine";
  std::vector<Op> ops;
  BuildStore(pristine, rng, 60, 10, &ops);
  if (HasFatalFailure()) return;
  const std::vector<Rec> recs = ParseStore(pristine);
  ExpectRecordsMatchOps(recs, ops);
  const std::vector<uint32_t> ids = DataFileIds(pristine);
  ASSERT_GE(ids.size(), 3u);
  const std::map<std::string, size_t> live = LiveRecords(ops);
  const std::vector<std::string> keys = KeysOfOps(ops);
  const State final_state = Project(ApplyOps(ops, ops.size()), 0);
  TestEnv env;
  const int flips = Iters(40);
  int hit_live = 0;
  for (int i = 0; i < flips; i++) {
    const uint32_t id = ids[rng() % (ids.size() - 1)];  // not the newest
    const uint64_t size = FileSize(DataPath(pristine, id));
    const uint64_t pos = rng() % size;
    const int bit = static_cast<int>(rng() % 8);
    SCOPED_TRACE("flip bit " + std::to_string(bit) + " of byte " + std::to_string(pos) + " in " +
                 FileName(id, ".data"));
    size_t ri = 0;
    while (!(recs[ri].file_id == id && recs[ri].Contains(pos))) ri++;
    const Rec& rec = recs[ri];
    const std::string root = dir.path() + "/flip";
    CopyTree(pristine, root);
    FlipBit(DataPath(root, id), pos, bit);
    const std::string where = FileName(id, ".data") + " offset " + std::to_string(rec.offset);

    for (int mode = 0; mode < 2; mode++) {
      Options o = BaseOptions(&env);
      if (mode == 0) {
        o.use_hint_files = false;
      } else {
        o.validate_on_open = true;
      }
      std::unique_ptr<DB> db;
      Status s = DB::Open(root, o, &db);
      ASSERT_FALSE(s.ok()) << (mode ? "validate_on_open" : "no hints")
                           << ": a damaged older file was accepted";
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
      EXPECT_NE(s.ToString().find(where), std::string::npos)
          << "the error should name " << where << ": " << s.ToString();
    }
    // With the (valid) hint the damage is found by the read.
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, BaseOptions(&env), &db));
    State want = final_state;
    auto lv = live.find(rec.key);
    const bool is_live = lv != live.end() && lv->second == ri;
    if (is_live) {
      hit_live++;
      std::string v = "unchanged";
      Status s = db->Get(rec.key, &v);
      EXPECT_TRUE(s.IsCorruption()) << "Get of the damaged live record: " << s.ToString();
      EXPECT_EQ(v, "unchanged");
      EXPECT_NE(s.ToString().find(where), std::string::npos) << s.ToString();
      want.erase(rec.key);
      std::vector<std::string> others;
      for (const std::string& k : keys) {
        if (k != rec.key) others.push_back(k);
      }
      EXPECT_TRUE(StateIs(db.get(), others, want));
    } else {
      EXPECT_TRUE(StateIs(db.get(), keys, want));
    }
  }
  EXPECT_GT(hit_live, 0) << "no flip hit a live record; raise the count";
}

// (b) A bit flip in the newest data file: open succeeds and the store holds
// exactly the writes before the damaged record (the torn-tail rule). When
// valid records followed the damage they are kept in a .damaged- side file.
TEST(DBFaultTest, BitFlipInNewestDataFile) {
  std::mt19937_64 rng(BaseSeed() + 7000);
  TempDir dir;
  const std::string pristine = dir.path() + "/pristine";
  std::vector<Op> ops;
  BuildStore(pristine, rng, 30, 40, &ops);
  if (HasFatalFailure()) return;
  const std::vector<Rec> recs = ParseStore(pristine);
  ExpectRecordsMatchOps(recs, ops);
  const std::vector<uint32_t> ids = DataFileIds(pristine);
  const uint32_t newest = ids.back();
  // A clean Close left the newest file a hint, which open would trust as it
  // trusts an older file's (BitFlipInOlderDataFile); without it the file is
  // scanned, as after a crash.
  ASSERT_EQ(::unlink(HintPath(pristine, newest).c_str()), 0);
  const std::vector<std::string> keys = KeysOfOps(ops);
  const uint64_t size = FileSize(DataPath(pristine, newest));
  TestEnv env;
  Options o = BaseOptions(&env);
  const int flips = Iters(40);
  int with_side_file = 0;
  for (int i = 0; i < flips; i++) {
    const uint64_t pos = i == 0 ? size - 1 : rng() % size;  // once in the very last byte
    const int bit = static_cast<int>(rng() % 8);
    SCOPED_TRACE("flip bit " + std::to_string(bit) + " of byte " + std::to_string(pos) +
                 " in the newest file");
    size_t ri = 0;
    while (!(recs[ri].file_id == newest && recs[ri].Contains(pos))) ri++;
    const Rec& rec = recs[ri];
    const std::string root = dir.path() + "/flip";
    CopyTree(pristine, root);
    FlipBit(DataPath(root, newest), pos, bit);
    const std::string flipped = ReadBytes(DataPath(root, newest));
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    const State want = Project(ApplyOps(ops, ri), 0);
    ASSERT_TRUE(StateIs(db.get(), keys, want));
    EXPECT_EQ(FileSize(DataPath(root, newest)), rec.offset);
    const bool records_follow = ri + 1 < recs.size();
    const std::string side = FileName(newest, ".data") + ".damaged-" + std::to_string(rec.offset);
    std::vector<std::string> damaged = DamagedFiles(root);
    if (records_follow) {
      with_side_file++;
      ASSERT_EQ(damaged.size(), 1u) << "valid records after the damage must be set aside";
      EXPECT_EQ(damaged[0], side);
      EXPECT_TRUE(ReadBytes(DataDir(root) + "/" + side) == flipped.substr(rec.offset))
          << "the side file must hold the bytes from the damage to the end";
    } else {
      EXPECT_TRUE(damaged.empty()) << damaged[0];
    }
    ASSERT_OK(db->Put("after", "flip"));
    db.reset();
    ASSERT_OK(DB::Open(root, o, &db));
    State want2 = want;
    want2["after"] = Val{"flip", 0};
    std::vector<std::string> keys2 = keys;
    keys2.push_back("after");
    ASSERT_TRUE(StateIs(db.get(), keys2, want2));
    EXPECT_EQ(DamagedFiles(root), damaged);
  }
  EXPECT_GT(with_side_file, 0);
}

// (c) A bit flip in a hint file: the hint is rejected, the data file scanned,
// and every key reads right.
TEST(DBFaultTest, BitFlipInHintFile) {
  std::mt19937_64 rng(BaseSeed() + 8000);
  TempDir dir;
  const std::string pristine = dir.path() + "/pristine";
  std::vector<Op> ops;
  BuildStore(pristine, rng, 60, 5, &ops);
  if (HasFatalFailure()) return;
  const std::vector<uint32_t> ids = DataFileIds(pristine);
  ASSERT_GE(ids.size(), 3u);
  const std::vector<std::string> keys = KeysOfOps(ops);
  const State want = Project(ApplyOps(ops, ops.size()), 0);
  TestEnv env;
  Options o = BaseOptions(&env);
  for (int i = 0; i < Iters(40); i++) {
    const uint32_t id = ids[rng() % (ids.size() - 1)];
    const uint64_t size = FileSize(HintPath(pristine, id));
    ASSERT_GT(size, 0u);
    const uint64_t pos = rng() % size;
    const int bit = static_cast<int>(rng() % 8);
    SCOPED_TRACE("flip bit " + std::to_string(bit) + " of byte " + std::to_string(pos) + " in " +
                 FileName(id, ".hint"));
    const std::string root = dir.path() + "/flip";
    CopyTree(pristine, root);
    FlipBit(HintPath(root, id), pos, bit);
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    ASSERT_TRUE(StateIs(db.get(), keys, want));
  }
}

// ============================================================ hint files

// After rotations and Close(), every closed data file has its hint.
TEST(DBFaultTest, HintFilesExistForClosedFilesAfterClose) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  Options o = BaseOptions(&env);
  o.max_data_file_size = 4096;
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  Model m = WriteKeys(db.get(), "k", 300, 100);
  ASSERT_OK(db->Close());
  db.reset();
  const std::vector<uint32_t> ids = DataFileIds(root);
  ASSERT_GE(ids.size(), 5u);
  std::vector<std::string> missing;
  for (size_t i = 0; i + 1 < ids.size(); i++) {
    if (!Exists(HintPath(root, ids[i]))) missing.push_back(FileName(ids[i], ".hint"));
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << ids.size() - 1
                               << " closed data files have no hint after Close(), e.g. "
                               << missing[0];
  // Close while the background hint writer is behind (a slow disk for hint
  // files, fast unsynced writes): Close() must not abandon queued hints.
  env.SetSyncDelayMicros(30000, ".hint");
  o.sync_on_put = false;
  for (int round = 0; round < 3; round++) {
    SCOPED_TRACE("close with hints queued, round " + std::to_string(round));
    ASSERT_OK(DB::Open(root, o, &db));
    const size_t files = DataFileIds(root).size();
    for (int i = 0; DataFileIds(root).size() < files + 4; i++) {
      ASSERT_LT(i, 1000);
      const std::string k = "r" + std::to_string(round) + "-" + std::to_string(i);
      ASSERT_OK(db->Put(k, std::string(100, 'r')));
      m[k] = Val{std::string(100, 'r'), 0};
    }
    ASSERT_OK(db->Close());
    db.reset();
    const std::vector<uint32_t> now_ids = DataFileIds(root);
    for (size_t i = 0; i + 1 < now_ids.size(); i++) {
      EXPECT_TRUE(Exists(HintPath(root, now_ids[i])))
          << FileName(now_ids[i], ".hint") << " missing after Close()";
    }
  }
  ASSERT_OK(DB::Open(root, o, &db));
  EXPECT_TRUE(StateIs(db.get(), KeysOf(m), Project(m, 0)));
}

// Missing, truncated or garbage hints: open falls back to scanning and all
// data is there.
TEST(DBFaultTest, MissingOrDamagedHintsFallBackToScanning) {
  std::mt19937_64 rng(BaseSeed() + 9000);
  TempDir dir;
  const std::string pristine = dir.path() + "/pristine";
  std::vector<Op> ops;
  BuildStore(pristine, rng, 80, 5, &ops);
  if (HasFatalFailure()) return;
  const std::vector<uint32_t> ids = DataFileIds(pristine);
  ASSERT_GE(ids.size(), 3u);
  const std::vector<std::string> keys = KeysOfOps(ops);
  const State want = Project(ApplyOps(ops, ops.size()), 0);
  TestEnv env;
  Options o = BaseOptions(&env);
  const std::vector<std::string> damage = {"delete", "empty", "1 byte", "19 bytes", "20 bytes",
                                           "half", "all but 1", "garbage", "zeros", "extra byte"};
  for (const std::string& how : damage) {
    SCOPED_TRACE("hints: " + how);
    const std::string root = dir.path() + "/h";
    CopyTree(pristine, root);
    for (size_t i = 0; i + 1 < ids.size(); i++) {
      const std::string h = HintPath(root, ids[i]);
      std::string d = ReadBytes(h);
      if (how == "delete") {
        ASSERT_EQ(::unlink(h.c_str()), 0);
        continue;
      }
      if (how == "empty") d.clear();
      if (how == "1 byte") d.resize(1);
      if (how == "19 bytes") d.resize(19);
      if (how == "20 bytes") d.resize(20);
      if (how == "half") d.resize(d.size() / 2);
      if (how == "all but 1") d.resize(d.size() - 1);
      if (how == "garbage") {
        for (char& c : d) c = static_cast<char>(rng());
      }
      if (how == "zeros") d.assign(d.size(), '\0');
      if (how == "extra byte") d.insert(d.begin(), 'x');
      WriteBytes(h, d);
    }
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    ASSERT_TRUE(StateIs(db.get(), keys, want));
    db.reset();
    ASSERT_OK(DB::Open(root, o, &db));  // again, with whatever hints were rewritten
    ASSERT_TRUE(StateIs(db.get(), keys, want));
  }
}

// A clean Close writes the active file's hint too, and the next open reads no
// data file. A hint that does not cover the newest file exactly is refused
// and the file scanned: one written before more records were appended (a
// stale copy put back), one for a longer file since cut short, a damaged one.
TEST(DBFaultTest, NewestFileOpensFromItsHintOnlyWhenTheHintCoversIt) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  // Over 1 MiB, so a scan takes at least two reads (its buffer is 1 MiB),
  // while an open from the hint reads at most the file's last record.
  Model first;
  std::mt19937_64 rng(BaseSeed() + 9500);
  for (int i = 0; i < 250; i++) {
    std::string v(5000, '\0');  // random bytes: no compression
    for (char& c : v) c = static_cast<char>(rng());
    const std::string k = "a-" + std::to_string(i);
    ASSERT_OK(db->Put(k, v));
    first[k] = Val{v, 0};
  }
  WriteBatch batch;  // the file ends in a batch's commit record, which no hint entry covers
  batch.Put("batch-1", "one");
  batch.Put("batch-2", "two");
  ASSERT_OK(db->Write(WriteOptions(), batch));
  first["batch-1"] = Val{"one", 0};
  first["batch-2"] = Val{"two", 0};
  ASSERT_OK(db->Close());
  db.reset();
  const std::vector<uint32_t> ids = DataFileIds(root);
  ASSERT_EQ(ids.size(), 1u);
  const uint32_t newest = ids.back();
  ASSERT_TRUE(Exists(HintPath(root, newest))) << "a clean Close leaves the active file a hint";
  const std::string first_hint = ReadBytes(HintPath(root, newest));
  const uint64_t first_size = FileSize(DataPath(root, newest));

  env.ResetCounters();
  ASSERT_OK(DB::Open(root, o, &db));
  ASSERT_GT(FileSize(DataPath(root, newest)), 1u << 20);
  EXPECT_LE(env.Count(FaultOp::kRead, FileClass::kData), 1u)
      << "the newest file was scanned although its hint covers it";
  EXPECT_TRUE(StateIs(db.get(), KeysOf(first), Project(first, 0)));
  EXPECT_TRUE(ReadBytes(HintPath(root, newest)) == first_hint)
      << "the hint that covers the active file stays until the file grows";
  Model all = first;
  ASSERT_OK(db->Put(WriteOptions(), "b-first", "v"));
  all["b-first"] = Val{"v", 0};
  EXPECT_FALSE(Exists(HintPath(root, newest))) << "a hint must go before its file grows";
  const Model second = WriteKeys(db.get(), "b-", 100, 100);
  all.insert(second.begin(), second.end());
  ASSERT_OK(db->Close());
  db.reset();
  ASSERT_EQ(DataFileIds(root), ids) << "the newest file was to grow";
  const std::string second_hint = ReadBytes(HintPath(root, newest));
  std::string damaged_hint = second_hint;
  damaged_hint[damaged_hint.size() / 2] ^= 0x10;

  struct Case {
    const char* name;
    const std::string& hint;
    uint64_t data_size;  // the newest file is cut to this size
    const Model& want;
  };
  const Case cases[] = {
      {"stale hint: data appended after it", first_hint, FileSize(DataPath(root, newest)), all},
      {"data file cut short after its hint", second_hint, first_size, first},
      {"damaged hint", damaged_hint, FileSize(DataPath(root, newest)), all},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string r = dir.path() + "/case";
    CopyTree(root, r);
    WriteBytes(HintPath(r, newest), c.hint);
    ASSERT_EQ(::truncate(DataPath(r, newest).c_str(), static_cast<off_t>(c.data_size)), 0);
    env.ResetCounters();
    ASSERT_OK(DB::Open(r, o, &db));
    EXPECT_GE(env.Count(FaultOp::kRead, FileClass::kData), 2u) << "the hint was not refused";
    EXPECT_TRUE(StateIs(db.get(), KeysOf(all), Project(c.want, 0)));
    ASSERT_OK(db->Close());  // an open that only read: no hint for the active file
    db.reset();
    EXPECT_FALSE(Exists(HintPath(r, newest))) << "a refused hint stays at open";
    ASSERT_OK(DB::Open(r, o, &db));
    ASSERT_OK(db->Put(WriteOptions(), "c-written", "v"));
    ASSERT_OK(db->Close());  // an open that wrote: the active file's hint
    db.reset();
    env.ResetCounters();
    ASSERT_OK(DB::Open(r, o, &db));  // from the hint this Close wrote
    EXPECT_LE(env.Count(FaultOp::kRead, FileClass::kData), 1u);
    EXPECT_TRUE(StateIs(db.get(), KeysOf(all), Project(c.want, 0)));
    db.reset();
  }
}

// Close writes the active file's hint after its final sync. A failure at any
// step of that hint write, then a power cut: Close still succeeds (the hint is
// only a cache) and every write, synced or not, is there after the reopen.
TEST(DBFaultTest, PowerLossDuringTheHintWriteOfCloseLosesNothing) {
  const FaultOp none = FaultOp::kNumOps;
  for (FaultOp op : {none, FaultOp::kNewWritableFile, FaultOp::kAppend, FaultOp::kSync,
                     FaultOp::kRename, FaultOp::kSyncDir}) {
    SCOPED_TRACE(std::string("failing ") + (op == none ? "nothing" : FaultOpName(op)));
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    env.SetTrackDirectories(true);  // a rename lasts only once its directory is synced
    Options o = BaseOptions(&env);
    o.sync_on_put = false;
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    const Model model = WriteKeys(db.get(), "k-", 150, 100);
    if (op != none) {
      Fault f;
      f.sticky = true;
      f.name_contains = op == FaultOp::kSyncDir ? "data" : ".hint";
      env.InjectFault(op, f);
    }
    ASSERT_OK(db->Close());
    db.reset();
    if (op != none) EXPECT_GE(env.FaultsTriggered(op), 1u) << "the hint write did not fail";
    env.ClearAllFaults();
    ASSERT_OK(env.DropUnsyncedData());
    env.ResetState();
    ASSERT_OK(DB::Open(root, o, &db));
    EXPECT_TRUE(StateIs(db.get(), KeysOf(model), Project(model, 0)));
  }
}

// The hint a clean Close left for the active file is kept by an open until
// the first append. A session that only read leaves it in place for the next
// open. The first write removes it (and syncs the directory) before its
// record is appended: when that removal fails, the write fails and nothing
// is appended; after a power cut at any point the reopened store holds every
// acknowledged write, and a hint that survived describes its file exactly.
TEST(DBFaultTest, KeptHintOfTheActiveFileGoesBeforeTheFirstAppend) {
  const FaultOp none = FaultOp::kNumOps;
  for (FaultOp op : {none, FaultOp::kRemoveFile, FaultOp::kSyncDir}) {
    SCOPED_TRACE(std::string("failing ") + (op == none ? "nothing" : FaultOpName(op)));
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    env.SetTrackDirectories(true);
    Options o = BaseOptions(&env);
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    Model model = WriteKeys(db.get(), "k-", 150, 100);
    ASSERT_OK(db->Close());
    db.reset();
    const uint32_t newest = DataFileIds(root).back();
    const std::string hint = ReadBytes(HintPath(root, newest));
    ASSERT_FALSE(hint.empty());

    // Read-only sessions: the hint stays and the next open needs no scan.
    for (int i = 0; i < 2; i++) {
      env.ResetCounters();
      ASSERT_OK(DB::Open(root, o, &db));
      EXPECT_EQ(env.Count(FaultOp::kRead, FileClass::kData), 0u) << "session " << i;
      EXPECT_TRUE(StateIs(db.get(), KeysOf(model), Project(model, 0)));
      ASSERT_OK(db->Close());
      db.reset();
      ASSERT_TRUE(ReadBytes(HintPath(root, newest)) == hint) << "session " << i;
    }

    ASSERT_OK(DB::Open(root, o, &db));
    const uint64_t size_before = FileSize(DataPath(root, newest));
    if (op != none) {
      Fault f;  // fails once
      f.name_contains = op == FaultOp::kRemoveFile ? ".hint" : "data";  // SyncDir: data/
      env.InjectFault(op, f);
      Status s = db->Put(WriteOptions(), "first-write", "v");
      EXPECT_FALSE(s.ok()) << "the write went on although the hint could not be removed";
      EXPECT_GE(env.FaultsTriggered(op), 1u);
      EXPECT_EQ(FileSize(DataPath(root, newest)), size_before) << "appended behind a live hint";
      env.ClearAllFaults();
    } else {
      ASSERT_OK(db->Put(WriteOptions(), "first-write", "v"));
      model["first-write"] = Val{"v", 0};
      EXPECT_FALSE(Exists(HintPath(root, newest)));
    }
    PowerLoss(&env, &db, PowerLossOptions());  // no clean Close: it would write a new hint
    env.ResetState();
    if (Exists(HintPath(root, newest))) {
      EXPECT_TRUE(ReadBytes(HintPath(root, newest)) == hint) << "a hint other than Close's";
      EXPECT_EQ(FileSize(DataPath(root, newest)), size_before) << "a hint came back stale";
    }
    ASSERT_OK(DB::Open(root, o, &db));
    EXPECT_TRUE(StateIs(db.get(), KeysOf(model), Project(model, 0)));
    ASSERT_OK(db->Put(WriteOptions(), "after", "v"));  // writable again
    model["after"] = Val{"v", 0};
    ASSERT_OK(db->Close());
    db.reset();
    ASSERT_OK(DB::Open(root, o, &db));
    EXPECT_TRUE(StateIs(db.get(), KeysOf(model), Project(model, 0)));
  }
}

// ============================================================ lock, format

TEST(DBFaultTest, SecondOpenIsLocked) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  Options o = BaseOptions(Env::Default());
  std::unique_ptr<DB> first;
  ASSERT_OK(DB::Open(root, o, &first));
  ASSERT_OK(first->Put("k", "v"));
  std::unique_ptr<DB> second;
  Status s = DB::Open(root, o, &second);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsLocked()) << s.ToString();
  EXPECT_EQ(s.errno_value(), EBUSY);
  EXPECT_NE(s.ToString().find(root), std::string::npos) << "should name the store: " << s.ToString();
  EXPECT_EQ(second, nullptr);
  // The failed open did not disturb the first.
  std::string v;
  ASSERT_OK(first->Get("k", &v));
  ASSERT_OK(first->Put("k2", "v2"));

  // With a timeout too short: still Locked, after about the timeout.
  o.lock_timeout = std::chrono::milliseconds(150);
  auto t0 = std::chrono::steady_clock::now();
  s = DB::Open(root, o, &second);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(s.IsLocked()) << s.ToString();
  EXPECT_GE(waited, std::chrono::milliseconds(140));
  EXPECT_LT(waited, std::chrono::seconds(5));

  // With a timeout, and the first closed in time: succeeds.
  o.lock_timeout = std::chrono::seconds(10);
  std::atomic<bool> first_closed{false};
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    first_closed = true;  // just before: the second open cannot have the lock yet
    first->Close();
  });
  s = DB::Open(root, o, &second);
  const bool waited_for_close = first_closed.load();
  closer.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(waited_for_close) << "the second open got the lock while the first held it";
  ASSERT_OK(second->Get("k2", &v));
  EXPECT_EQ(v, "v2");
  first.reset();
}

// The lock wait also ends with a fake clock (the Env's SleepMicros advances it).
TEST(DBFaultTest, LockTimeoutWithFakeClock) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  env.EnableFakeClock(kT0);
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> first, second;
  ASSERT_OK(DB::Open(root, o, &first));
  o.lock_timeout = std::chrono::milliseconds(100);
  Status s = DB::Open(root, o, &second);
  EXPECT_TRUE(s.IsLocked()) << s.ToString();
  EXPECT_GE(env.NowUnixNanos(), kT0 + 100 * kMs);
}

TEST(DBFaultTest, FormatVersionIsChecked) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  Options o = BaseOptions(Env::Default());
  {
    std::unique_ptr<DB> db;
    ASSERT_OK(DB::Open(root, o, &db));
    ASSERT_OK(db->Put("k", "v"));
  }
  const std::string meta = DataDir(root) + "/bitgask.meta";
  const std::string original = ReadBytes(meta);
  ASSERT_NE(original.find("\"format_version\": 1"), std::string::npos) << original;

  std::string v99 = original;
  v99.replace(v99.find("\"format_version\": 1"), 19, "\"format_version\": 99");
  WriteBytes(meta, v99);
  std::unique_ptr<DB> db;
  Status s = DB::Open(root, o, &db);
  ASSERT_FALSE(s.ok()) << "a store of format version 99 was opened";
  EXPECT_FALSE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find("99"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("version"), std::string::npos) << s.ToString();
  EXPECT_EQ(ReadBytes(meta), v99) << "a failed open must not rewrite the meta file";

  ASSERT_EQ(::unlink(meta.c_str()), 0);
  s = DB::Open(root, o, &db);
  ASSERT_FALSE(s.ok()) << "a store with data files but no meta file was opened";
  EXPECT_NE(s.ToString().find("bitgask.meta"), std::string::npos) << s.ToString();
  EXPECT_FALSE(Exists(meta)) << "a failed open must not invent a meta file";

  WriteBytes(meta, "not json at all");
  s = DB::Open(root, o, &db);
  ASSERT_FALSE(s.ok()) << "a garbage meta file was accepted";
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();

  WriteBytes(meta, original);
  ASSERT_OK(DB::Open(root, o, &db));
  ASSERT_OK(db->Get("k", &v99));
  EXPECT_EQ(v99, "v");
}

// A power cut while the meta file of a new store is being written: the store
// still opens (a new store with no data files simply gets its meta again).
TEST(DBFaultTest, PowerLossWhileCreatingStore) {
  for (int fail_at = 0; fail_at < 4; fail_at++) {
    SCOPED_TRACE("power lost at step " + std::to_string(fail_at));
    TempDir dir;
    const std::string root = dir.path() + "/db";
    TestEnv env;
    Options o = BaseOptions(&env);
    Fault f;
    const FaultOp ops[] = {FaultOp::kNewWritableFile, FaultOp::kSync, FaultOp::kRename,
                           FaultOp::kSyncDir};
    f.name_contains = fail_at == 3 ? "data" : "meta";
    env.InjectFault(ops[fail_at], f);
    std::unique_ptr<DB> db;
    Status s = DB::Open(root, o, &db);
    ASSERT_FALSE(s.ok()) << "open succeeded although writing its meta file failed";
    PowerLoss(&env, &db, PowerLossOptions());
    ASSERT_OK(DB::Open(root, o, &db));
    ASSERT_OK(db->Put("k", "v"));
    PowerLoss(&env, &db, PowerLossOptions());
    ASSERT_OK(DB::Open(root, o, &db));
    std::string v;
    ASSERT_OK(db->Get("k", &v));
  }
}

// ============================================================ the env itself

// The fault env's own model, checked directly: un-synced data, un-synced
// creations and renames, and removals are undone by DropUnsyncedData.
TEST(FaultInjectionEnvTest, DropUnsyncedDataModel) {
  TempDir dir;
  const std::string d = dir.path();
  TestEnv env;
  std::unique_ptr<WritableFile> f;
  // A durable file with a synced prefix.
  ASSERT_OK(env.NewWritableFile(d + "/a", &f));
  ASSERT_OK(f->Append("synced"));
  ASSERT_OK(f->Sync());
  ASSERT_OK(env.SyncDir(d));
  ASSERT_OK(f->Append("-lost"));
  EXPECT_EQ(env.UnsyncedBytes(), 5u);
  ASSERT_OK(f->Close());
  // A synced file whose creation was never made durable.
  std::unique_ptr<WritableFile> g;
  ASSERT_OK(env.NewWritableFile(d + "/b", &g));
  ASSERT_OK(g->Append("content"));
  ASSERT_OK(g->Sync());
  ASSERT_OK(g->Close());
  EXPECT_EQ(env.UndurableFiles(), std::vector<std::string>{d + "/b"});
  // A durable file renamed over another without a directory sync.
  WriteBytes(d + "/old", "old content");
  WriteBytes(d + "/c.tmp", "new content");
  ASSERT_OK(env.RenameFile(d + "/c.tmp", d + "/old"));
  // A pre-existing file removed without a directory sync.
  WriteBytes(d + "/gone", "still here");
  ASSERT_OK(env.RemoveFile(d + "/gone"));
  EXPECT_FALSE(Exists(d + "/gone"));

  ASSERT_OK(env.DropUnsyncedData());
  EXPECT_EQ(ReadBytes(d + "/a"), "synced");
  EXPECT_FALSE(Exists(d + "/b"));
  EXPECT_EQ(ReadBytes(d + "/old"), "old content");
  EXPECT_EQ(ReadBytes(d + "/c.tmp"), "new content");  // a durable name: the rename is undone
  EXPECT_EQ(ReadBytes(d + "/gone"), "still here");
  EXPECT_EQ(env.UnsyncedBytes(), 0u);

  // The same steps made durable survive.
  ASSERT_OK(env.NewWritableFile(d + "/e", &f));
  ASSERT_OK(f->Append("durable"));
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Close());
  WriteBytes(d + "/e2.tmp", "renamed");
  ASSERT_OK(env.RenameFile(d + "/e2.tmp", d + "/old"));
  ASSERT_OK(env.RemoveFile(d + "/gone"));
  ASSERT_OK(env.SyncDir(d));
  ASSERT_OK(env.DropUnsyncedData());
  EXPECT_EQ(ReadBytes(d + "/e"), "durable");
  EXPECT_EQ(ReadBytes(d + "/old"), "renamed");
  EXPECT_FALSE(Exists(d + "/gone"));
}

TEST(FaultInjectionEnvTest, TornTailsKeepSyncedBytes) {
  TempDir dir;
  TestEnv env;
  const std::string synced(5000, 's');
  std::mt19937_64 rng(BaseSeed());
  bool saw_partial = false, saw_damage = false;
  for (int i = 0; i < 200; i++) {
    const std::string p = dir.path() + "/f" + std::to_string(i);
    std::unique_ptr<WritableFile> f;
    ASSERT_OK(env.NewWritableFile(p, &f));
    ASSERT_OK(f->Append(synced));
    ASSERT_OK(f->Sync());
    ASSERT_OK(env.SyncDir(dir.path()));
    const std::string unsynced(1 + rng() % 9000, 'u');
    ASSERT_OK(f->Append(unsynced));
    ASSERT_OK(f->Close());
    PowerLossOptions o;
    o.tail = i % 2 ? PowerLossOptions::Tail::kTornPage : PowerLossOptions::Tail::kRandomPrefix;
    o.seed = rng();
    ASSERT_OK(env.DropUnsyncedData(o));
    const std::string got = ReadBytes(p);
    ASSERT_GE(got.size(), synced.size());
    ASSERT_LE(got.size(), synced.size() + unsynced.size());
    ASSERT_EQ(got.substr(0, synced.size()), synced) << "synced bytes damaged";
    if (got.size() > synced.size() && got.size() < synced.size() + unsynced.size()) {
      saw_partial = true;
    }
    if (got.substr(synced.size()) != std::string(got.size() - synced.size(), 'u')) {
      saw_damage = true;
      EXPECT_EQ(o.tail, PowerLossOptions::Tail::kTornPage);
    }
  }
  EXPECT_TRUE(saw_partial);
  EXPECT_TRUE(saw_damage);
}

TEST(FaultInjectionEnvTest, FaultsCountersAndClock) {
  TempDir dir;
  TestEnv env;
  const std::string p = dir.path() + "/x.data";
  std::unique_ptr<WritableFile> f;
  ASSERT_OK(env.NewWritableFile(p, &f));
  Fault fault;
  fault.err = ENOSPC;
  fault.skip = 2;  // the third append fails
  fault.partial_bytes = 3;
  env.InjectFault(FaultOp::kAppend, fault);
  ASSERT_OK(f->Append("aa"));
  ASSERT_OK(f->Append("bb"));
  Status s = f->Append("cccccc");
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.errno_value(), ENOSPC);
  ASSERT_OK(f->Append("dd"));  // once only
  EXPECT_EQ(ReadBytes(p), "aabbcccdd");
  EXPECT_EQ(env.Count(FaultOp::kAppend), 4u);
  EXPECT_EQ(env.Count(FaultOp::kAppend, FileClass::kData), 4u);
  EXPECT_EQ(env.FaultsTriggered(FaultOp::kAppend), 1u);
  fault = Fault();
  fault.sticky = true;
  fault.name_contains = ".hint";
  env.InjectFault(FaultOp::kSync, fault);
  ASSERT_OK(f->Sync());  // not a hint
  std::unique_ptr<WritableFile> h;
  ASSERT_OK(env.NewWritableFile(dir.path() + "/1.hint", &h));
  EXPECT_FALSE(h->Sync().ok());
  EXPECT_FALSE(h->Sync().ok());
  env.ClearFault(FaultOp::kSync);
  EXPECT_OK(h->Sync());
  env.SetFilesystemActive(false);
  EXPECT_FALSE(f->Append("x").ok());
  EXPECT_FALSE(env.NewWritableFile(dir.path() + "/y", &h).ok());
  env.SetFilesystemActive(true);
  EXPECT_EQ(ReadBytes(p), "aabbcccdd");

  env.EnableFakeClock(kT0);
  EXPECT_EQ(env.NowUnixNanos(), kT0);
  env.AdvanceNanos(5);
  EXPECT_EQ(env.NowUnixNanos(), kT0 + 5);
  env.SleepMicros(10);
  EXPECT_EQ(env.NowUnixNanos(), kT0 + 5 + 10000);
  env.SetNow(42);
  EXPECT_EQ(env.NowUnixNanos(), 42);
  env.DisableFakeClock();
  EXPECT_GT(env.NowUnixNanos(), kT0);
}

// TTL through the fake clock survives recovery: expired keys stay expired
// (an expired put still hides the older value), live ones keep their expiry.
TEST(DBFaultTest, ExpiryAcrossPowerLoss) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  env.EnableFakeClock(kT0);
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  ASSERT_OK(db->Put("old", "permanent"));
  ASSERT_OK(db->PutWithTTL("old", "short", std::chrono::seconds(10)));
  ASSERT_OK(db->PutWithTTL("long", "lives", std::chrono::seconds(1000)));
  ASSERT_OK(db->Put("persisted", "p"));
  ASSERT_OK(db->Expire("persisted", std::chrono::seconds(5)));
  ASSERT_OK(db->Persist("persisted"));
  ASSERT_OK(db->Put("expiring", "e"));
  ASSERT_OK(db->Expire("expiring", std::chrono::seconds(5)));
  env.AdvanceNanos(20LL * 1000 * kMs);
  PowerLoss(&env, &db, PowerLossOptions());
  ASSERT_OK(DB::Open(root, o, &db));
  State want{{"long", {"lives", kT0 + 1000LL * 1000 * kMs}}, {"persisted", {"p", 0}}};
  EXPECT_TRUE(StateIs(db.get(), {"old", "long", "persisted", "expiring"}, want));
}

// A synced Delete of a key that is absent only because of an unsynced write
// (here a Delete with Sync::kNever) writes nothing, but its acknowledgement
// still promises the key stays gone after power loss: it must sync what is
// pending. (Found by tests/crash/power_loss_test.)
TEST(DBFaultTest, SyncedDeleteOfAbsentKeyMakesEarlierDeleteDurable) {
  TempDir dir;
  const std::string root = dir.path() + "/db";
  TestEnv env;
  Options o = BaseOptions(&env);
  std::unique_ptr<DB> db;
  ASSERT_OK(DB::Open(root, o, &db));
  ASSERT_OK(db->Put("k", "v"));
  WriteOptions nosync;
  nosync.sync = WriteOptions::Sync::kNever;
  ASSERT_OK(db->Delete(nosync, "k"));
  ASSERT_GT(env.UnsyncedBytes(FileClass::kData), 0u);
  ASSERT_OK(db->Delete("k"));  // sync_on_delete: acknowledged as durable
  EXPECT_EQ(env.UnsyncedBytes(FileClass::kData), 0u);
  PowerLoss(&env, &db, PowerLossOptions());
  ASSERT_OK(DB::Open(root, o, &db));
  std::string v;
  EXPECT_TRUE(db->Get("k", &v).IsNotFound()) << "the deleted key came back as \"" << v << "\"";
  // A delete of an absent key with nothing pending costs no fsync.
  const uint64_t syncs = env.Count(FaultOp::kSync);
  ASSERT_OK(db->Delete("never-written"));
  EXPECT_EQ(env.Count(FaultOp::kSync), syncs);
}

}  // namespace
}  // namespace test
}  // namespace bitgask
