#include "store_access.h"

#include <sys/stat.h>

#include "cli_io.h"

namespace bitgask {
namespace cli {

bool StoreExists(const std::string& dir) {
  struct stat st;
  return stat((dir + "/data").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string OpenFailure(const std::string& dir, const Status& s) {
  if (s.IsLocked()) {
    return "store " + dir +
           " is in use by another process (a mount.bitgask or bitgaskd?); stop it, or wait "
           "with --lock-timeout=DURATION";
  }
  return "cannot open store " + dir + ": " + s.ToString();
}

bool OpenStore(const CliContext& ctx, Access access, std::unique_ptr<DB>* db) {
  Options o = ctx.options;
  if (access == Access::kMustExist) {
    if (!StoreExists(ctx.dir)) {
      Fail("no store at " + ctx.dir);
      return false;
    }
    o.create_if_missing = false;
    o.error_if_missing = true;
  }
  Status s = DB::Open(ctx.dir, o, db);
  if (!s.ok()) {
    Fail(OpenFailure(ctx.dir, s));
    return false;
  }
  return true;
}

bool LockStore(const CliContext& ctx, std::unique_ptr<FileLock>* lock) {
  if (!StoreExists(ctx.dir)) {
    Fail("no store at " + ctx.dir);
    return false;
  }
  Env* env = Env::Default();
  const int64_t deadline =
      env->NowUnixNanos() +
      std::chrono::duration_cast<std::chrono::nanoseconds>(ctx.options.lock_timeout).count();
  Status s;
  for (;;) {
    s = env->LockFile(ctx.dir + "/LOCK", lock);
    if (!s.IsLocked() || env->NowUnixNanos() >= deadline) break;
    env->SleepMicros(10000);
  }
  if (!s.ok()) {
    Fail(OpenFailure(ctx.dir, s));
    return false;
  }
  return true;
}

int CloseStore(DB* db, int rc) {
  Status s = db->Close();
  if (!s.ok() && rc == 0) return Fail("closing the store: " + s.ToString());
  return rc;
}

int FailStatus(const std::string& what, const Status& s) {
  return Fail(what + ": " + s.ToString());
}

}  // namespace cli
}  // namespace bitgask
