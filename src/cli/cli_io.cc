#include "cli_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace bitgask {
namespace cli {

bool ReadAll(int fd, std::string* out, std::string* error) {
  out->clear();
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return true;
    } else if (errno != EINTR) {
      *error = std::string("reading standard input: ") + std::strerror(errno);
      return false;
    }
  }
}

bool WriteOut(std::string_view bytes) {
  if (bytes.empty()) return !std::ferror(stdout);
  return std::fwrite(bytes.data(), 1, bytes.size(), stdout) == bytes.size();
}

bool FinishOut(std::string* error) {
  // A failed fwrite sets the stream's error flag, so this catches it too.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    *error = std::string("writing standard output: ") + std::strerror(errno != 0 ? errno : EIO);
    return false;
  }
  return true;
}

int PrintOut(std::string_view bytes) {
  std::string error;
  WriteOut(bytes);  // a failure shows in FinishOut
  if (!FinishOut(&error)) return Fail(error);
  return 0;
}

std::string ShowBytes(std::string_view bytes, size_t max_len) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

int Fail(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "bitgask: %s\n", message.c_str());
  return 1;
}

}  // namespace cli
}  // namespace bitgask
