// InodeTable: inode numbers <-> paths, with the kernel's lookup counts.
//
// Contract:
//   * The root is inode 1 (path "") and is never forgotten.
//   * Lookup(path) returns the path's inode (a new, ever-increasing number if
//     it has none) and adds one to its lookup count; Forget(ino, n) subtracts
//     n and drops the entry at zero, as FUSE's lookup/forget protocol says.
//   * Detach(path) unbinds a path whose file was removed (unlink, rmdir, or a
//     rename target that was replaced): the inode lives on until forgotten,
//     but Path() fails for it, so stale handles get ENOENT and never write
//     to a path reused by a new file.
//   * Rename(old, new) moves the path and every path below it.
//   * Times the store does not keep (atime, ctime, a directory's mtime moved
//     by changes to its entries) live with the inode: they hold while the
//     kernel knows it and are gone once it is forgotten (or at unmount).
// Locking: one std::shared_mutex guards both maps.  Lock order: the inode
// table mutex is a leaf: it is never held while calling the engine or while
// taking any other lock (callers copy the path out, then call the engine).
#ifndef BITGASK_FS_INODE_TABLE_H_
#define BITGASK_FS_INODE_TABLE_H_

#include <cstdint>
#include <map>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bitgask {
namespace fs {

class InodeTable {
 public:
  static constexpr uint64_t kRootIno = 1;

  // Unix nanoseconds; 0: not known here (the store's time applies).
  struct Times {
    int64_t atime_ns = 0;
    int64_t ctime_ns = 0;
    int64_t mtime_ns = 0;  // directories only
  };

  InodeTable();

  uint64_t Lookup(const std::string& path);
  // The inode of path if known (no count change), else 0.
  uint64_t Peek(const std::string& path) const;
  // False when ino is unknown or detached.
  bool Path(uint64_t ino, std::string* path) const;
  void Forget(uint64_t ino, uint64_t n);
  // last_mode: the st_mode it had, kept for fstat of descriptors still open
  // on it (0: unknown).
  void Detach(const std::string& path, uint32_t last_mode = 0);
  // The st_mode a detached inode had when its path went away; false when
  // ino is attached, unknown, or its mode was not given.
  bool LastMode(uint64_t ino, uint32_t* mode) const;
  // ino's times (all 0 when unknown).
  Times GetTimes(uint64_t ino) const;
  // Sets the non-zero fields of t for ino, if known.
  void SetTimes(uint64_t ino, const Times& t);
  void Rename(const std::string& from, const std::string& to);
  size_t Size() const;
  // Every attached inode and its path (for invalidating everything).
  std::vector<std::pair<uint64_t, std::string>> Attached() const;

 private:
  // The attached paths at path and below it, with their inodes.
  // REQUIRES: mu_ held.
  std::vector<std::pair<std::string, uint64_t>> SubtreeLocked(const std::string& path) const;

  struct Entry {
    std::string path;
    uint64_t nlookup = 0;
    bool detached = false;
    uint32_t last_mode = 0;  // when detached
    Times times;
  };
  mutable std::shared_mutex mu_;
  uint64_t next_ino_ = kRootIno + 1;
  std::unordered_map<uint64_t, Entry> by_ino_;
  // Attached entries only; ordered, so a directory's subtree is one range.
  std::map<std::string, uint64_t> by_path_;
};

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_INODE_TABLE_H_
