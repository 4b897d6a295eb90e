#include "fs_workloads.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>

namespace bitgask {
namespace fsbench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kSlack = 64 << 10;  // room to start content at varying offsets

std::string ErrnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// Random bytes; file i and block b start at different offsets in them, so
// a file or block read in the wrong place does not compare equal.
class Content {
 public:
  explicit Content(size_t longest) : bytes_(longest + kSlack, '\0') {
    std::mt19937_64 rng(4099);
    for (char& c : bytes_) c = static_cast<char>(rng());
  }
  const char* At(uint64_t n) const { return bytes_.data() + (n * 4099) % kSlack; }

 private:
  std::string bytes_;
};

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads up to n bytes; the count read (short only at end of file), -1 on error.
ssize_t ReadAll(int fd, char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

bool DropCaches(std::string* error) {
  ::sync();
  const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || !WriteAll(fd, "3\n", 2)) {
    *error = ErrnoText("dropping the page cache (root only) through", "/proc/sys/vm/drop_caches");
    if (fd >= 0) ::close(fd);
    return false;
  }
  ::close(fd);
  return true;
}

// Times `ops` calls of fn(i) as phase `name`; stops at the first false.
bool Timed(const std::string& name, uint64_t ops, uint64_t bytes_per_op,
           const std::function<bool(uint64_t)>& fn, std::vector<FsPhase>* phases) {
  FsPhase p;
  p.name = name;
  const Clock::time_point start = Clock::now();
  for (uint64_t i = 0; i < ops; i++) {
    if (!fn(i)) return false;
  }
  p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  p.ops = ops;
  p.bytes = ops * bytes_per_op;
  phases->push_back(p);
  return true;
}

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }

class Workloads {
 public:
  Workloads(const std::string& work, const FsConfig& c, std::string* error)
      : work_(work), c_(c), content_(std::max(c.file_size, c.block_size)), error_(error),
        buf_(std::max(c.file_size, c.block_size) + 1, '\0') {}

  bool SmallFiles(std::vector<FsPhase>* phases) {
    const uint64_t n = c_.files;
    const uint64_t passes = static_cast<uint64_t>(c_.passes);
    return Timed("create", n, c_.file_size, [&](uint64_t i) { return Create(i); }, phases) &&
           Timed("stat", n * passes, 0, [&](uint64_t i) { return Stat(Small(i % n)); }, phases) &&
           Drop() &&
           Timed("read", n * passes, c_.file_size, [&](uint64_t i) { return Read(i % n); },
                 phases) &&
           Timed("rename", n, 0,
                 [&](uint64_t i) {
                   return Call(::rename(Small(i).c_str(), Renamed(i).c_str()), "rename", Small(i));
                 },
                 phases) &&
           Timed("unlink", n, 0,
                 [&](uint64_t i) { return Call(::unlink(Renamed(i).c_str()), "unlink",
                                               Renamed(i)); },
                 phases);
  }

  bool LargeFile(std::vector<FsPhase>* phases) {
    const std::string path = work_ + "/large";
    const uint64_t blocks = (c_.large_size + c_.block_size - 1) / c_.block_size;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Fail("create", path);
    FsPhase w;
    w.name = "seqwrite";
    Clock::time_point start = Clock::now();
    for (uint64_t b = 0; b < blocks; b++) {
      if (!WriteAll(fd, content_.At(b), BlockBytes(b))) {
        ::close(fd);
        return Fail("write", path);
      }
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) return Fail("fsync and close", path);
    w.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    w.ops = blocks;
    w.bytes = c_.large_size;
    phases->push_back(w);
    if (!Drop()) return false;

    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail("open", path);
    FsPhase r;
    r.name = "seqread";
    start = Clock::now();
    for (uint64_t b = 0; b < blocks; b++) {
      const size_t want = BlockBytes(b);
      const ssize_t got = ReadAll(fd, buf_.data(), want);
      if (got != static_cast<ssize_t>(want) || std::memcmp(buf_.data(), content_.At(b), want)) {
        ::close(fd);
        if (got < 0) return Fail("read", path);
        *error_ = path + ": block " + std::to_string(b) + " differs from what was written";
        return false;
      }
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ::close(fd);
    r.ops = blocks;
    r.bytes = c_.large_size;
    phases->push_back(r);
    return Call(::unlink(path.c_str()), "unlink", path);
  }

 private:
  std::string Small(uint64_t i) const { return work_ + "/f" + std::to_string(i); }
  std::string Renamed(uint64_t i) const { return work_ + "/r" + std::to_string(i); }
  size_t BlockBytes(uint64_t b) const {
    return static_cast<size_t>(std::min(c_.block_size, c_.large_size - b * c_.block_size));
  }
  bool Fail(const std::string& what, const std::string& path) {
    *error_ = ErrnoText(what, path);
    return false;
  }
  bool Call(int rc, const std::string& what, const std::string& path) {
    return rc == 0 || Fail(what, path);
  }
  bool Drop() { return !c_.drop_caches || DropCaches(error_); }

  bool Create(uint64_t i) {
    const std::string path = Small(i);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Fail("create", path);
    const bool ok = WriteAll(fd, content_.At(i), c_.file_size);
    if (::close(fd) != 0 || !ok) return Fail("write", path);
    return true;
  }
  bool Stat(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Fail("stat", path);
    if (static_cast<uint64_t>(st.st_size) != c_.file_size) {
      *error_ = path + ": stat says " + std::to_string(st.st_size) + " bytes, " +
                std::to_string(c_.file_size) + " were written";
      return false;
    }
    return true;
  }
  bool Read(uint64_t i) {
    const std::string path = Small(i);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail("open", path);
    const ssize_t got = ReadAll(fd, buf_.data(), c_.file_size + 1);  // +1: sees a longer file
    ::close(fd);
    if (got < 0) return Fail("read", path);
    if (static_cast<uint64_t>(got) != c_.file_size ||
        std::memcmp(buf_.data(), content_.At(i), c_.file_size) != 0) {
      *error_ = path + ": read back " + std::to_string(got) + " bytes that differ from the " +
                std::to_string(c_.file_size) + " written";
      return false;
    }
    return true;
  }

  const std::string work_;
  const FsConfig c_;
  const Content content_;
  std::string* const error_;
  std::string buf_;
};

}  // namespace

const std::vector<std::string>& FsPhaseNames() {
  static const std::vector<std::string> kNames = {"create", "stat",     "read",   "rename",
                                                  "unlink", "seqwrite", "seqread"};
  return kNames;
}

bool RunFsBench(const std::string& dir, const FsConfig& config, std::vector<FsPhase>* phases,
                std::string* error) {
  std::string work = dir + "/bitgask-fsbench.XXXXXX";
  if (::mkdtemp(work.data()) == nullptr) {
    *error = ErrnoText("cannot create a directory in", dir);
    return false;
  }
  Workloads w(work, config, error);
  const bool ok = w.SmallFiles(phases) && w.LargeFile(phases);
  if (::nftw(work.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS) != 0 && ok) {
    *error = ErrnoText("could not remove", work);
    return false;
  }
  return ok;
}

}  // namespace fsbench
}  // namespace bitgask
