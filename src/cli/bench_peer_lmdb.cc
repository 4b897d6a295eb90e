// The LMDB peer of `bitgask bench`: one environment with one unnamed
// database, a 64 GiB map (address space only; the file grows as needed),
// default flags otherwise; one write transaction per put or delete (LMDB
// admits one writer at a time). Durable writes commit with the default
// flags (the data pages and then the meta page are fsynced at commit); the
// others with MDB_NOSYNC (commit writes the pages to the OS, no fsync).
// Reads use one read-only transaction per thread, reset after each get and
// renewed before the next (LMDB's cheapest way to read).
#include <lmdb.h>

#include <mutex>

#include "bench_peers.h"

namespace bitgask {
namespace cli {
namespace {

constexpr size_t kMapSize = size_t{64} << 30;

Status FromLMDB(int rc, const std::string& what) {
  if (rc == MDB_SUCCESS) return Status::OK();
  if (rc == MDB_NOTFOUND) return Status::NotFound("lmdb: not found");
  return Status::IOError(std::string("lmdb: ") + what + ": " + mdb_strerror(rc),
                         rc > 0 ? rc : 0);
}

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view View(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

// A read transaction of this thread on one environment, reset between uses.
// Lock order: none (thread-local).
class ThreadReader {
 public:
  ~ThreadReader() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  // Starts (or renews) the thread's read transaction on env.
  int Begin(MDB_env* env, MDB_txn** txn) {
    if (txn_ != nullptr && env_ != env) {
      mdb_txn_abort(txn_);
      txn_ = nullptr;
    }
    env_ = env;
    const int rc = txn_ == nullptr ? mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_)
                                   : mdb_txn_renew(txn_);
    *txn = txn_;
    return rc;
  }
  void End() { mdb_txn_reset(txn_); }
  // Called before env closes: the transaction must not outlive it.
  void Forget(MDB_env* env) {
    if (txn_ != nullptr && env_ == env) {
      mdb_txn_abort(txn_);
      txn_ = nullptr;
    }
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
};

thread_local ThreadReader reader;

class LMDBTarget : public BenchTarget {
 public:
  explicit LMDBTarget(MDB_env* env) : env_(env) {}
  ~LMDBTarget() override {
    reader.Forget(env_);  // the workloads' threads have ended; this is the opener's
    mdb_env_close(env_);
  }
  Status OpenDatabase() {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == MDB_SUCCESS) rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
    if (rc == MDB_SUCCESS) return FromLMDB(mdb_txn_commit(txn), "commit");
    if (txn != nullptr) mdb_txn_abort(txn);
    return FromLMDB(rc, "open database");
  }

  std::string Name() const override { return "lmdb"; }
  std::string Settings() const override {
    return "one write txn per op; sync: default flags (fsync at commit); no sync: MDB_NOSYNC";
  }
  Status Put(std::string_view key, std::string_view value, bool sync) override {
    return Write(sync, [&](MDB_txn* txn) {
      MDB_val k = Val(key), v = Val(value);
      return mdb_put(txn, dbi_, &k, &v, 0);
    });
  }
  Status Get(std::string_view key, std::string* value) override {
    MDB_txn* txn = nullptr;
    int rc = reader.Begin(env_, &txn);
    if (rc != MDB_SUCCESS) return FromLMDB(rc, "read txn");
    MDB_val k = Val(key), v;
    rc = mdb_get(txn, dbi_, &k, &v);
    if (rc == MDB_SUCCESS) value->assign(static_cast<const char*>(v.mv_data), v.mv_size);
    reader.End();
    return FromLMDB(rc, "get");
  }
  Status Delete(std::string_view key, bool sync) override {
    return Write(sync, [&](MDB_txn* txn) {
      MDB_val k = Val(key);
      return mdb_del(txn, dbi_, &k, nullptr);
    });
  }
  Status Sync() override { return FromLMDB(mdb_env_sync(env_, 1), "sync"); }
  Status Iterate(
      const std::function<bool(std::string_view key, std::string_view value)>& fn) override {
    MDB_txn* txn = nullptr;
    int rc = reader.Begin(env_, &txn);
    if (rc != MDB_SUCCESS) return FromLMDB(rc, "read txn");
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn, dbi_, &cursor);
    if (rc == MDB_SUCCESS) {
      MDB_val k, v;
      for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
           rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        if (!fn(View(k), View(v))) break;
      }
      mdb_cursor_close(cursor);
    }
    reader.End();
    return rc == MDB_NOTFOUND ? Status::OK() : FromLMDB(rc, "iterate");
  }

 private:
  // One write transaction running op; MDB_NOSYNC set as sync asks.
  // REQUIRES: write_mu_ not held. LMDB's own writer lock is taken inside it.
  template <typename Op>
  Status Write(bool sync, const Op& op) {
    std::lock_guard<std::mutex> lock(write_mu_);
    if (sync == nosync_) {
      const int rc = mdb_env_set_flags(env_, MDB_NOSYNC, sync ? 0 : 1);
      if (rc != MDB_SUCCESS) return FromLMDB(rc, "set MDB_NOSYNC");
      nosync_ = !sync;
    }
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != MDB_SUCCESS) return FromLMDB(rc, "write txn");
    rc = op(txn);
    if (rc != MDB_SUCCESS) {
      mdb_txn_abort(txn);
      return FromLMDB(rc, "write");
    }
    return FromLMDB(mdb_txn_commit(txn), "commit");
  }

  MDB_env* const env_;
  MDB_dbi dbi_ = 0;
  std::mutex write_mu_;  // serializes writers and guards the MDB_NOSYNC flag
  bool nosync_ = false;  // GUARDED_BY(write_mu_)
};

}  // namespace

Status OpenLMDBPeer(const std::string& dir, const BenchConfig&,
                    std::unique_ptr<BenchTarget>* out) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != MDB_SUCCESS) return FromLMDB(rc, "create");
  std::unique_ptr<LMDBTarget> t(new LMDBTarget(env));  // closes env from here on
  rc = mdb_env_set_mapsize(env, kMapSize);
  if (rc == MDB_SUCCESS) rc = mdb_env_set_maxreaders(env, 256);
  if (rc == MDB_SUCCESS) rc = mdb_env_open(env, dir.c_str(), 0, 0644);
  if (rc != MDB_SUCCESS) return FromLMDB(rc, "open " + dir);
  Status s = t->OpenDatabase();
  if (s.ok()) *out = std::move(t);
  return s;
}

}  // namespace cli
}  // namespace bitgask
