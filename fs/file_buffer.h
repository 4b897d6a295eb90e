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
//   * Once spilled, it keeps the CRC-32 of each kBlockBytes block of the
//     temporary file, computed from the bytes as writes bring them (one
//     pass over memory the writer has just copied, in cache): a write that
//     covers a block, or extends one it knows, keeps it known; any other
//     change (an overwrite inside a block, a hole, a truncation) forgets the
//     blocks it touches, and BlockCrcs reads those back from the file. The
//     store then copies the file without reading it first
//     (DB::PutFromFile). A failed write forgets the blocks it touched.
// Not thread-safe: its owner (BitgaskFs::OpenFile) holds a lock around it.
#ifndef BITGASK_FS_FILE_BUFFER_H_
#define BITGASK_FS_FILE_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bitgask {
namespace fs {

class FileBuffer {
 public:
  static constexpr uint64_t kSpillBytes = 8ull << 20;
  static constexpr uint64_t kBlockBytes = 64 * 1024;  // DB::kValueBlockBytes
  // Writes of at least this many bytes go to the temporary file by splice.
  static constexpr size_t kSpliceBytes = 64 * 1024;

  explicit FileBuffer(std::string spill_dir) : spill_dir_(std::move(spill_dir)) {}
  ~FileBuffer();
  FileBuffer(const FileBuffer&) = delete;
  FileBuffer& operator=(const FileBuffer&) = delete;

  uint64_t size() const { return size_; }
  // True while the contents are in memory; memory() is then all of them.
  bool in_memory() const { return fd_ < 0; }
  const std::string& memory() const { return mem_; }
  // The temporary file (-1 while in memory).
  int fd() const { return fd_; }
  // The CRC-32 of each kBlockBytes block of a spilled buffer, in order (the
  // last one shorter), into *out; blocks not known are read from the file.
  // Returns 0 or an errno. REQUIRES: !in_memory().
  int BlockCrcs(std::vector<uint32_t>* out);

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
  // Updates the block CRCs for n bytes (data) just written at off into the
  // file, whose size was old_size; a null data forgets the touched blocks.
  void TrackWrite(uint64_t off, const char* data, size_t n, uint64_t old_size);

  const std::string spill_dir_;
  std::string mem_;  // the contents while fd_ < 0
  int fd_ = -1;      // the temporary file, once spilled
  uint64_t size_ = 0;
  // Once spilled: the CRC of each block of the file and whether it is known.
  std::vector<uint32_t> crc_;
  std::vector<bool> known_;
};

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_FILE_BUFFER_H_
