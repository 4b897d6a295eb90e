// fs_log: the filesystem's logger (spdlog, named "mount.bitgask").
//
// Contract: writes to standard error until UseSyslog() is called; the mount
// program calls it when it goes to the background, so messages of a detached
// mount (a failed merge through /.bitgask/merge, ...) reach syslog (facility
// daemon) instead of /dev/null.  BITGASK_LOG_LEVEL sets the level as for the
// engine (default: info).  Thread-safe (spdlog's _mt sinks).
#ifndef BITGASK_FS_FS_LOG_H_
#define BITGASK_FS_FS_LOG_H_

#include <spdlog/spdlog.h>

namespace bitgask {
namespace fs {

spdlog::logger& FsLog();
// Sends later messages to syslog instead of standard error.
void UseSyslog();

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_FS_LOG_H_
