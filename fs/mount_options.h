// mount_options: parsing of mount.bitgask's "-o opt,opt..." list.
//
// Contract: every option is either an engine option by its name, with the
// syntax of SetOptionFromString (bitgask/options.h), a presentation option
// (uid=N|NAME, gid=N|NAME, umask=OCTAL: FsOptions), nonempty (allow a
// mountpoint that is not empty), resp=ADDR and resp_requirepass=PASSWORD or
// resp_requirepass_file=FILE (serve the Redis protocol from the mount's
// process; the file is read by the caller), a FUSE option passed through to
// fuse_session_new (allow_other, default_permissions, ro, debug), or a
// generic mount or fstab word that is ignored (_netdev, nofail, auto, noauto,
// user, users, defaults, rw, atime words, suid/dev/exec and their no- forms,
// async, x-* and comment=).  Anything else is an error naming the option.
// The engine options the filesystem acts on are copied into FsOptions
// (default_ttl, sync_on_put).
// Pure parsing: no locks, no engine or FUSE calls.
#ifndef BITGASK_FS_MOUNT_OPTIONS_H_
#define BITGASK_FS_MOUNT_OPTIONS_H_

#include <string>
#include <vector>

#include "bitgask/options.h"
#include "fs_options.h"

namespace bitgask {
namespace fs {

struct MountOptions {
  Options engine;                  // DB::Open options
  FsOptions fs;                    // owner and umask shown
  bool nonempty = false;           // mount over a non-empty directory
  std::string resp_addr;           // serve RESP here too ("" : no)
  std::string resp_requirepass;    // AUTH password for it
  std::string resp_requirepass_file;  // or the file holding it (ReadPasswordFile)
  std::vector<std::string> fuse;   // options for fuse_session_new's "-o"
  bool debug = false;              // FUSE debug output (-d)
};

// Parses one comma-separated list into *out (may be called repeatedly for
// several -o).  Returns false and sets *error ("unknown option X", "bad value
// for X: Y") on the first bad option.
bool ParseMountOptions(const std::string& list, MountOptions* out, std::string* error);

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_MOUNT_OPTIONS_H_
