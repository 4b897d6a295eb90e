// ControlFiles: the virtual, read-only directory /.bitgask and what is in it.
//
// Contract (docs/Filesystem.md, "Control files"):
//   * Fixed inode numbers (Owns() says which): /.bitgask, its files stats,
//     merge, sync and gc, and the directory unmapped/.  Entries of unmapped/
//     get numbers from kFirstUnmappedIno up, one per key, kept while the
//     kernel holds a lookup on them.
//   * The files are opened with direct_io: their content is made at open (a
//     read shows the state as of the open) and their size shows as 0.
//       stats  read: JSON of DBStats (keys, total_bytes, dead_bytes, ...).
//       merge  write: DB::Merge(force) before the write returns (EIO if it
//              fails, logged); read: JSON of the last merge's time and status.
//       sync   write: DB::Sync (EIO on failure); read: the last sync's outcome.
//       gc     write: DB::RunGC; read: how many keys the last gc removed.
//     Each write(2) call runs the action once, whatever bytes it carries.
//     Setting the size (O_TRUNC, truncate) or times is accepted and ignored.
//   * unmapped/ lists every key not shown at a path (KeyView) under its
//     EncodeUnmappedName name; those files are read-only copies of the value
//     (open for writing: EROFS).  Listing it walks all keys.
//   * Nothing can be created, removed, renamed, chmod-ed or given extended
//     attributes in here: EPERM (ENOTSUP for setxattr).
// Every method replies to its request exactly once.
// Locking: mu_ guards the recorded outcomes and the unmapped inode maps; it
// is a leaf, never held across an engine call or a reply.
#ifndef BITGASK_FS_CONTROL_FILES_H_
#define BITGASK_FS_CONTROL_FILES_H_

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "bitgask/db.h"
#include "fs_options.h"
#include "key_view.h"

namespace bitgask {
namespace fs {

class ControlFiles {
 public:
  static constexpr fuse_ino_t kBase = 1ull << 62;
  static constexpr fuse_ino_t kDirIno = kBase + 1;
  static constexpr fuse_ino_t kStatsIno = kBase + 2;
  static constexpr fuse_ino_t kMergeIno = kBase + 3;
  static constexpr fuse_ino_t kSyncIno = kBase + 4;
  static constexpr fuse_ino_t kGcIno = kBase + 5;
  static constexpr fuse_ino_t kUnmappedDirIno = kBase + 6;
  static constexpr fuse_ino_t kFirstUnmappedIno = kBase + 0x100;
  static constexpr char kDirName[] = ".bitgask";

  // store_path: shown as "store" in the stats file.
  ControlFiles(DB* db, const KeyView* view, std::string store_path, const FsOptions& options);

  // True for the inodes of this class (never one of the path inodes).
  static bool Owns(fuse_ino_t ino) { return (ino >> 62) == 1; }

  // Lookup of name in parent, which is the root (name ".bitgask") or Owns().
  void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
  void Forget(fuse_ino_t ino, uint64_t nlookup);
  void Getattr(fuse_req_t req, fuse_ino_t ino);
  void Setattr(fuse_req_t req, fuse_ino_t ino, int to_set);
  void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
  void Write(fuse_req_t req, fuse_ino_t ino, size_t size, fuse_file_info* fi);
  void Release(fuse_req_t req, fuse_file_info* fi);
  void Opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Readdir(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi);
  void Releasedir(fuse_req_t req, fuse_file_info* fi);

 private:
  struct Handle;
  // 0 and *st for ino, else ENOENT.
  int Stat(fuse_ino_t ino, struct stat* st);
  void ReplyEntry(fuse_req_t req, fuse_ino_t ino);
  // The unmapped key named name (full or shortened form), or ENOENT.
  int FindUnmapped(const std::string& name, std::string* key);
  // The inode of an unmapped key, adding a lookup when `count`.
  fuse_ino_t UnmappedIno(const std::string& key, bool count);
  bool UnmappedKey(fuse_ino_t ino, std::string* key);
  // The text a read of ino shows.
  std::string Content(fuse_ino_t ino);
  // Runs the action of ino; 0 or an errno.
  int Act(fuse_ino_t ino);

  DB* const db_;
  const KeyView* const view_;
  const std::string store_path_;
  const FsOptions options_;
  const int64_t mount_time_ns_;

  std::mutex mu_;
  int64_t last_sync_ns_ = 0;
  std::string last_sync_status_;
  int64_t last_gc_ns_ = 0;
  uint64_t last_gc_removed_ = 0;
  std::string last_gc_status_;
  struct Unmapped {
    std::string key;
    uint64_t nlookup = 0;
  };
  fuse_ino_t next_unmapped_ino_ = kFirstUnmappedIno;
  std::unordered_map<fuse_ino_t, Unmapped> unmapped_by_ino_;
  std::map<std::string, fuse_ino_t> unmapped_by_key_;
};

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_CONTROL_FILES_H_
