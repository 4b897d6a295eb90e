// The LevelDB peer of `bitgask bench`: a DB with LevelDB's default options
// (4 MiB write buffer, 8 MiB block cache, snappy; the values do not
// compress). Durable writes set WriteOptions::sync (the log is fsynced
// before the reply; concurrent writers share one by LevelDB's group
// commit); the others do not (the log record is handed to the OS).
#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>

#include "bench_peers.h"

namespace bitgask {
namespace cli {
namespace {

Status FromLevelDB(const leveldb::Status& s) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound("leveldb: not found");
  return Status::IOError("leveldb: " + s.ToString());
}

class LevelDBTarget : public BenchTarget {
 public:
  explicit LevelDBTarget(leveldb::DB* db) : db_(db) {}
  std::string Name() const override { return "leveldb"; }
  std::string Settings() const override {
    return "default Options; sync: WriteOptions.sync = true (log fsynced, group commit); "
           "no sync: WriteOptions.sync = false";
  }
  Status Put(std::string_view key, std::string_view value, bool sync) override {
    leveldb::WriteOptions wo;
    wo.sync = sync;
    return FromLevelDB(db_->Put(wo, Slice(key), Slice(value)));
  }
  Status Get(std::string_view key, std::string* value) override {
    return FromLevelDB(db_->Get(leveldb::ReadOptions(), Slice(key), value));
  }
  Status Delete(std::string_view key, bool sync) override {
    leveldb::WriteOptions wo;
    wo.sync = sync;
    return FromLevelDB(db_->Delete(wo, Slice(key)));
  }
  Status Sync() override {
    leveldb::WriteOptions wo;  // an empty synced batch fsyncs the log
    wo.sync = true;
    leveldb::WriteBatch empty;
    return FromLevelDB(db_->Write(wo, &empty));
  }
  Status Iterate(
      const std::function<bool(std::string_view key, std::string_view value)>& fn) override {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!fn(View(it->key()), View(it->value()))) break;
    }
    return FromLevelDB(it->status());
  }

 private:
  static leveldb::Slice Slice(std::string_view s) { return leveldb::Slice(s.data(), s.size()); }
  static std::string_view View(const leveldb::Slice& s) { return {s.data(), s.size()}; }

  const std::unique_ptr<leveldb::DB> db_;
};

}  // namespace

Status OpenLevelDBPeer(const std::string& dir, const BenchConfig&,
                       std::unique_ptr<BenchTarget>* out) {
  leveldb::Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  leveldb::DB* db = nullptr;
  Status s = FromLevelDB(leveldb::DB::Open(options, dir, &db));
  if (s.ok()) out->reset(new LevelDBTarget(db));
  return s;
}

}  // namespace cli
}  // namespace bitgask
