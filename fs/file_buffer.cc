#include "file_buffer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include <isa-l/crc.h>

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

// A pipe of the calling thread for SpliceAll, made at first use (1 MiB,
// FUSE's largest write) and closed with the thread or after an error.
class ThreadPipe {
 public:
  ~ThreadPipe() { Reset(); }
  // False when no pipe can be had.
  bool Get(int* r, int* w) {
    if (fds_[0] < 0) {
      if (::pipe2(fds_, O_CLOEXEC) != 0) return false;
      ::fcntl(fds_[1], F_SETPIPE_SZ, 1 << 20);  // else the default size: more calls
    }
    *r = fds_[0];
    *w = fds_[1];
    return true;
  }
  void Reset() {
    if (fds_[0] >= 0) {
      ::close(fds_[0]);
      ::close(fds_[1]);
    }
    fds_[0] = fds_[1] = -1;
  }

 private:
  int fds_[2] = {-1, -1};
};

// Writes n bytes at off of fd the way PwriteAll does, but through a pipe:
// vmsplice lends the caller's pages to the pipe and splice copies them into
// the file, so the kernel copies page to page instead of from user memory
// (about half the CPU of pwrite on the machine of docs/Benchmarks.md,
// session 6). The bytes are copied when splice returns. Returns 0, an errno,
// or -1 when splicing is not possible here and nothing was written.
int SpliceAll(int fd, const char* data, size_t n, uint64_t off) {
  thread_local ThreadPipe pipe;
  int r, w;
  if (!pipe.Get(&r, &w)) return -1;
  bool wrote = false;
  while (n > 0) {
    iovec v{const_cast<char*>(data), n};
    ssize_t lent = ::vmsplice(w, &v, 1, 0);
    if (lent < 0 && errno == EINTR) continue;
    if (lent <= 0) {
      const int err = lent < 0 ? errno : EIO;
      pipe.Reset();
      return wrote ? err : -1;
    }
    for (ssize_t left = lent; left > 0;) {
      loff_t at = static_cast<loff_t>(off);
      ssize_t k = ::splice(r, nullptr, fd, &at, static_cast<size_t>(left), 0);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) {
        const int err = k < 0 ? errno : EIO;
        pipe.Reset();  // bytes may be left in it
        return wrote ? err : -1;
      }
      wrote = true;
      left -= k;
      off += static_cast<uint64_t>(k);
    }
    data += lent;
    n -= static_cast<size_t>(lent);
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

// CRC-32 as zlib computes it (ISA-L's, as the engine's records use).
uint32_t Crc32(uint32_t crc, const char* data, uint64_t n) {
  return crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(data), n);
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
    // A write past the end leaves a hole that reads as zeros.
    int err = n >= kSpliceBytes ? SpliceAll(fd_, data, n, off) : -1;
    if (err < 0) err = PwriteAll(fd_, data, n, off);
    if (err != 0) {
      TrackWrite(off, nullptr, n, size_);
      return err;
    }
    const uint64_t old_size = size_;
    size_ = std::max(size_, end);
    TrackWrite(off, data, n, old_size);
    return 0;
  }
  size_ = std::max(size_, end);
  return 0;
}

void FileBuffer::TrackWrite(uint64_t off, const char* data, size_t n, uint64_t old_size) {
  const uint64_t blocks = (size_ + kBlockBytes - 1) / kBlockBytes;
  crc_.resize(blocks, 0);
  known_.resize(blocks, false);
  // A hole after the old end changes the old last block (zeros follow it).
  if (off > old_size && old_size % kBlockBytes != 0) known_[old_size / kBlockBytes] = false;
  for (uint64_t b = off / kBlockBytes; b < blocks && b * kBlockBytes < off + n; b++) {
    const uint64_t bs = b * kBlockBytes;
    const uint64_t be = std::min(bs + kBlockBytes, size_);
    const uint64_t ws = std::max(off, bs);
    const uint64_t we = std::min<uint64_t>(off + n, be);
    const uint64_t old_end = std::clamp(old_size, bs, bs + kBlockBytes);
    if (data == nullptr) {
      known_[b] = false;
    } else if (ws == bs && we == be) {  // covers the block
      crc_[b] = Crc32(0, data + (ws - off), we - ws);
      known_[b] = true;
    } else if (known_[b] && ws == old_end && we == be) {  // extends it from its end
      crc_[b] = Crc32(crc_[b], data + (ws - off), we - ws);
    } else {
      known_[b] = false;
    }
  }
}

int FileBuffer::BlockCrcs(std::vector<uint32_t>* out) {
  if (in_memory()) return EINVAL;
  const uint64_t blocks = (size_ + kBlockBytes - 1) / kBlockBytes;
  crc_.resize(blocks, 0);
  known_.resize(blocks, false);
  std::vector<char> buf;
  for (uint64_t b = 0; b < blocks; b++) {
    if (known_[b]) continue;
    const uint64_t bs = b * kBlockBytes;
    const size_t len = static_cast<size_t>(std::min(kBlockBytes, size_ - bs));
    buf.resize(len);
    int err = ReadExactly(bs, len, buf.data());
    if (err != 0) return err;
    crc_[b] = Crc32(0, buf.data(), len);
    known_[b] = true;
  }
  *out = crc_;
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
  } else if (size != size_) {
    // The block holding the old end (zeros follow it) or the new end (cut).
    const uint64_t old_size = size_;
    size_ = size;
    const uint64_t blocks = (size_ + kBlockBytes - 1) / kBlockBytes;
    crc_.resize(blocks, 0);
    known_.resize(blocks, false);
    for (uint64_t b : {old_size / kBlockBytes, size / kBlockBytes}) {
      if (b < blocks) known_[b] = false;
    }
  }
  size_ = size;
  return 0;
}

void FileBuffer::Clear() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::string().swap(mem_);
  size_ = 0;
  std::vector<uint32_t>().swap(crc_);
  std::vector<bool>().swap(known_);
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
  const uint64_t blocks = (size_ + kBlockBytes - 1) / kBlockBytes;
  crc_.assign(blocks, 0);
  known_.assign(blocks, true);
  for (uint64_t b = 0; b < blocks; b++) {
    const uint64_t bs = b * kBlockBytes;
    crc_[b] = Crc32(0, mem_.data() + bs, std::min(kBlockBytes, size_ - bs));
  }
  std::string().swap(mem_);
  return 0;
}

}  // namespace fs
}  // namespace bitgask
