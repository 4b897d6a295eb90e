// io_error_tool: writes and checks files for io_error_test.sh, saying which
// system call failed and with what errno (a shell cannot see close() fail).
//
//   io_error_tool write PATH SIZE SEED   open(O_WRONLY|O_CREAT|O_TRUNC), write
//                                        SIZE bytes of Gen(SEED) in 64 KiB
//                                        pieces, fsync, close
//   io_error_tool overwrite PATH SIZE SEED the same over an existing file,
//                                        opened O_WRONLY only (no create,
//                                        no truncate)
//   io_error_tool check PATH SIZE SEED   PATH holds exactly Gen(SEED, SIZE)
//
// Prints "ok" and exits 0, or prints "CALL ERRNO-NAME" for the first call
// that failed ("write ENOSPC", "close EIO") or what differs, and exits 1.
// After a failed write it still closes the file (a failure there is not
// reported: the first failure is the answer).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// Byte i of Gen(seed): a cheap pattern that differs between seeds.
char GenByte(uint64_t seed, uint64_t i) {
  uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull + (i / 8) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 31;
  return static_cast<char>(x >> ((i % 8) * 8));
}

int Failed(const char* call, int err) {
  const char* name = strerrorname_np(err);
  std::printf("%s %s\n", call, name ? name : std::to_string(err).c_str());
  return 1;
}

int Write(const char* path, int flags, uint64_t size, uint64_t seed) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC | flags, 0644);
  if (fd < 0) return Failed("open", errno);
  std::string buf;
  for (uint64_t off = 0; off < size;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(64 << 10, size - off));
    buf.resize(n);
    for (size_t i = 0; i < n; i++) buf[i] = GenByte(seed, off + i);
    ssize_t w = ::write(fd, buf.data(), n);
    if (w < 0) {
      int err = errno;
      ::close(fd);
      return Failed("write", err);
    }
    off += static_cast<uint64_t>(w);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return Failed("fsync", err);
  }
  if (::close(fd) != 0) return Failed("close", errno);
  std::printf("ok\n");
  return 0;
}

int Check(const char* path, uint64_t size, uint64_t seed) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Failed("open", errno);
  std::string buf(64 << 10, '\0');
  uint64_t off = 0;
  for (;;) {
    ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r < 0) {
      int err = errno;
      ::close(fd);
      return Failed("read", err);
    }
    if (r == 0) break;
    for (ssize_t i = 0; i < r; i++) {
      if (off + static_cast<uint64_t>(i) >= size ||
          buf[static_cast<size_t>(i)] != GenByte(seed, off + static_cast<uint64_t>(i))) {
        std::printf("differs at byte %llu\n",
                    static_cast<unsigned long long>(off + static_cast<uint64_t>(i)));
        ::close(fd);
        return 1;
      }
    }
    off += static_cast<uint64_t>(r);
  }
  ::close(fd);
  if (off != size) {
    std::printf("size %llu, want %llu\n", static_cast<unsigned long long>(off),
                static_cast<unsigned long long>(size));
    return 1;
  }
  std::printf("ok\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: io_error_tool write|overwrite|check PATH SIZE SEED\n");
    return 2;
  }
  const uint64_t size = std::strtoull(argv[3], nullptr, 10);
  const uint64_t seed = std::strtoull(argv[4], nullptr, 10);
  if (std::strcmp(argv[1], "write") == 0) return Write(argv[2], O_CREAT | O_TRUNC, size, seed);
  if (std::strcmp(argv[1], "overwrite") == 0) return Write(argv[2], 0, size, seed);
  if (std::strcmp(argv[1], "check") == 0) return Check(argv[2], size, seed);
  std::fprintf(stderr, "io_error_tool: unknown command %s\n", argv[1]);
  return 2;
}
