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
  // Engine options the filesystem acts on: default_ttl caps the kernel's
  // cache timeouts; sync_on_put says whether a store syncs (a file created
  // is synced by its close, with the engine's sync_on_put).
  std::chrono::nanoseconds default_ttl{0};
  bool sync_on_put = true;
};

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_FS_OPTIONS_H_
