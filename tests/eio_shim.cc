// eio_shim: an LD_PRELOAD library for the I/O error tests (io_error_test.sh).
// It makes a real program (mount.bitgask, bitgaskd, bitgask) meet a failing
// disk without any hook in the program itself.
//
// Contract:
//   BITGASK_EIO_DIR=/abs/dir       the files the faults apply to: every path
//                                  that starts with this prefix
//   BITGASK_EIO_TRIGGER=/abs/file  faults are on while this file exists
//   BITGASK_EIO_OPS=write,sync,rename,open,read   which calls fail (this is
//                                  the default, "read" excepted)
// While on, these calls fail with EIO (doing nothing) when they touch a file
// under the directory: write/pwrite/writev/pwritev/splice/copy_file_range
// (into such a file: "write"), fsync/fdatasync
// ("sync"), rename/renameat with either name under it ("rename"), open/openat
// for writing or creating ("open"), read/pread/preadv ("read"). Everything
// else, and every call while the trigger file is absent, goes to libc
// unchanged. The shim checks the trigger on each such call (one access(2)),
// so the test turns faults on and off by creating and removing that file.
//
// Under a sanitizer build the shim is built with the same sanitizer; the
// test preloads the sanitizer's runtime first (it must come first).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

enum Op { kWrite = 1, kSync = 2, kRename = 4, kOpen = 8, kRead = 16 };

struct Config {
  const char* dir = nullptr;
  size_t dir_len = 0;
  const char* trigger = nullptr;
  int ops = kWrite | kSync | kRename | kOpen;
};

const Config& Conf() {
  static const Config conf = [] {
    Config c;
    c.dir = getenv("BITGASK_EIO_DIR");
    c.trigger = getenv("BITGASK_EIO_TRIGGER");
    if (c.dir) c.dir_len = strlen(c.dir);
    if (const char* ops = getenv("BITGASK_EIO_OPS")) {
      c.ops = 0;
      if (strstr(ops, "write")) c.ops |= kWrite;
      if (strstr(ops, "sync")) c.ops |= kSync;
      if (strstr(ops, "rename")) c.ops |= kRename;
      if (strstr(ops, "open")) c.ops |= kOpen;
      if (strstr(ops, "read")) c.ops |= kRead;
    }
    return c;
  }();
  return conf;
}

bool Armed(Op op) {
  const Config& c = Conf();
  if (!c.dir || !c.trigger || !(c.ops & op)) return false;
  const int saved = errno;
  const bool on = access(c.trigger, F_OK) == 0;
  errno = saved;
  return on;
}

bool Under(const char* path) {
  const Config& c = Conf();
  return path && strncmp(path, c.dir, c.dir_len) == 0;
}

// True when fd names a file under the directory.
bool FdUnder(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const int saved = errno;
  const ssize_t n = readlink(link, target, sizeof(target) - 1);
  errno = saved;
  if (n <= 0) return false;
  target[n] = '\0';
  return Under(target);
}

// True when (dirfd, path) is under the directory (a relative path: when the
// directory it is relative to is).
bool UnderAt(int dirfd, const char* path) {
  if (!path) return false;
  if (path[0] == '/') return Under(path);
  if (dirfd != AT_FDCWD) return FdUnder(dirfd);
  char cwd[4096];
  return getcwd(cwd, sizeof(cwd)) && Under(cwd);
}

bool FailFd(Op op, int fd) { return Armed(op) && FdUnder(fd); }

template <typename F>
F Next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

#define EIO_RETURN(type) \
  do {                   \
    errno = EIO;         \
    return (type)-1;     \
  } while (0)

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t n) {
  static auto real = Next<ssize_t (*)(int, const void*, size_t)>("write");
  if (FailFd(kWrite, fd)) EIO_RETURN(ssize_t);
  return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static auto real = Next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  if (FailFd(kWrite, fd)) EIO_RETURN(ssize_t);
  return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  static auto real = Next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  if (FailFd(kWrite, fd)) EIO_RETURN(ssize_t);
  return real(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  static auto real = Next<ssize_t (*)(int, const struct iovec*, int)>("writev");
  if (FailFd(kWrite, fd)) EIO_RETURN(ssize_t);
  return real(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  static auto real = Next<ssize_t (*)(int, const struct iovec*, int, off_t)>("pwritev");
  if (FailFd(kWrite, fd)) EIO_RETURN(ssize_t);
  return real(fd, iov, cnt, off);
}

// The copies inside the kernel into a file under the directory: the
// mount's spill file (splice) and the engine's PutFromFile (copy_file_range).
ssize_t splice(int fd_in, loff_t* off_in, int fd_out, loff_t* off_out, size_t n,
               unsigned int flags) {
  static auto real =
      Next<ssize_t (*)(int, loff_t*, int, loff_t*, size_t, unsigned int)>("splice");
  if (FailFd(kWrite, fd_out)) EIO_RETURN(ssize_t);
  return real(fd_in, off_in, fd_out, off_out, n, flags);
}

ssize_t copy_file_range(int fd_in, off64_t* off_in, int fd_out, off64_t* off_out, size_t n,
                        unsigned int flags) {
  static auto real =
      Next<ssize_t (*)(int, off64_t*, int, off64_t*, size_t, unsigned int)>("copy_file_range");
  if (FailFd(kWrite, fd_out)) EIO_RETURN(ssize_t);
  return real(fd_in, off_in, fd_out, off_out, n, flags);
}

ssize_t read(int fd, void* buf, size_t n) {
  static auto real = Next<ssize_t (*)(int, void*, size_t)>("read");
  if (FailFd(kRead, fd)) EIO_RETURN(ssize_t);
  return real(fd, buf, n);
}

ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  static auto real = Next<ssize_t (*)(int, void*, size_t, off_t)>("pread");
  if (FailFd(kRead, fd)) EIO_RETURN(ssize_t);
  return real(fd, buf, n, off);
}

ssize_t pread64(int fd, void* buf, size_t n, off64_t off) {
  static auto real = Next<ssize_t (*)(int, void*, size_t, off64_t)>("pread64");
  if (FailFd(kRead, fd)) EIO_RETURN(ssize_t);
  return real(fd, buf, n, off);
}

int fsync(int fd) {
  static auto real = Next<int (*)(int)>("fsync");
  if (FailFd(kSync, fd)) EIO_RETURN(int);
  return real(fd);
}

int fdatasync(int fd) {
  static auto real = Next<int (*)(int)>("fdatasync");
  if (FailFd(kSync, fd)) EIO_RETURN(int);
  return real(fd);
}

int rename(const char* from, const char* to) {
  static auto real = Next<int (*)(const char*, const char*)>("rename");
  if (Armed(kRename) && (UnderAt(AT_FDCWD, from) || UnderAt(AT_FDCWD, to))) EIO_RETURN(int);
  return real(from, to);
}

int renameat(int fromfd, const char* from, int tofd, const char* to) {
  static auto real = Next<int (*)(int, const char*, int, const char*)>("renameat");
  if (Armed(kRename) && (UnderAt(fromfd, from) || UnderAt(tofd, to))) EIO_RETURN(int);
  return real(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  static auto real = Next<int (*)(int, const char*, int, const char*, unsigned)>("renameat2");
  if (Armed(kRename) && (UnderAt(fromfd, from) || UnderAt(tofd, to))) EIO_RETURN(int);
  return real(fromfd, from, tofd, to, flags);
}

// open and friends: only opens that write or create are failed ("open").
// OPEN_MODE reads the mode argument that comes with O_CREAT or O_TMPFILE.
#define OPEN_MODE(flags, mode)                                 \
  mode_t mode = 0;                                             \
  if ((flags) & (O_CREAT | O_TMPFILE)) {                       \
    va_list ap;                                                \
    va_start(ap, flags);                                       \
    mode = static_cast<mode_t>(va_arg(ap, int));               \
    va_end(ap);                                                \
  }
#define FAIL_OPEN(flags, dirfd, path)                                              \
  if (((flags) & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) && Armed(kOpen) &&      \
      UnderAt(dirfd, path))                                                        \
  EIO_RETURN(int)

int open(const char* path, int flags, ...) {
  static auto real = Next<int (*)(const char*, int, ...)>("open");
  OPEN_MODE(flags, mode);
  FAIL_OPEN(flags, AT_FDCWD, path);
  return real(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  static auto real = Next<int (*)(const char*, int, ...)>("open64");
  OPEN_MODE(flags, mode);
  FAIL_OPEN(flags, AT_FDCWD, path);
  return real(path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  static auto real = Next<int (*)(int, const char*, int, ...)>("openat");
  OPEN_MODE(flags, mode);
  FAIL_OPEN(flags, dirfd, path);
  return real(dirfd, path, flags, mode);
}

}  // extern "C"
