// NotifyQueue: notifications to the kernel (fuse_lowlevel_notify_*), run on
// a thread of their own.
//
// The notify functions may wait for requests in flight (pages they hold
// locked, a release not yet answered), so a request handler must not call
// them: handlers Push a job and return at once.
//
// Thread-safe. Locking: mu_ is a leaf, never held while a job runs.
#ifndef BITGASK_FS_NOTIFY_QUEUE_H_
#define BITGASK_FS_NOTIFY_QUEUE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace bitgask {
namespace fs {

class NotifyQueue {
 public:
  NotifyQueue() = default;
  NotifyQueue(const NotifyQueue&) = delete;
  NotifyQueue& operator=(const NotifyQueue&) = delete;
  ~NotifyQueue() { Stop(); }

  // Starts the thread. REQUIRES: not running.
  void Start();
  // Runs what is queued, then stops the thread. Pushes while stopped are
  // dropped. Idempotent.
  void Stop();
  // Queues job, to run on the queue's thread in the order pushed.
  void Push(std::function<void()> job);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool running_ = false;                    // guarded by mu_
  std::thread thread_;
};

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_NOTIFY_QUEUE_H_
