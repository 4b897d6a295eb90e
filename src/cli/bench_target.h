// bench_target: what `bitgask bench` measures, behind a small interface so
// that other stores (the peers of bench_peers.h: LevelDB, RocksDB, LMDB,
// Tkrzw) are measured by the same workloads.
//
// Contract: every method may be called from many threads at once (the
// workloads' threads share one target). `sync` asks that the write be
// durable (fsynced) before the call returns; false asks only that the bytes
// reach the operating system (they survive a crash of the process, not of
// the machine). Get returns NotFound for an absent key and leaves *value as
// it was. Iterate visits every live key once with its value, in the store's
// order, until fn returns false. Settings() says in one line how the target
// is configured and what a synced and an unsynced write do in it (printed
// with its results).
//
// BitgaskTarget adds what only bitgask has (writes with a TTL, reopen with
// or without hint files, a forced merge, keydir statistics); the workloads
// that need those run on bitgask only.
#ifndef BITGASK_SRC_CLI_BENCH_TARGET_H_
#define BITGASK_SRC_CLI_BENCH_TARGET_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bitgask/db.h"

namespace bitgask {
namespace cli {

class BenchTarget {
 public:
  virtual ~BenchTarget() = default;
  virtual std::string Name() const = 0;
  virtual std::string Settings() const = 0;
  virtual Status Put(std::string_view key, std::string_view value, bool sync) = 0;
  virtual Status Get(std::string_view key, std::string* value) = 0;
  virtual Status Delete(std::string_view key, bool sync) = 0;
  virtual Status Sync() = 0;
  virtual Status Iterate(const std::function<bool(std::string_view key,
                                                  std::string_view value)>& fn) = 0;
};

class BitgaskTarget : public BenchTarget {
 public:
  // Opens (creating) the store at dir with options.
  static Status Open(const std::string& dir, const Options& options,
                     std::unique_ptr<BitgaskTarget>* out);

  std::string Name() const override { return "bitgask"; }
  std::string Settings() const override;
  Status Put(std::string_view key, std::string_view value, bool sync) override;
  // Put that expires ttl from now (ttl > 0).
  Status PutWithTTL(std::string_view key, std::string_view value, std::chrono::nanoseconds ttl,
                    bool sync);
  Status Get(std::string_view key, std::string* value) override;
  Status Delete(std::string_view key, bool sync) override;
  Status Sync() override;
  Status Iterate(
      const std::function<bool(std::string_view key, std::string_view value)>& fn) override;

  // Closes the store and opens it again with use_hint_files = hints; *seconds
  // is the time DB::Open took. REQUIRES: no other call in progress.
  Status Reopen(bool hints, double* seconds);
  Status ForceMerge(MergeResult* result);
  Status Stats(DBStats* stats);
  Status Close();
  const std::string& dir() const { return dir_; }
  const Options& options() const { return options_; }

 private:
  BitgaskTarget(std::string dir, const Options& options) : dir_(std::move(dir)), options_(options) {}
  static WriteOptions Write(bool sync);

  const std::string dir_;
  Options options_;
  std::unique_ptr<DB> db_;
};

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_BENCH_TARGET_H_
