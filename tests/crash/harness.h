// What the crash harnesses of tests/crash/ share: how long they run, their
// seed, their scratch directory and how they fail.
//
// Environment (each harness reads it the same way):
//   BITGASK_CRASH_SECONDS=S  run for about S seconds (the long mode, e.g. 3600)
//   BITGASK_CRASH_ITERS=N    run exactly N iterations instead of a time budget
//   BITGASK_CRASH_SEED=X     the seed (otherwise from the clock); printed first
//                            and again on failure
// With neither SECONDS nor ITERS a harness runs for its own default budget,
// the bounded run of `make check`.
#ifndef BITGASK_TESTS_CRASH_HARNESS_H_
#define BITGASK_TESTS_CRASH_HARNESS_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace bitgask {
namespace crash {

class Budget {
 public:
  // Reads the environment; prints the harness's name, seed and budget.
  Budget(const char* name, double default_seconds);
  uint64_t seed() const { return seed_; }
  // True while another iteration should start after `done` iterations.
  bool More(uint64_t done) const;
  double Elapsed() const;
  const char* name() const { return name_; }

 private:
  const char* name_;
  uint64_t seed_;
  double seconds_;
  uint64_t iters_ = 0;  // 0: by time
  std::chrono::steady_clock::time_point start_;
};

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor. A
// failing harness exits through Fail, which runs no destructor: the store
// stays for inspection, and Fail says where.
class ScratchDir {
 public:
  explicit ScratchDir(const char* name);
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Prints "FAIL: what", the seed and how to repeat it, and exits 1.
[[noreturn]] void Fail(const Budget& b, const std::string& what);

// The last 40 operations of each writer, for failure messages.
class History {
 public:
  void Add(int writer, std::string what);
  // "\n  last operations of <who> N:" and one line per operation.
  std::string Of(const char* who, int writer) const;

 private:
  std::map<int, std::deque<std::string>> ops_;
};

// Sleeps the calling thread.
void SleepMicros(int64_t us);

}  // namespace crash
}  // namespace bitgask

#endif  // BITGASK_TESTS_CRASH_HARNESS_H_
