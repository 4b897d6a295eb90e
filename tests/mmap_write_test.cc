// Appends to the active data file through a shared memory mapping
// (Env::NewMappedAppendFile, Options::mmap_writes): the file on its own
// (logical size, the zero tail allocated ahead, truncation at Close, appends
// across chunk boundaries), a store whose writer died before closing (every
// acknowledged record back, the zero tail read as a clean end by open,
// Validate and Repair), and a full disk (RLIMIT_FSIZE makes the allocation
// fail) that fails a write cleanly and loses nothing acknowledged. The next
// window is prepared ahead by a thread of the file: allocated, or written as
// zeros when the file is synced often (checked with FIEMAP: no unwritten
// extent), and a zero-filled tail is a clean end as well.
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "bitgask/db.h"
#include "bitgask/env.h"
#include "bitgask/options.h"
#include "test_util.h"

namespace bitgask {
namespace {

using test::FileIds;
using test::FileSize;
using test::NumberedName;
using test::ReadWholeFile;
using test::TempDir;
using test::WalkRecords;

constexpr uint64_t kChunk = 4 << 20;  // the POSIX file's allocation chunk

std::string Key(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key%012d", i);
  return buf;
}
std::string Value(int i) { return std::string(100, static_cast<char>('a' + i % 26)) + Key(i); }

TEST(MappedAppendFile, SizeZeroTailTruncationAndChunkBoundaries) {
  TempDir dir("mmap_write");
  const std::string path = dir.path() + "/f";
  Env* env = Env::Default();
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env->NewMappedAppendFile(path, /*create=*/true, &f).ok());
  std::string want;
  const std::string piece(1000, 'x');
  // Pieces that straddle the first chunk's end.
  while (want.size() < kChunk + 5000) {
    const std::string a = piece + std::to_string(want.size());
    const std::string_view pieces[2] = {a, "|"};
    ASSERT_TRUE(f->AppendV(pieces, 2).ok());
    want += a + "|";
    ASSERT_EQ(want.size(), f->Size());
  }
  // Allocated ahead: the file on disk is longer, the excess zeros.
  const std::string disk = ReadWholeFile(path);
  ASSERT_GT(disk.size(), want.size());
  EXPECT_EQ(want, disk.substr(0, want.size()));
  EXPECT_EQ(std::string(disk.size() - want.size(), '\0'), disk.substr(want.size()));
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(want, ReadWholeFile(path));  // truncated to the logical size

  // Reopened for appending: continues at the end.
  ASSERT_TRUE(env->NewMappedAppendFile(path, /*create=*/false, &f).ok());
  EXPECT_EQ(want.size(), f->Size());
  ASSERT_TRUE(f->Append("tail").ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(want + "tail", ReadWholeFile(path));
}

// How the blocks of [off, off + len) of a file are allocated (FIEMAP):
// bytes in extents that are on disk, and bytes in unwritten ones (allocated
// ahead and never written: fallocate). Bytes still in the page cache only
// (delayed allocation) count in neither. `known` is false where the file
// system has no FIEMAP (tmpfs): the callers then check the bytes only.
struct Blocks {
  bool known = false;
  uint64_t allocated = 0;
  uint64_t unwritten = 0;
};
Blocks BlocksOf(const std::string& path, uint64_t off, uint64_t len) {
  Blocks b;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return b;
  constexpr unsigned kMax = 512;
  std::vector<char> buf(sizeof(fiemap) + kMax * sizeof(fiemap_extent));
  fiemap* fm = reinterpret_cast<fiemap*>(buf.data());
  fm->fm_start = off;
  fm->fm_length = len;
  fm->fm_extent_count = kMax;
  if (::ioctl(fd, FS_IOC_FIEMAP, fm) == 0) {
    b.known = true;
    for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
      const fiemap_extent& e = fm->fm_extents[i];
      if (e.fe_flags & FIEMAP_EXTENT_DELALLOC) continue;
      const uint64_t from = std::max<uint64_t>(e.fe_logical, off);
      const uint64_t to = std::min<uint64_t>(e.fe_logical + e.fe_length, off + len);
      if (to <= from) continue;
      b.allocated += to - from;
      if (e.fe_flags & FIEMAP_EXTENT_UNWRITTEN) b.unwritten += to - from;
    }
  }
  ::close(fd);
  return b;
}

// Waits (up to 10 s) until [off, off + len) of path is allocated: the
// window prepared ahead is ready.
Blocks WaitAllocated(const std::string& path, uint64_t off, uint64_t len) {
  Blocks b;
  for (int i = 0; i < 1000; i++) {
    b = BlocksOf(path, off, len);
    if (!b.known || b.allocated == len) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return b;
}

// The next window is prepared while appends go on in the current one:
// allocated ahead (unwritten extents) for a file that is rarely synced,
// written as zeros for one synced at least every 8 KiB; appends cross into
// it intact, and Close truncates the tail either way.
TEST(MappedAppendFile, NextWindowPreparedAheadAndFilledWhenSyncedOften) {
  for (bool synced : {false, true}) {
    SCOPED_TRACE(synced ? "synced" : "not synced");
    TempDir dir("mmap_write");
    const std::string path = dir.path() + "/f";
    std::unique_ptr<WritableFile> f;
    ASSERT_TRUE(Env::Default()->NewMappedAppendFile(path, /*create=*/true, &f).ok());
    std::string want;
    auto append = [&](int i) {
      const std::string a = std::string(1000, static_cast<char>('a' + i % 26)) + std::to_string(i);
      ASSERT_TRUE(f->Append(a).ok());
      want += a;
    };
    int i = 0;
    for (; want.size() <= kChunk / 2; i++) {  // past the first window's first quarter
      append(i);
      if (synced && i < 300) {
        ASSERT_TRUE(f->Sync().ok());
      }
    }
    // The second window is prepared without more appends.
    const Blocks next = WaitAllocated(path, kChunk, kChunk);
    if (next.known) {
      EXPECT_EQ(kChunk, next.allocated);
      EXPECT_EQ(synced ? 0 : kChunk, next.unwritten);
    } else {
      std::fprintf(stderr, "no FIEMAP here: the blocks ahead were not checked\n");
    }
    // Appends cross into it and past the first quarter of the third.
    for (; want.size() <= 2 * kChunk + kChunk / 2; i++) append(i);
    ASSERT_EQ(want.size(), f->Size());
    const std::string disk = ReadWholeFile(path);
    ASSERT_GE(disk.size(), 3 * kChunk);
    EXPECT_EQ(want, disk.substr(0, want.size()));
    EXPECT_EQ(std::string(disk.size() - want.size(), '\0'), disk.substr(want.size()));
    ASSERT_TRUE(f->Sync().ok());
    ASSERT_TRUE(f->Close().ok());
    EXPECT_EQ(want, ReadWholeFile(path));  // the prepared tail is gone
  }
}

Options SmallFileOptions() {
  Options o;
  o.max_data_file_size = 1 << 20;  // several rotations
  o.merge_interval = std::chrono::milliseconds(0);
  return o;
}

TEST(MmapWrites, ReadsOfTheActiveFileAndExactSizesAfterRotation) {
  for (bool mmap_reads : {true, false}) {
    TempDir dir("mmap_write");
    Options o = SmallFileOptions();
    o.mmap_reads = mmap_reads;
    std::unique_ptr<DB> db;
    ASSERT_TRUE(DB::Open(dir.path(), o, &db).ok());
    const int n = 20000;  // ~3 MiB: three files
    for (int i = 0; i < n; i++) {
      ASSERT_TRUE(db->Put(Key(i), Value(i)).ok());
      if (i % 997 == 0) {  // the active file, read while it is written
        std::string v;
        ASSERT_TRUE(db->Get(Key(i), &v).ok());
        ASSERT_EQ(Value(i), v);
      }
    }
    for (int i = 0; i < n; i++) {
      std::string v;
      ASSERT_TRUE(db->Get(Key(i), &v).ok()) << i;
      ASSERT_EQ(Value(i), v);
    }
    ASSERT_TRUE(db->Close().ok());
    // Every file, the last active one included, ends at its last record.
    const std::string data = dir.path() + "/data";
    const auto ids = FileIds(data, ".data");
    ASSERT_GE(ids.size(), 3u);
    for (uint32_t id : ids) {
      const std::string p = data + "/" + NumberedName(id, ".data");
      const auto recs = WalkRecords(p);
      ASSERT_FALSE(recs.empty());
      EXPECT_EQ(recs.back().offset + recs.back().size, FileSize(p)) << p;
    }
  }
}

// Runs fn in a child process and returns its exit status (fn ends it).
template <typename Fn>
int InChild(Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    fn();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

// A writer that dies without closing (as kill -9 would: _exit runs no
// destructor) leaves the allocated zero tail; the store opens with every
// acknowledged record, Validate and Repair see no damage, and open truncates.
TEST(MmapWrites, ZeroTailOfAKilledWriterIsACleanEnd) {
  TempDir dir("mmap_write");
  const int n = 30000;
  const int rc = InChild([&] {
    std::unique_ptr<DB> db;
    if (!DB::Open(dir.path(), SmallFileOptions(), &db).ok()) ::_exit(2);
    for (int i = 0; i < n; i++) {
      if (!db->Put(Key(i), Value(i)).ok()) ::_exit(3);
    }
    ::_exit(0);  // no Close
  });
  ASSERT_EQ(0, rc);
  const std::string data = dir.path() + "/data";
  const auto ids = FileIds(data, ".data");
  ASSERT_FALSE(ids.empty());
  const std::string newest = data + "/" + NumberedName(ids.back(), ".data");
  // The walk reads the zero tail as empty 32-byte "records": stop there.
  uint64_t end = 0;
  for (const auto& r : WalkRecords(newest)) {
    if (r.flags == 0 && r.key.empty()) break;
    end = r.offset + r.size;
  }
  ASSERT_GT(end, 0u);
  ASSERT_GT(FileSize(newest), end) << "no zero tail was left";
  EXPECT_EQ(std::string(FileSize(newest) - end, '\0'), ReadWholeFile(newest).substr(end));

  ValidateReport report;
  ASSERT_TRUE(DB::Validate(dir.path(), &report).ok());
  EXPECT_TRUE(report.ok()) << (report.corrupt.empty() ? "" : report.corrupt[0].what);

  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(dir.path(), SmallFileOptions(), &db).ok());
  for (int i = 0; i < n; i++) {
    std::string v;
    ASSERT_TRUE(db->Get(Key(i), &v).ok()) << i;
    ASSERT_EQ(Value(i), v);
  }
  // Appends go on after the last record, not after the old tail.
  ASSERT_TRUE(db->Put("after", "reopen").ok());
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  const auto after = WalkRecords(newest);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ("after", after.back().key);
  EXPECT_EQ(end, after.back().offset);
  EXPECT_EQ(FileSize(newest), after.back().offset + after.back().size);

  // Repair of a store with a zero tail in an older file keeps everything.
  const std::string oldest = data + "/" + NumberedName(ids.front(), ".data");
  const uint64_t oldest_size = FileSize(oldest);
  ASSERT_EQ(0, ::truncate(oldest.c_str(), static_cast<off_t>(oldest_size + 12345)));
  RepairReport repair;
  ASSERT_TRUE(DB::Repair(dir.path(), SmallFileOptions(), &repair).ok());
  EXPECT_EQ(0u, repair.damaged_regions);
  ASSERT_TRUE(DB::Open(dir.path(), SmallFileOptions(), &db).ok());
  for (int i = 0; i < n; i++) {
    std::string v;
    ASSERT_TRUE(db->Get(Key(i), &v).ok()) << i;
    ASSERT_EQ(Value(i), v);
  }
  std::string v;
  ASSERT_TRUE(db->Get("after", &v).ok());
  EXPECT_EQ("reopen", v);
}

// A writer killed (no Close) while its file's tail is a window written as
// zeros ahead (the file was synced often): the tail is on disk as written
// zero blocks, not unwritten extents, and is still a clean end: Validate sees
// no damage, every acknowledged record is back, appends go on after the last
// record and Close truncates.
TEST(MmapWrites, ZeroFilledTailOfAKilledWriterIsACleanEnd) {
  TempDir dir("mmap_write");
  Options o;
  o.merge_interval = std::chrono::milliseconds(0);
  WriteOptions synced, unsynced;
  synced.sync = WriteOptions::Sync::kAlways;
  unsynced.sync = WriteOptions::Sync::kNever;
  std::string big(16 << 10, '\0');  // incompressible: stored as 16 KiB
  uint64_t x = 88172645463325252ull;
  for (char& c : big) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  int n = 0;  // puts, all acknowledged: 0..31 big, then 300 synced, then big to 4.7 MiB
  const int rc = InChild([&] {
    std::unique_ptr<DB> db;
    if (!DB::Open(dir.path(), o, &db).ok()) ::_exit(2);
    for (; n < 32; n++) {  // 0.5 MiB
      if (!db->Put(unsynced, Key(n), big).ok()) ::_exit(3);
    }
    for (; n < 332; n++) {  // synced often before the first window's first quarter
      if (!db->Put(synced, Key(n), Value(n)).ok()) ::_exit(3);
    }
    for (; n < 332 + 256; n++) {  // past the quarter and 0.6 MiB into the filled window
      if (!db->Put(unsynced, Key(n), big).ok()) ::_exit(3);
    }
    if (!db->Put(synced, "last", "synced").ok()) ::_exit(3);
    ::_exit(0);  // no Close
  });
  ASSERT_EQ(0, rc);
  n = 332 + 256;
  const std::string data = dir.path() + "/data";
  const auto ids = FileIds(data, ".data");
  ASSERT_EQ(1u, ids.size());
  const std::string path = data + "/" + NumberedName(ids.back(), ".data");
  const auto recs = WalkRecords(path);
  ASSERT_FALSE(recs.empty());
  uint64_t end = 0;
  for (const auto& r : recs) {
    if (r.flags == 0 && r.key.empty()) break;  // the zero tail read as empty records
    end = r.offset + r.size;
  }
  ASSERT_GT(end, kChunk);
  ASSERT_EQ(2 * kChunk, FileSize(path));
  EXPECT_EQ(std::string(2 * kChunk - end, '\0'), ReadWholeFile(path).substr(end));
  const uint64_t block_after = (end + 4095) / 4096 * 4096;
  const Blocks tail = BlocksOf(path, block_after, 2 * kChunk - block_after);
  if (tail.known) {
    EXPECT_EQ(2 * kChunk - block_after, tail.allocated);
    EXPECT_EQ(0u, tail.unwritten) << "the tail was not written as zeros ahead";
  } else {
    std::fprintf(stderr, "no FIEMAP here: the tail's blocks were not checked\n");
  }

  ValidateReport report;
  ASSERT_TRUE(DB::Validate(dir.path(), &report).ok());
  EXPECT_TRUE(report.ok()) << (report.corrupt.empty() ? "" : report.corrupt[0].what);
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(dir.path(), o, &db).ok());
  for (int i = 0; i < n; i++) {
    std::string v;
    ASSERT_TRUE(db->Get(Key(i), &v).ok()) << i;
    ASSERT_EQ(i < 32 || i >= 332 ? big : Value(i), v) << i;
  }
  std::string v;
  ASSERT_TRUE(db->Get("last", &v).ok());
  EXPECT_EQ("synced", v);
  ASSERT_TRUE(db->Put("after", "reopen").ok());
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  const auto after = WalkRecords(path);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ("after", after.back().key);
  EXPECT_EQ(end, after.back().offset);
  EXPECT_EQ(FileSize(path), after.back().offset + after.back().size);
}

// A full disk: the allocation of the next chunk fails (here through
// RLIMIT_FSIZE: EFBIG, as ENOSPC would), the write fails with an IOError and
// no signal, and every write acknowledged before is there after reopening.
// The store syncs every put, so the failure is first met by the zero fill
// ahead of the writer.
TEST(MmapWrites, FailedAllocationFailsTheWriteAndLosesNothing) {
  TempDir dir("mmap_write");
  const std::string result = dir.path() + "/acked";
  const int rc = InChild([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    Options o;
    o.merge_interval = std::chrono::milliseconds(0);
    o.use_hint_files = false;
    std::unique_ptr<DB> db;
    if (!DB::Open(dir.path(), o, &db).ok()) ::_exit(2);
    rlimit lim{kChunk + kChunk / 2, RLIM_INFINITY};  // the second chunk does not fit
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(3);
    int acked = 0;
    Status s;
    for (; acked < 100000; acked++) {
      s = db->Put(Key(acked), Value(acked));
      if (!s.ok()) break;
    }
    lim.rlim_cur = RLIM_INFINITY;
    ::setrlimit(RLIMIT_FSIZE, &lim);
    const unsigned long long size = FileSize(dir.path() + "/data/" + NumberedName(1, ".data"));
    FILE* out = std::fopen(result.c_str(), "w");
    std::fprintf(out, "%d %llu %d %s\n", acked, size, s.IsIOError() ? 1 : 0, s.ToString().c_str());
    std::fclose(out);
    db->Close();
    ::_exit(0);
  });
  ASSERT_EQ(0, rc);
  int acked = 0, io_error = 0;
  unsigned long long size = 0;
  FILE* in = std::fopen(result.c_str(), "r");
  ASSERT_NE(nullptr, in);
  char what[512] = {0};
  ASSERT_EQ(4, std::fscanf(in, "%d %llu %d %511[^\n]", &acked, &size, &io_error, what));
  std::fclose(in);
  EXPECT_EQ(1, io_error) << what;
  // Every put synced: the second chunk was being written as zeros ahead
  // (off the writer's path), up to the limit, where that failed; the writer
  // that needed the chunk got the error from allocating it itself.
  EXPECT_EQ(kChunk + kChunk / 2, size);
  // Everything up to the first chunk's end was acknowledged, nothing past it.
  // (162 bytes a record).
  EXPECT_GT(acked, static_cast<int>(kChunk / 170));
  EXPECT_LT(acked, static_cast<int>(kChunk / 162) + 1);

  std::unique_ptr<DB> db;
  Options o;
  o.merge_interval = std::chrono::milliseconds(0);
  ASSERT_TRUE(DB::Open(dir.path(), o, &db).ok());
  for (int i = 0; i < acked; i++) {
    std::string v;
    ASSERT_TRUE(db->Get(Key(i), &v).ok()) << i;
    ASSERT_EQ(Value(i), v);
  }
  ASSERT_TRUE(db->Put("after", "recovery").ok());
  std::string v;
  ASSERT_TRUE(db->Get("after", &v).ok());
  EXPECT_EQ("recovery", v);
}

TEST(MmapWrites, OptionParsesAndOffWritesWithoutATail) {
  Options o = SmallFileOptions();
  ASSERT_TRUE(SetOptionFromString(&o, "mmap_writes", "false").ok());
  EXPECT_FALSE(o.mmap_writes);
  EXPECT_FALSE(SetOptionFromString(&o, "mmap_writes", "maybe").ok());
  TempDir dir("mmap_write");
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::Open(dir.path(), o, &db).ok());
  ASSERT_TRUE(db->Put("k", "v").ok());
  const std::string p = dir.path() + "/data/" + NumberedName(1, ".data");
  const auto recs = WalkRecords(p);
  ASSERT_EQ(1u, recs.size());
  EXPECT_EQ(recs[0].size, FileSize(p));  // written, nothing allocated ahead
  ASSERT_TRUE(db->Close().ok());
}

}  // namespace
}  // namespace bitgask
