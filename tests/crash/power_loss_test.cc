// power_loss_test: power cuts at random moments under the mixed workload of
// engine_kill_test (puts, deletes, atomic batches, TTLs, from three writer
// threads; sync on, except one write in four with Sync::kNever) while a fourth thread forces merges back to back, all
// through the fault-injecting Env (tests/fault_injection_env.h).
//
// Each round opens the store, runs the workload and cuts the power: after a
// random number of acknowledged operations, or (1 round in 3) a random
// moment into a merge. From the cut on nothing reaches the disk; the writers
// stop at their first failed call. Then the Env applies the power loss:
// every byte not synced is dropped, with the last page of each file torn at
// random (kept up to a random byte, and that page zeroed, garbled or left),
// or cut exactly at the synced size, or at a random point after it; creates
// and renames whose directory was not synced are undone, removals without a
// directory sync come back, directories never synced into their parent
// vanish. The fake clock then moves on by up to 3 s, so keys with a TTL
// expire between rounds. The store must open, and every writer's keys must
// match the model (crash_model.h): every writer's operations up to its last
// acknowledged synced one there (a sync makes the log before it durable),
// then any prefix of the later ones (not synced, and the one that failed),
// no expired or deleted key back, nothing corrupt, no unknown key. Rounds continue on the same store; 1 in 40
// starts a fresh one. Data files are 4 KiB to 128 KiB, hints on or off.
//
// Budget: harness.h (default 25 s; BITGASK_CRASH_SECONDS=3600 for an hour).
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bitgask/db.h"
#include "bitgask/options.h"
#include "crash_model.h"
#include "engine_workload.h"
#include "fault_injection_env.h"
#include "harness.h"

namespace bitgask {
namespace crash {
namespace {

using test::FaultInjectionEnv;
using test::PowerLossOptions;

constexpr int kWriters = 3;
constexpr int64_t kT0 = 1700000000LL * 1000 * 1000 * 1000;  // the fake clock's start

struct Stats {
  uint64_t rounds = 0, acked = 0, inflight = 0, cuts_in_merge = 0, merges = 0, fresh = 0;
  uint64_t unsynced_bytes = 0, torn_page = 0, random_prefix = 0, synced_only = 0;
};

// What one writer did in a round.
struct WriterLog {
  struct Done {
    EngineOp op;
    int64_t t0 = 0, t1 = 0;
    bool ok = false;
  };
  std::vector<Done> ops;  // the last may have failed (in doubt)
};

class Driver {
 public:
  explicit Driver(const Budget& b) : b_(b), dir_("power-loss"), rng_(b.seed()) {
    env_.SetFastSync(true);  // the Env's model decides what survives
    env_.SetTrackDirectories(true);
    env_.EnableFakeClock(kT0);
    for (int w = 0; w < kWriters; w++) {
      for (const std::string& k : WriterKeys(w)) all_keys_.insert(k);
    }
  }

  void Run() {
    uint64_t it = 0;
    for (; b_.More(it); it++) Round(it);
    // Each round checks what the cut before it left; the last cut is checked here.
    std::unique_ptr<DB> db;
    Status s = DB::Open(store_, StoreOptions(), &db);
    if (!s.ok()) Fail(b_, "the store does not open after the last cut: " + s.ToString());
    Check(db.get(), "after the last cut (" + std::to_string(it) + " rounds)");
    std::printf("%s: %llu power cuts in %.0f s (%llu during a merge; tails: %llu torn pages, "
                "%llu random prefixes, %llu cut at the synced size; %llu unsynced bytes "
                "dropped), %llu acknowledged and synced operations checked, %llu in doubt at a cut (not synced or failed), %llu "
                "merges completed, %llu fresh stores; no loss, corruption or resurrection\n",
                b_.name(), U(stats_.rounds), b_.Elapsed(), U(stats_.cuts_in_merge),
                U(stats_.torn_page), U(stats_.random_prefix), U(stats_.synced_only),
                U(stats_.unsynced_bytes), U(stats_.acked), U(stats_.inflight),
                U(stats_.merges), U(stats_.fresh));
  }

 private:
  static unsigned long long U(uint64_t v) { return static_cast<unsigned long long>(v); }

  void FreshStore() {
    store_ = dir_.path() + "/store" + std::to_string(stats_.fresh++);
    models_.clear();
    for (int w = 0; w < kWriters; w++) models_.emplace_back(WriterKeys(w));
  }

  Options StoreOptions() {
    Options o;
    o.env = &env_;
    o.sync_on_put = o.sync_on_delete = true;
    const uint64_t sizes[] = {4 << 10, 16 << 10, 128 << 10};
    o.max_data_file_size = sizes[rng_() % 3];
    o.use_hint_files = rng_() % 4 != 0;
    o.merge_interval = std::chrono::milliseconds(0);
    return o;
  }

  void Round(uint64_t it) {
    if (store_.empty() || rng_() % 40 == 0) FreshStore();
    const std::string when = "round " + std::to_string(it) + ", store " + store_;
    const Options o = StoreOptions();
    std::unique_ptr<DB> db;
    Status s = DB::Open(store_, o, &db);
    if (!s.ok()) Fail(b_, when + ": the store does not open after a power cut: " + s.ToString());
    Check(db.get(), when + " (after the previous cut)");

    // The workload, until the power goes.
    std::vector<WriterLog> logs(kWriters);
    std::atomic<bool> stop{false}, merging{false};
    std::atomic<uint64_t> acked{0}, merges{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; w++) {
      threads.emplace_back([&, w, seed = rng_()] {
        std::mt19937_64 r(seed);
        while (!stop.load()) {
          WriterLog::Done d;
          d.op = RandomOp(&r);
          d.t0 = env_.NowUnixNanos();
          const Status ws = RunOp(db.get(), w, d.op);
          d.ok = ws.ok();
          d.t1 = env_.NowUnixNanos();
          logs[w].ops.push_back(d);
          if (!d.ok) {
            // Before the cut nothing may fail.
            if (env_.IsFilesystemActive()) Unexpected(d.op.Describe(w) + ": " + ws.ToString());
            return;
          }
          acked++;
        }
      });
    }
    threads.emplace_back([&] {
      while (!stop.load()) {
        MergeOptions mo;
        mo.force = true;
        MergeResult r;
        merging = true;
        Status ms = db->Merge(mo, &r);
        merging = false;
        if (!ms.ok()) {
          if (env_.IsFilesystemActive()) Unexpected("merge: " + ms.ToString());
          return;
        }
        merges++;
      }
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    if (rng_() % 3 == 0) {
      while (!merging.load() && std::chrono::steady_clock::now() < deadline) SleepMicros(50);
      SleepMicros(static_cast<int64_t>(rng_() % 3000));
      if (merging.load()) stats_.cuts_in_merge++;
    } else {
      const uint64_t target = 1 + rng_() % 300;
      while (acked.load() < target && std::chrono::steady_clock::now() < deadline) {
        SleepMicros(50);
      }
    }
    env_.SetFilesystemActive(false);  // the power goes
    stop = true;
    for (std::thread& t : threads) t.join();
    if (!unexpected_.empty()) Fail(b_, when + ": a call failed before the power cut: " + unexpected_);
    stats_.merges += merges.load();
    db.reset();  // Close fails harmlessly: nothing reaches the disk
    stats_.unsynced_bytes += env_.UnsyncedBytes();
    PowerLossOptions plo;
    plo.seed = rng_();
    switch (rng_() % 4) {
      case 0: plo.tail = PowerLossOptions::Tail::kSyncedOnly; stats_.synced_only++; break;
      case 1: plo.tail = PowerLossOptions::Tail::kRandomPrefix; stats_.random_prefix++; break;
      default: plo.tail = PowerLossOptions::Tail::kTornPage; stats_.torn_page++; break;
    }
    s = env_.DropUnsyncedData(plo);
    env_.SetFilesystemActive(true);
    if (!s.ok()) Fail(b_, when + ": DropUnsyncedData: " + s.ToString());
    env_.AdvanceNanos(static_cast<int64_t>(rng_() % 3000) * 1000 * 1000);

    // A writer's acknowledged writes are durable up to its last synced one
    // (which synced the log before it); any prefix of the later ones and of
    // the one that failed may have survived.
    for (int w = 0; w < kWriters; w++) {
      std::vector<std::vector<Effect>> maybe;
      for (const WriterLog::Done& d : logs[w].ops) {
        maybe.push_back(EffectsOf(w, d.op, d.t0, d.t1));
        if (d.ok && d.op.sync) {
          for (const std::vector<Effect>& e : maybe) models_[w].Acknowledged(e);
          stats_.acked += maybe.size();
          maybe.clear();
        }
        history_.Add(w, d.op.Describe(w) + (!d.ok ? ": failed at the cut" : ""));
      }
      models_[w].Prefixes(maybe);
      stats_.inflight += maybe.size();
    }
    stats_.rounds++;
  }

  void Unexpected(const std::string& what) {
    std::lock_guard<std::mutex> l(mu_);
    if (unexpected_.empty()) unexpected_ = what;
  }

  void Check(DB* db, const std::string& when) {
    for (int w = 0; w < kWriters; w++) {
      const std::string err = models_[w].Check([&](const std::string& key) {
        return ReadKey(db, key, [this] { return env_.NowUnixNanos(); });
      });
      if (!err.empty()) {
        Fail(b_, when + ", writer " + std::to_string(w) + ": " + err + history_.Of("writer", w));
      }
    }
    std::vector<std::string> keys;
    Status s = db->Keys(&keys);
    if (!s.ok()) Fail(b_, when + ": Keys: " + s.ToString());
    for (const std::string& k : keys) {
      if (!all_keys_.count(k)) Fail(b_, when + ": a key nobody wrote: " + Describe(&k));
    }
  }

  const Budget& b_;
  ScratchDir dir_;
  FaultInjectionEnv env_;
  std::mt19937_64 rng_;
  std::string store_;
  std::vector<KeyModel> models_;
  std::set<std::string> all_keys_;
  History history_;
  Stats stats_;
  std::mutex mu_;
  std::string unexpected_;  // GUARDED_BY(mu_)
};

}  // namespace
}  // namespace crash
}  // namespace bitgask

int main() {
  ::setenv("BITGASK_LOG_LEVEL", "off", /*overwrite=*/0);
  bitgask::crash::Budget b("power_loss_test", 25);
  bitgask::crash::Driver d(b);
  d.Run();
  return 0;
}
