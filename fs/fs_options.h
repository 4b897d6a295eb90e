// FsOptions: how the filesystem presents keys (mount options uid=, gid=,
// umask=).  A key without an owner of its own (written by another program,
// or created through the mount by the mounting user) is shown owned by
// uid:gid; umask bits are cleared from the permissions shown (the stored
// mode is unchanged).
#ifndef BITGASK_FS_FS_OPTIONS_H_
#define BITGASK_FS_FS_OPTIONS_H_

#include <sys/types.h>
#include <unistd.h>

#include <chrono>

namespace bitgask {
namespace fs {

struct FsOptions {
  uid_t uid = getuid();
  gid_t gid = getgid();
  mode_t umask = 0;
  // The store's default_ttl (engine option): caps the kernel's cache timeouts.
  std::chrono::nanoseconds default_ttl{0};
};

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_FS_OPTIONS_H_
