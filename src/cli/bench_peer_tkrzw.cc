// The Tkrzw peer of `bitgask bench`: a HashDBM in appending mode (every
// write appended to the file, as bitgask does; REFERENCE figures use the
// same), with twice as many buckets as keys (Tkrzw's advice: more buckets
// than records), other tuning at its defaults. Durable writes call
// Synchronize(hard = true) after each write (fsync of the file; Tkrzw has
// no group commit, so concurrent synced writers each pay one); the others
// do not (the record is in the file's memory map or handed to the OS).
#include <tkrzw_dbm_hash.h>

#include <algorithm>

#include "bench_peers.h"

namespace bitgask {
namespace cli {
namespace {

Status FromTkrzw(const tkrzw::Status& s) {
  if (s.IsOK()) return Status::OK();
  if (s == tkrzw::Status::NOT_FOUND_ERROR) return Status::NotFound("tkrzw: not found");
  return Status::IOError("tkrzw: " + s.GetMessage());
}

class TkrzwTarget : public BenchTarget {
 public:
  TkrzwTarget() = default;
  ~TkrzwTarget() override { dbm_.Close(); }
  tkrzw::HashDBM* dbm() { return &dbm_; }

  std::string Name() const override { return "tkrzw"; }
  std::string Settings() const override {
    return "HashDBM, UPDATE_APPENDING, 2 buckets per key; sync: Synchronize(true) after each "
           "write (no group commit); no sync: none";
  }
  Status Put(std::string_view key, std::string_view value, bool sync) override {
    Status s = FromTkrzw(dbm_.Set(key, value));
    return s.ok() && sync ? Sync() : s;
  }
  Status Get(std::string_view key, std::string* value) override {
    return FromTkrzw(dbm_.Get(key, value));
  }
  Status Delete(std::string_view key, bool sync) override {
    Status s = FromTkrzw(dbm_.Remove(key));
    return s.ok() && sync ? Sync() : s;
  }
  Status Sync() override { return FromTkrzw(dbm_.Synchronize(true)); }
  Status Iterate(
      const std::function<bool(std::string_view key, std::string_view value)>& fn) override {
    // ProcessEach cannot stop early: after fn said stop, the rest is skipped.
    bool more = true;
    tkrzw::DBM::RecordProcessorLambda proc(
        [&](std::string_view key, std::string_view value) -> std::string_view {
          // Called once before and once after the records with NOOP for both.
          if (more && key.data() != tkrzw::DBM::RecordProcessor::NOOP.data()) {
            more = fn(key, value);
          }
          return tkrzw::DBM::RecordProcessor::NOOP;
        });
    return FromTkrzw(dbm_.ProcessEach(&proc, false));
  }

 private:
  tkrzw::HashDBM dbm_;
};

}  // namespace

Status OpenTkrzwPeer(const std::string& dir, const BenchConfig& config,
                     std::unique_ptr<BenchTarget>* out) {
  tkrzw::HashDBM::TuningParameters tuning;
  tuning.update_mode = tkrzw::HashDBM::UPDATE_APPENDING;
  tuning.num_buckets = static_cast<int64_t>(std::max<uint64_t>(config.num * 2, 1048583));
  std::unique_ptr<TkrzwTarget> t(new TkrzwTarget());
  Status s = FromTkrzw(t->dbm()->OpenAdvanced(dir + "/casket.tkh", true,
                                              tkrzw::File::OPEN_TRUNCATE, tuning));
  if (s.ok()) *out = std::move(t);
  return s;
}

}  // namespace cli
}  // namespace bitgask
