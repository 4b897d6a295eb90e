#include "notify_queue.h"

#include <utility>

namespace bitgask {
namespace fs {

void NotifyQueue::Start() {
  std::lock_guard<std::mutex> l(mu_);
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

void NotifyQueue::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!running_) return;
    running_ = false;
  }
  cv_.notify_all();
  thread_.join();
}

void NotifyQueue::Push(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!running_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_all();
}

void NotifyQueue::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return !running_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopped, nothing left
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    l.unlock();
    job();
    l.lock();
  }
}

}  // namespace fs
}  // namespace bitgask
