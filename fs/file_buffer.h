// FileBuffer: the new contents of a file open for writing, until they are
// stored (flush, fsync, release).
//
// Contract:
//   * Contents up to kSpillBytes live in memory. Past that they move to an
//     unnamed temporary file in the spill directory (the store's own, so
//     they count against the disk the store is on, and vanish with the
//     process), so memory stays bounded whatever the file's size.
//   * Reads past the end return fewer bytes (none at or after the end);
//     writes past the end fill the gap with zeros, as on ext4.
//   * Methods return 0 or an errno (ENOSPC, EIO, EFBIG...). A failed call
//     leaves the buffer as it was before or, for a write into the temporary
//     file, with part of the bytes written; the caller reports the error and
//     the file's stored contents are untouched either way.
// Not thread-safe: its owner (BitgaskFs::OpenFile) holds a lock around it.
#ifndef BITGASK_FS_FILE_BUFFER_H_
#define BITGASK_FS_FILE_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace bitgask {
namespace fs {

class FileBuffer {
 public:
  static constexpr uint64_t kSpillBytes = 8ull << 20;

  explicit FileBuffer(std::string spill_dir) : spill_dir_(std::move(spill_dir)) {}
  ~FileBuffer();
  FileBuffer(const FileBuffer&) = delete;
  FileBuffer& operator=(const FileBuffer&) = delete;

  uint64_t size() const { return size_; }
  // True while the contents are in memory; memory() is then all of them.
  bool in_memory() const { return fd_ < 0; }
  const std::string& memory() const { return mem_; }

  // Up to n bytes from off into *out (replaced).
  int Read(uint64_t off, size_t n, std::string* out) const;
  // Exactly n bytes from off into dst; EIO when they are not all there.
  int ReadExactly(uint64_t off, size_t n, char* dst) const;
  int Write(uint64_t off, const char* data, size_t n);
  int Truncate(uint64_t size);
  // Drops everything (size 0, back in memory).
  void Clear();

 private:
  // Moves the contents into a temporary file.
  int Spill();

  const std::string spill_dir_;
  std::string mem_;  // the contents while fd_ < 0
  int fd_ = -1;      // the temporary file, once spilled
  uint64_t size_ = 0;
};

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_FILE_BUFFER_H_
