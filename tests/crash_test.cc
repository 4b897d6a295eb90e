// Crash test: a child process writes to a store from several threads and is
// killed with SIGKILL at a random moment; the parent reopens the store and
// checks every acknowledged operation against a model. Many iterations run on
// the same store, so each recovery starts from what the previous crash (and
// recovery) left.
//
// How it works
// - The test (parent) fork+execs its own binary (/proc/self/exe) with
//   BITGASK_CRASH_CHILD=<store> in the environment. A gtest global
//   environment sees the variable before any test runs and turns the process
//   into the writer child (RunChild never returns), so the child is a fresh
//   process and works under gtest_main's main.
// - Each child thread owns a disjoint set of keys and runs one operation at a
//   time: before calling the DB it writes "B ..." (begin) to a pipe, after an
//   OK result "D ..." (done). Every line is one write(2) of < PIPE_BUF bytes,
//   so it is atomic; the parent keeps only complete lines.
// - For every key the parent keeps the set of states the store may be in:
//   the state after the last done operation, plus, for a begun-but-not-done
//   (in-flight) operation, the state after it. After the kill the store must
//   show one of them for every key; nothing may return Corruption; the
//   number of live keys must match. Most iterations verify at once (the
//   parent's Open recovers); some leave recovery to the next child, so the
//   child's own recovery and the writes after it are checked one iteration
//   later.
// - When to kill: 1 in 8 iterations right after the start (often while the
//   child is still opening the store, recovering or writing hint files); 2 in
//   8 a few ms after a put of a MiB-sized value begins (to catch it inside
//   write(2)); otherwise 2-300 ms after the child is ready.
// - A SIGKILL seldom tears a record (the kernel interrupts a write(2) only
//   between page-cache folios), so in a third of the iterations where the
//   kill left a clean end the test appends a torn tail itself (a cut record,
//   zeros, or a batch without its commit record) before recovery.
// - Variants: sync_on_put with 8 MiB and with 64 KiB data files (kills land
//   around rotations and hint writing), and sync_on_put=false (acknowledged
//   writes were handed to the OS, so they must survive a process crash too).
//   BatchesAtTheTail checks recovery of atomic batches cut short at the tail.
//
// BITGASK_CRASH_ITERS=<n> sets the number of iterations of each variant
// (default 60); BITGASK_CRASH_SEED=<n> fixes the random seed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bitgask/db.h"
#include "bitgask/env.h"
#include "bitgask/options.h"
#include "data_file.h"
#include "record.h"

extern char** environ;

namespace bitgask {
namespace {

constexpr int kThreads = 4;
constexpr int kKeysPerThread = 24;
constexpr int kChildFd = 100;  // the pipe's write end in the child

enum OpKind : int {
  kPut = 0,     // Put(wo{mode}, key, value)
  kPutTTL,      // PutWithTTL(key, value, ttl): expires = now + ttl
  kPutAt,       // Put(wo{expires_at_unix_ns}, key, value)
  kDelete,      // Delete(key)
  kExpireAt,    // ExpireAt(key, at): meta record; NotFound when absent
  kPersist,     // Persist(key)
  kSetMode,     // SetMeta(key, mode, -1)
  kNumOpKinds
};
const char* const kOpNames[] = {"put", "put-ttl", "put-at", "delete", "expire-at", "persist",
                                "set-mode"};

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string KeyName(int tid, int idx) {
  std::string k = "t" + std::to_string(tid) + "/key" + std::to_string(idx);
  if (idx % 5 == 0) k += "/" + std::string(static_cast<size_t>(100 + 13 * idx), 'a' + idx % 26);
  return k;
}

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The value a (seed, size, kind) stands for: kind 0 random bytes (stays raw),
// kind 1 compressible text (stored compressed when >= 256 bytes).
std::string MakeValue(uint64_t seed, uint32_t size, int kind) {
  std::string v(size, '\0');
  uint64_t st = seed;
  if (kind == 0) {
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      uint64_t r = SplitMix(&st);
      std::memcpy(&v[i], &r, 8);
    }
    for (; i < size; i++) v[i] = static_cast<char>(SplitMix(&st));
  } else {
    const std::string word = "value-" + std::to_string(seed % 100000) + "-";
    for (size_t i = 0; i < size; i += word.size()) {
      std::memcpy(&v[i], word.data(), std::min(word.size(), size - i));
    }
    for (size_t i = 0; i < size; i += 97) v[i] = static_cast<char>('A' + SplitMix(&st) % 26);
  }
  return v;
}

// ------------------------------------------------------------------ child

void Emit(int fd, const std::string& line) {
  std::string l = line + "\n";
  // One write of < PIPE_BUF bytes: atomic on a pipe.
  while (::write(fd, l.data(), l.size()) < 0 && errno == EINTR) {
  }
}

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (s.size() > 2000) s.resize(2000);
  return s;
}

void ChildWorker(DB* db, int fd, int tid, uint64_t seed) {
  std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(tid));
  for (uint64_t seq = 0;; seq++) {
    const int idx = static_cast<int>(rng() % kKeysPerThread);
    const std::string key = KeyName(tid, idx);
    const int pick = static_cast<int>(rng() % 100);
    int kind;
    if (pick < 50) kind = kPut;
    else if (pick < 60) kind = kPutTTL;
    else if (pick < 65) kind = kPutAt;
    else if (pick < 82) kind = kDelete;
    else if (pick < 89) kind = kExpireAt;
    else if (pick < 94) kind = kPersist;
    else kind = kSetMode;

    const uint64_t vseed = rng();
    uint32_t size = 0;
    const int sz = static_cast<int>(rng() % 100);
    if (sz < 5) size = 0;
    else if (sz < 45) size = 1 + static_cast<uint32_t>(rng() % 100);
    else if (sz < 75) size = 100 + static_cast<uint32_t>(rng() % 4000);
    else if (sz < 90) size = 4096 + static_cast<uint32_t>(rng() % 28000);
    else if (sz < 98) size = 90000 + static_cast<uint32_t>(rng() % 20000);  // ~100 KiB
    // A few of 1-4 MiB: a SIGKILL can interrupt so long a write(2) part way
    // (the kernel checks for fatal signals between page-cache folios), which
    // is what leaves a torn record at the end of the file.
    else size = (2u << 20) + static_cast<uint32_t>(rng() % (6u << 20));
    const int vkind = static_cast<int>(rng() % 2);
    const uint16_t modes[] = {0, 0100644, 0100600, 0100755, 040755};
    const uint16_t mode = modes[rng() % 5];
    int64_t arg = 0;  // ttl (kPutTTL) or absolute expiry (kPutAt, kExpireAt)
    const int64_t hour = 3600ll * 1000000000ll;
    if (kind == kPutTTL) arg = hour + static_cast<int64_t>(rng() % (23 * hour));
    if (kind == kPutAt || kind == kExpireAt) {
      arg = NowNanos() + hour + static_cast<int64_t>(rng() % (23 * hour));
    }

    const int64_t t0 = NowNanos();
    Emit(fd, "B " + std::to_string(tid) + " " + std::to_string(seq) + " " +
                 std::to_string(kind) + " " + std::to_string(idx) + " " + std::to_string(vseed) +
                 " " + std::to_string(size) + " " + std::to_string(vkind) + " " +
                 std::to_string(mode) + " " + std::to_string(arg) + " " + std::to_string(t0));
    Status s;
    std::string value;
    if (kind == kPut || kind == kPutTTL || kind == kPutAt) value = MakeValue(vseed, size, vkind);
    WriteOptions wo;
    switch (kind) {
      case kPut:
        wo.mode = mode;
        s = db->Put(wo, key, value);
        break;
      case kPutTTL:
        s = db->PutWithTTL(key, value, std::chrono::nanoseconds(arg));
        break;
      case kPutAt:
        wo.expires_at_unix_ns = arg;
        wo.mode = mode;
        s = db->Put(wo, key, value);
        break;
      case kDelete:
        s = db->Delete(key);
        break;
      case kExpireAt:
        s = db->ExpireAt(key, arg);
        break;
      case kPersist:
        s = db->Persist(key);
        break;
      case kSetMode:
        s = db->SetMeta(key, mode, -1);
        break;
    }
    int result = 0;
    if (!s.ok()) {
      const bool meta = kind == kExpireAt || kind == kPersist || kind == kSetMode;
      if (meta && s.IsNotFound() && !s.IsExpired()) {
        result = 1;
      } else {
        Emit(fd, "E " + std::to_string(tid) + " " + kOpNames[kind] + " " + key.substr(0, 20) +
                     ": " + OneLine(s.ToString()));
        ::_exit(3);
      }
    }
    Emit(fd, "D " + std::to_string(tid) + " " + std::to_string(seq) + " " +
                 std::to_string(result) + " " + std::to_string(NowNanos()));
  }
}

[[noreturn]] void RunChild(const char* path) {
  const char* fd_env = std::getenv("BITGASK_CRASH_FD");
  const char* seed_env = std::getenv("BITGASK_CRASH_SEED_CHILD");
  const char* sync_env = std::getenv("BITGASK_CRASH_SYNC");
  const char* max_env = std::getenv("BITGASK_CRASH_MAX_FILE");
  if (!fd_env || !seed_env || !sync_env || !max_env) {
    std::fprintf(stderr, "crash child: missing environment\n");
    ::_exit(5);
  }
  const int fd = std::atoi(fd_env);
  const uint64_t seed = std::strtoull(seed_env, nullptr, 10);
  Options o;
  o.sync_on_put = o.sync_on_delete = std::atoi(sync_env) != 0;
  o.max_data_file_size = std::strtoull(max_env, nullptr, 10);
  std::unique_ptr<DB> db;
  Status s = DB::Open(path, o, &db);
  if (!s.ok()) {
    Emit(fd, "E open " + OneLine(s.ToString()));
    ::_exit(4);
  }
  Emit(fd, "R");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back(ChildWorker, db.get(), fd, t, seed);
  }
  for (;;) ::pause();  // the parent's SIGKILL ends it
}

class CrashChildEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* path = std::getenv("BITGASK_CRASH_CHILD");
    if (path != nullptr) RunChild(path);
  }
};

[[maybe_unused]] ::testing::Environment* const kChildEnvironment =
    ::testing::AddGlobalTestEnvironment(new CrashChildEnvironment);

// ------------------------------------------------------------------ model

struct KeyState {
  bool present = false;
  uint64_t seed = 0;
  uint32_t size = 0;
  int vkind = 0;
  uint16_t mode = 0;
  int64_t exp_lo = 0, exp_hi = 0;  // expiry lies in [lo, hi]; 0,0 = none

  bool operator==(const KeyState& o) const {
    if (present != o.present) return false;
    if (!present) return true;
    return seed == o.seed && size == o.size && vkind == o.vkind && mode == o.mode &&
           exp_lo == o.exp_lo && exp_hi == o.exp_hi;
  }
  std::string Describe() const {
    if (!present) return "absent";
    std::ostringstream os;
    os << "value(seed=" << seed << " size=" << size << " kind=" << vkind << ") mode=0" << std::oct
       << mode << std::dec << " expires=[" << exp_lo << "," << exp_hi << "]";
    return os.str();
  }
};

struct Op {
  int tid = 0;
  uint64_t seq = 0;
  int kind = 0;
  int idx = 0;
  uint64_t seed = 0;
  uint32_t size = 0;
  int vkind = 0;
  uint16_t mode = 0;
  int64_t arg = 0;
  int64_t t0 = 0;
  bool done = false;
  int result = 0;  // 0 OK, 1 NotFound (meta ops on an absent key)
  int64_t t1 = 0;

  std::string Describe() const {
    std::ostringstream os;
    os << kOpNames[kind] << " t" << tid << "#" << seq << " key " << idx;
    if (kind <= kPutAt) os << " value(seed=" << seed << " size=" << size << " kind=" << vkind << ")";
    if (kind != kDelete && kind != kPersist) os << " mode=0" << std::oct << mode << std::dec;
    if (arg) os << " arg=" << arg;
    os << (done ? (result ? " -> NotFound" : " -> OK") : " (in flight)");
    return os.str();
  }
};

// Applies op to a candidate state. For a done meta op the reported result must
// agree with the state (OK when present, NotFound when absent); returns false
// when it does not, so that candidate is impossible. `until` bounds the
// engine's clock for a relative TTL (done time, or the kill time).
bool Apply(const Op& op, KeyState* st, int64_t until) {
  switch (op.kind) {
    case kPut:
    case kPutTTL:
    case kPutAt:
      st->present = true;
      st->seed = op.seed;
      st->size = op.size;
      st->vkind = op.vkind;
      st->mode = op.kind == kPutTTL ? 0 : op.mode;
      if (op.kind == kPut) {
        st->exp_lo = st->exp_hi = 0;
      } else if (op.kind == kPutAt) {
        st->exp_lo = st->exp_hi = op.arg;
      } else {
        st->exp_lo = op.t0 + op.arg;
        st->exp_hi = until + op.arg;
      }
      return true;
    case kDelete:
      *st = KeyState();
      return true;
    case kExpireAt:
    case kPersist:
    case kSetMode:
      if (op.done && (op.result == 1) == st->present) return false;
      if (!st->present) return true;
      if (op.kind == kExpireAt) st->exp_lo = st->exp_hi = op.arg;
      if (op.kind == kPersist) st->exp_lo = st->exp_hi = 0;
      if (op.kind == kSetMode) st->mode = op.mode;
      return true;
  }
  return false;
}

// What the reopened store shows for one key.
struct Observed {
  bool present = false;
  std::string value;
  RecordMeta meta;
};

bool Matches(const KeyState& c, const Observed& o) {
  if (c.present != o.present) return false;
  if (!c.present) return true;
  if (o.value.size() != c.size || o.meta.value_size != c.size) return false;
  if (o.meta.mode != c.mode) return false;
  if (o.meta.expires_unix_ns < c.exp_lo || o.meta.expires_unix_ns > c.exp_hi) return false;
  return o.value == MakeValue(c.seed, c.size, c.vkind);
}

// ------------------------------------------------------------------ parent

struct Variant {
  const char* name;
  bool sync;
  uint64_t max_file;
};

class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // Reads what is available within timeout_ms; false at EOF.
  bool Pump(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, std::max(timeout_ms, 0));
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) return true;
    char buf[65536];
    ssize_t n = ::read(fd_, buf, sizeof(buf));
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n == 0) return false;
    partial_.append(buf, static_cast<size_t>(n));
    const auto now = std::chrono::steady_clock::now();
    size_t start = 0, nl;
    while ((nl = partial_.find('\n', start)) != std::string::npos) {
      lines_.push_back(partial_.substr(start, nl - start));
      times_.push_back(now);
      start = nl + 1;
    }
    partial_.erase(0, start);
    return true;
  }
  std::vector<std::string>& lines() { return lines_; }
  // When each line arrived.
  const std::vector<std::chrono::steady_clock::time_point>& times() const { return times_; }

 private:
  int fd_;
  std::string partial_;  // an incomplete last line: never used
  std::vector<std::string> lines_;
  std::vector<std::chrono::steady_clock::time_point> times_;
};

struct Stats {
  int iterations = 0;
  int verifications = 0;
  uint64_t acked = 0;           // done ops checked
  uint64_t inflight = 0;        // begun-not-done ops
  uint64_t inflight_landed = 0; // ...whose effect was seen after recovery
  int killed_before_ready = 0;
  int torn_tails = 0;           // newest file ended in a torn record after the kill
  int simulated_tails = 0;      // torn tails appended by the test
  int fresh_stores = 0;         // long runs: the store was replaced when it grew large
  uint64_t max_store_bytes = 0;
  int max_data_files = 0;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The engine logs each truncated tail at warn level; keep the test output
    // readable unless the caller asked for something else.
    ::setenv("BITGASK_LOG_LEVEL", "error", /*overwrite=*/0);
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/bitgask_crash_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    store_ = dir_ + "/store";
    devnull_ = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ASSERT_GE(devnull_, 0);
  }
  void TearDown() override {
    if (devnull_ >= 0) ::close(devnull_);
    if (HasFailure() && keep_on_failure_) {
      std::cerr << "crash test store kept for inspection: " << store_ << "\n";
    } else if (!dir_.empty()) {
      std::string cmd = "rm -rf '" + dir_ + "'";
      EXPECT_EQ(std::system(cmd.c_str()), 0);
    }
  }

  void Run(const Variant& v);

  // Starts a child; returns its pid and the pipe's read end.
  void Spawn(const Variant& v, uint64_t seed, pid_t* pid, int* rfd);
  // Reopens the store and checks every key against its candidates.
  void Verify(const Variant& v, int iteration);
  // The path of the newest data file ("" when none).
  std::string NewestDataFile();
  // Scans the newest data file: true when it ends in a torn or bad record.
  bool NewestFileIsTorn();
  // Appends a torn tail to the newest data file (as a crash in the middle of
  // a write leaves it); returns its kind, -1 when there is no data file.
  int AppendSimulatedTail(std::mt19937_64* rng);
  void CheckDirectory(uint64_t* bytes, int* data_files);

  std::string dir_, store_;
  bool keep_on_failure_ = false;  // the random runs keep a failing store
  int devnull_ = -1;
  // cands_[tid][idx]: the states the key may be in.
  std::vector<std::vector<std::vector<KeyState>>> cands_;
  Stats stats_;
  uint64_t pending_acked_ = 0;
  std::vector<Op> pending_inflight_;  // since the last verification
  std::vector<std::string> history_;  // every operation since the last verification
  // How long (begin to done, as the parent sees the lines) a put of a
  // MiB-sized raw value takes; targeted kills aim inside it.
  double big_put_us_ = 50000;
};

void CrashTest::Spawn(const Variant& v, uint64_t seed, pid_t* pid, int* rfd) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0) << std::strerror(errno);
  // Everything the child needs is built before fork: after it only
  // async-signal-safe calls are made.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; e++) {
    std::string s = *e;
    if (s.rfind("BITGASK_CRASH_", 0) == 0 || s.rfind("GTEST_", 0) == 0) continue;
    env.push_back(s);
  }
  env.push_back("BITGASK_CRASH_CHILD=" + store_);
  env.push_back("BITGASK_CRASH_FD=" + std::to_string(kChildFd));
  env.push_back("BITGASK_CRASH_SEED_CHILD=" + std::to_string(seed));
  env.push_back("BITGASK_CRASH_SYNC=" + std::to_string(v.sync ? 1 : 0));
  env.push_back("BITGASK_CRASH_MAX_FILE=" + std::to_string(v.max_file));
  std::vector<char*> envp;
  for (std::string& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = "/proc/self/exe";
  std::string arg1 = "--gtest_filter=CrashTest.*";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  const int wfd = fds[1];
  const int devnull = devnull_;

  pid_t p = ::fork();
  if (p == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (wfd == kChildFd) {
      ::fcntl(wfd, F_SETFD, 0);
    } else if (::dup2(wfd, kChildFd) < 0) {
      ::_exit(126);
    }
    ::dup2(devnull, 1);  // gtest's banner
    ::execve("/proc/self/exe", argv, envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  ASSERT_GT(p, 0) << std::strerror(errno);
  *pid = p;
  *rfd = fds[0];
}

std::string CrashTest::NewestDataFile() {
  std::vector<std::string> names;
  if (!Env::Default()->GetChildren(store_ + "/data", &names).ok()) return "";
  uint32_t newest = 0;
  for (const std::string& n : names) {
    uint32_t id = 0;
    if (internal::ParseFileName(n, &id) == internal::FileKind::kData) newest = std::max(newest, id);
  }
  return newest == 0 ? "" : internal::DataFileName(store_ + "/data", newest);
}

bool CrashTest::NewestFileIsTorn() {
  const std::string path = NewestDataFile();
  if (path.empty()) return false;
  Env* env = Env::Default();
  uint64_t size = 0;
  std::unique_ptr<RandomAccessFile> f;
  if (!env->GetFileSize(path, &size).ok() || !env->NewRandomAccessFile(path, &f).ok()) {
    return false;
  }
  internal::RecordScanner scanner(f.get(), size, 1);
  internal::LogOp op;
  internal::RecordScanner::Result r;
  while ((r = scanner.Next(&op)) == internal::RecordScanner::Result::kOp) {
  }
  return r == internal::RecordScanner::Result::kBad;
}

int CrashTest::AppendSimulatedTail(std::mt19937_64* rng) {
  const std::string path = NewestDataFile();
  if (path.empty()) return -1;
  const int tid = static_cast<int>((*rng)() % kThreads);
  const int idx = static_cast<int>((*rng)() % kKeysPerThread);
  const std::string key = KeyName(tid, idx);
  const std::string value = MakeValue((*rng)(), 1 + static_cast<uint32_t>((*rng)() % 200000),
                                      static_cast<int>((*rng)() % 2));
  internal::RecordHeader h;
  h.timestamp = NowNanos();
  std::string tail;
  const int kind = static_cast<int>((*rng)() % 3);
  if (kind == 0) {
    // A record cut short: what a write interrupted part way leaves.
    internal::AppendRecord(&tail, h, key, value, 256);
    tail.resize(1 + (*rng)() % (tail.size() - 1));
  } else if (kind == 1) {
    // Zeros: a file extended but never written.
    tail.assign(1 + (*rng)() % 8192, '\0');
  } else {
    // An atomic batch whose commit record never made it: one complete batch
    // record for a live key, maybe a partial second one.
    h.flags = internal::kFlagBatch;
    internal::AppendRecord(&tail, h, key, value, 256);
    if ((*rng)() % 2) {
      std::string next;
      h.flags = internal::kFlagBatch | internal::kFlagTombstone;
      internal::AppendRecord(&next, h, KeyName(tid, (idx + 1) % kKeysPerThread), "", 0);
      tail += next.substr(0, 1 + (*rng)() % (next.size() - 1));
    }
  }
  // A writer through a mapping (mmap_writes) leaves the zero-filled space it
  // allocated ahead after its last record; a copy it was killed in would
  // have begun at the last record, so the tail goes there.
  {
    std::unique_ptr<RandomAccessFile> in;
    uint64_t size = 0;
    EXPECT_TRUE(Env::Default()->GetFileSize(path, &size).ok());
    EXPECT_TRUE(Env::Default()->NewRandomAccessFile(path, &in).ok());
    internal::RecordScanner scanner(in.get(), size, 1);
    internal::LogOp op;
    while (scanner.Next(&op) == internal::RecordScanner::Result::kOp) {
    }
    if (scanner.zero_tail() > 0) {
      EXPECT_EQ(0, ::truncate(path.c_str(), static_cast<off_t>(size - scanner.zero_tail())));
    }
  }
  std::unique_ptr<WritableFile> f;
  Status s = Env::Default()->NewAppendableFile(path, &f);
  if (s.ok()) s = f->Append(tail);
  if (s.ok()) s = f->Close();
  EXPECT_TRUE(s.ok()) << s.ToString();
  return kind;
}

void CrashTest::CheckDirectory(uint64_t* bytes, int* data_files) {
  std::vector<std::string> names;
  ASSERT_TRUE(Env::Default()->GetChildren(store_ + "/data", &names).ok());
  *bytes = 0;
  *data_files = 0;
  for (const std::string& n : names) {
    uint32_t id = 0;
    internal::FileKind k = internal::ParseFileName(n, &id);
    EXPECT_NE(k, internal::FileKind::kTemp) << n << " survived recovery";
    // A SIGKILL tears only the tail: damage followed by good records (which
    // recovery sets aside in NNN.data.damaged-OFF) must never appear.
    EXPECT_EQ(n.find(".damaged-"), std::string::npos)
        << n << ": recovery set bytes aside as damage followed by valid records, but a crash "
        << "only ever leaves an incomplete tail";
    uint64_t size = 0;
    if (Env::Default()->GetFileSize(store_ + "/data/" + n, &size).ok()) *bytes += size;
    if (k == internal::FileKind::kData) ++*data_files;
  }
}

void CrashTest::Verify(const Variant& v, int iteration) {
  Options o;
  o.sync_on_put = o.sync_on_delete = v.sync;
  o.max_data_file_size = v.max_file;
  std::unique_ptr<DB> db;
  Status s = DB::Open(store_, o, &db);
  ASSERT_TRUE(s.ok()) << "iteration " << iteration << ": reopening after SIGKILL: "
                      << s.ToString();
  uint64_t live = 0;
  for (int t = 0; t < kThreads; t++) {
    for (int i = 0; i < kKeysPerThread; i++) {
      const std::string key = KeyName(t, i);
      Observed obs;
      s = db->Get(key, &obs.value);
      ASSERT_TRUE(s.ok() || (s.IsNotFound() && !s.IsExpired()))
          << "iteration " << iteration << " key " << key.substr(0, 20) << ": " << s.ToString();
      obs.present = s.ok();
      if (obs.present) {
        s = db->Meta(key, &obs.meta);
        ASSERT_TRUE(s.ok()) << key.substr(0, 20) << ": " << s.ToString();
        live++;
      }
      std::vector<KeyState>& cands = cands_[t][i];
      const KeyState* match = nullptr;
      for (const KeyState& c : cands) {
        if (Matches(c, obs)) {
          match = &c;
          break;
        }
      }
      if (match == nullptr) {
        std::ostringstream os;
        os << "iteration " << iteration << ": key t" << t << "/key" << i
           << " holds a state no acknowledged or in-flight operation explains.\n  observed: ";
        if (obs.present) {
          os << "present, " << obs.value.size() << " bytes, mode=0" << std::oct << obs.meta.mode
             << std::dec << " expires=" << obs.meta.expires_unix_ns;
          for (const KeyState& c : cands) {
            if (c.present && c.size == obs.value.size()) {
              os << (obs.value == MakeValue(c.seed, c.size, c.vkind) ? " (bytes match seed "
                                                                    : " (bytes differ from seed ")
                 << c.seed << ")";
            }
          }
        } else {
          os << "absent";
        }
        os << "\n  allowed:";
        for (const KeyState& c : cands) os << "\n    " << c.Describe();
        os << "\n  operations on this key since the last check:";
        const std::string tag = " t" + std::to_string(t) + "#";
        const std::string key_tag = " key " + std::to_string(i) + " ";
        for (const std::string& h : history_) {
          if (h.find(tag) != std::string::npos && (h + " ").find(key_tag) != std::string::npos) {
            os << "\n    " << h;
          }
        }
        FAIL() << os.str();
      }
      for (const Op& op : pending_inflight_) {
        if (op.tid == t && op.idx == i) {
          // Did the in-flight op's effect show? (Its own state differs from
          // every state without it when it is a put.)
          if (obs.present && op.kind <= kPutAt && match->seed == op.seed) stats_.inflight_landed++;
        }
      }
      KeyState now = *match;
      if (now.present) now.exp_lo = now.exp_hi = obs.meta.expires_unix_ns;
      cands.assign(1, now);
    }
  }
  DBStats st;
  ASSERT_TRUE(db->Stats(&st).ok());
  EXPECT_EQ(st.keys, live) << "iteration " << iteration
                           << ": the keydir holds keys nobody wrote (or lost some)";
  s = db->Close();
  ASSERT_TRUE(s.ok()) << s.ToString();
  db.reset();
  uint64_t bytes = 0;
  int files = 0;
  CheckDirectory(&bytes, &files);
  EXPECT_FALSE(NewestFileIsTorn()) << "iteration " << iteration
                                   << ": recovery left a torn record at the end of "
                                   << NewestDataFile();
  stats_.max_store_bytes = std::max(stats_.max_store_bytes, bytes);
  stats_.max_data_files = std::max(stats_.max_data_files, files);
  stats_.verifications++;
  stats_.acked += pending_acked_;
  pending_acked_ = 0;
  pending_inflight_.clear();
  history_.clear();
  if (bytes > (512ull << 20)) {
    // Long runs only: start over rather than fill the disk.
    std::string cmd = "rm -rf '" + store_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    for (auto& keys : cands_) {
      for (auto& c : keys) c.assign(1, KeyState());
    }
    stats_.fresh_stores++;
  }
}

void CrashTest::Run(const Variant& v) {
  ASSERT_EQ(std::getenv("BITGASK_CRASH_CHILD"), nullptr) << "a crash child must not run tests";
  keep_on_failure_ = true;
  int iters = 60;
  if (const char* e = std::getenv("BITGASK_CRASH_ITERS")) iters = std::max(1, std::atoi(e));
  uint64_t seed = static_cast<uint64_t>(NowNanos());
  if (const char* e = std::getenv("BITGASK_CRASH_SEED")) seed = std::strtoull(e, nullptr, 10);
  std::cout << "[ crash    ] " << v.name << ": " << iters << " iterations, seed " << seed
            << " (BITGASK_CRASH_SEED to repeat)\n";
  std::mt19937_64 rng(seed);
  cands_.assign(kThreads, std::vector<std::vector<KeyState>>(kKeysPerThread,
                                                             std::vector<KeyState>(1)));
  const auto start = std::chrono::steady_clock::now();

  for (int it = 0; it < iters; it++) {
    pid_t pid = -1;
    int rfd = -1;
    Spawn(v, rng(), &pid, &rfd);
    ASSERT_GT(pid, 0);
    LineReader reader(rfd);
    bool eof = false;
    // 1 in 8: kill at once, often while the child is still opening
    // (recovering, writing hints). 2 in 8: kill a few ms after a put of a
    // MiB-sized value begins, to catch it inside write(2). Otherwise: a random
    // delay after the child is ready.
    const int mode = static_cast<int>(rng() % 8);
    const bool early = mode == 0;
    const bool targeted = mode == 1 || mode == 2;
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(early ? rng() % 25 : 30000);
    bool ready = false, armed = false;
    size_t seen = 0;
    while (!eof) {
      std::vector<std::string>& l = reader.lines();
      for (; seen < l.size(); seen++) {
        const auto now = std::chrono::steady_clock::now();
        if (!early && !ready && l[seen] == "R") {
          ready = true;
          // Log-uniform between 2 and 300 ms: many short runs, some long.
          const double ms = 2.0 * std::pow(150.0, std::uniform_real_distribution<>(0, 1)(rng));
          deadline = now + (targeted ? std::chrono::microseconds(1000000)
                                     : std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
        } else if (targeted && ready && !armed && l[seen].rfind("B ", 0) == 0) {
          std::istringstream in(l[seen].substr(2));
          int tid, kind;
          uint64_t seq, vseed;
          int idx;
          uint32_t size = 0;
          int vkind = 1;
          in >> tid >> seq >> kind >> idx >> vseed >> size >> vkind;
          if (kind <= kPutAt && size >= (1u << 20) && vkind == 0) {
            // The child generates and encodes the value, then writes it: aim
            // at the later part of the time such a put has been seen to take.
            armed = true;
            const double f = std::uniform_real_distribution<>(0.3, 1.0)(rng);
            deadline = now + std::chrono::microseconds(static_cast<int64_t>(f * big_put_us_));
          }
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) break;
      eof = !reader.Pump(static_cast<int>(std::min<int64_t>((left + 999) / 1000, 50)));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    const int64_t kill_time = NowNanos();
    while (reader.Pump(1000)) {
    }
    ::close(rfd);
    std::vector<std::string>& lines = reader.lines();
    std::string errors;
    for (const std::string& l : lines) {
      if (l.rfind("E ", 0) == 0) errors += "\n  " + l;
    }
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "iteration " << it << ": the child ended on its own (status " << status << ")"
        << errors;
    ASSERT_TRUE(errors.empty()) << errors;
    if (early && std::find(lines.begin(), lines.end(), "R") == lines.end()) {
      stats_.killed_before_ready++;
    }

    // Parse the report into each thread's operations, in order.
    std::vector<std::vector<Op>> ops(kThreads);
    std::vector<std::chrono::steady_clock::time_point> began(kThreads);
    for (size_t li = 0; li < lines.size(); li++) {
      const std::string& l = lines[li];
      std::istringstream in(l);
      char tag;
      in >> tag;
      if (tag == 'B') {
        Op op;
        in >> op.tid >> op.seq >> op.kind >> op.idx >> op.seed >> op.size >> op.vkind >> op.mode >>
            op.arg >> op.t0;
        ASSERT_TRUE(!in.fail() && op.tid >= 0 && op.tid < kThreads && op.kind >= 0 &&
                    op.kind < kNumOpKinds && op.idx >= 0 && op.idx < kKeysPerThread)
            << "bad line: " << l;
        ASSERT_TRUE(ops[op.tid].empty() || ops[op.tid].back().done)
            << "thread began an operation before finishing the last: " << l;
        ops[op.tid].push_back(op);
        began[op.tid] = reader.times()[li];
      } else if (tag == 'D') {
        int tid;
        uint64_t seq;
        Op tmp;
        in >> tid >> seq >> tmp.result >> tmp.t1;
        ASSERT_TRUE(!in.fail() && tid >= 0 && tid < kThreads) << "bad line: " << l;
        ASSERT_TRUE(!ops[tid].empty() && ops[tid].back().seq == seq && !ops[tid].back().done)
            << "done without begin: " << l;
        ops[tid].back().done = true;
        ops[tid].back().result = tmp.result;
        ops[tid].back().t1 = tmp.t1;
        const Op& op = ops[tid].back();
        if (op.kind <= kPutAt && op.size >= (1u << 20) && op.vkind == 0) {
          const double us = static_cast<double>(
              std::chrono::duration_cast<std::chrono::microseconds>(reader.times()[li] - began[tid])
                  .count());
          big_put_us_ = 0.7 * big_put_us_ + 0.3 * us;
        }
      } else {
        ASSERT_EQ(l, "R") << "unexpected line from the child";
      }
    }

    // Advance every key's candidate states.
    for (int t = 0; t < kThreads; t++) {
      for (const Op& op : ops[t]) {
        history_.push_back("iteration " + std::to_string(it) + ": " + op.Describe());
        std::vector<KeyState>& cands = cands_[t][op.idx];
        std::vector<KeyState> next;
        auto add = [&next](const KeyState& s) {
          if (std::find(next.begin(), next.end(), s) == next.end()) next.push_back(s);
        };
        for (const KeyState& c : cands) {
          if (!op.done) add(c);  // in flight: it may not have happened
          KeyState after = c;
          if (Apply(op, &after, op.done ? op.t1 : kill_time)) add(after);
        }
        if (op.done) {
          pending_acked_++;
        } else {
          stats_.inflight++;
          pending_inflight_.push_back(op);
        }
        ASSERT_FALSE(next.empty())
            << "iteration " << it << ": " << op.Describe()
            << " reported a result that no possible state of the key explains";
        ASSERT_LE(next.size(), 64u) << "candidate states exploded";
        cands = std::move(next);
      }
    }
    stats_.iterations++;
    if (NewestFileIsTorn()) {
      stats_.torn_tails++;
    } else if (rng() % 3 == 0) {
      // SIGKILL seldom lands inside a write(2) (the kernel stops a write only
      // between page-cache folios), so in 1 of 3 iterations where it did not
      // tear the file, tear it here as an interrupted write would have.
      if (AppendSimulatedTail(&rng) >= 0) stats_.simulated_tails++;
    }

    // Most iterations verify now; 1 in 4 leaves recovery to the next child
    // (always verify at the end).
    const bool verify = it + 1 == iters || rng() % 4 != 0;
    if (verify) {
      Verify(v, it);
      if (HasFatalFailure() || HasFailure()) return;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ crash    ] " << v.name << ": " << stats_.iterations << " iterations ("
            << stats_.verifications << " verified, " << stats_.killed_before_ready
            << " killed before open finished), " << stats_.acked
            << " acknowledged ops verified, " << stats_.inflight << " in flight at the kill ("
            << stats_.inflight_landed << " puts seen landed), " << stats_.torn_tails
            << " torn tails left by the kill + " << stats_.simulated_tails
            << " simulated, all recovered; store up to " << stats_.max_store_bytes / 1024
            << " KiB in " << stats_.max_data_files << " data files";
  if (stats_.fresh_stores) std::cout << " (" << stats_.fresh_stores << " times started afresh)";
  std::cout << "; " << secs << " s\n";
  EXPECT_EQ(stats_.iterations, iters);
  EXPECT_GT(stats_.acked, 0u);
}

// What a crash in the middle of writing an atomic batch leaves: some of the
// batch's records complete, the commit record missing. Recovery must drop the
// whole batch and truncate it like any torn tail (docs/Format.md): it is not
// damage, so nothing is set aside in a .damaged file. A committed batch at the
// tail is applied whole.
TEST_F(CrashTest, BatchesAtTheTail) {
  auto append = [&](const std::string& bytes) {
    std::unique_ptr<WritableFile> f;
    ASSERT_TRUE(Env::Default()->NewAppendableFile(NewestDataFile(), &f).ok());
    ASSERT_TRUE(f->Append(bytes).ok());
    ASSERT_TRUE(f->Close().ok());
  };
  auto batch_put = [](std::string* out, const std::string& key, const std::string& value) {
    internal::RecordHeader h;
    h.timestamp = NowNanos();
    h.flags = internal::kFlagBatch;
    internal::AppendRecord(out, h, key, value, 256);
  };
  auto batch_delete = [](std::string* out, const std::string& key) {
    internal::RecordHeader h;
    h.timestamp = NowNanos();
    h.flags = internal::kFlagBatch | internal::kFlagTombstone;
    internal::AppendRecord(out, h, key, "", 0);
  };
  auto commit = [](std::string* out, uint32_t n) {
    internal::RecordHeader h;
    h.flags = internal::kFlagBatchCommit;
    std::string count(4, '\0');
    for (int i = 0; i < 4; i++) count[i] = static_cast<char>(n >> (8 * i));
    internal::AppendRecord(out, h, "", count, 0);
  };
  auto expect = [&](const char* when, const std::string& k1, const std::string& k2) {
    std::unique_ptr<DB> db;
    Status s = DB::Open(store_, Options(), &db);
    ASSERT_TRUE(s.ok()) << when << ": " << s.ToString();
    std::string v;
    EXPECT_TRUE(db->Get("k1", &v).ok()) << when;
    EXPECT_EQ(v, k1) << when;
    v.clear();
    s = db->Get("k2", &v);
    if (k2.empty()) {
      EXPECT_TRUE(s.IsNotFound()) << when << ": " << s.ToString();
    } else {
      EXPECT_TRUE(s.ok()) << when << ": " << s.ToString();
      EXPECT_EQ(v, k2) << when;
    }
    EXPECT_TRUE(db->Get("k3", &v).ok()) << when;
    EXPECT_EQ(v, "v3") << when;
    EXPECT_TRUE(db->Close().ok());
  };
  {
    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(store_, Options(), &db).ok());
    ASSERT_TRUE(db->Put("k1", "v1").ok());
    ASSERT_TRUE(db->Put("k2", "v2").ok());
    ASSERT_TRUE(db->Put("k3", "v3").ok());
    ASSERT_TRUE(db->Close().ok());
  }
  const std::string path = NewestDataFile();
  ASSERT_FALSE(path.empty());
  uint64_t size0 = 0, size = 0;
  ASSERT_TRUE(Env::Default()->GetFileSize(path, &size0).ok());

  // Two complete batch records, no commit.
  std::string torn;
  batch_put(&torn, "k1", "new1");
  batch_delete(&torn, "k2");
  append(torn);
  expect("uncommitted batch of two records", "v1", "v2");
  ASSERT_TRUE(Env::Default()->GetFileSize(path, &size).ok());
  EXPECT_EQ(size, size0) << "the uncommitted batch was not truncated away";
  uint64_t bytes = 0;
  int files = 0;
  CheckDirectory(&bytes, &files);  // no .damaged-* file for a torn batch
  {
    // Remove any, so that the steps below are judged on their own.
    std::vector<std::string> names;
    ASSERT_TRUE(Env::Default()->GetChildren(store_ + "/data", &names).ok());
    for (const std::string& n : names) {
      if (n.find(".damaged-") != std::string::npos) {
        ASSERT_TRUE(Env::Default()->RemoveFile(store_ + "/data/" + n).ok());
      }
    }
  }

  // One complete batch record and part of the commit.
  ASSERT_TRUE(Env::Default()->TruncateFile(path, size0).ok());
  torn.clear();
  batch_put(&torn, "k1", "new1");
  std::string c;
  commit(&c, 2);
  torn += c.substr(0, c.size() - 1);
  append(torn);
  expect("batch with a torn commit record", "v1", "v2");
  CheckDirectory(&bytes, &files);

  // A committed batch, then a torn record: the batch counts, the tail goes.
  ASSERT_TRUE(Env::Default()->TruncateFile(path, size0).ok());
  std::string good;
  batch_put(&good, "k1", "new1");
  batch_delete(&good, "k2");
  commit(&good, 2);
  std::string tail;
  internal::RecordHeader h;
  internal::AppendRecord(&tail, h, "k3", "lost", 0);
  tail.resize(tail.size() / 2);
  append(good + tail);
  expect("committed batch, torn record after it", "new1", "");
  ASSERT_TRUE(Env::Default()->GetFileSize(path, &size).ok());
  EXPECT_EQ(size, size0 + good.size());
  CheckDirectory(&bytes, &files);
}

// Persist and Expire change a live key's expiry with a metadata record that
// follows the put. Once the put's original expiry has passed, the key must
// still be live after a reopen, exactly as it was before: whether the put is
// replayed from the newest data file, from an older file's hint, or by a
// validating scan.
TEST_F(CrashTest, TtlChangesSurviveReopen) {
  Options o;
  o.max_data_file_size = 4096;  // every put below fills a data file of its own
  const std::string filler = MakeValue(42, 5000, 0);  // incompressible
  const int64_t soon = NowNanos() + 400 * 1000000ll;  // the original expiry
  const int64_t later = NowNanos() + 3600 * 1000000000ll;
  {
    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(store_, o, &db).ok());
    WriteOptions wo;
    wo.expires_at_unix_ns = soon;
    // "old-*": the put lands in a file that is closed (and hinted) before the
    // metadata record is written; "new-*": put and metadata in the newest file.
    ASSERT_TRUE(db->Put(wo, "old-persist", "a").ok());
    ASSERT_TRUE(db->Put(wo, "old-expire", "b").ok());
    ASSERT_TRUE(db->Put(wo, "old-plain", "c").ok());  // really expires
    ASSERT_TRUE(db->Put("filler", filler).ok());       // rotates
    ASSERT_TRUE(db->Put("filler2", filler).ok());      // rotates again
    ASSERT_TRUE(db->Persist("old-persist").ok());
    ASSERT_TRUE(db->ExpireAt("old-expire", later).ok());
    ASSERT_TRUE(db->Put(wo, "new-persist", "d").ok());
    ASSERT_TRUE(db->Put(wo, "new-expire", "e").ok());
    ASSERT_TRUE(db->Persist("new-persist").ok());
    ASSERT_TRUE(db->ExpireAt("new-expire", later).ok());
    // Past the original expiry the open store still has them (and the
    // background thread has had time to write the closed files' hints).
    while (NowNanos() < soon + 100 * 1000000ll) ::usleep(10000);
    std::string v;
    for (const char* key : {"old-persist", "old-expire", "new-persist", "new-expire"}) {
      EXPECT_TRUE(db->Get(key, &v).ok()) << key;
    }
    EXPECT_TRUE(db->Get("old-plain", &v).IsNotFound());
    ASSERT_TRUE(db->Close().ok());
  }

  for (bool validate : {false, true}) {
    SCOPED_TRACE(validate ? "validate_on_open" : "hints");
    Options ro = o;
    ro.validate_on_open = validate;
    std::unique_ptr<DB> db;
    Status s = DB::Open(store_, ro, &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::string v;
    RecordMeta m;
    for (auto [key, value, expires] :
         {std::make_tuple("old-persist", "a", int64_t{0}), std::make_tuple("old-expire", "b", later),
          std::make_tuple("new-persist", "d", int64_t{0}),
          std::make_tuple("new-expire", "e", later)}) {
      s = db->Get(key, &v);
      EXPECT_TRUE(s.ok()) << key << " was acknowledged live until "
                          << (expires ? "an hour from now" : "forever")
                          << " but is gone after reopening: " << s.ToString();
      if (s.ok()) {
        EXPECT_EQ(v, value) << key;
        ASSERT_TRUE(db->Meta(key, &m).ok());
        EXPECT_EQ(m.expires_unix_ns, expires) << key;
      }
    }
    s = db->Get("old-plain", &v);
    EXPECT_TRUE(s.IsNotFound()) << s.ToString();
    ASSERT_TRUE(db->Close().ok());
  }
}

TEST_F(CrashTest, SyncOnPut) { Run(Variant{"sync_on_put, 8 MiB files", true, 8 << 20}); }

TEST_F(CrashTest, SyncOnPutTinyFiles) { Run(Variant{"sync_on_put, 64 KiB files", true, 64 << 10}); }

TEST_F(CrashTest, NoSyncSurvivesProcessCrash) {
  Run(Variant{"sync_on_put=false, 1 MiB files", false, 1 << 20});
}

}  // namespace
}  // namespace bitgask
