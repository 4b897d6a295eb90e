#include "bench_target.h"

#include <utility>

namespace bitgask {
namespace cli {

Status BitgaskTarget::Open(const std::string& dir, const Options& options,
                           std::unique_ptr<BitgaskTarget>* out) {
  std::unique_ptr<BitgaskTarget> t(new BitgaskTarget(dir, options));
  Status s = DB::Open(dir, options, &t->db_);
  if (s.ok()) *out = std::move(t);
  return s;
}

WriteOptions BitgaskTarget::Write(bool sync) {
  WriteOptions wo;
  wo.sync = sync ? WriteOptions::Sync::kAlways : WriteOptions::Sync::kNever;
  return wo;
}

std::string BitgaskTarget::Settings() const {
  return "sync: WriteOptions::Sync::kAlways (fdatasync before the reply; concurrent writers "
         "share one by group commit); no sync: kNever (the record handed to the OS by one writev() "
         "per group of writers)";
}

Status BitgaskTarget::Put(std::string_view key, std::string_view value, bool sync) {
  return db_->Put(Write(sync), key, value);
}

Status BitgaskTarget::PutWithTTL(std::string_view key, std::string_view value,
                                 std::chrono::nanoseconds ttl, bool sync) {
  WriteOptions wo = Write(sync);
  wo.ttl = ttl;
  return db_->Put(wo, key, value);
}

Status BitgaskTarget::Get(std::string_view key, std::string* value) {
  return db_->Get(key, value);
}

Status BitgaskTarget::Delete(std::string_view key, bool sync) {
  return db_->Delete(Write(sync), key);
}

Status BitgaskTarget::Sync() { return db_->Sync(); }

Status BitgaskTarget::Iterate(
    const std::function<bool(std::string_view key, std::string_view value)>& fn) {
  return db_->Iter("", [&fn](std::string_view key, std::string_view value, const RecordMeta&) {
    return fn(key, value);
  });
}

Status BitgaskTarget::Reopen(bool hints, double* seconds) {
  Status s = Close();
  if (!s.ok()) return s;
  Options o = options_;
  o.use_hint_files = hints;
  const auto start = std::chrono::steady_clock::now();
  s = DB::Open(dir_, o, &db_);
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

Status BitgaskTarget::ForceMerge(MergeResult* result) {
  MergeOptions mo;
  mo.force = true;
  return db_->Merge(mo, result);
}

Status BitgaskTarget::Stats(DBStats* stats) { return db_->Stats(stats); }

Status BitgaskTarget::Close() {
  if (db_ == nullptr) return Status::OK();
  Status s = db_->Close();
  db_.reset();
  return s;
}

}  // namespace cli
}  // namespace bitgask
