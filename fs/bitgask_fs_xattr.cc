// BitgaskFs: extended attributes.  Only the expiry attributes of ttl_xattr.h
// exist; this file resolves the inode and applies the rules for directories
// and control files.
#include <cerrno>

#include "bitgask_fs.h"
#include "ttl_xattr.h"

namespace bitgask {
namespace fs {
namespace {

// The errno for setting or removing attribute NAME of a directory.
// Directories have no expiry: a marker that expired would leave the
// directory to its children; refused rather than half-done.
int DirXattrChangeErrno(std::string_view name) {
  return name == kTtlXattr || name == kExpiresXattr ? EPERM : ENOTSUP;
}

// Replies to getxattr/listxattr with bytes: their size when the caller's
// buffer size is 0 (a size query), ERANGE when they do not fit.
void ReplyXattr(fuse_req_t req, const std::string& bytes, size_t size) {
  if (size == 0) return (void)fuse_reply_xattr(req, bytes.size());
  if (size < bytes.size()) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, bytes.data(), bytes.size());
}

}  // namespace

int BitgaskFs::XattrTarget(fuse_ino_t ino, bool setting, std::string* key, Kind* kind) {
  if (ControlFiles::Owns(ino)) return setting ? ENOTSUP : ENODATA;
  if (!inodes_.Path(ino, key)) return ENOENT;
  RecordMeta m;
  *kind = Classify(*key, &m);
  return *kind == Kind::kNone ? ENOENT : 0;
}

void BitgaskFs::Setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                         size_t size, int flags) {
  std::string key;
  Kind kind;
  if (int err = XattrTarget(ino, true, &key, &kind)) return (void)fuse_reply_err(req, err);
  if (kind == Kind::kDir) return (void)fuse_reply_err(req, DirXattrChangeErrno(name));
  const int err = SetTtlXattr(db_, key, name, std::string_view(value, size), flags);
  // The kernel may have cached key's entry for longer than it now lives: make
  // it look again (off this thread, see NotifyQueue), so it vanishes in time.
  if (err == 0) notify_.Push([this, key] { ForgetPath(session_.load(), key); });
  fuse_reply_err(req, err);
}

void BitgaskFs::Getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  std::string key, value;
  Kind kind;
  if (int err = XattrTarget(ino, false, &key, &kind)) return (void)fuse_reply_err(req, err);
  if (kind == Kind::kDir) return (void)fuse_reply_err(req, ENODATA);
  if (int err = GetTtlXattr(db_, key, name, &value)) return (void)fuse_reply_err(req, err);
  ReplyXattr(req, value, size);
}

void BitgaskFs::Listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  std::string key, names;
  Kind kind;
  int err = XattrTarget(ino, false, &key, &kind);
  if (err == ENODATA) err = 0;  // control files: no attributes
  if (err != 0) return (void)fuse_reply_err(req, err);
  if (!ControlFiles::Owns(ino) && kind == Kind::kFile) {
    if (int e = ListTtlXattrs(db_, key, &names)) return (void)fuse_reply_err(req, e);
  }
  ReplyXattr(req, names, size);
}

void BitgaskFs::Removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  std::string key;
  Kind kind;
  if (int err = XattrTarget(ino, true, &key, &kind)) return (void)fuse_reply_err(req, err);
  if (kind == Kind::kDir) return (void)fuse_reply_err(req, DirXattrChangeErrno(name));
  fuse_reply_err(req, RemoveTtlXattr(db_, key, name));
}

}  // namespace fs
}  // namespace bitgask
