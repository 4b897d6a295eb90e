// DBImpl: the DB behind the public interface.
//
// Write path: a caller encodes its records (and compresses) without any lock,
// then joins the commit queue. The writer at the front leads: it takes the
// queued writers behind it as one group, appends the group with one write,
// fsyncs once if any of them asked for it (a sync writer never rides in a
// group that will not sync), applies the group to the keydir in log order and
// wakes the others (group commit). A leader of a synced group first waits,
// briefly, for as many writers as the last synced group had (see Commit). After a failed write or fsync every later
// write fails until the store is reopened.
//
// Read path: keydir lookup under the shared lock, then the record is copied
// with no lock held: from the data file's memory map (Options::mmap_reads) or
// by one pread; writers hold the keydir lock only to apply a group.
//
// Memory maps: each data file is mapped once, when it enters files_ (the
// active file for max_data_file_size bytes, so that appended records show
// up in the mapping), and records of up to 64 KiB are read through it (larger
// ones by pread: the system call is small beside their copy, and their pages
// do not count in the process's resident size). A mapping lives as long as
// its RandomAccessFile, which a reader holds (through its FileSlot copy) for
// the whole read, so a merge may drop the file meanwhile. Only records the keydir points to are read
// through a mapping: they are complete and below the file's size, and no
// data file is truncated once mapped (recovery truncates a torn tail before
// it maps the file), so such a read never touches a byte past the end.
// Snapshots (iterators) read their files by pread: a snapshot may outlive a
// Reopen whose recovery truncates the newest file's torn tail.
//
// Rotation: a full active file whose tail is not synced (non-sync writes)
// is not synced in the writer's path. Rotate creates the next file, writes
// the unsynced-predecessor marker (record.h) as its first record, switches
// to it and hands the old file to a retirement thread, which syncs and
// closes it, syncs the directory (the new file's entry) and then schedules
// its hint. At most one file retires at a time: the next rotation, a synced
// write, DB::Sync, Close, and the synchronous rotations of merge, backup and
// DeleteAll first wait for it (FinishRetirement), so an acknowledged synced
// write never depends on a file still retiring. A failed retirement stops
// writes like a failed write. After a power cut only the newest file and the
// one before it can have lost their tails; recovery accepts that in the one
// before only when the newest allows it, and then sets the newest aside
// (docs/Format.md, "Recovery rules").
//
// Lock order: merge_mu_ -> queue_mu_ -> keydir_mu_ -> files_mu_; bg_mu_ is a
// leaf. queue_mu_ is released before a leader does any I/O, and while it is
// held no other lock is taken (the retirement thread takes it alone, to set
// bg_error_). keydir_mu_ is held while taking files_mu_ only
// to snapshot both consistently.
#ifndef BITGASK_ENGINE_DB_IMPL_H_
#define BITGASK_ENGINE_DB_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "bitgask/db.h"
#include "bitgask/env.h"
#include "data_file.h"
#include "hint_file.h"
#include "keydir.h"

namespace bitgask {
namespace internal {

// What DB::Meta and the iterators report of a keydir entry.
inline RecordMeta MetaOf(const KeydirEntry& e) {
  RecordMeta m;
  m.timestamp_unix_ns = e.timestamp;
  m.expires_unix_ns = e.expires;
  m.value_size = e.value_len;
  m.mode = e.mode;
  if (e.has_owner()) m.owner = Owner{e.uid, e.gid};
  return m;
}

// With sync off, the background thread flushes the active file after this
// many appended bytes, so that the fsync closing a full file (or cutting it
// for a merge) has little left to write while writers wait behind it.
constexpr uint64_t kFlushEvery = 8 << 20;
// Takes the keydir lock exclusively (LockSpinning) or shared, trying for a
// few microseconds before blocking. Keydir holds last microseconds, while a
// thread that blocks must be woken and scheduled again: on a loaded machine
// that takes milliseconds (it was most of a writer's waits during a merge,
// docs/Benchmarks.md). Use with std::adopt_lock. `waiting`, when given,
// counts the thread while it blocks (a merge steps aside for such writers).
void LockSpinning(std::shared_mutex& m, std::atomic<int>* waiting = nullptr);
void LockSharedSpinning(std::shared_mutex& m);

// Offsets in a data file are 32-bit.
constexpr uint64_t kMaxFileSizeLimit = 0xFFFFFFFFull;

class DBImpl final : public DB {
 public:
  DBImpl(const std::string& path, const Options& options);
  ~DBImpl() override;

  // Locks the store and rebuilds the keydir from hints and data files.
  Status Recover();

  Status Put(std::string_view key, std::string_view value) override;
  Status Put(const WriteOptions& wo, std::string_view key, std::string_view value) override;
  Status PutFrom(const WriteOptions& wo, std::string_view key, uint64_t size,
                 const ValueReader& read) override;
  Status PutFromFile(const WriteOptions& wo, std::string_view key, int fd, uint64_t size,
                     const std::vector<uint32_t>* block_crcs) override;
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
  Status SetMeta(std::string_view key, int32_t mode, int64_t timestamp_unix_ns,
                 std::optional<Owner> owner = std::nullopt) override;

  Status Keys(std::vector<std::string>* keys) override;
  Status IterKeys(const std::function<bool(std::string_view key)>& fn) override;
  Status Iter(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view, const RecordMeta&)>& fn)
      override;
  Status ScanKeys(std::string_view cursor, size_t count, std::vector<std::string>* keys,
                  std::string* next_cursor) override;
  Status Scan(std::string_view prefix, const KeyValueFn& fn) override;
  Status Range(std::string_view start, std::string_view end, const KeyValueFn& fn) override;
  Status Sift(const std::function<bool(std::string_view key)>& pred, const KeyValueFn& fn) override;
  Status Fold(const KeyValueFn& fn) override;
  Status NewIterator(std::string_view prefix, std::unique_ptr<Iterator>* it) override;

  Status Write(const WriteOptions& wo, const WriteBatch& batch) override;
  Status PutIfAbsent(std::string_view key, std::string_view value) override;
  Status CompareAndSwap(std::string_view key, std::string_view expected,
                        std::string_view value) override;
  Status DeleteIf(std::string_view key, std::string_view expected) override;
  std::unique_ptr<Transaction> BeginTransaction() override;

  Status Merge(const MergeOptions& mo, MergeResult* result) override;
  Status Backup(const std::string& dst) override;
  Status DeleteAll() override;
  Status Reopen() override;
  Status Digest(std::string* hex) override;

  // A precondition of a conditional write, checked by the commit leader
  // against the keydir just before the write (nothing can change in between).
  struct Condition {
    enum Kind : unsigned char { kAbsent, kValueEquals } kind;
    std::string_view key;
    std::string_view expected;  // kValueEquals
  };
  // Writes the batch only if every condition holds; Conflict otherwise.
  Status WriteIf(const WriteOptions& wo, const WriteBatch& batch,
                 const std::vector<Condition>& conditions);

  // A point-in-time copy of (part of) the keydir plus the files it needs.
  struct Snapshot {
    std::vector<std::pair<std::string, KeydirEntry>> entries;
    std::map<uint32_t, std::shared_ptr<RandomAccessFile>> files;
  };
  // Copies the live entries with keys in [start, end) (end "" = unbounded)
  // that start with prefix.
  Status TakeSnapshot(std::string_view prefix, std::string_view start, std::string_view end,
                      Snapshot* snap);
  // Reads an entry's value through the snapshot's files.
  Status ReadSnapshotValue(const Snapshot& snap, std::string_view key, const KeydirEntry& e,
                           std::string* value);

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
  // A value the leader copies into the log a piece at a time (PutFrom,
  // WriteBatch::Copy) instead of holding it in Writer::records.
  struct Stream {
    size_t at;        // where in Writer::records its bytes go
    uint64_t len;
    uint32_t crc;     // CRC-32 of its bytes, checked again as they are written
    ValueReader read;
    int fd = -1;      // PutFromFile: copied from bytes [0, len) of fd, then read back
  };
  struct Writer {
    std::string records;  // encoded records to append; empty for a pure sync
    // Streamed values, in order of `at`. A writer with streams is led in a
    // group of its own. Offsets in `ops` count streamed bytes too.
    std::vector<Stream> streams;
    uint64_t stream_bytes = 0;
    uint64_t Size() const { return records.size() + stream_bytes; }
    std::vector<PendingOp> ops;
    bool sync = false;
    bool internal = false;  // Close()'s final sync, allowed once closing
    // Checked by the leader before writing; when one fails the writer's
    // records are left out and it gets `failed`.
    const std::vector<Condition>* conditions = nullptr;
    bool excluded = false;
    Status failed;
    // Work that must run as the only writer (rotation for merge and backup,
    // DeleteAll): run by the leader in a group of its own.
    std::function<Status()> leader_task;
    // How the leader releases a queued writer (Commit): kWaiting until its
    // group is written (kDone, `status` set) or it is to lead (kLead). Set
    // with release order, waited on as a futex: a released writer never
    // takes queue_mu_ again to return.
    enum : uint32_t { kWaiting = 0, kDone = 1, kLead = 2 };
    std::atomic<uint32_t> state{kWaiting};
    Status status;
  };

  // Registers a public call in progress for its lifetime; false when the
  // store is closed or closing. Close and Reopen wait until no call is in
  // progress before they tear state down.
  class CallGuard {
   public:
    explicit CallGuard(DBImpl* db) : db_(db) {
      db_->calls_.fetch_add(1);
      open_ = !db_->closed_.load();
    }
    ~CallGuard() { db_->calls_.fetch_sub(1); }
    explicit operator bool() const { return open_; }

   private:
    DBImpl* db_;
    bool open_;
  };

  // Lends a writer this thread's record and op buffers for one write, so that
  // a put allocates nothing once they are warm; takes them back (unless
  // grown large) when destroyed, after the writer's Commit has returned.
  class ThreadBuffers {
   public:
    explicit ThreadBuffers(Writer* w);
    ~ThreadBuffers();

   private:
    static thread_local std::string thread_records_;
    static thread_local std::vector<PendingOp> thread_ops_;
    Writer* w_;
  };

  Status Commit(Writer* w);
  // REQUIRES: queue_mu_ held, w at the front. Sets *group to the writers w
  // leads.
  void BuildGroup(Writer* w, std::vector<Writer*>* group);
  // REQUIRES: the caller is the queue's leader (it alone touches active_).
  Status AppendGroup(const std::vector<Writer*>& group, bool sync);
  // Checks a writer's conditions; sets excluded/failed when one fails.
  void CheckConditions(Writer* x);
  // Encodes a batch (records flagged kFlagBatch, then a commit record).
  Status EncodeBatch(const WriteBatch& batch, Writer* w);
  // Encodes a WriteBatch::Copy of `from`'s record under key `to` (in
  // stream_write.cc): small values inline, large ones as a Stream.
  Status EncodeCopy(std::string_view from, std::string_view to, int64_t now, Writer* w);
  // PutFrom and PutFromFile (stream_write.cc): a value of `size` bytes from
  // `read`, or when fd >= 0 from fd with the given block CRCs (if any).
  Status PutStreamed(const WriteOptions& wo, std::string_view key, uint64_t size,
                     const ValueReader& read, int fd, const std::vector<uint32_t>* block_crcs);
  // Appends a writer that has streams. REQUIRES: the caller leads the queue.
  Status AppendStreams(const Writer& w);
  // Starts the next data file. in_background: when the active file has
  // unsynced bytes, it retires in the background (file comment) instead of
  // being synced and closed here. REQUIRES: the caller leads the queue, or
  // recovery.
  Status Rotate(bool in_background);
  // Waits for the file retiring (if any) and returns how its retirement
  // ended (sticky: a failure stays). REQUIRES: the queue's leader, or Close
  // once no call is in progress.
  Status FinishRetirement();
  // The retirement thread's work: syncs and closes the old active file id,
  // syncs the directory, schedules the hint; on failure stops writes.
  void Retire(uint32_t id, std::unique_ptr<WritableFile> file);
  // Waits, outside the commit queue, until no file is retiring (another may
  // start right after): merge and backup call it before their cut, whose
  // rotation would otherwise wait for the retirement with writers queued
  // behind it. Any thread.
  void AwaitRetirement();
  // Sets the sticky write error for failure s (the first one wins) and
  // returns it. REQUIRES: queue_mu_ held.
  Status StopWrites(const Status& s);
  // Flushes the active file's data outside the commit queue, so that a
  // rotation that follows (merge and backup cuts) has little left to fsync
  // while writers wait behind it.
  void FlushActiveFile();
  // Removes data files (and their hints) that no keydir entry refers to.
  // REQUIRES: the files are closed for writing.
  void DropFiles(const std::vector<uint32_t>& ids);
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
  // s itself, or for a Corruption the same error naming the data file and
  // offset of the record e points to.
  Status AtRecord(const KeydirEntry& e, const Status& s) const;
  Status WriteMeta(std::string_view key, uint8_t mask, int64_t timestamp, int64_t expires,
                   uint16_t mode, std::optional<Owner> owner = std::nullopt);
  Status CheckKey(std::string_view key) const;
  int64_t ExpiryFor(const WriteOptions& wo, int64_t now) const;
  bool SyncFor(WriteOptions::Sync s, bool store_default) const;
  std::shared_ptr<RandomAccessFile> FileFor(uint32_t id) const;

  // Checked hints of data files (id, hint), oldest first, not yet applied.
  using OrderedHints = std::vector<std::pair<uint32_t, std::unique_ptr<HintFileReader>>>;
  static constexpr size_t kMaxMergedHints = 64;  // hints merged at once, at most
  // What damage RecoverFile accepts as a torn tail (truncated, not an
  // error): none (Corruption), only damage with no valid record after it,
  // or any (what follows the damage is copied to a side file first).
  enum class TornTail { kNone, kTailOnly, kAny };
  // Rebuilds the keydir entries of data file id from its hint or a scan. A
  // checked hint whose entries are in key order is not applied at once but
  // appended to *ordered (applied when kMaxMergedHints are held); everything
  // in *ordered is applied (and cleared) before any other file's entries, so
  // files always apply in file order.
  // successor: 0, or the newest file when this is the file its marker names
  // (with this file's size then, expected_size). If this file is found
  // shorter (a torn tail cut, or a tail cut cleanly), the successor is set
  // aside (SetAsideNewestFile) once this file's cut is synced, and
  // *successor_set_aside is set.
  Status RecoverFile(uint32_t id, bool newest, TornTail torn_tail, uint32_t successor,
                     uint64_t expected_size, bool has_hint, OrderedHints* ordered,
                     bool* successor_set_aside);
  // Makes a truncation done at recovery durable (fsyncs path).
  Status SyncFile(const std::string& path);
  // What the newest data file allows in the file before it (id pred):
  // kAny when it starts with the unsynced-predecessor marker naming pred
  // (*mark says what it holds), kTailOnly when it has no valid first record
  // (its start, marker included, may have been lost at a power cut: its
  // records are then cut by the newest file's own rule), else kNone.
  TornTail PredecessorRule(uint32_t newest, uint32_t pred, PredecessorMark* mark);
  // The newest file when recovery finds the file before it (pred) cut
  // short: its records were written after the lost ones, so none is
  // applied. Copies it to a side file when it holds a record besides its
  // marker, then empties it and syncs that.
  Status SetAsideNewestFile(uint32_t id, uint32_t pred);
  // Applies the checked, key-ordered hints of consecutive data files (oldest
  // first) in one pass in key order (MergeOrderedHints, engine/hint_merge.h:
  // the same keydir as file by file, built in key order, which is cheaper
  // than file by file when each file's keys spread over the whole tree).
  // Empties *ordered.
  void ApplyOrderedHints(OrderedHints* ordered);
  // Corruption unless the newest file's hint (checked: every entry fits)
  // covers the data file (file, of size bytes) to its end.
  Status CheckHintCoversFile(const HintFileReader& hint, const RandomAccessFile* file,
                             uint32_t id, uint64_t size);
  Status SetAsideDamagedTail(uint32_t id, uint64_t from, uint64_t size);
  // Opens the active data file (options_.mmap_writes: through a mapping).
  Status OpenForAppend(const std::string& path, bool create, std::unique_ptr<WritableFile>* file);
  Status OpenActiveFile(uint32_t newest_id);
  // Removes the active file's kept hint (and syncs the directory, so it
  // cannot come back) before the file grows. REQUIRES: the queue's leader.
  Status DropActiveHint();
  void BackgroundLoop();
  void MergeLoop();
  // REQUIRES: merge_mu_ held.
  Status MergeLocked(const MergeOptions& mo, MergeResult* result);
  // Resets every member to its state before Recover (for Reopen).
  void ResetState();
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
  // Group commit sizing (Commit): the most writers queued at once since the
  // last synced group began, how many that was for the last synced group,
  // how long that group's write and fsync took, and whether a leader is
  // waiting for writers to join.  All GUARDED_BY(queue_mu_).
  std::condition_variable gather_cv_;  // a gathering leader waits on it
  size_t queue_peak_ = 0;
  size_t sync_concurrency_ = 1;
  int64_t last_sync_group_ns_ = 0;
  bool gathering_ = false;
  std::atomic<bool> closed_{false};
  std::atomic<int> calls_{0};  // public calls in progress (CallGuard)

  // Owned by the queue's leader.
  std::vector<Writer*> leader_group_;            // Commit: the group it leads
  std::vector<std::string_view> leader_pieces_;  // AppendGroup: what it writes
  std::unique_ptr<WritableFile> active_;
  uint32_t active_id_ = 0;
  uint32_t next_file_id_ = 1;
  std::atomic<bool> unsynced_{false};  // non-sync writes since the last fsync
  // Whether this open appended anything: Close writes the active file's hint
  // only then (a session that only read leaves the store as it found it).
  // Written by the commit leader, read by Close after the last writer.
  bool appended_since_open_ = false;
  // The active file still has the hint a clean Close wrote and open used:
  // kept, so that an open after a session that only read needs no scan, and
  // removed (DropActiveHint) before the first append to the file. Set by
  // recovery, cleared by the commit leader.
  bool active_hint_kept_ = false;
  bool newest_hint_used_ = false;  // recovery: the newest file was read from its hint
  // Bytes appended without sync since the background thread last flushed the
  // active file (see kFlushEvery).
  std::atomic<uint64_t> unflushed_bytes_{0};

  mutable std::shared_mutex keydir_mu_;
  std::atomic<int> keydir_writers_waiting_{0};  // commit leaders blocked on keydir_mu_
  Keydir keydir_;            // GUARDED_BY(keydir_mu_)
  bool replayed_expiry_ = false;  // GUARDED_BY(keydir_mu_): an applied op had an expiry
  uint64_t live_bytes_ = 0;  // GUARDED_BY(keydir_mu_): bytes of records the keydir points to

  struct FileSlot {
    std::shared_ptr<RandomAccessFile> file;
    uint64_t size;
    std::string_view map;  // file's memory map, or empty; alive as long as file
  };
  // The slot of a data file of `size` bytes, mapped for its first map_len
  // bytes when mmap_reads is on and the file can be mapped.
  FileSlot NewFileSlot(std::unique_ptr<RandomAccessFile> file, uint64_t size,
                       uint64_t map_len) const;
  // Copies data file id's slot to *slot; false when there is none.
  bool SlotFor(uint32_t id, FileSlot* slot) const;
  // Whether e's record (size bytes) is read through slot's mapping: when the
  // mapping covers it and it is small (larger records by pread).
  static bool Mapped(const FileSlot& slot, const KeydirEntry& e, uint64_t size);
  mutable std::shared_mutex files_mu_;
  std::map<uint32_t, FileSlot> files_;  // GUARDED_BY(files_mu_): every readable data file
  std::atomic<uint64_t> total_bytes_{0};

  // Background work: periodic sync, hint files for closed data files.
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  std::vector<uint32_t> hint_queue_;  // GUARDED_BY(bg_mu_)
  // While a merge runs, its inputs' ids are below this (0 otherwise): their
  // hints would be deleted with them, so WriteHint gives them up.
  std::atomic<uint32_t> merge_inputs_below_{0};
  bool flush_wanted_ = false;         // GUARDED_BY(bg_mu_)
  bool bg_stop_ = false;              // GUARDED_BY(bg_mu_)
  std::thread bg_thread_;

  // Merge: one at a time; a dedicated thread when merge_interval > 0.
  std::mutex merge_mu_;
  std::atomic<bool> merge_cancel_{false};  // set by Close to stop a merge early
  std::condition_variable merge_cv_;      // with bg_mu_: wakes the merge thread
  std::thread merge_thread_;
  std::mutex merge_state_mu_;             // guards the two fields below
  int64_t last_merge_unix_ns_ = 0;
  std::string last_merge_status_;

  // The file retiring (Rotate): its thread, owned by the queue's leader
  // (joined by FinishRetirement and Close); retire_done_ is set (release)
  // when the thread has ended, retire_status_ before that (read after the
  // join).
  std::thread retire_thread_;
  std::atomic<bool> retire_done_{true};
  Status retire_status_;

  std::atomic<uint64_t> puts_{0}, gets_{0}, deletes_{0}, groups_{0}, syncs_{0};
  std::atomic<uint64_t> rotation_waits_{0};  // rotations that waited for a retirement
};

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_DB_IMPL_H_
