// progress: a one-line progress display on standard error for long commands
// (merge, validate, repair, backup).
//
// Contract: draws only when stderr is a terminal (isatty(2)); otherwise every
// call does nothing, so piped or logged output stays clean. The line shows
// the operation, the elapsed time and, once Update has been called, the
// fraction done. It is drawn at once, redrawn by a thread of its own every
// 200 ms, and erased by Finish (or the destructor). Update may be called from
// any thread; all drawing happens under mu_.
#ifndef BITGASK_SRC_CLI_PROGRESS_H_
#define BITGASK_SRC_CLI_PROGRESS_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace bitgask {
namespace cli {

class Progress {
 public:
  explicit Progress(std::string what);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Bytes done of total; safe from any thread.
  void Update(uint64_t done, uint64_t total);
  // Erases the line and stops the thread. Idempotent.
  void Finish();

  bool active() const { return active_; }

 private:
  void Draw();  // REQUIRES: mu_ held
  void Loop();

  const std::string what_;
  const bool active_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<uint64_t> done_{0}, total_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_PROGRESS_H_
