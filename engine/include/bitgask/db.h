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
#include <string>
#include <string_view>
#include <vector>

#include "bitgask/options.h"
#include "bitgask/status.h"

namespace bitgask {

// What the keydir knows of a live key; reading it never touches the disk.
struct RecordMeta {
  int64_t timestamp_unix_ns = 0;  // when written, or the timestamp the writer gave
  int64_t expires_unix_ns = 0;    // 0: never expires
  uint32_t value_size = 0;        // logical (uncompressed) bytes
  uint16_t mode = 0;              // as given in WriteOptions::mode; 0 if none
};

struct DBStats {
  uint64_t keys = 0;            // live keys in the keydir
  uint64_t total_bytes = 0;     // bytes in all data files
  uint64_t dead_bytes = 0;      // bytes of overwritten, deleted and expired records
  uint32_t data_files = 0;
  uint64_t keydir_bytes = 0;    // memory held by the keydir
  int64_t last_merge_unix_ns = 0;  // 0: never merged
  uint64_t puts = 0, gets = 0, deletes = 0;  // since open
  uint64_t write_groups = 0;   // group commits (each is one write and at most one fsync)
  uint64_t syncs = 0;          // fsyncs of data files since open
};

class DB {
 public:
  // Opens the store at path, creating it when Options::create_if_missing.
  // Recovers from a crash: a torn or corrupt tail of the newest data file is
  // truncated (and logged). Corruption anywhere else fails with a Corruption
  // status naming the file and offset. Status::Locked when another process
  // holds the store.
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
  // Changes a live key's mode bits and/or timestamp without rewriting its
  // value (pass -1 to keep either). NotFound when absent.
  virtual Status SetMeta(std::string_view key, int32_t mode, int64_t timestamp_unix_ns) = 0;

  // Makes every acknowledged write durable (fdatasync of the active file).
  virtual Status Sync() = 0;
  // Removes expired keys from the keydir; *removed (if given) counts them.
  virtual Status RunGC(uint64_t* removed) = 0;

  virtual Status Stats(DBStats* stats) = 0;
  // Dead and total bytes in data files, and dead/total (0 when empty).
  virtual void Reclaimable(uint64_t* dead_bytes, uint64_t* total_bytes, double* ratio) = 0;

  // Syncs, stops background work and releases the lock. Later calls return
  // Status::Closed. Calling it twice is harmless.
  virtual Status Close() = 0;
};

// The format version this library writes and reads (data/bitgask.meta).
constexpr int kFormatVersion = 1;

}  // namespace bitgask

#endif  // BITGASK_DB_H_
