// DB: a Bitcask-style log-structured key-value store.
//
// Every write appends one record to the active data file; an in-memory
// ordered index (the keydir) maps each live key to its newest record, so a
// read is one index lookup and one positioned read. See docs/Architecture.md.
//
// A DB is safe for concurrent use by many threads. Only one process may open a
// store at a time (Status::Locked otherwise).
#ifndef BITGASK_DB_H_
#define BITGASK_DB_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bitgask/options.h"
#include "bitgask/status.h"
#include "bitgask/write_batch.h"

namespace bitgask {

// What the keydir knows of a live key; reading it never touches the disk.
struct RecordMeta {
  int64_t timestamp_unix_ns = 0;  // when written, or the timestamp the writer gave
  int64_t expires_unix_ns = 0;    // 0: never expires
  uint32_t value_size = 0;        // logical (uncompressed) bytes
  uint16_t mode = 0;              // as given in WriteOptions::mode; 0 if none
  std::optional<Owner> owner;     // as given in WriteOptions::owner or SetMeta
};

struct DBStats {
  uint64_t keys = 0;            // live keys in the keydir
  uint64_t total_bytes = 0;     // bytes in all data files
  uint64_t dead_bytes = 0;      // bytes of overwritten, deleted and expired records
  uint32_t data_files = 0;
  uint64_t keydir_bytes = 0;    // memory held by the keydir
  int64_t last_merge_unix_ns = 0;  // 0: never merged
  std::string last_merge_status;   // "", or the last merge's outcome ("ok ..." / error)
  uint64_t puts = 0, gets = 0, deletes = 0;  // since open
  uint64_t write_groups = 0;   // group commits (each is one write and at most one fsync)
  uint64_t syncs = 0;          // fsyncs of data files since open
  // Rotations that found the previous full file still being synced in the
  // background and waited for it (since open).
  uint64_t rotation_waits = 0;
};

// Supplies a value in pieces to DB::PutFrom: fills dst with the n bytes of
// the value that start at offset. PutFrom reads the value twice, in order
// (once to checksum it, once to write it), so it must give the same bytes
// both times. A non-OK status stops the put.
using ValueReader = std::function<Status(uint64_t offset, size_t n, char* dst)>;

// A cursor over a point-in-time snapshot of the store (DB::NewIterator).
// Keys come in byte order. The snapshot keeps the data files it needs open,
// so values stay readable even if a merge removes those files meanwhile.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual bool Valid() const = 0;
  virtual void SeekToFirst() = 0;
  // Positions at the first key >= target (within the iterator's prefix).
  virtual void Seek(std::string_view target) = 0;
  virtual void Next() = 0;
  // REQUIRES: Valid().
  virtual std::string_view key() const = 0;
  virtual RecordMeta meta() const = 0;
  // Reads the current key's value as of the snapshot.
  virtual Status value(std::string* out) = 0;
};

// Optimistic transaction (DB::BeginTransaction). Reads see the transaction's
// own writes first, then the store; Commit applies all writes as one atomic
// batch, only if nothing the transaction read has changed since it was read
// (otherwise Conflict and nothing is written): the commit is as if every read
// and write happened at the commit point.
class Transaction {
 public:
  virtual ~Transaction() = default;
  virtual Status Get(std::string_view key, std::string* value) = 0;
  virtual void Put(std::string_view key, std::string_view value) = 0;
  virtual void PutWithTTL(std::string_view key, std::string_view value,
                          std::chrono::nanoseconds ttl) = 0;
  virtual void Delete(std::string_view key) = 0;
  virtual Status Commit() = 0;
  // Drops every pending write. The transaction may not be used afterwards.
  virtual void Discard() = 0;
};

struct MergeOptions {
  // Merge even when the dead/total ratio and size are below the triggers.
  bool force = false;
  // Called now and then with bytes of data files processed and in total.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct MergeResult {
  bool ran = false;              // false when the triggers were not met
  uint32_t files_in = 0, files_out = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t records_copied = 0;
  double seconds = 0;
};

// What Validate found. ok() is false when anything is damaged.
struct ValidateReport {
  struct Problem {
    std::string file;
    uint64_t offset = 0;
    std::string what;
  };
  uint32_t data_files = 0, hint_files = 0;
  uint64_t records = 0, bytes = 0;
  std::vector<Problem> corrupt;         // bad records in data files
  std::vector<Problem> hint_problems;   // damaged or mismatching hint files
  std::vector<std::string> notes;       // set-aside tails, leftovers
  bool ok() const { return corrupt.empty() && hint_problems.empty(); }
};

struct RepairReport {
  uint32_t files_checked = 0, files_rewritten = 0, hints_rebuilt = 0;
  uint64_t records_kept = 0;
  uint64_t damaged_regions = 0;  // each: a bad record and the bytes up to the next good one
  uint64_t bytes_dropped = 0;
  std::vector<std::string> notes;  // what was dropped and where
};

class DB {
 public:
  // Opens the store at path, creating it when Options::create_if_missing.
  // Recovers from a crash: a torn or corrupt tail of the newest data file is
  // truncated (and logged). Corruption found in an older data file while it
  // is scanned (a file without a good hint, or every file with
  // validate_on_open) fails with a Corruption status naming the file and
  // offset; damage behind a good hint surfaces as Corruption when the damaged
  // record is read. Status::Locked when another process holds the store.
  static Status Open(const std::string& path, const Options& options, std::unique_ptr<DB>* db);

  DB() = default;
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;
  // Closes the store (syncs, releases the lock) if Close() was not called.
  virtual ~DB() = default;

  // Sets key to value. Keys are 1..max_key_size bytes, values at most
  // max_value_size bytes; both are arbitrary bytes. On success the write is
  // durable as WriteOptions/Options say (see Options::sync_on_put).
  virtual Status Put(std::string_view key, std::string_view value) = 0;
  virtual Status Put(const WriteOptions& wo, std::string_view key, std::string_view value) = 0;
  // Put of a value of `size` bytes read from `read` a piece at a time, for
  // values too large to hold in memory: memory use does not depend on size.
  // The value is stored uncompressed. While it is written, other writes wait
  // (a record is appended whole). Like Put otherwise. If reading fails
  // midway, or the reader gives other bytes the second time, the store
  // stops accepting writes (as after an I/O error) until it is reopened;
  // recovery then drops the unfinished record.
  virtual Status PutFrom(const WriteOptions& wo, std::string_view key, uint64_t size,
                         const ValueReader& read) = 0;
  // The bytes a value's block checksums cover each (PutFromFile).
  static constexpr uint32_t kValueBlockBytes = 64 * 1024;
  // Put of bytes [0, size) of the open regular file fd, which the caller
  // must not change until the call returns. The bytes are copied into the
  // data file inside the kernel where it can (copy_file_range), never held
  // in memory. block_crcs: null, or the CRC-32 (zlib's crc32) of each
  // kValueBlockBytes-byte block of those bytes in order (the last one
  // shorter; (size + kValueBlockBytes - 1) / kValueBlockBytes of them, else
  // InvalidArgument), e.g. computed while the caller wrote the file: the
  // record's checksums are built from them and the file is read once (the
  // copy). Without them it is read twice (checksummed, then copied). Either
  // way the copy is then read back from the data file (from the page cache)
  // and checked against those checksums before the put is acknowledged: if
  // they differ (wrong block CRCs, or the file changed during the call) the
  // put fails with an error whose message says the value's bytes changed
  // while being stored, and is handled like any failure after the record was
  // begun (as PutFrom's): the key keeps its old value, nothing else is
  // lost, writes stop until a reopen, and the reopen drops the unfinished
  // record (it is the last one in the newest data file). Stored whole or
  // not at all.
  virtual Status PutFromFile(const WriteOptions& wo, std::string_view key, int fd, uint64_t size,
                             const std::vector<uint32_t>* block_crcs) = 0;
  // Put with an expiry ttl from now (ttl > 0).
  virtual Status PutWithTTL(std::string_view key, std::string_view value,
                            std::chrono::nanoseconds ttl) = 0;

  // If the key is live, stores its value in *value and returns OK. Otherwise
  // leaves *value unchanged and returns a status for which IsNotFound() is
  // true; the first read of a key after it expired also has IsExpired(). A
  // record that fails its checksum returns Corruption, never the bytes.
  virtual Status Get(std::string_view key, std::string* value) = 0;
  // Reads at most n bytes of the value starting at offset (fewer at its end).
  // For an uncompressed value only that range is read from disk.
  virtual Status GetRange(std::string_view key, uint64_t offset, size_t n,
                          std::string* value) = 0;
  // The key's metadata from the keydir alone (no disk access).
  virtual Status Meta(std::string_view key, RecordMeta* meta) = 0;
  virtual bool Has(std::string_view key) = 0;

  // Removes key. OK whether or not it existed (a tombstone is written only
  // when it did).
  virtual Status Delete(std::string_view key) = 0;
  virtual Status Delete(const WriteOptions& wo, std::string_view key) = 0;

  // Changes a live key's expiry without rewriting its value: a small metadata
  // record is appended, so the cost does not depend on the value's size.
  // NotFound when the key is absent or expired.
  virtual Status Expire(std::string_view key, std::chrono::nanoseconds ttl) = 0;
  virtual Status ExpireAt(std::string_view key, int64_t expires_unix_ns) = 0;
  virtual Status Persist(std::string_view key) = 0;  // removes the expiry
  // Changes a live key's mode bits, timestamp and/or owner without rewriting
  // its value (pass -1 or no owner to keep each). NotFound when absent.
  virtual Status SetMeta(std::string_view key, int32_t mode, int64_t timestamp_unix_ns,
                         std::optional<Owner> owner = std::nullopt) = 0;

  // Makes every acknowledged write durable (fdatasync of the active file).
  virtual Status Sync() = 0;
  // Removes expired keys from the keydir; *removed (if given) counts them.
  virtual Status RunGC(uint64_t* removed) = 0;

  virtual Status Stats(DBStats* stats) = 0;
  // Dead and total bytes in data files, and dead/total (0 when empty).
  virtual void Reclaimable(uint64_t* dead_bytes, uint64_t* total_bytes, double* ratio) = 0;

  // ---- Iteration. All in key byte order; expired and deleted keys never
  // appear. The streaming calls (IterKeys, Iter, ScanKeys) read the keydir a
  // chunk at a time and hold no lock while calling fn: a key changed during
  // the walk may be seen old or new, but each key is visited at most once.
  // The snapshot calls (Keys, Scan, Range, Sift, Fold, NewIterator) copy the
  // keydir at one instant (memory proportional to the keys they cover) and
  // read values as of that instant.

  virtual Status Keys(std::vector<std::string>* keys) = 0;
  virtual Status IterKeys(const std::function<bool(std::string_view key)>& fn) = 0;
  virtual Status Iter(std::string_view prefix,
                      const std::function<bool(std::string_view key, std::string_view value,
                                               const RecordMeta& meta)>& fn) = 0;
  // Up to count keys after cursor ("" starts); *next_cursor is "" at the end.
  virtual Status ScanKeys(std::string_view cursor, size_t count, std::vector<std::string>* keys,
                          std::string* next_cursor) = 0;
  using KeyValueFn = std::function<bool(std::string_view key, std::string_view value)>;
  virtual Status Scan(std::string_view prefix, const KeyValueFn& fn) = 0;
  // Keys in [start, end); an empty end means no upper bound.
  virtual Status Range(std::string_view start, std::string_view end, const KeyValueFn& fn) = 0;
  // The keys for which pred is true, with their values.
  virtual Status Sift(const std::function<bool(std::string_view key)>& pred,
                      const KeyValueFn& fn) = 0;
  virtual Status Fold(const KeyValueFn& fn) = 0;
  virtual Status NewIterator(std::string_view prefix, std::unique_ptr<Iterator>* it) = 0;

  // ---- Atomic and conditional writes.

  // Applies every operation of the batch or none, with one append and at most
  // one fsync. Deletes of absent keys are harmless.
  virtual Status Write(const WriteOptions& wo, const WriteBatch& batch) = 0;
  // Conflict (and nothing written) when the key is live.
  virtual Status PutIfAbsent(std::string_view key, std::string_view value) = 0;
  // Sets key to value only if its current value equals expected; Conflict
  // otherwise (also when absent).
  virtual Status CompareAndSwap(std::string_view key, std::string_view expected,
                                std::string_view value) = 0;
  // Deletes key only if its current value equals expected; Conflict otherwise.
  virtual Status DeleteIf(std::string_view key, std::string_view expected) = 0;
  virtual std::unique_ptr<Transaction> BeginTransaction() = 0;

  // ---- Maintenance.

  // Rewrites the live records of every closed data file into new files and
  // removes the old ones, dropping deleted, overwritten and expired records.
  // Writes go on meanwhile; they wait at most for short swaps of keydir
  // entries. Without force it runs only when Reclaimable's ratio is at least
  // merge_trigger_ratio and the total at least merge_min_total.
  virtual Status Merge(const MergeOptions& mo, MergeResult* result) = 0;
  // A consistent copy of the store as of the call into dst (absent or empty).
  // Later writes never reach the copy. Restore by opening the copy.
  virtual Status Backup(const std::string& dst) = 0;
  // Removes every key, atomically (a crash leaves all or nothing).
  virtual Status DeleteAll() = 0;
  // Closes the store and opens it again, rebuilding the keydir from disk.
  // Waits for calls in progress; calls made meanwhile fail with Closed. Must
  // not be called from inside a callback of this DB (it would wait for itself).
  virtual Status Reopen() = 0;
  // An order-independent digest of the live contents (keys and values): two
  // stores with equal contents have equal digests, whatever their history.
  // 32 hex digits.
  virtual Status Digest(std::string* hex) = 0;

  // Checks every data and hint file of the store at path without changing
  // anything. The store must not be open in another process (it is not
  // locked; results would be unreliable). Returns OK when the check ran;
  // report->ok() says whether the store is sound.
  static Status Validate(const std::string& path, ValidateReport* report);
  // Salvages every readable record: skips damaged bytes and resumes at the
  // next valid record, rewrites damaged files, rebuilds hint files. Takes the
  // store's lock.
  static Status Repair(const std::string& path, const Options& options, RepairReport* report);

  // Syncs, stops background work and releases the lock. Waits for calls in
  // progress (so, like Reopen, not from inside a callback of this DB); later
  // calls return Status::Closed. Calling it twice is harmless. Fails when the
  // final sync fails or an earlier I/O error stopped the writes.
  virtual Status Close() = 0;
};

// The format version this library writes and reads (data/bitgask.meta).
constexpr int kFormatVersion = 1;

}  // namespace bitgask

#endif  // BITGASK_DB_H_
