#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace bitgask {
namespace cli {

Progress::Progress(std::string what)
    : what_(std::move(what)), active_(isatty(2) == 1), start_(std::chrono::steady_clock::now()) {
  if (!active_) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    Draw();
  }
  thread_ = std::thread([this] { Loop(); });
}

Progress::~Progress() { Finish(); }

void Progress::Update(uint64_t done, uint64_t total) {
  done_.store(done, std::memory_order_relaxed);
  total_.store(total, std::memory_order_relaxed);
}

void Progress::Finish() {
  if (!active_) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

void Progress::Draw() {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const uint64_t total = total_.load(std::memory_order_relaxed);
  const uint64_t done = done_.load(std::memory_order_relaxed);
  if (total > 0) {
    std::fprintf(stderr, "\r\033[K%s: %3.0f%% (%.1f of %.1f MiB), %.1f s", what_.c_str(),
                 100.0 * static_cast<double>(done) / static_cast<double>(total),
                 static_cast<double>(done) / 1048576.0, static_cast<double>(total) / 1048576.0,
                 secs);
  } else {
    std::fprintf(stderr, "\r\033[K%s: %.1f s", what_.c_str(), secs);
  }
  std::fflush(stderr);
}

void Progress::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!cv_.wait_for(l, std::chrono::milliseconds(200), [this] { return stop_; })) Draw();
}

}  // namespace cli
}  // namespace bitgask
