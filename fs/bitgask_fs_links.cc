// BitgaskFs: symbolic links and special files.  A symlink is a key whose
// mode is S_IFLNK|0777 and whose value is the target.  A FIFO, socket or
// device node is a key with that file type in its mode; a device's value is
// its device number in decimal, a FIFO's or socket's is empty (the kernel
// does their I/O; nothing is read or written through the mount).  Hard links
// are refused (EPERM, in the op table): a key has one name.
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

void BitgaskFs::Mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                      dev_t rdev) {
  if (ControlFiles::Owns(parent)) return (void)fuse_reply_err(req, EPERM);
  const mode_t type = mode & S_IFMT;
  std::string value;
  if (type == S_IFCHR || type == S_IFBLK) {
    value = std::to_string(static_cast<unsigned long long>(rdev));
  } else if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK) {
    return (void)fuse_reply_err(req, EINVAL);
  }
  std::lock_guard<std::mutex> ns(ns_mu_);
  std::string path;
  if (int err = NewChildPath(parent, name, &path)) return (void)fuse_reply_err(req, err);
  MakeAndReply(req, path, path, static_cast<uint16_t>(type | (mode & 07777)), value);
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
