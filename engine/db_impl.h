// DBImpl: the DB behind the public interface.
//
// Write path: a caller encodes its records (and compresses) without any lock,
// then joins the commit queue. The writer at the front leads: it takes the
// queued writers behind it as one group, appends the group with one write,
// fsyncs once if any of them asked for it (a sync writer never rides in a
// group that will not sync), applies the group to the keydir in log order and
// wakes the others (group commit). After a failed write or fsync every later
// write fails until the store is reopened.
//
// Read path: keydir lookup under the shared lock, then one pread of the record
// with no lock held; writers hold the keydir lock only to apply a group.
//
// Lock order: queue_mu_ is never held while another lock is taken, except
// that a leader holds nothing while it writes. keydir_mu_, files_mu_ and bg_mu_
// are leaves: never held together.
#ifndef BITGASK_ENGINE_DB_IMPL_H_
#define BITGASK_ENGINE_DB_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "bitgask/db.h"
#include "bitgask/env.h"
#include "data_file.h"
#include "keydir.h"

namespace bitgask {
namespace internal {

class DBImpl final : public DB {
 public:
  DBImpl(const std::string& path, const Options& options);
  ~DBImpl() override;

  // Locks the store and rebuilds the keydir from hints and data files.
  Status Recover();

  Status Put(std::string_view key, std::string_view value) override;
  Status Put(const WriteOptions& wo, std::string_view key, std::string_view value) override;
  Status PutWithTTL(std::string_view key, std::string_view value,
                    std::chrono::nanoseconds ttl) override;
  Status Get(std::string_view key, std::string* value) override;
  Status GetRange(std::string_view key, uint64_t offset, size_t n, std::string* value) override;
  Status Meta(std::string_view key, RecordMeta* meta) override;
  bool Has(std::string_view key) override;
  Status Delete(std::string_view key) override;
  Status Delete(const WriteOptions& wo, std::string_view key) override;
  Status Expire(std::string_view key, std::chrono::nanoseconds ttl) override;
  Status ExpireAt(std::string_view key, int64_t expires_unix_ns) override;
  Status Persist(std::string_view key) override;
  Status SetMeta(std::string_view key, int32_t mode, int64_t timestamp_unix_ns) override;
  Status Sync() override;
  Status RunGC(uint64_t* removed) override;
  Status Stats(DBStats* stats) override;
  void Reclaimable(uint64_t* dead_bytes, uint64_t* total_bytes, double* ratio) override;
  Status Close() override;

 private:
  // One keydir change a writer's records make, offsets relative to its buffer.
  struct PendingOp {
    LogOp::Kind kind;
    uint8_t meta_mask;
    std::string_view key;  // the caller's; alive until its Commit returns
    KeydirEntry entry;     // file_id and offset filled in by the leader
    uint32_t rel_offset;
    uint32_t record_size;
  };
  // A caller waiting in the commit queue.
  struct Writer {
    std::string records;  // encoded records to append; empty for a pure sync
    std::vector<PendingOp> ops;
    bool sync = false;
    bool internal = false;  // Close()'s final sync, allowed once closing
    bool done = false;
    Status status;
    std::condition_variable cv;
  };

  Status Commit(Writer* w);
  // REQUIRES: the caller is the queue's leader (it alone touches active_).
  Status AppendGroup(const std::vector<Writer*>& group, uint64_t bytes, bool sync);
  Status Rotate();
  // Applies one record's effect. An entry that is already expired stays until
  // a read, RunGC or the next open drops it (it still hides older values).
  // REQUIRES: keydir_mu_ held exclusively, or recovery (single-threaded).
  void ApplyOp(std::string_view key, LogOp::Kind kind, uint8_t meta_mask,
               const KeydirEntry& entry);
  // Drops every expired key from the keydir; *removed (if given) counts them.
  void SweepExpired(uint64_t* removed);
  // Removes key if its entry is still `seen` (an expired entry found by a read).
  void DropExpired(std::string_view key, const KeydirEntry& seen);
  // Looks the key up; NotFound/Expired when absent or expired.
  Status Lookup(std::string_view key, KeydirEntry* entry);
  // Reads and checks the record an entry points to; *h and *stored describe it
  // (stored points into *buf).
  Status ReadEntry(std::string_view key, const KeydirEntry& e, std::string* buf,
                   RecordHeader* h, std::string_view* stored);
  Status WriteMeta(std::string_view key, uint8_t mask, int64_t timestamp, int64_t expires,
                   uint16_t mode);
  Status CheckKey(std::string_view key) const;
  int64_t ExpiryFor(const WriteOptions& wo, int64_t now) const;
  bool SyncFor(WriteOptions::Sync s, bool store_default) const;
  std::shared_ptr<RandomAccessFile> FileFor(uint32_t id) const;

  Status RecoverFile(uint32_t id, bool newest, bool has_hint);
  Status SetAsideDamagedTail(uint32_t id, uint64_t from, uint64_t size);
  Status OpenActiveFile(uint32_t newest_id);
  void BackgroundLoop();
  void ScheduleHint(uint32_t id);
  Status WriteHint(uint32_t id);

  const std::string root_;
  const std::string data_dir_;
  Options options_;
  Env* const env_;
  std::unique_ptr<FileLock> lock_;

  // The commit queue (see the file comment).
  std::mutex queue_mu_;
  std::deque<Writer*> writers_;  // GUARDED_BY(queue_mu_)
  Status bg_error_;              // GUARDED_BY(queue_mu_): sticky write failure
  std::atomic<bool> closed_{false};

  // Owned by the queue's leader.
  std::unique_ptr<WritableFile> active_;
  uint32_t active_id_ = 0;
  uint32_t next_file_id_ = 1;
  std::atomic<bool> unsynced_{false};  // non-sync writes since the last fsync

  mutable std::shared_mutex keydir_mu_;
  Keydir keydir_;            // GUARDED_BY(keydir_mu_)
  uint64_t live_bytes_ = 0;  // GUARDED_BY(keydir_mu_): bytes of records the keydir points to

  struct FileSlot {
    std::shared_ptr<RandomAccessFile> file;
    uint64_t size;
  };
  mutable std::shared_mutex files_mu_;
  std::map<uint32_t, FileSlot> files_;  // GUARDED_BY(files_mu_): every readable data file
  std::atomic<uint64_t> total_bytes_{0};

  // Background work: periodic sync, hint files for closed data files.
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  std::vector<uint32_t> hint_queue_;  // GUARDED_BY(bg_mu_)
  bool bg_stop_ = false;              // GUARDED_BY(bg_mu_)
  std::thread bg_thread_;

  std::atomic<uint64_t> puts_{0}, gets_{0}, deletes_{0}, groups_{0}, syncs_{0};
};

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_DB_IMPL_H_
