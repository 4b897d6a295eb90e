// BitgaskFs: symbolic links.  A symlink is a key whose mode is S_IFLNK|0777
// and whose value is the target.  Hard links are refused (EPERM, in the op
// table): a key has one name.
#include <limits.h>

#include <cerrno>
#include <cstring>

#include "bitgask_fs.h"

namespace bitgask {
namespace fs {

void BitgaskFs::Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  if (ControlFiles::Owns(parent)) return (void)fuse_reply_err(req, EPERM);
  if (std::strlen(target) >= PATH_MAX) return (void)fuse_reply_err(req, ENAMETOOLONG);
  std::lock_guard<std::mutex> ns(ns_mu_);
  std::string path;
  if (int err = NewChildPath(parent, name, &path)) return (void)fuse_reply_err(req, err);
  MakeAndReply(req, path, path, S_IFLNK | 0777, target);
}

void BitgaskFs::Readlink(fuse_req_t req, fuse_ino_t ino) {
  std::string path;
  if (ControlFiles::Owns(ino) || !inodes_.Path(ino, &path))
    return (void)fuse_reply_err(req, ControlFiles::Owns(ino) ? EINVAL : ENOENT);
  RecordMeta m;
  if (Classify(path, &m) != Kind::kFile) return (void)fuse_reply_err(req, EINVAL);
  if ((m.mode & S_IFMT) != S_IFLNK) return (void)fuse_reply_err(req, EINVAL);
  std::string target;
  Status s = db_->Get(path, &target);
  if (!s.ok()) return (void)fuse_reply_err(req, s.IsNotFound() ? ENOENT : s.errno_value());
  fuse_reply_readlink(req, target.c_str());
}

}  // namespace fs
}  // namespace bitgask
