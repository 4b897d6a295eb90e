// WriteBatch: puts and deletes applied atomically by DB::Write.
//
// The batch is written as one append (its records, then a commit record) and
// synced once. After a crash either every operation of the batch is in the
// store or none is: recovery discards a batch whose commit record is missing.
#ifndef BITGASK_WRITE_BATCH_H_
#define BITGASK_WRITE_BATCH_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bitgask/options.h"

namespace bitgask {

class WriteBatch {
 public:
  void Put(std::string_view key, std::string_view value);
  // Expires ttl after the batch is written (ttl > 0).
  void PutWithTTL(std::string_view key, std::string_view value, std::chrono::nanoseconds ttl);
  // Full control: absolute expiry (0 = none, or the store's default_ttl),
  // mode bits, timestamp (0 = now) and owner, as in WriteOptions.
  void PutWithMeta(std::string_view key, std::string_view value, int64_t expires_at_unix_ns,
                   uint16_t mode, int64_t timestamp_unix_ns,
                   std::optional<Owner> owner = std::nullopt);
  void Delete(std::string_view key);
  // Sets `to` to the value and metadata (mode, timestamp, expiry, owner) of `from`,
  // as the store holds `from` when Write is called (earlier operations of the
  // same batch are not seen). The value is copied as stored, a piece at a
  // time, so memory does not grow with its size. Write fails with NotFound,
  // writing nothing, when `from` is absent. With Delete(from) after it, this
  // is an atomic rename.
  void Copy(std::string_view from, std::string_view to);
  void Clear() { ops_.clear(); }
  size_t Count() const { return ops_.size(); }
  // Bytes of keys and values held.
  size_t ApproximateSize() const;

  struct Op {
    enum Kind : unsigned char { kPut, kDelete, kCopy } kind;
    std::string key;
    std::string value;        // kCopy: the source key
    int64_t ttl_ns = 0;       // relative expiry, resolved when written
    int64_t expires_at = 0;   // absolute expiry (wins over ttl_ns)
    uint16_t mode = 0;
    int64_t timestamp = 0;
    std::optional<Owner> owner;
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

}  // namespace bitgask

#endif  // BITGASK_WRITE_BATCH_H_
