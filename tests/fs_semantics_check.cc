// POSIX file semantics inside a mounted store, with plain syscalls:
// mmap (shared and private), files unlinked or renamed over while open,
// O_APPEND, O_EXCL, sparse writes past the end (in memory and spilled).
//
// Usage: fs_semantics_check MOUNTPOINT  (run by fs_semantics_test.sh, which
// mounts and unmounts).  Prints each check; exits 1 on the first failure.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

std::string g_mnt;

[[noreturn]] void Fail(const std::string& what) {
  std::printf("FAIL: %s (errno %d: %s)\n", what.c_str(), errno, std::strerror(errno));
  std::exit(1);
}

void Check(bool ok, const std::string& what) {
  if (!ok) Fail(what);
}

std::string P(const std::string& name) { return g_mnt + "/" + name; }

void WriteFile(const std::string& name, const std::string& data) {
  int fd = ::open(P(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Check(fd >= 0, "create " + name);
  Check(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()),
        "write " + name);
  Check(::close(fd) == 0, "close " + name);
}

std::string ReadFd(int fd, size_t n, off_t off) {
  std::string buf(n, '\0');
  ssize_t r = ::pread(fd, buf.data(), n, off);
  Check(r >= 0, "pread");
  buf.resize(static_cast<size_t>(r));
  return buf;
}

std::string ReadFile(const std::string& name) {
  int fd = ::open(P(name).c_str(), O_RDONLY);
  Check(fd >= 0, "open " + name);
  std::string all, piece;
  off_t off = 0;
  while (!(piece = ReadFd(fd, 1 << 16, off)).empty()) {
    all += piece;
    off += static_cast<off_t>(piece.size());
  }
  ::close(fd);
  return all;
}

void SharedMmap() {
  std::puts("check: a shared mapping's writes reach the file");
  int fd = ::open(P("mapped").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  Check(fd >= 0, "create mapped");
  Check(::ftruncate(fd, 8192) == 0, "ftruncate mapped");
  void* p = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  Check(p != MAP_FAILED, "mmap shared");
  auto* c = static_cast<char*>(p);
  for (int i = 0; i < 8192; i++) c[i] = static_cast<char>('a' + i % 26);
  Check(::msync(p, 8192, MS_SYNC) == 0, "msync");
  Check(::munmap(p, 8192) == 0, "munmap");
  Check(::close(fd) == 0, "close mapped");
  std::string got = ReadFile("mapped");
  Check(got.size() == 8192, "mapped size " + std::to_string(got.size()));
  for (int i = 0; i < 8192; i++) {
    if (got[i] != static_cast<char>('a' + i % 26)) Fail("mapped byte " + std::to_string(i));
  }
}

void PrivateMmap() {
  std::puts("check: a private mapping reads the file and never changes it");
  WriteFile("private", "0123456789");
  int fd = ::open(P("private").c_str(), O_RDONLY);
  Check(fd >= 0, "open private");
  void* p = ::mmap(nullptr, 10, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  Check(p != MAP_FAILED, "mmap private");
  auto* c = static_cast<char*>(p);
  Check(std::memcmp(c, "0123456789", 10) == 0, "private mapping contents");
  c[0] = 'X';
  Check(::munmap(p, 10) == 0, "munmap private");
  ::close(fd);
  Check(ReadFile("private") == "0123456789", "private mapping changed the file");
}

void UnlinkedWhileOpen() {
  std::puts("check: a file unlinked while open stays readable and writable through its fds");
  WriteFile("doomed", "abc");
  int r = ::open(P("doomed").c_str(), O_RDONLY);
  int w = ::open(P("doomed").c_str(), O_RDWR);
  Check(r >= 0 && w >= 0, "open doomed");
  Check(::unlink(P("doomed").c_str()) == 0, "unlink doomed");
  struct stat st;
  Check(::stat(P("doomed").c_str(), &st) != 0 && errno == ENOENT, "doomed still has a name");
  Check(ReadFd(r, 100, 0) == "abc", "read of the unlinked file");
  Check(::pwrite(w, "X", 1, 0) == 1, "write to the unlinked file");
  Check(ReadFd(w, 100, 0) == "Xbc", "read back of the unlinked file");
  Check(::fstat(r, &st) == 0 && st.st_size == 3, "fstat of the unlinked file");
  Check(::close(w) == 0 && ::close(r) == 0, "close the unlinked file");
  Check(::stat(P("doomed").c_str(), &st) != 0 && errno == ENOENT, "unlinked file came back");
}

void RenamedOverWhileOpen() {
  std::puts("check: a file renamed over while open keeps its old contents for its fds");
  WriteFile("target", "old contents");
  int fd = ::open(P("target").c_str(), O_RDONLY);
  Check(fd >= 0, "open target");
  WriteFile("source", "new contents");
  Check(::rename(P("source").c_str(), P("target").c_str()) == 0, "rename over target");
  Check(ReadFd(fd, 100, 0) == "old contents", "old fd after rename over");
  ::close(fd);
  Check(ReadFile("target") == "new contents", "new contents at the name");
}

void Append() {
  std::puts("check: O_APPEND writes always land at the end");
  WriteFile("log", "");
  int a = ::open(P("log").c_str(), O_WRONLY | O_APPEND);
  int b = ::open(P("log").c_str(), O_WRONLY | O_APPEND);
  Check(a >= 0 && b >= 0, "open log");
  for (int i = 0; i < 3; i++) {
    Check(::write(a, "a", 1) == 1, "append a");
    Check(::write(b, "bb", 2) == 2, "append b");
  }
  Check(::pwrite(a, "Z", 1, 0) == 1, "pwrite with O_APPEND");  // Linux: appends
  ::close(a);
  ::close(b);
  Check(ReadFile("log") == "abbabbabbZ", "appended log is '" + ReadFile("log") + "'");
}

void Exclusive() {
  std::puts("check: O_EXCL on an existing file is EEXIST");
  WriteFile("exists", "x");
  int fd = ::open(P("exists").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  Check(fd < 0 && errno == EEXIST, "O_EXCL");
  Check(ReadFile("exists") == "x", "O_EXCL changed the file");
}

void Sparse(const std::string& name, off_t at) {
  std::printf("check: a write %lld bytes past the end leaves zeros before it\n",
              static_cast<long long>(at));
  int fd = ::open(P(name).c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  Check(fd >= 0, "create " + name);
  Check(::pwrite(fd, "end", 3, at) == 3, "pwrite past the end");
  Check(::close(fd) == 0, "close " + name);
  struct stat st;
  Check(::stat(P(name).c_str(), &st) == 0 && st.st_size == at + 3, "size of " + name);
  fd = ::open(P(name).c_str(), O_RDONLY);
  Check(fd >= 0, "reopen " + name);
  Check(ReadFd(fd, 4, 0) == std::string(4, '\0'), "zeros at the start of " + name);
  Check(ReadFd(fd, 4, at / 2) == std::string(4, '\0'), "zeros in the middle of " + name);
  Check(ReadFd(fd, 10, at) == "end", "the bytes written to " + name);
  ::close(fd);
}

void TruncateWhileOpen() {
  std::puts("check: ftruncate shrinks and grows an open file");
  WriteFile("trunc", "0123456789");
  int fd = ::open(P("trunc").c_str(), O_RDWR);
  Check(fd >= 0, "open trunc");
  Check(::ftruncate(fd, 4) == 0, "ftruncate 4");
  Check(ReadFd(fd, 100, 0) == "0123", "after shrink");
  Check(::ftruncate(fd, 6) == 0, "ftruncate 6");
  Check(ReadFd(fd, 100, 0) == std::string("0123\0\0", 6), "after grow");
  ::close(fd);
  Check(ReadFile("trunc") == std::string("0123\0\0", 6), "truncated file after close");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MOUNTPOINT\n", argv[0]);
    return 2;
  }
  g_mnt = argv[1];
  SharedMmap();
  PrivateMmap();
  UnlinkedWhileOpen();
  RenamedOverWhileOpen();
  Append();
  Exclusive();
  Sparse("sparse-small", 1 << 20);
  Sparse("sparse-spilled", 100 << 20);
  TruncateWhileOpen();
  std::puts("all semantics checks passed");
  return 0;
}
