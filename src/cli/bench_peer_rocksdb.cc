// The RocksDB peer of `bitgask bench`: a DB with RocksDB's default options
// (64 MiB write buffer, the default block cache, snappy; the values do not
// compress), the write-ahead log on. Durable writes set WriteOptions::sync
// (the WAL is fsynced before the reply; concurrent writers share one by
// RocksDB's group commit); the others do not (the WAL record is handed to
// the OS).
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include "bench_peers.h"

namespace bitgask {
namespace cli {
namespace {

Status FromRocksDB(const rocksdb::Status& s) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound("rocksdb: not found");
  return Status::IOError("rocksdb: " + s.ToString());
}

class RocksDBTarget : public BenchTarget {
 public:
  explicit RocksDBTarget(rocksdb::DB* db) : db_(db) {}
  std::string Name() const override { return "rocksdb"; }
  std::string Settings() const override {
    return "default Options; sync: WriteOptions.sync = true (WAL fsynced, group commit); "
           "no sync: WriteOptions.sync = false";
  }
  Status Put(std::string_view key, std::string_view value, bool sync) override {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return FromRocksDB(db_->Put(wo, Slice(key), Slice(value)));
  }
  Status Get(std::string_view key, std::string* value) override {
    return FromRocksDB(db_->Get(rocksdb::ReadOptions(), Slice(key), value));
  }
  Status Delete(std::string_view key, bool sync) override {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return FromRocksDB(db_->Delete(wo, Slice(key)));
  }
  Status Sync() override { return FromRocksDB(db_->SyncWAL()); }
  Status Iterate(
      const std::function<bool(std::string_view key, std::string_view value)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!fn(View(it->key()), View(it->value()))) break;
    }
    return FromRocksDB(it->status());
  }

 private:
  static rocksdb::Slice Slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
  static std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

  const std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace

Status OpenRocksDBPeer(const std::string& dir, const BenchConfig&,
                       std::unique_ptr<BenchTarget>* out) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  rocksdb::DB* db = nullptr;
  Status s = FromRocksDB(rocksdb::DB::Open(options, dir, &db));
  if (s.ok()) out->reset(new RocksDBTarget(db));
  return s;
}

}  // namespace cli
}  // namespace bitgask
