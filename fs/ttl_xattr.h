// ttl_xattr: a key's expiry as extended attributes.
//
// Contract (docs/Filesystem.md, "Expiry (TTL)"):
//   * user.bitgask.ttl: set to a whole number of seconds N (1 <= N <=
//     kMaxTtlSeconds, decimal, one trailing newline allowed) -> DB::Expire(N s);
//     get -> the whole seconds left, rounded up (never 0 while the key lives);
//     remove -> DB::Persist.
//   * user.bitgask.expires: read-only; the expiry as whole Unix seconds,
//     rounded up.  Setting or removing it is EPERM.
//   * Both exist only while the key has an expiry: get is ENODATA otherwise,
//     and list names them only then.
//   * Bad values (empty, not digits, 0, negative, too large) are EINVAL.
//     XATTR_CREATE on an existing expiry is EEXIST; XATTR_REPLACE without one
//     is ENODATA.
//   * Any other name: get ENODATA; set and remove ENOTSUP (the store keeps no
//     other per-key attributes).
// Functions return 0 or an errno; they call the engine and take no locks.
#ifndef BITGASK_FS_TTL_XATTR_H_
#define BITGASK_FS_TTL_XATTR_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "bitgask/db.h"

namespace bitgask {
namespace fs {

constexpr char kTtlXattr[] = "user.bitgask.ttl";
constexpr char kExpiresXattr[] = "user.bitgask.expires";
// About 100 years: far from the int64 nanosecond limit (year 2262).
constexpr int64_t kMaxTtlSeconds = 3153600000;

// 0 and *seconds on success, EINVAL for anything else.
int ParseTtlSeconds(std::string_view text, int64_t* seconds);

int GetTtlXattr(DB* db, const std::string& key, std::string_view name, std::string* value);
int SetTtlXattr(DB* db, const std::string& key, std::string_view name, std::string_view value,
                int flags);
int RemoveTtlXattr(DB* db, const std::string& key, std::string_view name);
// The names (each NUL-terminated) the key has: both or none.
int ListTtlXattrs(DB* db, const std::string& key, std::string* names);

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_TTL_XATTR_H_
