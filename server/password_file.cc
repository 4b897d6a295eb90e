#include "password_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bitgask {
namespace server {

namespace {
constexpr size_t kMaxFile = 4096;
}

Status ReadPasswordFile(const std::string& path, std::string* password) {
  const std::string where = "password file " + path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(where + ": " + std::strerror(errno), errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::IOError(where + ": " + std::strerror(err), err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(where + ": not a regular file");
  }
  if (st.st_mode & S_IROTH) {
    ::close(fd);
    return Status::InvalidArgument(where + ": every user may read it (chmod o-r it)");
  }
  std::string text(kMaxFile + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, &text[got], text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::IOError(where + ": " + std::strerror(err), err);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got > kMaxFile) return Status::InvalidArgument(where + ": larger than 4 KiB");
  text.resize(got);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.find('\n') != std::string::npos)
    return Status::InvalidArgument(where + ": more than one line");
  if (text.empty()) return Status::InvalidArgument(where + ": the password is empty");
  *password = std::move(text);
  return Status::OK();
}

}  // namespace server
}  // namespace bitgask
