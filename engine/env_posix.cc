// The POSIX Env: plain file descriptors, pread/writev, mmap, fdatasync, flock.
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "bitgask/env.h"

namespace bitgask {

namespace {

Status PosixError(const std::string& context, int err) {
  return Status::IOError(context + ": " + std::strerror(err), err);
}

// Copies n bytes at in_off of in_fd to out_fd at *out_off (null: at its
// file position) with copy_file_range, adding what was copied to *copied.
// Returns 0, an errno, or -1 when the kernel cannot copy between these
// files and nothing was copied (the caller then copies through memory).
int KernelCopy(int in_fd, uint64_t in_off, int out_fd, off_t* out_off, uint64_t n,
               uint64_t* copied) {
  const uint64_t start = *copied;
  while (n > 0) {
    off_t from = static_cast<off_t>(in_off);
    const size_t piece = static_cast<size_t>(std::min<uint64_t>(n, 1ull << 30));
    ssize_t c = ::copy_file_range(in_fd, &from, out_fd, out_off, piece, 0);
    if (c < 0 && errno == EINTR) continue;
    if (c < 0) {
      const int err = errno;
      const bool unsupported = err == EXDEV || err == EINVAL || err == ENOSYS ||
                               err == EOPNOTSUPP || err == EBADF;  // EBADF: O_APPEND
      return unsupported && *copied == start ? -1 : err;
    }
    if (c == 0) return EIO;  // the source ends before n bytes
    in_off += static_cast<uint64_t>(c);
    n -= static_cast<uint64_t>(c);
    *copied += static_cast<uint64_t>(c);
  }
  return 0;
}

// What both writable files share: the descriptor, its path for messages,
// the bytes appended, fdatasync, and appends copied inside the kernel.
class PosixAppendFile : public WritableFile {
 public:
  ~PosixAppendFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  // fdatasync covers pages dirtied through a mapping too (Linux tracks them
  // in the page cache, as it does pages written with write(2)).
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return PosixError(path_ + ": fdatasync", errno);
    return Status::OK();
  }

  uint64_t Size() const override { return size_; }

 protected:
  PosixAppendFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  // Appends n bytes at offset of fd, at *at (null: at the file position),
  // with copy_file_range. Where the kernel cannot copy between these files
  // and nothing was copied, copies through memory with Append instead and
  // sets *by_kernel to false.
  Status CopyIn(int fd, uint64_t offset, uint64_t n, off_t* at, bool* by_kernel) {
    const int err = KernelCopy(fd, offset, fd_, at, n, &size_);
    *by_kernel = err >= 0;
    if (err < 0) return WritableFile::AppendFrom(fd, offset, n);
    return err == 0 ? Status::OK() : PosixError(path_ + ": copy_file_range", err);
  }

  std::string path_;
  int fd_;
  uint64_t size_;  // bytes appended
};

class PosixWritableFile final : public PosixAppendFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : PosixAppendFile(std::move(path), fd, size) {}

  Status Append(std::string_view data) override { return AppendV(&data, 1); }

  Status AppendV(const std::string_view* pieces, size_t n) override {
    constexpr size_t kMaxIov = 64;
    size_t i = 0;
    while (i < n) {
      iovec iov[kMaxIov];
      size_t cnt = 0;
      uint64_t want = 0;
      for (; i < n && cnt < kMaxIov; i++) {
        if (pieces[i].empty()) continue;
        iov[cnt].iov_base = const_cast<char*>(pieces[i].data());
        iov[cnt].iov_len = pieces[i].size();
        want += pieces[i].size();
        cnt++;
      }
      Status s = WriteAll(iov, cnt, want);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  Status AppendFrom(int fd, uint64_t offset, uint64_t n) override {
    bool by_kernel;
    return CopyIn(fd, offset, n, nullptr, &by_kernel);
  }

  Status Close() override {
    if (fd_ < 0) return Status::OK();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return PosixError(path_ + ": close", errno);
    return Status::OK();
  }

 private:
  // Writes iov[0..cnt) completely, resuming after short writes.
  Status WriteAll(iovec* iov, size_t cnt, uint64_t want) {
    while (want > 0) {
      ssize_t w = ::writev(fd_, iov, static_cast<int>(cnt));
      if (w < 0) {
        if (errno == EINTR) continue;
        return PosixError(path_ + ": write", errno);
      }
      size_ += static_cast<uint64_t>(w);
      want -= static_cast<uint64_t>(w);
      size_t done = static_cast<size_t>(w);
      while (cnt > 0 && done >= iov->iov_len) {
        done -= iov->iov_len;
        iov++;
        cnt--;
      }
      if (cnt > 0) {
        iov->iov_base = static_cast<char*>(iov->iov_base) + done;
        iov->iov_len -= done;
      }
    }
    return Status::OK();
  }
};

// Copies n bytes to dst strictly in ascending order of address, so that a
// process killed in the middle leaves a prefix of them, as an interrupted
// write(2) does (recovery then sees a torn tail, not damage followed by
// valid records). memcpy promises no order: glibc's may store the end of a
// large copy first. The volatile stores keep the compiler from reordering.
void CopyForward(char* dst, const char* src, size_t n) {
  while (n > 0 && (reinterpret_cast<uintptr_t>(dst) & 7) != 0) {
    *static_cast<volatile char*>(dst++) = *src++;
    n--;
  }
  volatile uint64_t* d = reinterpret_cast<volatile uint64_t*>(dst);
  for (; n >= 8; n -= 8, src += 8) {
    uint64_t w;
    std::memcpy(&w, src, 8);
    *d++ = w;
  }
  dst = reinterpret_cast<char*>(const_cast<uint64_t*>(d));
  while (n > 0) {
    *static_cast<volatile char*>(dst++) = *src++;
    n--;
  }
}

// Prepares the mapped append file's next window on a thread of its own, so
// that an append crossing a window's end only switches pointers (the
// advance cost one put about 2 ms: allocation, unmapping the old window and
// the first faults of the new one; docs/Benchmarks.md, session 8). A window
// is prepared in one of two ways (PrepareWindow):
//  - allocated (fallocate: unwritten extents that read as zeros), or
//  - filled: written as zeros in 4 KiB writes, each 64 KiB written back at
//    once, and synced. For a file synced often: a sync that writes into an
//    unwritten extent converts it and so writes the inode as well (about
//    every second sync of a 16-writer group on ext4), while blocks written
//    ahead are plain data. 4 KiB writes keep the page cache in 4 KiB folios
//    (one large write makes large ones, and an append then dirties, and each
//    sync writes, the whole folio); the 64 KiB steps keep what a writer's
//    fdatasync finds dirty of the zeros (it waits for all of the file's
//    writeback) small.
// It also unmaps the windows the writer has left. It works through a
// descriptor of its own, so that its syncs never consume a write error the
// writer's Sync must report (errors are reported once per open file).
// One job at a time; every method is called by the file's one writer.
// Lock: mu_ is a leaf.
class WindowPreparer {
 public:
  struct Window {
    uint64_t off = 0;
    char* map = nullptr;  // null when the job failed
    Status status;
  };

  WindowPreparer(std::string path, int fd, size_t len)
      : path_(std::move(path)), fd_(fd), len_(len), thread_([this] { Loop(); }) {}
  ~WindowPreparer() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();  // it unmaps the retired windows before it ends
    if (done_.map != nullptr) ::munmap(done_.map, len_);
    ::close(fd_);
  }

  // Starts preparing the window at off. REQUIRES: no job pending (Take or
  // Discard ended the last one).
  void Request(uint64_t off, bool fill) {
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = Job{off, fill};
      pending_ = true;
      done_ = Window();
    }
    cv_.notify_all();
  }

  // Waits for the requested window and hands it over (its map to the caller).
  Window Take() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return !pending_; });
    Window w = done_;
    done_ = Window();
    return w;
  }

  // Stops a requested window's preparation early (between two 64 KiB steps
  // of a fill), waits for it and unmaps it unused.
  void Discard() {
    cancel_.store(true, std::memory_order_relaxed);
    Window w = Take();
    cancel_.store(false, std::memory_order_relaxed);
    if (w.map != nullptr) ::munmap(w.map, len_);
  }

  // Hands over a window the writer has left, to be unmapped here.
  void Retire(char* map) {
    {
      std::lock_guard<std::mutex> l(mu_);
      retired_.push_back(map);
    }
    cv_.notify_all();
  }

 private:
  struct Job {
    uint64_t off = 0;
    bool fill = false;
  };

  void Loop() {
    // SCHED_BATCH: woken, this thread waits for a free CPU or the next tick
    // instead of preempting the writer that woke it (on a busy machine the
    // writer otherwise lost its CPU for the whole preparation: 2-5 ms).
    // Its share of the CPU is a normal thread's.
    sched_param param{};
    ::pthread_setschedparam(::pthread_self(), SCHED_BATCH, &param);
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [this] { return stop_ || pending_ || !retired_.empty(); });
      if (!retired_.empty()) {
        std::vector<char*> maps;
        maps.swap(retired_);
        l.unlock();
        for (char* m : maps) ::munmap(m, len_);
        l.lock();
        continue;
      }
      if (stop_) return;
      const Job job = job_;
      l.unlock();
      Window w;
      w.off = job.off;
      w.status = PrepareWindow(job, &w.map);
      l.lock();
      done_ = w;
      pending_ = false;
      cv_.notify_all();
    }
  }

  Status PrepareWindow(const Job& job, char** map) {
    constexpr size_t kPiece = 4096;        // one write of zeros (see the class comment)
    constexpr uint64_t kStep = 64 << 10;   // written back at once
    static const char zeros[kPiece] = {};
    if (job.fill) {
      for (uint64_t done = 0; done < len_;) {
        if (cancel_.load(std::memory_order_relaxed)) {
          return Status::IOError(path_ + ": fill ahead: cancelled", ECANCELED);
        }
        const uint64_t step_from = done;
        const uint64_t step_end = std::min<uint64_t>(done + kStep, len_);
        while (done < step_end) {
          const size_t n = static_cast<size_t>(std::min<uint64_t>(kPiece, step_end - done));
          ssize_t w = ::pwrite(fd_, zeros, n, static_cast<off_t>(job.off + done));
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) return PosixError(path_ + ": fill ahead", errno);
          done += static_cast<uint64_t>(w);
        }
        if (::sync_file_range(fd_, static_cast<off_t>(job.off + step_from),
                              static_cast<off_t>(step_end - step_from),
                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                  SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
          return PosixError(path_ + ": fill ahead: sync_file_range", errno);
        }
      }
      // The blocks' allocation and the file's size: after this the
      // writer's syncs in the window write data only.
      if (::fdatasync(fd_) != 0) return PosixError(path_ + ": fill ahead: fdatasync", errno);
    } else {
      int rc;
      do {
        rc = ::fallocate(fd_, 0, static_cast<off_t>(job.off), static_cast<off_t>(len_));
      } while (rc != 0 && errno == EINTR);
      if (rc != 0) return PosixError(path_ + ": allocate", errno);
    }
    // MAP_POPULATE: the window's pages are mapped here; the writer's first
    // fault in a fresh window took 1-1.7 ms (docs/Benchmarks.md, session 8).
    void* p = ::mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
                     static_cast<off_t>(job.off));
    if (p == MAP_FAILED) return PosixError(path_ + ": mmap", errno);
    *map = static_cast<char*>(p);
    return Status::OK();
  }

  const std::string path_;
  const int fd_;  // its own descriptor of the file
  const size_t len_;
  std::mutex mu_;
  std::condition_variable cv_;
  Job job_;                      // GUARDED_BY(mu_)
  bool pending_ = false;         // GUARDED_BY(mu_): job_ not yet done
  Window done_;                  // GUARDED_BY(mu_): job_'s result
  std::vector<char*> retired_;   // GUARDED_BY(mu_): windows to unmap
  bool stop_ = false;            // GUARDED_BY(mu_)
  std::atomic<bool> cancel_{false};  // set by Discard while it waits
  std::thread thread_;           // last: starts once the rest is set up
};

// The active data file: appends are copies into a MAP_SHARED window of the
// file, so a put costs no system call; the window moves every kMapChunk
// bytes, its blocks allocated first (fallocate, or written as zeros: see
// WindowPreparer) so that a full disk is an error from Append (ENOSPC or
// EFBIG), never a SIGBUS on a page fault. The next window is prepared ahead
// by a WindowPreparer, requested when appends pass the first quarter of the
// current one (not earlier: a store whose files end before that, as with a
// small max_data_file_size, prepares nothing it will not use; at the middle,
// a writer appending flat out often had to wait for the preparation), filled
// with zeros when the file was synced kFillAfterSyncs times by then (a file
// synced that often pays an inode write in the syncs that enter a new block:
// see WindowPreparer). The file on disk is zero-filled past size_ up to the end
// of the window, or of the prepared one, until Close truncates it.
// Not thread-safe (one writer), like every WritableFile.
class PosixMappedAppendFile final : public PosixAppendFile {
 public:
  static constexpr uint64_t kMapChunk = 4 << 20;
  // A window in which the file was synced this often before its first
  // quarter ends has its successor filled with zeros (one sync per 8 KiB
  // appended or more: each writes at least a 4 KiB block, so the zeros add
  // at most half).
  static constexpr uint32_t kFillAfterSyncs = 128;

  PosixMappedAppendFile(std::string path, int fd, uint64_t size)
      : PosixAppendFile(std::move(path), fd, size), map_off_(size), map_end_(size) {}
  ~PosixMappedAppendFile() override { Close(); }

  Status Sync() override {
    window_syncs_++;
    return PosixAppendFile::Sync();
  }

  Status Append(std::string_view data) override { return AppendV(&data, 1); }

  // The first append allocates and maps the first window (not the open: a
  // store on a full disk must still open for reading).
  Status AppendV(const std::string_view* pieces, size_t n) override {
    if (plain_) return WritePlain(pieces, n);
    const uint64_t start = size_;
    for (size_t i = 0; i < n; i++) {
      const char* p = pieces[i].data();
      size_t left = pieces[i].size();
      while (left > 0) {
        if (size_ == map_end_) {
          Status s = Advance();
          if (!s.ok() && alloc_end_ == 0 && size_ == start &&
              (s.errno_value() == EOPNOTSUPP || s.errno_value() == ENODEV)) {
            // No fallocate (or no shared mapping) on this file system.
            plain_ = true;
            return WritePlain(pieces, n);
          }
          if (!s.ok()) {
            Unwind(start);
            return s;
          }
        }
        const size_t k = static_cast<size_t>(std::min<uint64_t>(left, map_end_ - size_));
        CopyForward(map_ + (size_ - map_off_), p, k);
        size_ += k;
        p += k;
        left -= k;
      }
    }
    if (size_ >= prepare_at_) RequestNext(window_syncs_ >= kFillAfterSyncs);
    return Status::OK();
  }

  // Copies through the file descriptor at Size() (the page cache is shared
  // with the mapping), allocating as ext4 writes do, then maps afresh at the
  // next append. The window being prepared goes first: the copy may reach
  // into it.
  Status AppendFrom(int fd, uint64_t offset, uint64_t n) override {
    DiscardNext();
    off_t at = static_cast<off_t>(size_);
    bool by_kernel;
    Status s = CopyIn(fd, offset, n, &at, &by_kernel);
    if (by_kernel) Unmap();  // the window is behind: the next append maps afresh
    return s;
  }

  // Unmaps and truncates the file to Size(): the zero tail goes (the
  // preparer is stopped first, so nothing extends the file after). The
  // caller syncs first; the truncation itself is not synced (a tail that
  // comes back after a power loss is zeros, read as a clean end).
  Status Close() override {
    if (fd_ < 0) return Status::OK();
    Unmap();
    next_.reset();
    Status s;
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      s = PosixError(path_ + ": truncate", errno);
    }
    if (::close(fd_) != 0 && s.ok()) s = PosixError(path_ + ": close", errno);
    fd_ = -1;
    return s;
  }

 private:
  static constexpr uint64_t kNever = UINT64_MAX;

  // Appends with pwrite, for a file system that cannot map ahead.
  Status WritePlain(const std::string_view* pieces, size_t n) {
    for (size_t i = 0; i < n; i++) {
      for (size_t done = 0; done < pieces[i].size();) {
        ssize_t w = ::pwrite(fd_, pieces[i].data() + done, pieces[i].size() - done,
                             static_cast<off_t>(size_));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return PosixError(path_ + ": write", errno);
        done += static_cast<size_t>(w);
        size_ += static_cast<uint64_t>(w);
      }
    }
    return Status::OK();
  }

  // Moves the window on at its end: to the prepared window when there is
  // one (the old one goes to the preparer to be unmapped), else maps it here
  // (Remap), which also reports a failed preparation's error afresh.
  Status Advance() {
    if (next_requested_ && map_ != nullptr && next_off_ == map_end_) {
      next_requested_ = false;
      const WindowPreparer::Window w = next_->Take();
      if (w.map != nullptr) {
        next_->Retire(map_);
        map_ = w.map;
        map_off_ = w.off;
        map_end_ = w.off + kMapChunk;
        alloc_end_ = std::max(alloc_end_, map_end_);
        EnteredWindow();
        return Status::OK();
      }
      if (next_fill_) fill_ = false;  // do not try again on this file
    }
    Status s = Remap();
    if (s.ok()) EnteredWindow();
    return s;
  }

  void EnteredWindow() {
    window_syncs_ = 0;
    prepare_at_ = map_off_ + kMapChunk / 4;
  }

  // Has the preparer make the window after the current one ready.
  void RequestNext(bool fill) {
    prepare_at_ = kNever;
    if (map_ == nullptr) return;
    if (!next_) {
      const int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
      if (fd < 0) return;  // every window is then mapped by Remap
      next_.reset(new WindowPreparer(path_, fd, kMapChunk));
    }
    next_fill_ = fill && fill_;
    next_off_ = map_end_;
    next_requested_ = true;
    next_->Request(next_off_, next_fill_);
  }

  // Waits for the window being prepared, if any, and drops it.
  void DiscardNext() {
    if (!next_requested_) return;
    next_->Discard();
    next_requested_ = false;
    if (map_ != nullptr) EnteredWindow();  // may be requested again
  }

  // Maps the window [size_ rounded down to a page, + kMapChunk), its blocks
  // allocated first (which also extends the file over it).
  Status Remap() {
    static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t off = size_ & ~(page - 1);
    Unmap();
    if (off + kMapChunk > alloc_end_) {
      int rc;
      do {
        rc = ::fallocate(fd_, 0, static_cast<off_t>(off), static_cast<off_t>(kMapChunk));
      } while (rc != 0 && errno == EINTR);
      if (rc != 0) return PosixError(path_ + ": allocate", errno);
      alloc_end_ = off + kMapChunk;
    }
    void* p = ::mmap(nullptr, kMapChunk, PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
                     static_cast<off_t>(off));
    if (p == MAP_FAILED) return PosixError(path_ + ": mmap", errno);
    map_ = static_cast<char*>(p);
    map_off_ = off;
    map_end_ = off + kMapChunk;
    return Status::OK();
  }

  void Unmap() {
    DiscardNext();
    if (map_ != nullptr) ::munmap(map_, kMapChunk);
    map_ = nullptr;
    map_off_ = map_end_ = size_;  // nothing mapped: the next append remaps
    prepare_at_ = kNever;
  }

  // After a failed append: zero what it copied (the bytes must read as the
  // clean zero tail, not as a torn record) and forget it.
  void Unwind(uint64_t start) {
    if (map_ != nullptr && start < size_) {
      const uint64_t from = std::max(start, map_off_);
      std::memset(map_ + (from - map_off_), 0, static_cast<size_t>(size_ - from));
    }
    // Bytes of an earlier window, unmapped by now: zero them through the fd.
    if (start < map_off_) {
      std::string zeros(static_cast<size_t>(map_off_ - start), '\0');
      if (::pwrite(fd_, zeros.data(), zeros.size(), static_cast<off_t>(start)) < 0) {
        // Left as a torn record: recovery truncates it all the same.
      }
    }
    size_ = start;
    if (map_ == nullptr || size_ < map_off_) Unmap();
  }

  uint64_t alloc_end_ = 0;   // blocks allocated up to here
  char* map_ = nullptr;      // the window [map_off_, map_end_), or null
  uint64_t map_off_;         // (both size_ when nothing is mapped)
  uint64_t map_end_;
  bool plain_ = false;       // pwrite instead (see AppendV)
  // The next window: requested when an append reaches prepare_at_ (kNever:
  // requested already, or nothing mapped), filled when window_syncs_ (the
  // syncs since the window was entered) reached kFillAfterSyncs by then.
  uint64_t prepare_at_ = kNever;
  uint32_t window_syncs_ = 0;
  bool fill_ = true;             // false after a fill failed
  bool next_requested_ = false;  // a window at next_off_ is being prepared or ready
  bool next_fill_ = false;       // ... filled with zeros
  uint64_t next_off_ = 0;
  std::unique_ptr<WindowPreparer> next_;  // started at the first request
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override {
    if (map_ != nullptr) ::munmap(map_, map_len_);
    ::close(fd_);
  }

  std::string_view Map(uint64_t len) override {
    if (map_ != nullptr || len == 0 || len > SIZE_MAX) return std::string_view();
    // MAP_SHARED: bytes appended later through another descriptor show up
    // in the mapping (one page cache).
    void* p = ::mmap(nullptr, static_cast<size_t>(len), PROT_READ, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) return std::string_view();
    // Point reads of records: no read-around of 128 KiB on a miss.
    ::madvise(p, static_cast<size_t>(len), MADV_RANDOM);
    map_ = p;
    map_len_ = static_cast<size_t>(len);
    return std::string_view(static_cast<const char*>(p), map_len_);
  }

  Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) const override {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, scratch + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        *result = std::string_view();
        return PosixError(path_ + ": read", errno);
      }
      if (r == 0) break;  // end of file
      got += static_cast<size_t>(r);
    }
    *result = std::string_view(scratch, got);
    return Status::OK();
  }

 private:
  std::string path_;
  int fd_;
  void* map_ = nullptr;
  size_t map_len_ = 0;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError(path + ": create", errno);
    file->reset(new PosixWritableFile(path, fd, 0));
    return Status::OK();
  }

  Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return PosixError(path + ": open for append", errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return PosixError(path + ": stat", err);
    }
    file->reset(new PosixWritableFile(path, fd, static_cast<uint64_t>(st.st_size)));
    return Status::OK();
  }

  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* file) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(path + ": open", errno);
    file->reset(new PosixRandomAccessFile(path, fd));
    return Status::OK();
  }

  Status NewMappedAppendFile(const std::string& path, bool create,
                             std::unique_ptr<WritableFile>* file) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0644);
    if (fd < 0) return PosixError(path + (create ? ": create" : ": open for append"), errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return PosixError(path + ": stat", err);
    }
    file->reset(new PosixMappedAppendFile(path, fd, static_cast<uint64_t>(st.st_size)));
    return Status::OK();
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError(dir + ": opendir", errno);
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names->emplace_back(e->d_name);
    }
    ::closedir(d);
    return Status::OK();
  }

  Status GetFileSize(const std::string& path, uint64_t* size) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError(path + ": stat", errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError(path + ": unlink", errno);
    return Status::OK();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return PosixError(from + ": rename to " + to, errno);
    }
    return Status::OK();
  }

  Status TruncateFile(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      return PosixError(path + ": truncate", errno);
    }
    return Status::OK();
  }

  Status CreateDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return PosixError(dir + ": mkdir", errno);
    }
    return Status::OK();
  }

  Status RemoveDir(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0) return PosixError(dir + ": rmdir", errno);
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError(dir + ": open directory", errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return PosixError(dir + ": fsync directory", err);
    return Status::OK();
  }

  Status FlushFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(path + ": open", errno);
    int rc = ::fdatasync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return PosixError(path + ": fdatasync", err);
    return Status::OK();
  }

  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError(path + ": open lock file", errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) return Status::Locked(path + " is locked by another process");
      return PosixError(path + ": flock", err);
    }
    lock->reset(new PosixFileLock(fd));
    return Status::OK();
  }

  int64_t NowUnixNanos() override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void SleepMicros(uint64_t micros) override {
    std::this_thread::sleep_for(std::chrono::microseconds(micros));
  }
};

}  // namespace

Status Env::FlushFile(const std::string&) { return Status::OK(); }

Status Env::NewMappedAppendFile(const std::string& path, bool create,
                                std::unique_ptr<WritableFile>* file) {
  return create ? NewWritableFile(path, file) : NewAppendableFile(path, file);
}

Status WritableFile::AppendV(const std::string_view* pieces, size_t n) {
  for (size_t i = 0; i < n; i++) {
    Status s = Append(pieces[i]);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status WritableFile::AppendFrom(int fd, uint64_t offset, uint64_t n) {
  std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(n, 1 << 20)));
  while (n > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n, buf.size()));
    ssize_t r = ::pread(fd, buf.data(), want, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return PosixError("reading the value's file", errno);
    if (r == 0) return Status::IOError("the value's file ends before its size", EIO);
    Status s = Append(std::string_view(buf.data(), static_cast<size_t>(r)));
    if (!s.ok()) return s;
    offset += static_cast<uint64_t>(r);
    n -= static_cast<uint64_t>(r);
  }
  return Status::OK();
}

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();  // never deleted: outlives every DB
  return env;
}

}  // namespace bitgask
