#include "hint_merge.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace bitgask {
namespace internal {

namespace {

// Entries per batch handed from the merging thread to the applying one, and
// batches in flight: enough to smooth out the two threads' speeds, few
// enough to stay in the caches (4 x 4096 entries of about 64 bytes).
constexpr size_t kBatchEntries = 4096;
constexpr size_t kBatches = 4;

// One hint being merged: its next entry, and that entry's key's first 8
// bytes as a big-endian number, which decides most comparisons.
struct Cursor {
  const HintFileReader* hint;
  uint32_t id;
  uint32_t rank;  // position in the input: file order, for equal keys
  uint64_t prefix = 0;
  size_t pos = 0;
  HintEntry e;

  bool Advance() {
    if (!hint->Next(&pos, id, &e)) return false;
    uint8_t b[8] = {};
    std::memcpy(b, e.key.data(), std::min<size_t>(8, e.key.size()));
    prefix = 0;
    for (uint8_t x : b) prefix = (prefix << 8) | x;
    return true;
  }
};

bool Before(const Cursor* a, const Cursor* b) {
  if (a->prefix != b->prefix) return a->prefix < b->prefix;
  const int c = a->e.key.compare(b->e.key);
  return c < 0 || (c == 0 && a->rank < b->rank);
}

// A min-heap of cursors on (key, rank), kept by hand: after the top
// advances, one pass down.
void SiftDown(std::vector<Cursor*>* heap, size_t i) {
  std::vector<Cursor*>& h = *heap;
  const size_t n = h.size();
  for (;;) {
    size_t m = i;
    const size_t l = 2 * i + 1, r = l + 1;
    if (l < n && Before(h[l], h[m])) m = l;
    if (r < n && Before(h[r], h[m])) m = r;
    if (m == i) return;
    std::swap(h[i], h[m]);
    i = m;
  }
}

// Batches passed between the two threads.
class BatchQueue {
 public:
  BatchQueue() {
    for (size_t i = 0; i < kBatches; i++) {
      empty_.emplace_back();
      empty_.back().reserve(kBatchEntries);
    }
  }
  std::vector<HintEntry> TakeEmpty() { return Take(&empty_, false); }
  // An empty vector once the producer is done and every batch was taken.
  std::vector<HintEntry> TakeFull() { return Take(&full_, true); }
  void PutFull(std::vector<HintEntry> b) { Put(&full_, std::move(b)); }
  void PutEmpty(std::vector<HintEntry> b) {
    b.clear();
    Put(&empty_, std::move(b));
  }
  void Finish() {
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    cv_.notify_all();
  }

 private:
  std::vector<HintEntry> Take(std::deque<std::vector<HintEntry>>* q, bool until_done) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q->empty() || (until_done && done_); });
    if (q->empty()) return {};
    std::vector<HintEntry> b = std::move(q->front());
    q->pop_front();
    return b;
  }
  void Put(std::deque<std::vector<HintEntry>>* q, std::vector<HintEntry> b) {
    std::lock_guard<std::mutex> l(mu_);
    q->push_back(std::move(b));
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<HintEntry>> empty_;  // GUARDED_BY(mu_)
  std::deque<std::vector<HintEntry>> full_;   // GUARDED_BY(mu_)
  bool done_ = false;                         // GUARDED_BY(mu_)
};

}  // namespace

void MergeOrderedHints(const std::vector<std::pair<uint32_t, const HintFileReader*>>& hints,
                       const std::function<void(const HintEntry* entries, size_t n)>& apply) {
  if (hints.empty()) return;
  BatchQueue queue;
  std::thread merger([&] {
    std::vector<Cursor> cursors(hints.size());
    std::vector<Cursor*> heap;
    for (size_t i = 0; i < hints.size(); i++) {
      cursors[i].hint = hints[i].second;
      cursors[i].id = hints[i].first;
      cursors[i].rank = static_cast<uint32_t>(i);
      if (cursors[i].Advance()) heap.push_back(&cursors[i]);
    }
    for (size_t i = heap.size() / 2; i-- > 0;) SiftDown(&heap, i);
    std::vector<HintEntry> batch = queue.TakeEmpty();
    while (!heap.empty()) {
      Cursor* top = heap.front();
      batch.push_back(top->e);
      if (!top->Advance()) {
        heap.front() = heap.back();
        heap.pop_back();
      }
      if (!heap.empty()) SiftDown(&heap, 0);
      if (batch.size() == kBatchEntries) {
        queue.PutFull(std::move(batch));
        batch = queue.TakeEmpty();
      }
    }
    if (!batch.empty()) queue.PutFull(std::move(batch));
    queue.Finish();
  });
  for (std::vector<HintEntry> b; !(b = queue.TakeFull()).empty();) {
    apply(b.data(), b.size());
    queue.PutEmpty(std::move(b));
  }
  merger.join();
}

}  // namespace internal
}  // namespace bitgask
