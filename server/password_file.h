// ReadPasswordFile: the AUTH password kept in a file, so that it is not on
// the command line (where ps and /proc/PID/cmdline show it to every user)
// nor in /etc/fstab or /proc/mounts.
//
// The file holds the password on its first line; one trailing newline (LF
// or CRLF) is dropped, every other byte is part of the password. Refused,
// with a message for people: a file that cannot be read, an empty password,
// more than one line, a file larger than 4 KiB, and a file that every user
// may read (mode o+r: chmod o-r it).
#ifndef BITGASK_SERVER_PASSWORD_FILE_H_
#define BITGASK_SERVER_PASSWORD_FILE_H_

#include <string>

#include "bitgask/status.h"

namespace bitgask {
namespace server {

Status ReadPasswordFile(const std::string& path, std::string* password);

}  // namespace server
}  // namespace bitgask

#endif  // BITGASK_SERVER_PASSWORD_FILE_H_
