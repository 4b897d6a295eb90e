#include "file_buffer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace bitgask {
namespace fs {
namespace {

int PwriteAll(int fd, const char* data, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return 0;
}

// An unnamed file in dir: O_TMPFILE where the filesystem has it, else a
// named one unlinked at once.
int OpenUnnamed(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string tmpl = dir + "/.bitgask-spill.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd = ::mkostemp(buf.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(buf.data());
  return fd;
}

}  // namespace

FileBuffer::~FileBuffer() {
  if (fd_ >= 0) ::close(fd_);
}

int FileBuffer::Read(uint64_t off, size_t n, std::string* out) const {
  out->clear();
  if (off >= size_) return 0;
  n = static_cast<size_t>(std::min<uint64_t>(n, size_ - off));
  if (in_memory()) {
    out->assign(mem_, static_cast<size_t>(off), n);
    return 0;
  }
  out->resize(n);
  int err = ReadExactly(off, n, out->data());
  if (err != 0) out->clear();
  return err;
}

int FileBuffer::ReadExactly(uint64_t off, size_t n, char* dst) const {
  if (off + n > size_) return EIO;
  if (in_memory()) {
    std::memcpy(dst, mem_.data() + off, n);
    return 0;
  }
  while (n > 0) {
    ssize_t r = ::pread(fd_, dst, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno;
    if (r == 0) return EIO;
    dst += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return 0;
}

int FileBuffer::Write(uint64_t off, const char* data, size_t n) {
  const uint64_t end = off + n;
  if (in_memory() && end > kSpillBytes) {
    int err = Spill();
    if (err != 0) return err;
  }
  if (in_memory()) {
    if (end > mem_.size()) mem_.resize(static_cast<size_t>(end), '\0');
    std::memcpy(&mem_[static_cast<size_t>(off)], data, n);
  } else {
    // pwrite past the end leaves a hole that reads as zeros.
    int err = PwriteAll(fd_, data, n, off);
    if (err != 0) return err;
  }
  size_ = std::max(size_, end);
  return 0;
}

int FileBuffer::Truncate(uint64_t size) {
  if (in_memory() && size > kSpillBytes) {
    int err = Spill();
    if (err != 0) return err;
  }
  if (in_memory()) {
    mem_.resize(static_cast<size_t>(size), '\0');
    if (mem_.capacity() > 2 * mem_.size() + 4096) mem_.shrink_to_fit();
  } else if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return errno;
  }
  size_ = size;
  return 0;
}

void FileBuffer::Clear() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::string().swap(mem_);
  size_ = 0;
}

int FileBuffer::Spill() {
  int fd = OpenUnnamed(spill_dir_);
  if (fd < 0) return errno;
  int err = PwriteAll(fd, mem_.data(), mem_.size(), 0);
  if (err != 0) {
    ::close(fd);
    return err;
  }
  fd_ = fd;
  std::string().swap(mem_);
  return 0;
}

}  // namespace fs
}  // namespace bitgask
