// Crash test for merges and atomic batches: a child process runs forced
// merges back to back while writer threads do puts, overwrites, deletes and
// atomic WriteBatches; the parent kills it with SIGKILL at random moments
// (many of them while a merge or a batch commit is under way), reopens the
// store and checks it against a model. The same store is used for every
// iteration, so each child starts from what the previous crash left.
//
// How it works
// - The parent fork+execs its own binary (/proc/self/exe) with
//   --gtest_filter=CrashMergeChild.Run and BITGASK_CRASH_MERGE_CHILD=<store>
//   in the environment; that test does nothing unless the variable is set.
//   The child reports through a pipe (fd 100), one line per write(2), each
//   shorter than PIPE_BUF, so lines never interleave:
//     R                              store open, threads starting
//     B t seq P j len / B t seq D j  a regular put / delete of key r:t:j begins
//     B t seq W slot mask len dup    a batch on slot (t, slot) begins
//     D t seq                        the operation returned OK
//     MB / ME / MF status            a merge begins / ends / failed
//   Operation `seq` of thread t writes values derived from "gen.t.seq" alone,
//   so the parent can recompute every byte.
// - Each writer thread owns its keys: regular keys r:t:j and batch slots. A
//   batch on slot (t, s) writes every key b:t:s:m of the slot: a put of the
//   batch's value where bit m of mask is set, a delete otherwise, after a
//   put of junk to one of the keys (the later op must win). So whatever the
//   store shows for a slot must be exactly one batch's outcome: a torn batch
//   shows a mix.
// - For every key and slot the parent keeps the states it may be in: the
//   one after the last acknowledged operation plus those of operations begun
//   but not acknowledged. After the kill (and recovery) the store must show
//   one of them; nothing may be Corruption, no unknown key may appear, and
//   DB::Validate must find the store sound. Some iterations skip the check
//   and leave recovery to the next child (checked one iteration later).
//
// Variants: 1 MiB data files, and 64 KiB data files (merges of many files).
// Default: about 20 s per variant. BITGASK_CRASH_ITERS=<n> runs n iterations
// per variant instead; BITGASK_CRASH_SEED=<n> fixes the seed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bitgask/db.h"
#include "bitgask/options.h"
#include "bitgask/status.h"
#include "bitgask/write_batch.h"

extern char** environ;

namespace bitgask {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kThreads = 3;
constexpr int kRegularKeys = 120;  // per thread
constexpr int kSlots = 24;         // batch slots per thread
constexpr int kChildFd = 100;

int SlotSize(int slot) { return 3 + slot % 4; }  // keys per slot: 3..6

std::string RegKey(int t, int j) {
  char b[32];
  std::snprintf(b, sizeof(b), "r:%d:%03d", t, j);
  return b;
}
std::string SlotKey(int t, int s, int m) {
  char b[32];
  std::snprintf(b, sizeof(b), "b:%d:%02d:%d", t, s, m);
  return b;
}

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The value of operation vid ("gen.t.seq"): vid, '|', then deterministic bytes.
std::string MakeValue(const std::string& vid, size_t len) {
  std::string v = vid + "|";
  uint64_t x = std::hash<std::string>()(vid);
  while (v.size() < len) {
    x = Mix(x);
    for (int i = 0; i < 8 && v.size() < len; i++) v.push_back(static_cast<char>(x >> (8 * i)));
  }
  return v;
}

std::string Vid(uint64_t gen, int t, uint64_t seq) {
  return std::to_string(gen) + "." + std::to_string(t) + "." + std::to_string(seq);
}

// ------------------------------------------------------------------ child

void Emit(const std::string& line) {
  std::string l = line + "\n";
  if (::write(kChildFd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) ::_exit(5);
}

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s.substr(0, 300);
}

void ChildWriter(DB* db, uint64_t gen, int t, uint64_t seed) {
  std::mt19937_64 rng(seed * 1000 + t);
  for (uint64_t seq = 1;; seq++) {
    const std::string vid = Vid(gen, t, seq);
    const std::string tag = std::to_string(t) + " " + std::to_string(seq);
    const int r = static_cast<int>(rng() % 100);
    Status s;
    if (r < 35) {
      const int slot = static_cast<int>(rng() % kSlots);
      const int k = SlotSize(slot);
      const int pick = static_cast<int>(rng() % 10);
      uint32_t mask = pick < 2 ? 0 : pick < 6 ? (1u << k) - 1 : static_cast<uint32_t>(rng() % (1u << k));
      const size_t len = 30 + rng() % 300;
      const int dup = static_cast<int>(rng() % k);
      WriteBatch b;
      b.Put(SlotKey(t, slot, dup), "junk " + vid);
      const std::string v = MakeValue(vid, len);
      for (int m = 0; m < k; m++) {
        if (mask & (1u << m)) {
          b.Put(SlotKey(t, slot, m), v);
        } else {
          b.Delete(SlotKey(t, slot, m));
        }
      }
      Emit("B " + tag + " W " + std::to_string(slot) + " " + std::to_string(mask) + " " +
           std::to_string(len) + " " + std::to_string(dup));
      s = db->Write(WriteOptions(), b);
    } else if (r < 80) {
      const int j = static_cast<int>(rng() % kRegularKeys);
      const size_t len = rng() % 4 == 0 ? 1000 + rng() % 3000 : 20 + rng() % 400;
      Emit("B " + tag + " P " + std::to_string(j) + " " + std::to_string(len));
      s = db->Put(RegKey(t, j), MakeValue(vid, len));
    } else {
      const int j = static_cast<int>(rng() % kRegularKeys);
      Emit("B " + tag + " D " + std::to_string(j));
      s = db->Delete(RegKey(t, j));
    }
    if (!s.ok()) {
      Emit("E " + tag + " " + OneLine(s.ToString()));
      ::_exit(6);
    }
    Emit("D " + tag);
  }
}

void ChildMerger(DB* db, uint64_t seed) {
  std::mt19937_64 rng(seed * 77 + 1);
  MergeOptions mo;
  mo.force = true;
  for (;;) {
    Emit("MB");
    MergeResult r;
    Status s = db->Merge(mo, &r);
    if (!s.ok()) {
      Emit("MF " + OneLine(s.ToString()));
      ::_exit(7);
    }
    Emit("ME " + std::to_string(r.files_in) + " " + std::to_string(r.files_out));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 15));
  }
}

[[noreturn]] void RunChild(const std::string& path) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::alarm(120);  // never outlive a stuck parent for long
  const uint64_t gen = std::strtoull(std::getenv("BITGASK_CRASH_MERGE_GEN"), nullptr, 10);
  const uint64_t seed = std::strtoull(std::getenv("BITGASK_CRASH_MERGE_SEED"), nullptr, 10);
  Options o;
  o.sync_on_put = o.sync_on_delete = true;
  o.merge_interval = std::chrono::milliseconds(0);
  o.max_data_file_size = std::strtoull(std::getenv("BITGASK_CRASH_MERGE_MAXFILE"), nullptr, 10);
  std::unique_ptr<DB> db;
  Status s = DB::Open(path, o, &db);
  if (!s.ok()) {
    Emit("E open " + OneLine(s.ToString()));
    ::_exit(4);
  }
  Emit("R");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) threads.emplace_back(ChildWriter, db.get(), gen, t, seed);
  threads.emplace_back(ChildMerger, db.get(), seed);
  for (;;) ::pause();
}

// Not a test of its own: the body of the re-executed child process.
TEST(CrashMergeChild, Run) {
  const char* path = std::getenv("BITGASK_CRASH_MERGE_CHILD");
  if (path != nullptr) RunChild(path);
}

// ------------------------------------------------------------------ model

using KeyState = std::optional<std::string>;  // nullopt: absent

struct SlotState {
  uint32_t mask = 0;  // keys present; 0: the slot is empty
  std::string value;  // their value
  bool operator==(const SlotState& o) const {
    return mask == o.mask && (mask == 0 || value == o.value);
  }
};

struct InFlight {
  bool active = false;
  uint64_t seq = 0;
  char kind = 0;  // P, D, W
  int index = 0;  // j or slot
  KeyState key_state;
  SlotState slot_state;
};

template <typename T>
void AddPossible(std::vector<T>* v, const T& s) {
  if (std::find(v->begin(), v->end(), s) == v->end()) v->push_back(s);
}

std::string Show(const KeyState& s) {
  if (!s) return "absent";
  const size_t bar = s->find('|');
  return "value of op " + s->substr(0, bar) + " (" + std::to_string(s->size()) + " bytes)";
}
std::string Show(const SlotState& s) {
  if (s.mask == 0) return "empty";
  return "mask " + std::to_string(s.mask) + " " + Show(KeyState(s.value));
}

class Model {
 public:
  Model() : regular_(kThreads), slots_(kThreads), inflight_(kThreads) {
    for (int t = 0; t < kThreads; t++) {
      regular_[t].assign(kRegularKeys, {KeyState()});
      slots_[t].assign(kSlots, {SlotState()});
    }
  }

  // Applies one line from the child; "" or an error.
  std::string Line(const std::string& line, uint64_t gen) {
    std::istringstream in(line);
    std::string what;
    in >> what;
    if (what == "B") {
      int t;
      uint64_t seq;
      char kind;
      in >> t >> seq >> kind;
      if (!in || t < 0 || t >= kThreads) return "bad line: " + line;
      InFlight& f = inflight_[t];
      if (f.active) return "thread " + std::to_string(t) + " began an op before the last ended";
      f = InFlight();
      f.active = true;
      f.seq = seq;
      f.kind = kind;
      const std::string vid = Vid(gen, t, seq);
      if (kind == 'P' || kind == 'D') {
        size_t len = 0;
        in >> f.index;
        if (kind == 'P') in >> len;
        if (!in || f.index < 0 || f.index >= kRegularKeys) return "bad line: " + line;
        if (kind == 'P') f.key_state = MakeValue(vid, len);
        AddPossible(&regular_[t][f.index], f.key_state);
      } else if (kind == 'W') {
        uint32_t mask;
        size_t len;
        int dup;
        in >> f.index >> mask >> len >> dup;
        if (!in || f.index < 0 || f.index >= kSlots) return "bad line: " + line;
        f.slot_state.mask = mask;
        if (mask) f.slot_state.value = MakeValue(vid, len);
        AddPossible(&slots_[t][f.index], f.slot_state);
      } else {
        return "bad line: " + line;
      }
      return "";
    }
    if (what == "D") {
      int t;
      uint64_t seq;
      in >> t >> seq;
      if (!in || t < 0 || t >= kThreads) return "bad line: " + line;
      InFlight& f = inflight_[t];
      if (!f.active || f.seq != seq) return "done without begin: " + line;
      if (f.kind == 'W') {
        slots_[t][f.index] = {f.slot_state};
        acked_batches_++;
      } else {
        regular_[t][f.index] = {f.key_state};
        acked_ops_++;
      }
      f.active = false;
      return "";
    }
    return "unknown line: " + line;
  }

  int InFlightBatches() const {
    int n = 0;
    for (const auto& f : inflight_) n += f.active && f.kind == 'W';
    return n;
  }

  // After a kill: in-flight operations stay possible, the threads are gone.
  void Killed() {
    for (auto& f : inflight_) f = InFlight();
  }

  // Checks the open store; every key and slot then has the state it shows.
  // Returns the problems found (empty when sound).
  std::vector<std::string> Verify(DB* db, uint64_t* checked) {
    std::vector<std::string> problems;
    auto problem = [&](const std::string& p) {
      if (problems.size() < 20) problems.push_back(p);
    };
    auto read = [&](const std::string& key, KeyState* out) -> bool {
      std::string v;
      Status s = db->Get(key, &v);
      if (s.ok()) {
        *out = v;
        return true;
      }
      if (s.IsNotFound()) {
        *out = std::nullopt;
        return true;
      }
      problem("Get(" + key + "): " + s.ToString());
      return false;
    };
    uint64_t present = 0;
    for (int t = 0; t < kThreads; t++) {
      for (int j = 0; j < kRegularKeys; j++) {
        KeyState got;
        if (!read(RegKey(t, j), &got)) continue;
        auto& poss = regular_[t][j];
        if (std::find(poss.begin(), poss.end(), got) == poss.end()) {
          std::string want;
          for (const auto& p : poss) want += (want.empty() ? "" : " or ") + Show(p);
          problem(RegKey(t, j) + " is " + Show(got) + ", expected " + want);
        } else {
          (*checked)++;
        }
        poss = {got};
        present += got.has_value();
      }
      for (int s = 0; s < kSlots; s++) {
        const int k = SlotSize(s);
        std::vector<KeyState> got(k);
        bool ok = true;
        for (int m = 0; m < k; m++) ok = read(SlotKey(t, s, m), &got[m]) && ok;
        if (!ok) continue;
        auto& poss = slots_[t][s];
        const SlotState* match = nullptr;
        for (const SlotState& p : poss) {
          bool same = true;
          for (int m = 0; m < k && same; m++) {
            same = (p.mask & (1u << m)) ? got[m] && *got[m] == p.value : !got[m];
          }
          if (same) {
            match = &p;
            break;
          }
        }
        for (int m = 0; m < k; m++) present += got[m].has_value();
        if (match == nullptr) {
          std::string shown, want;
          for (int m = 0; m < k; m++) shown += " [" + std::to_string(m) + "] " + Show(got[m]);
          for (const auto& p : poss) want += (want.empty() ? "" : " or ") + Show(p);
          problem("batch slot " + std::to_string(t) + ":" + std::to_string(s) +
                  " is torn or lost:" + shown + "; expected " + want);
          // Continue with what is there, as a slot state if it is one.
          poss.clear();
          continue;
        }
        (*checked)++;
        SlotState m = *match;
        poss = {m};
      }
    }
    // Nothing else in the store.
    std::vector<std::string> keys;
    Status s = db->Keys(&keys);
    if (!s.ok()) {
      problem("Keys: " + s.ToString());
    } else {
      if (keys.size() != present) {
        problem("Keys() lists " + std::to_string(keys.size()) + " keys, the model " +
                std::to_string(present));
      }
      for (const std::string& k : keys) {
        int t, a, b;
        char c;
        bool known = (std::sscanf(k.c_str(), "r:%d:%d%c", &t, &a, &c) == 2 && t >= 0 &&
                      t < kThreads && a >= 0 && a < kRegularKeys) ||
                     (std::sscanf(k.c_str(), "b:%d:%d:%d%c", &t, &a, &b, &c) == 3 && t >= 0 &&
                      t < kThreads && a >= 0 && a < kSlots && b >= 0 && b < SlotSize(a));
        if (!known) problem("unknown key in the store: " + k);
      }
    }
    DBStats st;
    s = db->Stats(&st);
    if (!s.ok() || st.keys != present) {
      problem("Stats().keys " + std::to_string(st.keys) + ", model " + std::to_string(present));
    }
    return problems;
  }

  uint64_t acked_ops() const { return acked_ops_; }
  uint64_t acked_batches() const { return acked_batches_; }

 private:
  std::vector<std::vector<std::vector<KeyState>>> regular_;
  std::vector<std::vector<std::vector<SlotState>>> slots_;
  std::vector<InFlight> inflight_;
  uint64_t acked_ops_ = 0, acked_batches_ = 0;
};

// ------------------------------------------------------------------ parent

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/bitgask_crash_merge.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    char* p = mkdtemp(buf.data());
    if (p == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    path_ = p;
  }
  ~TempDir() {
    if (path_.empty()) return;
    if (::testing::Test::HasFailure()) {
      std::fprintf(stderr, "keeping %s for inspection\n", path_.c_str());
      return;
    }
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A running child; killed and reaped when destroyed.
class Child {
 public:
  ~Child() {
    Kill();
    if (fd_ >= 0) ::close(fd_);
  }

  bool Start(const std::string& store, const std::string& log, uint64_t gen, uint64_t seed,
             uint64_t max_file) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return false;
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; e++) {
      if (std::strncmp(*e, "BITGASK_CRASH_MERGE_", 20) != 0) env_strings.push_back(*e);
    }
    env_strings.push_back("BITGASK_CRASH_MERGE_CHILD=" + store);
    env_strings.push_back("BITGASK_CRASH_MERGE_GEN=" + std::to_string(gen));
    env_strings.push_back("BITGASK_CRASH_MERGE_SEED=" + std::to_string(seed));
    env_strings.push_back("BITGASK_CRASH_MERGE_MAXFILE=" + std::to_string(max_file));
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string arg0 = "crash_merge_child", arg1 = "--gtest_filter=CrashMergeChild.Run";
    char* argv[] = {arg0.data(), arg1.data(), nullptr};
    const int logfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int nullfd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      ::dup2(p[1], kChildFd);  // dup2 clears FD_CLOEXEC on the new descriptor
      if (nullfd >= 0) ::dup2(nullfd, 1);
      if (logfd >= 0) ::dup2(logfd, 2);
      ::execve("/proc/self/exe", argv, envp.data());
      ::_exit(127);
    }
    ::close(p[1]);
    if (logfd >= 0) ::close(logfd);
    if (nullfd >= 0) ::close(nullfd);
    fd_ = p[0];
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
    return true;
  }

  // Reads what is available within timeout_ms; complete lines go to *lines.
  // False once the child closed its end (exited).
  bool Read(int timeout_ms, std::vector<std::string>* lines) {
    pollfd pfd{fd_, POLLIN, 0};
    int r = ::poll(&pfd, 1, timeout_ms);
    if (r <= 0) return true;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n > 0) {
        partial_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {
        Split(lines);
        return false;
      }
      if (errno == EINTR) continue;
      break;  // EAGAIN
    }
    Split(lines);
    return true;
  }

  // SIGKILL and reap; then drain every line the child wrote before dying.
  void Kill(std::vector<std::string>* lines = nullptr) {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
    if (lines != nullptr && fd_ >= 0) {
      while (Read(0, lines)) {
      }
    }
  }

  // The child exited by itself: its status, reaped.
  std::string Reap() {
    if (pid_ <= 0) return "reaped";
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
  }

 private:
  void Split(std::vector<std::string>* lines) {
    size_t start = 0, nl;
    while ((nl = partial_.find('\n', start)) != std::string::npos) {
      lines->push_back(partial_.substr(start, nl - start));
      start = nl + 1;
    }
    partial_.erase(0, start);
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string partial_;  // an incomplete last line (dropped at the kill)
};

std::string Tail(const std::string& path, size_t n = 3000) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s.size() > n ? s.substr(s.size() - n) : s;
}

struct Summary {
  int iterations = 0, verified = 0, kills_mid_merge = 0, kills_mid_batch = 0;
  uint64_t merges = 0, checked = 0;
};

void RunCrashLoop(uint64_t max_file, const char* name) {
  uint64_t seed = static_cast<uint64_t>(std::random_device()());
  if (const char* s = std::getenv("BITGASK_CRASH_SEED")) seed = std::strtoull(s, nullptr, 10);
  int iters = 200;
  double budget_s = 20;
  if (const char* s = std::getenv("BITGASK_CRASH_ITERS")) {
    iters = std::atoi(s);
    budget_s = 1e9;
  }
  std::printf("[ %s ] seed %llu (BITGASK_CRASH_SEED to repeat)\n", name,
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string store = dir.path() + "/store";
  const std::string log = dir.path() + "/child.log";
  Model model;
  Summary sum;
  double merge_avg_s = 0.02;
  const auto started = Clock::now();
  bool pending = false;  // a kill not yet checked by the parent

  auto verify = [&](int it, bool mid_merge) {
    pending = false;
    Options o;
    o.merge_interval = std::chrono::milliseconds(0);
    o.max_data_file_size = max_file;
    o.use_hint_files = it % 3 != 1;
    o.validate_on_open = it % 3 == 2;
    std::unique_ptr<DB> db;
    Status s = DB::Open(store, o, &db);
    ASSERT_TRUE(s.ok()) << "reopen after the kill: " << s.ToString();
    const std::vector<std::string> problems = model.Verify(db.get(), &sum.checked);
    for (const std::string& p : problems) ADD_FAILURE() << p;
    ASSERT_TRUE(problems.empty()) << "after kill " << it << (mid_merge ? " (mid-merge)" : "");
    ASSERT_TRUE(db->Close().ok());
    db.reset();
    ValidateReport vr;
    s = DB::Validate(store, &vr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (const auto& p : vr.corrupt) {
      ADD_FAILURE() << "corrupt: " << p.file << " @" << p.offset << ": " << p.what;
    }
    for (const auto& p : vr.hint_problems) {
      ADD_FAILURE() << "hint problem: " << p.file << " @" << p.offset << ": " << p.what;
    }
    ASSERT_TRUE(vr.ok());
    sum.verified++;
  };

  for (int it = 0; it < iters; it++) {
    if (std::chrono::duration<double>(Clock::now() - started).count() > budget_s) break;
    SCOPED_TRACE("iteration " + std::to_string(it));
    const uint64_t gen = it + 1;
    Child child;
    ASSERT_TRUE(child.Start(store, log, gen, seed + it, max_file));
    std::vector<std::string> lines;
    bool ready = false, alive = true, merging = false;
    Clock::time_point merge_began;
    std::string child_error;
    auto pump = [&](int timeout_ms) {
      lines.clear();
      alive = child.Read(timeout_ms, &lines) && alive;
      for (const std::string& l : lines) {
        if (l == "R") {
          ready = true;
        } else if (l == "MB") {
          merging = true;
          merge_began = Clock::now();
        } else if (l.compare(0, 2, "ME") == 0) {
          merging = false;
          sum.merges++;
          const double d = std::chrono::duration<double>(Clock::now() - merge_began).count();
          merge_avg_s = 0.8 * merge_avg_s + 0.2 * d;
        } else if (l.compare(0, 2, "MF") == 0 || l.compare(0, 1, "E") == 0) {
          child_error = l;
        } else {
          const std::string err = model.Line(l, gen);
          if (!err.empty()) child_error = "protocol: " + err;
        }
      }
    };

    // Wait for the child to recover and start.
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (!ready && alive && child_error.empty() && Clock::now() < deadline) pump(50);
    ASSERT_TRUE(ready) << "child did not start (" << (alive ? "timeout" : child.Reap())
                       << "): " << child_error << "\nchild log:\n" << Tail(log);

    // Pick the moment of the kill.
    const int mode = static_cast<int>(rng() % 10);
    const auto min_run = Clock::now() + std::chrono::milliseconds(20 + rng() % 200);
    while (Clock::now() < min_run && alive && child_error.empty()) pump(5);
    if (mode < 5) {
      // Mid-merge: at a random point of a merge that is under way.
      for (int tries = 0; tries < 50 && alive && child_error.empty(); tries++) {
        while (!merging && alive && child_error.empty()) pump(2);
        const double at = std::uniform_real_distribution<double>(0, 1.2)(rng) * merge_avg_s;
        const auto when = merge_began + std::chrono::microseconds(static_cast<int64_t>(at * 1e6));
        while (Clock::now() < when && merging && alive && child_error.empty()) pump(1);
        if (merging) break;
      }
    } else if (mode < 7) {
      // Mid-batch: right after a batch began.
      for (int tries = 0; tries < 200 && alive && child_error.empty(); tries++) {
        pump(2);
        if (model.InFlightBatches() > 0) break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    } else {
      const auto when = Clock::now() + std::chrono::milliseconds(rng() % 500);
      while (Clock::now() < when && alive && child_error.empty()) pump(5);
    }
    ASSERT_TRUE(alive) << "child died by itself (" << child.Reap() << "): " << child_error
                       << "\nchild log:\n" << Tail(log);
    const bool mid_merge = merging;
    lines.clear();
    child.Kill(&lines);
    for (const std::string& l : lines) {  // what it wrote before dying
      if (l == "MB" || l.compare(0, 2, "ME") == 0 || l.compare(0, 2, "MF") == 0 || l[0] == 'E') {
        if (l.compare(0, 2, "MF") == 0 || l[0] == 'E') child_error = l;
        if (l == "MB") merging = true;
        if (l.compare(0, 2, "ME") == 0) merging = false;
      } else if (l != "R") {
        const std::string err = model.Line(l, gen);
        if (!err.empty()) child_error = "protocol: " + err;
      }
    }
    ASSERT_TRUE(child_error.empty()) << child_error << "\nchild log:\n" << Tail(log);
    sum.iterations++;
    if (mid_merge || merging) sum.kills_mid_merge++;
    if (model.InFlightBatches() > 0) sum.kills_mid_batch++;
    model.Killed();

    // Check now, or let the next child recover first (checked next time).
    pending = true;
    if (rng() % 4 == 0 && it + 1 < iters) continue;
    verify(it, mid_merge);
    if (::testing::Test::HasFatalFailure()) return;
  }
  if (pending) {
    SCOPED_TRACE("final check");
    verify(sum.iterations, false);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::printf("[ %s ] %d iterations (%d checked by the parent), %d kills during a merge, %d with "
              "a batch in flight; %llu merges completed; %llu acknowledged puts/deletes and "
              "%llu batches; %llu key/slot states verified; %.1f s\n",
              name, sum.iterations, sum.verified, sum.kills_mid_merge, sum.kills_mid_batch,
              static_cast<unsigned long long>(sum.merges),
              static_cast<unsigned long long>(model.acked_ops()),
              static_cast<unsigned long long>(model.acked_batches()),
              static_cast<unsigned long long>(sum.checked),
              std::chrono::duration<double>(Clock::now() - started).count());
  EXPECT_GE(sum.iterations, 5);
  EXPECT_GT(sum.kills_mid_merge, 0);
  EXPECT_GT(sum.merges, 0u);
}

TEST(CrashMergeTest, KillDuringMergesAndBatches) { RunCrashLoop(1 << 20, "1 MiB files"); }

TEST(CrashMergeTest, KillDuringMergesOfManySmallFiles) { RunCrashLoop(64 << 10, "64 KiB files"); }

}  // namespace
}  // namespace bitgask
