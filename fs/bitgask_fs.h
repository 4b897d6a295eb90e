// BitgaskFs: the FUSE low-level operations over a bitgask DB.
//
// Contracts (docs/Filesystem.md has the user-facing version):
//   * Paths map to keys as path_map.h says; stat never reads values (it uses
//     DB::Meta / DB::ScanKeys only).
//   * Every open inode has one OpenFile, shared by its handles (refcounted).
//     Until the file is first changed it holds nothing and reads go to the
//     store with DB::GetRange (only the range asked for). The first write or
//     truncate loads the contents into its FileBuffer (in memory up to 8 MiB,
//     beyond that in an unnamed spill file), and reads then come from the
//     buffer. Flush, fsync and release store a changed buffer with ONE
//     DB::Put (or DB::PutFromFile when spilled), so readers never see half a
//     write and memory stays bounded whatever the file's size.
//   * Unlinking a file, or renaming over it, while it is open first loads its
//     contents into the OpenFile, which is then orphaned: its handles read
//     the old contents until closed, and nothing is stored from them.
//   * The kernel's page cache is kept across opens (keep_cache): the store
//     changes only through this process. When the last release cannot store
//     a changed buffer (ENOSPC, EIO), the buffer is dropped and the kernel
//     told to forget the path (ForgetPath, off the request thread), so reads
//     show what is stored, not the write that failed.
//   * Syncs (with sync_on_put): a file created for writing is stored empty
//     at once but synced by its first flush (one sync per file written
//     and closed, not two); a utimensat of a file with unstored changes
//     is stored with them, and one that repeats the stored mtime stores
//     nothing.
//   * Renames of files and directories are one atomic DB::Write (WriteBatch).
//   * Removing the last entry of a directory first materializes the
//     directory's marker in the same batch, so the directory stays.
//   * Which keys show where is KeyView's rule (key_view.h); /.bitgask and
//     everything in it belong to ControlFiles (control_files.h): every
//     operation on one of its inodes is handed to it on the first line.
//   * Cache timeouts: the kernel may cache entries and attributes for an
//     hour (kCacheTimeout): the store changes only through
//     this process (its lock keeps others out); changes made through the
//     mount update the kernel's caches by the FUSE protocol itself; every
//     other door tells it (the RESP server calls InvalidateKey; setting an
//     expiry through the TTL attribute forgets the path). What can change
//     unannounced is capped: a key with an expiry is cached no longer than
//     it lives (so it disappears when it expires), with a default_ttl
//     nothing longer than that (a value stored later gets an expiry), and a
//     directory without a lasting marker (it exists through children that
//     may expire) for 1 s.
//     An entry of an open file carries attributes cached for no time: they
//     may change before the kernel applies the reply (ReplyEntry). The
//     kernel caches no writes (no writeback cache), so it believes the
//     sizes this process replies (OpInit says why).
// Locking (lock order, outermost first):
//   1. ns_mu_          serializes namespace changes (create, mkdir, unlink,
//                      rmdir, rename, setattr) so check-then-write is atomic;
//   2. open_mu_        guards open_files_ (the inode -> OpenFile map);
//   3. OpenFile::mu    guards one buffer;
//   then engine calls (the engine has its own locks and never calls back).
//   The InodeTable mutex and ControlFiles' mutex are leaves taken and
//   released inside their calls; neither is held across an engine call.
//   InvalidateKey and ForgetPath take none of these locks (see there).
// The engine knows nothing of FUSE; this class is the only bridge.
#ifndef BITGASK_FS_BITGASK_FS_H_
#define BITGASK_FS_BITGASK_FS_H_

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "bitgask/db.h"
#include "control_files.h"
#include "file_buffer.h"
#include "fs_options.h"
#include "inode_table.h"
#include "notify_queue.h"
#include "key_view.h"

namespace bitgask {
namespace fs {

// The file type a key's stored mode gives (regular when it has none).
mode_t NodeType(uint16_t stored);

class BitgaskFs {
 public:
  // db must outlive this object; store_path is used for statfs.
  BitgaskFs(DB* db, std::string store_path, const FsOptions& options = FsOptions());

  // The session to notify (InvalidateKey, and files whose changes could not
  // be stored); set once it exists, and to null before it is destroyed.
  void SetSession(fuse_session* se);
  // Tells the kernel to forget what it cached of key's path (entry,
  // attributes, page cache), and of ancestors that no longer exist, because
  // another door changed key.  Call it from outside the FUSE request handlers
  // (e.g. the server's thread) with no lock of this class held: the kernel may
  // wait on requests in flight.  A no-op before SetSession or for keys that
  // are not shown at a path.  An empty key means every key changed.
  void InvalidateKey(const std::string& key);

  // The operation table; userdata for fuse_session_new must be `this`.
  static const fuse_lowlevel_ops* Ops();

  // ---- Implementations (public so the static trampolines can reach them).
  void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
  void Forget(fuse_ino_t ino, uint64_t nlookup);
  void Getattr(fuse_req_t req, fuse_ino_t ino);
  void Setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
               fuse_file_info* fi);
  void Mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
  void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name);
  void Rmdir(fuse_req_t req, fuse_ino_t parent, const char* name);
  void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags);
  void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi);
  void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
  void Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi);
  void Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
  void Opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
  void Releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Statfs(fuse_req_t req, fuse_ino_t ino);
  void Mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
  void Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name);
  void Readlink(fuse_req_t req, fuse_ino_t ino);
  void Setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags);
  void Getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size);
  void Listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
  void Removexattr(fuse_req_t req, fuse_ino_t ino, const char* name);

 private:
  struct OpenFile;
  struct FileHandle;
  enum class Kind { kNone, kFile, kDir };

  // What path is: file or symlink (with its meta), directory (which wins over
  // a file key at the same path), or nothing.  Never reads values.
  Kind Classify(const std::string& path, RecordMeta* meta);
  bool DirHasChildren(const std::string& path) { return view_.DirHasChildren(path); }
  bool DirExists(const std::string& path) { return view_.DirExists(path); }
  // Fills st for path; returns 0 or an errno.  *timeout (if given): how long
  // the kernel may cache it (shorter for a key that expires sooner).
  int StatPath(const std::string& path, uint64_t ino, struct stat* st, double* timeout = nullptr);
  // The longest the kernel may cache an entry or attributes (see the
  // contract "Cache timeouts").
  double CacheTimeout() const;
  // The mode shown for a file key's stored mode (type, umask applied).
  mode_t FileMode(uint16_t stored) const;
  // st's owner: the key's, or the mount's uid=/gid= when it has none.
  void SetOwner(const std::optional<Owner>& owner, struct stat* st) const;
  // st's times from the stored mtime and what the inode table keeps
  // (ctime never before mtime; atime is mtime unless set).
  static void SetTimes(int64_t mtime_ns, const InodeTable::Times& t, struct stat* st);
  // The owner to store for uid:gid: none when it is the mount's own.
  std::optional<Owner> StoredOwner(uint32_t uid, uint32_t gid) const;
  // The owner of a node req's caller creates at path: the caller's uid, and
  // its gid or, in a set-group-ID directory (*sgid_parent), the directory's;
  // the mounting user's own ids count as the mount's uid=/gid=.
  std::optional<Owner> NewOwner(fuse_req_t req, const std::string& path, bool* sgid_parent);
  // ctime of ino is now (its attributes or name changed).
  void Touched(fuse_ino_t ino);
  // dir's entries changed: its mtime and ctime are now.
  void DirChanged(const std::string& dir);
  // Changes directory path's mode, mtime and/or owner (-1 / none: keep) on
  // its marker, made (0755, now) when the directory has none.
  Status SetDirMeta(const std::string& path, int32_t mode, int64_t ts,
                    const std::optional<Owner>& owner);
  // chown: stores the new owner of path (a file key, or the directory's
  // marker, made when missing); the root's is the mount's and stays.
  // REQUIRES: ns_mu_ held.
  int Chown(const std::string& path, Kind kind, fuse_ino_t ino, const struct stat* attr,
            int to_set);
  // Xattr requests: the key and kind of ino, or an errno (control inodes:
  // ENOTSUP when `setting`, else ENODATA).
  int XattrTarget(fuse_ino_t ino, bool setting, std::string* key, Kind* kind);
  void ReplyEntry(fuse_req_t req, const std::string& path);
  // Sets *path to name in directory parent; returns 0 or the errno that
  // refuses it: ENOENT (parent unknown), bad_name (name is not one a key
  // can hold), EPERM (the reserved /.bitgask).  REQUIRES: ns_mu_ held.
  int ChildPath(fuse_ino_t parent, const char* name, int bad_name, std::string* path);
  // ChildPath for a name to create: a bad name is EINVAL, one longer than
  // kMaxNameLen ENAMETOOLONG.  REQUIRES: ns_mu_ held.
  int NewChildPath(fuse_ino_t parent, const char* name, std::string* path);
  // Mkdir, symlink and mknod: unless path exists (EEXIST), puts key (the
  // directory's marker, or path itself) with mode, value and the caller as
  // owner, replies with path's entry.  REQUIRES: ns_mu_ held.
  void MakeAndReply(fuse_req_t req, const std::string& path, const std::string& key,
                    uint16_t mode, std::string_view value);
  // Adds a Put of path's parent marker to batch when the parent has none.
  void KeepParent(const std::string& path, WriteBatch* batch);
  // Unlink and rmdir: deletes `key` (the file, or the directory's marker) in
  // one batch that keeps the parent directory, forgets `path`, replies.
  // REQUIRES: ns_mu_ held.
  void RemoveAndReply(fuse_req_t req, const std::string& path, const std::string& key);
  // Stores of's buffer under ino's current path if dirty (not if orphaned).
  // REQUIRES: of->mu held.
  int CommitLocked(fuse_ino_t ino, OpenFile* of);
  // Fills of->buf with path's stored value unless loaded (a missing key
  // loads as empty). REQUIRES: of->mu held (or of not shared).
  int LoadLocked(const std::string& path, OpenFile* of);
  // One Put (in memory) or PutFromFile (spilled) of buf under path.
  int StoreBuffer(const std::string& path, uint16_t mode, const std::optional<Owner>& owner,
                  int64_t mtime_ns, FileBuffer& buf);
  // Before path's key is deleted or replaced: its open handles keep the
  // contents (loaded into their buffer) and never store them.
  // REQUIRES: ns_mu_ held.
  void OrphanOpen(const std::string& path);
  // The attributes of an inode whose name is gone but which the kernel
  // still holds: an orphaned open file (size and mode from its buffer) or a
  // removed inode (its last mode, e.g. a descriptor of a removed directory);
  // no links. False when ino is neither.
  bool DetachedStat(fuse_ino_t ino, struct stat* st);
  std::shared_ptr<OpenFile> FindOpen(fuse_ino_t ino);
  // Tells the kernel to forget path's entry and the inode's attributes and
  // pages (the next lookup makes a fresh inode, sized as stored). Not from
  // a request handler (see NotifyQueue); no lock of this class held.
  void ForgetPath(fuse_session* se, const std::string& path);
  // Registers one more handle of ino; DropHandle drops it (and deletes fh).
  std::shared_ptr<OpenFile> Attach(fuse_ino_t ino, uint16_t mode,
                                   const std::optional<Owner>& owner);
  void DropHandle(fuse_ino_t ino, FileHandle* fh);

  DB* const db_;
  const std::string store_path_;
  const FsOptions options_;
  const int64_t mount_time_ns_;
  std::atomic<fuse_session*> session_{nullptr};
  NotifyQueue notify_;  // kernel notifications asked for by request handlers
  KeyView view_;
  ControlFiles ctl_;
  InodeTable inodes_;
  std::mutex ns_mu_;
  std::mutex open_mu_;
  std::unordered_map<fuse_ino_t, std::shared_ptr<OpenFile>> open_files_;
};

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_BITGASK_FS_H_
