// Helpers shared by the GoogleTest programs in tests/ (header-only).
//
// TempDir: a fresh mkdtemp directory under $TMPDIR (or /tmp), removed with
// everything in it. FakeClockEnv: an Env whose wall clock (NowUnixNanos) only
// moves when a test says so. Plus small file helpers that read, write and
// damage the store's files directly, independent of the engine.
#ifndef BITGASK_TESTS_TEST_UTIL_H_
#define BITGASK_TESTS_TEST_UTIL_H_

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "bitgask/env.h"

namespace bitgask {
namespace test {

// The fake clock's start: 2023-11-14 22:13:20 UTC, in ns since the epoch.
constexpr int64_t kFakeClockStartNs = 1700000000LL * 1000000000LL;

// An Env whose wall clock only moves when a test says so.
class FakeClockEnv : public EnvWrapper {
 public:
  FakeClockEnv() : EnvWrapper(Env::Default()) {}
  int64_t NowUnixNanos() override { return now_.load(); }
  void Set(int64_t ns) { now_.store(ns); }
  void Advance(int64_t ns) { now_.fetch_add(ns); }
  int64_t Now() const { return now_.load(); }

 private:
  std::atomic<int64_t> now_{kFakeClockStartNs};
};

// A fresh directory $TMPDIR/<prefix>.XXXXXX (or under /tmp), removed with
// everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + ".XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp(" << tmpl << ") failed";
      return;
    }
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Size of a file, 0 if it cannot be read.
inline uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  uint64_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteWholeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Overwrites one byte of a file in place (XOR 0x5A; the DB's own descriptors
// see it).
inline void FlipByte(const std::string& path, uint64_t offset) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  char c = 0;
  ASSERT_EQ(1, ::pread(fd, &c, 1, static_cast<off_t>(offset)));
  c = static_cast<char>(c ^ 0x5A);
  ASSERT_EQ(1, ::pwrite(fd, &c, 1, static_cast<off_t>(offset)));
  ::close(fd);
}

// Ids of the files in dir with the given extension (".data" / ".hint"),
// ascending.
inline std::vector<uint32_t> FileIds(const std::string& dir, const std::string& ext) {
  std::vector<uint32_t> ids;
  std::error_code ec;
  for (const auto& de : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = de.path().filename().string();
    if (name.size() == 9 + ext.size() && name.compare(9, std::string::npos, ext) == 0) {
      ids.push_back(static_cast<uint32_t>(std::stoul(name.substr(0, 9))));
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// "NNNNNNNNN<ext>", the name of a store file.
inline std::string NumberedName(uint32_t id, const char* ext) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%09u%s", id, ext);
  return buf;
}

// Little-endian uint32 at s[at].
inline uint32_t Fixed32(const std::string& s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3])) << 24;
}

// How many times slower this build's sanitizers make the code: time bounds
// in tests scale by it (ThreadSanitizer slows merges 5 to 10 times).
constexpr int kSanitizerSlowdown =
#if defined(__SANITIZE_THREAD__)
    10;
#elif defined(__SANITIZE_ADDRESS__)
    3;
#else
    1;
#endif

// A record as found by walking a data file's 32-byte headers (docs/Format.md).
struct RawRecord {
  uint64_t offset, size;
  uint8_t flags;
  std::string key;
};
inline std::vector<RawRecord> WalkRecords(const std::string& path, uint64_t from = 0) {
  constexpr uint64_t kHeader = 32;
  const std::string data = ReadWholeFile(path);
  std::vector<RawRecord> out;
  for (uint64_t off = from; off + kHeader <= data.size();) {
    const uint32_t key_len = Fixed32(data, off + 20);
    const uint32_t val_len = Fixed32(data, off + 24);
    const uint8_t flags = static_cast<uint8_t>(data[off + 28]);
    const uint64_t owner_len = (flags & 0x40) ? 8 : 0;  // the owner block
    RawRecord r{off, kHeader + key_len + owner_len + val_len, flags,
                data.substr(off + kHeader, key_len)};
    if (off + r.size > data.size()) break;
    // The unsynced-predecessor marker (an empty key, flags 0x11) changes no key.
    if (!(key_len == 0 && flags == 0x11)) out.push_back(r);
    off += r.size;
  }
  return out;
}

// Replaces the tree at to with a copy of the tree at from.
inline void CopyTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::remove_all(to, ec);
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive, ec);
  ASSERT_FALSE(ec) << ec.message();
}

}  // namespace test
}  // namespace bitgask

#endif  // BITGASK_TESTS_TEST_UTIL_H_
