// engine_kill_test: a real process does mixed puts, deletes, atomic batches
// and puts with TTLs (sync on; a quarter with Sync::kNever, which must
// survive a crash of the process too) from several threads while another
// thread forces merges; it is killed with SIGKILL at random moments, and the
// store is reopened and checked against a model of every acknowledged
// operation.
//
//   engine_kill_test                                   the driver (make check)
//   engine_kill_test child STORE ACKLOG SEED MAXFILE   the process it kills
//
// The child appends to ACKLOG (O_APPEND, one write(2) per line, so lines
// never interleave and survive the kill):
//   R                         the store is open, writers start
//   B w seq t0 OP             writer w begins operation seq (EngineOp text) at t0
//   A w seq t1                ...which returned OK at t1
//   MB / ME                   a forced merge begins / ends
//   E message                 an unexpected error (the child then exits 3)
// An operation with B but no A was in flight: it may have happened whole or
// not at all (KeyModel). The driver kills 1 in 8 children within 30 ms of
// their start (during open and recovery), the others 2 to 400 ms (1 in 8:
// up to 2 s) after they report R. Then, in 3 of 4 iterations (always when
// the candidate states pile up, and at the end), it opens the store itself
// and checks every writer's keys against the model, that no other key
// exists, that nothing was set aside as damaged, and every fifth check that
// Validate finds the store sound; otherwise the next child's own recovery is
// what the next check judges. Data files are 32 KiB to 2 MiB (chosen per
// iteration), so kills land around rotations, hint writing and merges too.
//
// Budget: harness.h (default 35 s; BITGASK_CRASH_SECONDS=3600 for an hour).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <deque>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bitgask/db.h"
#include "bitgask/options.h"
#include "crash_model.h"
#include "engine_workload.h"
#include "harness.h"

namespace bitgask {
namespace crash {
namespace {

constexpr int kWriters = 3;

Options StoreOptions(uint64_t max_file) {
  Options o;
  o.sync_on_put = o.sync_on_delete = true;
  o.max_data_file_size = max_file;
  o.merge_interval = std::chrono::seconds(0);  // merges come from the merge thread
  return o;
}

// ------------------------------------------------------------------ child

int g_ack = -1;

void Emit(const std::string& line) {
  const std::string l = line + "\n";
  if (::write(g_ack, l.data(), l.size()) != static_cast<ssize_t>(l.size())) ::_exit(6);
}

void Writer(DB* db, int w, uint64_t seed) {
  std::mt19937_64 rng(seed * 31 + static_cast<uint64_t>(w));
  for (uint64_t seq = 0;; seq++) {
    const EngineOp op = RandomOp(&rng);
    Emit("B " + std::to_string(w) + " " + std::to_string(seq) + " " +
         std::to_string(WallNanos()) + " " + op.Encode());
    Status s = RunOp(db, w, op);
    if (!s.ok()) {
      Emit("E writer " + std::to_string(w) + ": " + op.Describe(w) + ": " + s.ToString());
      ::_exit(3);
    }
    Emit("A " + std::to_string(w) + " " + std::to_string(seq) + " " +
         std::to_string(WallNanos()));
  }
}

void Merger(DB* db, uint64_t seed) {
  std::mt19937_64 rng(seed * 37);
  for (;;) {
    SleepMicros(static_cast<int64_t>(rng() % 150000));
    Emit("MB");
    MergeResult r;
    MergeOptions mo;
    mo.force = true;
    Status s = db->Merge(mo, &r);
    if (!s.ok()) {
      Emit("E merge: " + s.ToString());
      ::_exit(3);
    }
    Emit("ME");
    if (rng() % 4 == 0) {
      s = db->RunGC(nullptr);
      if (!s.ok()) {
        Emit("E gc: " + s.ToString());
        ::_exit(3);
      }
    }
  }
}

int RunChild(const char* store, const char* acklog, uint64_t seed, uint64_t max_file) {
  g_ack = ::open(acklog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (g_ack < 0) return 5;
  std::unique_ptr<DB> db;
  Status s = DB::Open(store, StoreOptions(max_file), &db);
  if (!s.ok()) {
    Emit("E open: " + s.ToString());
    return 4;
  }
  Emit("R");
  for (int w = 0; w < kWriters; w++) std::thread(Writer, db.get(), w, seed).detach();
  std::thread(Merger, db.get(), seed).detach();
  for (;;) ::pause();  // the driver's SIGKILL ends it
}

// ------------------------------------------------------------------ driver

struct Stats {
  uint64_t iterations = 0, early_kills = 0, acked = 0, inflight = 0, verified = 0;
  uint64_t merges_done = 0, kills_in_merge = 0, validations = 0, max_candidates = 0;
};

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  size_t start = 0, nl;
  while ((nl = all.find('\n', start)) != std::string::npos) {  // a cut last line is dropped
    lines.push_back(all.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

bool HasReady(const std::string& path) {
  std::ifstream in(path);
  std::string first;
  return std::getline(in, first) && first == "R";
}

class Driver {
 public:
  explicit Driver(const Budget& b)
      : b_(b), dir_("engine-kill"), store_(dir_.path() + "/store"),
        ack_(dir_.path() + "/ack"), rng_(b.seed()) {
    for (int w = 0; w < kWriters; w++) models_.emplace_back(WriterKeys(w));
    for (int w = 0; w < kWriters; w++) {
      for (const std::string& k : WriterKeys(w)) all_keys_.insert(k);
    }
  }

  void Run() {
    uint64_t it = 0;
    bool checked = false;
    for (; b_.More(it); it++) checked = Iteration(it);
    if (!checked) Verify(it);  // the end state is always checked
    std::printf("%s: %llu iterations in %.0f s: %llu SIGKILLs (%llu within 30 ms of start, "
                "%llu during a merge), %llu acknowledged operations checked, %llu in flight at "
                "a kill, %llu merges completed, %llu checks (%llu with Validate), up to %llu "
                "candidate states per writer; no loss, corruption or resurrection\n",
                b_.name(), U(stats_.iterations), b_.Elapsed(), U(stats_.iterations),
                U(stats_.early_kills), U(stats_.kills_in_merge), U(stats_.acked),
                U(stats_.inflight), U(stats_.merges_done), U(stats_.verified),
                U(stats_.validations), U(stats_.max_candidates));
  }

 private:
  static unsigned long long U(uint64_t v) { return static_cast<unsigned long long>(v); }

  // One kill; returns whether the store was checked after it.
  bool Iteration(uint64_t it) {
    const uint64_t sizes[] = {32 << 10, 256 << 10, 2 << 20};
    max_file_ = sizes[rng_() % 3];
    const uint64_t child_seed = rng_();
    ::truncate(ack_.c_str(), 0);
    const pid_t pid = Spawn(child_seed);
    const bool early = rng_() % 8 == 0;
    if (early) {
      stats_.early_kills++;
      SleepMicros(static_cast<int64_t>(rng_() % 30000));
    } else {
      for (int i = 0; !HasReady(ack_); i++) {
        int st;
        if (::waitpid(pid, &st, WNOHANG) == pid) {
          Fail(b_, "iteration " + std::to_string(it) + ": the child exited before it was ready" +
                       Errors(ReadLines(ack_)));
        }
        if (i > 60000) Fail(b_, "the child was not ready within 60 s");
        SleepMicros(1000);
      }
      // Log-uniform between 2 and 400 ms: many short runs, some long; and 1
      // in 8 runs 0.4 to 2 s, long enough for merges to finish.
      const bool slow = rng_() % 8 == 0;
      SleepMicros(static_cast<int64_t>(slow ? 400000 + 1600000 * Uniform()
                                            : 2000.0 * std::pow(200.0, Uniform())));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) Fail(b_, "waitpid failed");
    const int64_t kill_time = WallNanos();
    const std::vector<std::string> lines = ReadLines(ack_);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      Fail(b_, "iteration " + std::to_string(it) + ": the child ended on its own (status " +
                   std::to_string(status) + ")" + Errors(lines));
    }
    Absorb(it, lines, kill_time);
    stats_.iterations++;

    size_t most = 0;
    for (const KeyModel& m : models_) most = std::max(most, m.candidates());
    stats_.max_candidates = std::max<uint64_t>(stats_.max_candidates, most);
    if (most <= 8 && rng_() % 4 == 0) return false;
    Verify(it);
    return true;
  }

  double Uniform() { return std::uniform_real_distribution<>(0, 1)(rng_); }

  pid_t Spawn(uint64_t seed) {
    const std::string s = std::to_string(seed), m = std::to_string(max_file_);
    const pid_t pid = ::fork();
    if (pid < 0) Fail(b_, std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the driver
      ::execl("/proc/self/exe", "engine_kill_test", "child", store_.c_str(), ack_.c_str(),
              s.c_str(), m.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  }

  static std::string Errors(const std::vector<std::string>& lines) {
    std::string e;
    for (const std::string& l : lines) {
      if (l.rfind("E ", 0) == 0) e += "\n  child: " + l.substr(2);
    }
    return e;
  }

  // Feeds the report of one child into the models.
  void Absorb(uint64_t it, const std::vector<std::string>& lines, int64_t kill_time) {
    struct Pending {
      bool open = false;
      uint64_t seq = 0;
      int64_t t0 = 0;
      EngineOp op;
    };
    std::vector<Pending> pending(kWriters);
    bool in_merge = false;
    for (const std::string& l : lines) {
      std::istringstream in(l);
      std::string tag;
      in >> tag;
      if (tag == "R") continue;
      if (tag == "MB") {
        in_merge = true;
        continue;
      }
      if (tag == "ME") {
        in_merge = false;
        stats_.merges_done++;
        continue;
      }
      if (tag == "E") Fail(b_, "iteration " + std::to_string(it) + ": child: " + l.substr(2));
      int w = -1;
      uint64_t seq = 0;
      int64_t t = 0;
      in >> w >> seq >> t;
      if (in.fail() || w < 0 || w >= kWriters) Fail(b_, "bad report line: " + l);
      Pending& p = pending[w];
      if (tag == "B") {
        std::string rest;
        std::getline(in, rest);
        if (p.open || !EngineOp::Decode(rest, &p.op)) Fail(b_, "bad begin line: " + l);
        p.open = true;
        p.seq = seq;
        p.t0 = t;
      } else if (tag == "A") {
        if (!p.open || p.seq != seq) Fail(b_, "acknowledgement without a begin: " + l);
        models_[w].Acknowledged(EffectsOf(w, p.op, p.t0, t));
        history_.Add(w, "iteration " + std::to_string(it) + ": " + p.op.Describe(w));
        p.open = false;
        stats_.acked++;
      } else {
        Fail(b_, "unknown report line: " + l);
      }
    }
    for (int w = 0; w < kWriters; w++) {
      if (!pending[w].open) continue;
      models_[w].InFlight(EffectsOf(w, pending[w].op, pending[w].t0, kill_time));
      history_.Add(w, "iteration " + std::to_string(it) + ": " + pending[w].op.Describe(w) +
                          ": in flight at the kill");
      stats_.inflight++;
    }
    if (in_merge) stats_.kills_in_merge++;
  }

  void Verify(uint64_t it) {
    const std::string when = "iteration " + std::to_string(it) + ", store " + store_;
    std::unique_ptr<DB> db;
    Status s = DB::Open(store_, StoreOptions(max_file_), &db);
    if (!s.ok()) Fail(b_, when + ": the store does not open after the kill: " + s.ToString());
    for (int w = 0; w < kWriters; w++) {
      const std::string err = models_[w].Check(
          [&](const std::string& key) { return ReadKey(db.get(), key, WallNanos); });
      if (!err.empty()) {
        Fail(b_, when + ", writer " + std::to_string(w) + ": " + err + history_.Of("writer", w));
      }
    }
    std::vector<std::string> keys;
    s = db->Keys(&keys);
    if (!s.ok()) Fail(b_, when + ": Keys: " + s.ToString());
    for (const std::string& k : keys) {
      if (!all_keys_.count(k)) Fail(b_, when + ": a key nobody wrote: " + Describe(&k));
    }
    s = db->Close();
    if (!s.ok()) Fail(b_, when + ": Close: " + s.ToString());
    db.reset();
    for (const auto& e : std::filesystem::directory_iterator(store_ + "/data")) {
      const std::string name = e.path().filename().string();
      if (name.find(".damaged-") != std::string::npos) {
        Fail(b_, when + ": recovery set aside " + name + " (damage, not a torn tail)");
      }
    }
    if (stats_.verified % 5 == 0) {
      ValidateReport r;
      s = DB::Validate(store_, &r);
      if (!s.ok() || !r.ok()) {
        std::string what = s.ok() ? "" : s.ToString();
        for (const auto& p : r.corrupt) what += "\n  " + p.file + " @" + std::to_string(p.offset) + ": " + p.what;
        for (const auto& p : r.hint_problems) what += "\n  hint " + p.file + ": " + p.what;
        Fail(b_, when + ": Validate finds the store damaged:" + what);
      }
      stats_.validations++;
    }
    stats_.verified++;
  }

  const Budget& b_;
  ScratchDir dir_;
  const std::string store_, ack_;
  std::mt19937_64 rng_;
  uint64_t max_file_ = 0;
  std::vector<KeyModel> models_;
  std::set<std::string> all_keys_;
  History history_;
  Stats stats_;
};

}  // namespace
}  // namespace crash
}  // namespace bitgask

int main(int argc, char** argv) {
  using namespace bitgask::crash;
  ::setenv("BITGASK_LOG_LEVEL", "error", /*overwrite=*/0);
  if (argc == 6 && std::strcmp(argv[1], "child") == 0) {
    return RunChild(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10),
                    std::strtoull(argv[5], nullptr, 10));
  }
  if (argc != 1) {
    std::fprintf(stderr, "usage: %s (the driver; see the file's comment)\n", argv[0]);
    return 2;
  }
  Budget b("engine_kill_test", 35);
  Driver d(b);
  d.Run();
  return 0;
}
