// Env: every file, directory, lock and clock access the engine makes goes
// through this interface, so that tests can substitute an Env that injects
// faults (failed writes and fsyncs, lost unsynced data) or a fake clock.
//
// Env::Default() is the POSIX implementation. All methods are thread-safe
// unless a class says otherwise.
#ifndef BITGASK_ENV_H_
#define BITGASK_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bitgask/status.h"

namespace bitgask {

// A file written only at its end. Not thread-safe: one writer at a time.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of data, or fails; on failure part of it may have been written.
  virtual Status Append(std::string_view data) = 0;
  // Appends the pieces in order as one write where the OS allows.
  virtual Status AppendV(const std::string_view* pieces, size_t n);
  // Appends bytes [offset, offset + n) of the open file fd (which must hold
  // them). The default reads them a piece at a time and calls Append; the
  // POSIX files copy them inside the kernel (copy_file_range). On failure
  // part of them may have been written.
  virtual Status AppendFrom(int fd, uint64_t offset, uint64_t n);
  // Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes in the file: its size at open plus what was appended since.
  virtual uint64_t Size() const = 0;
};

// A file read at arbitrary offsets. Read is safe to call from many threads.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into scratch; *result points at the bytes
  // read (fewer than n only at the end of the file).
  virtual Status Read(uint64_t offset, size_t n, char* scratch,
                      std::string_view* result) const = 0;
  // Maps the file's first len bytes into memory (len may reach past the
  // file's current end, for a file still being appended to) and returns
  // them, or returns an empty view when this file cannot be mapped (the
  // default: a wrapper that must see every read does not map). The mapping
  // lives as long as this object; call Map once, before sharing the object.
  // A byte may be read through the mapping only while it is below the file's
  // size: past the end (after a truncation, say), or on an I/O error of the
  // disk, the read raises SIGBUS instead of failing.
  virtual std::string_view Map(uint64_t len) {
    (void)len;
    return std::string_view();
  }
};

// An exclusive lock on a file, released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide POSIX Env. Never deleted.
  static Env* Default();

  // Creates (or truncates) a file for appending.
  virtual Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) = 0;
  // Opens an existing file for appending at its end.
  virtual Status NewAppendableFile(const std::string& path,
                                   std::unique_ptr<WritableFile>* file) = 0;
  virtual Status NewRandomAccessFile(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* file) = 0;
  // Like NewWritableFile (create) or NewAppendableFile (!create), for a file
  // appended to in many small pieces (the active data file). The POSIX Env
  // appends by copying into a shared memory mapping: no system call per
  // Append, and every appended byte is in the page cache when Append returns
  // (it survives the death of the process, as a write(2) does). Sync is
  // fdatasync, which covers pages dirtied through the mapping. Space is
  // allocated ahead in chunks (fallocate, or written as zeros and synced
  // when the file is synced often; the next chunk is prepared by a thread
  // of the file before appends reach it): the file's size on disk may be
  // larger than Size(), the excess zero-filled, until Close truncates it to
  // Size(); a process killed before Close leaves that zero tail, which every
  // reader of data files takes for a clean end. Nothing is allocated before
  // the first Append (a store on a full disk still opens). Where the file
  // system cannot allocate ahead or map, the POSIX file appends with pwrite;
  // the default implementation (so every EnvWrapper that does not override
  // this) is an ordinary NewWritableFile / NewAppendableFile.
  virtual Status NewMappedAppendFile(const std::string& path, bool create,
                                     std::unique_ptr<WritableFile>* file);

  virtual bool FileExists(const std::string& path) = 0;
  // Names (not paths) of the entries in dir, without "." and "..".
  virtual Status GetChildren(const std::string& dir, std::vector<std::string>* names) = 0;
  virtual Status GetFileSize(const std::string& path, uint64_t* size) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Atomically replaces `to` with `from` (rename(2)).
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // Creates dir; OK if it already exists.
  virtual Status CreateDir(const std::string& dir) = 0;
  virtual Status RemoveDir(const std::string& dir) = 0;
  // Makes the creation, rename and removal of entries in dir durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Flushes a file's data to disk through a descriptor of its own, while a
  // writer may keep appending. A hint to shorten a later WritableFile::Sync;
  // it promises nothing about durability (the default does nothing).
  virtual Status FlushFile(const std::string& path);

  // Takes an exclusive lock on path (created if absent) without waiting;
  // Status::Locked when another process holds it.
  virtual Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) = 0;

  // Wall-clock time in nanoseconds since the Unix epoch (TTL and mtimes).
  virtual int64_t NowUnixNanos() = 0;
  // Sleeps for the given number of microseconds.
  virtual void SleepMicros(uint64_t micros) = 0;
};

// An Env that forwards every call to another; subclass it to override a few.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Status NewWritableFile(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    return target_->NewWritableFile(p, f);
  }
  Status NewAppendableFile(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    return target_->NewAppendableFile(p, f);
  }
  Status NewRandomAccessFile(const std::string& p, std::unique_ptr<RandomAccessFile>* f) override {
    return target_->NewRandomAccessFile(p, f);
  }
  bool FileExists(const std::string& p) override { return target_->FileExists(p); }
  Status GetChildren(const std::string& d, std::vector<std::string>* n) override {
    return target_->GetChildren(d, n);
  }
  Status GetFileSize(const std::string& p, uint64_t* s) override {
    return target_->GetFileSize(p, s);
  }
  Status RemoveFile(const std::string& p) override { return target_->RemoveFile(p); }
  Status RenameFile(const std::string& f, const std::string& t) override {
    return target_->RenameFile(f, t);
  }
  Status TruncateFile(const std::string& p, uint64_t s) override {
    return target_->TruncateFile(p, s);
  }
  Status CreateDir(const std::string& d) override { return target_->CreateDir(d); }
  Status RemoveDir(const std::string& d) override { return target_->RemoveDir(d); }
  Status SyncDir(const std::string& d) override { return target_->SyncDir(d); }
  Status FlushFile(const std::string& p) override { return target_->FlushFile(p); }
  Status LockFile(const std::string& p, std::unique_ptr<FileLock>* l) override {
    return target_->LockFile(p, l);
  }
  int64_t NowUnixNanos() override { return target_->NowUnixNanos(); }
  void SleepMicros(uint64_t m) override { target_->SleepMicros(m); }

 private:
  Env* target_;
};

}  // namespace bitgask

#endif  // BITGASK_ENV_H_
