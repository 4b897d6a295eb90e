// BitgaskFs::InvalidateKey: tells the kernel that another door changed a key.
// Runs outside request handlers and holds none of BitgaskFs's locks while it
// calls the notify functions (they may wait for requests in flight).
// Request handlers hand theirs to notify_ instead.
#include "bitgask_fs.h"
#include "path_map.h"

namespace bitgask {
namespace fs {

void BitgaskFs::SetSession(fuse_session* se) {
  if (se == nullptr) notify_.Stop();  // its jobs still see the session
  session_.store(se);
  if (se != nullptr) notify_.Start();
}

void BitgaskFs::ForgetPath(fuse_session* se, const std::string& path) {
  if (se == nullptr) return;
  const std::string parent = ParentPath(path);
  if (const uint64_t pino = inodes_.Peek(parent)) {
    const std::string name = path.substr(parent.empty() ? 0 : parent.size() + 1);
    fuse_lowlevel_notify_inval_entry(se, pino, name.c_str(), name.size());
  }
  if (const uint64_t ino = inodes_.Peek(path)) fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
}

void BitgaskFs::InvalidateKey(const std::string& key) {
  fuse_session* se = session_.load();
  if (se == nullptr) return;
  if (key.empty()) {  // every key changed (FLUSHALL): forget everything cached
    for (const auto& [ino, p] : inodes_.Attached()) {
      if (p.empty()) continue;  // the root stays
      const std::string parent = ParentPath(p);
      const std::string name = p.substr(parent.empty() ? 0 : parent.size() + 1);
      if (const uint64_t pino = inodes_.Peek(parent))
        fuse_lowlevel_notify_inval_entry(se, pino, name.c_str(), name.size());
      fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
    }
    fuse_lowlevel_notify_inval_inode(se, InodeTable::kRootIno, 0, 0);
    return;
  }
  std::string path;
  bool is_marker;
  if (!KeyPath(key, &path, &is_marker)) return;  // only in /.bitgask/unmapped (direct_io)
  // The path, then each ancestor whose kind may have changed with the key:
  // a directory that existed only through it and vanished, or a file key at
  // the ancestor's path that a directory now hides (or shows again).
  ForgetPath(se, path);
  for (std::string p = ParentPath(path); !p.empty(); p = ParentPath(p)) {
    RecordMeta m;
    if (!DirExists(p) || db_->Meta(p, &m).ok()) ForgetPath(se, p);
  }
}

}  // namespace fs
}  // namespace bitgask
