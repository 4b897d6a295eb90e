#include "ttl_xattr.h"

#include <sys/xattr.h>

#include <cerrno>
#include <chrono>
#include <ctime>

namespace bitgask {
namespace fs {
namespace {

constexpr int64_t kNsPerSec = 1000000000;

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

int64_t CeilSeconds(int64_t ns) { return ns / kNsPerSec + (ns % kNsPerSec > 0 ? 1 : 0); }

// 0 and *expires (0: none) for a live key, else ENOENT or the engine's errno.
int ExpiryOf(DB* db, const std::string& key, int64_t* expires) {
  RecordMeta m;
  Status s = db->Meta(key, &m);
  if (!s.ok()) return s.IsNotFound() ? ENOENT : s.errno_value();
  *expires = m.expires_unix_ns;
  return 0;
}

}  // namespace

int ParseTtlSeconds(std::string_view text, int64_t* seconds) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty() || text.size() > 10) return EINVAL;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return EINVAL;
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > kMaxTtlSeconds) return EINVAL;
  *seconds = v;
  return 0;
}

int GetTtlXattr(DB* db, const std::string& key, std::string_view name, std::string* value) {
  if (name != kTtlXattr && name != kExpiresXattr) return ENODATA;
  int64_t expires;
  if (int err = ExpiryOf(db, key, &expires)) return err;
  if (expires == 0) return ENODATA;
  if (name == kExpiresXattr) {
    *value = std::to_string(CeilSeconds(expires));
  } else {
    const int64_t left = expires - NowNs();
    *value = std::to_string(left > 0 ? CeilSeconds(left) : 1);
  }
  return 0;
}

int SetTtlXattr(DB* db, const std::string& key, std::string_view name, std::string_view value,
                int flags) {
  if (name == kExpiresXattr) return EPERM;
  if (name != kTtlXattr) return ENOTSUP;
  int64_t seconds;
  if (int err = ParseTtlSeconds(value, &seconds)) return err;
  int64_t expires;
  if (int err = ExpiryOf(db, key, &expires)) return err;
  if ((flags & XATTR_CREATE) && expires != 0) return EEXIST;
  if ((flags & XATTR_REPLACE) && expires == 0) return ENODATA;
  Status s = db->Expire(key, std::chrono::seconds(seconds));
  if (!s.ok()) return s.IsNotFound() ? ENOENT : s.errno_value();
  return 0;
}

int RemoveTtlXattr(DB* db, const std::string& key, std::string_view name) {
  if (name == kExpiresXattr) return EPERM;
  if (name != kTtlXattr) return ENOTSUP;
  int64_t expires;
  if (int err = ExpiryOf(db, key, &expires)) return err;
  if (expires == 0) return ENODATA;
  Status s = db->Persist(key);
  if (!s.ok()) return s.IsNotFound() ? ENOENT : s.errno_value();
  return 0;
}

int ListTtlXattrs(DB* db, const std::string& key, std::string* names) {
  names->clear();
  int64_t expires;
  if (int err = ExpiryOf(db, key, &expires)) return err;
  if (expires == 0) return 0;
  names->append(kTtlXattr, sizeof(kTtlXattr));  // with the terminating NUL
  names->append(kExpiresXattr, sizeof(kExpiresXattr));
  return 0;
}

}  // namespace fs
}  // namespace bitgask
