#include "bitgask_fs.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <set>
#include <vector>

#include "dir_listing.h"
#include "file_buffer.h"
#include "path_map.h"

namespace bitgask {
namespace fs {
namespace {

// How long the kernel may cache an entry and its attributes (see the
// header's contract "Cache timeouts"): long, because the store changes only
// through this process and every door that changes a key invalidates it;
// short for what can change without anyone telling the kernel.
// A missing name is not cached at all (ENOENT, no negative entry).
// An hour. (It was 1 s while a file just written and closed could stat as
// empty: that was the writeback cache's, see OpInit.)
constexpr double kCacheTimeout = 3600.0;
// For a directory that exists only through its children (no marker, or one
// that expires: it vanishes when they expire), and for detached inodes.
constexpr double kShortTimeout = 1.0;
// The engine's limit for one value, less its block checksums (docs/Architecture.md).
constexpr uint64_t kMaxFileSize = 0xFFFFFFFFull - (256u << 10) - 65536;
// Bytes per engine read when a large value is copied into a buffer.
constexpr size_t kCopyPiece = 1 << 20;
static_assert(FileBuffer::kBlockBytes == DB::kValueBlockBytes,
              "the buffer's block CRCs are the ones PutFromFile takes");

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct timespec ToTimespec(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}

BitgaskFs* Self(fuse_req_t req) { return static_cast<BitgaskFs*>(fuse_req_userdata(req)); }

// A readdir entry's d_ino when the path has no inode yet (never 0).
uint64_t FakeIno(const std::string& path) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : path) h = (h ^ c) * 1099511628211ull;
  return h | (1ull << 63);
}

}  // namespace

// The state of one open inode, shared by all its handles (see the header's
// contract).
struct BitgaskFs::OpenFile {
  explicit OpenFile(const std::string& spill_dir) : buf(spill_dir) {}
  std::mutex mu;
  // When loaded, buf holds the file's whole contents (newer than the store's
  // when dirty); otherwise the stored value is the contents.
  FileBuffer buf;
  bool loaded = false;
  bool dirty = false;
  // Unlinked or replaced while open: buf holds the contents, never stored.
  bool orphaned = false;
  // Created by this process and stored without a sync (Create): the next
  // commit syncs the store (with sync_on_put) even if nothing changed.
  bool unsynced = false;
  // The mtime of changed contents: the last write or truncate, or a later
  // utimensat; stored with them.
  int64_t mtime_ns = 0;
  uint16_t mode = S_IFREG | 0644;
  std::optional<Owner> owner;  // as stored with the key; none: the mount's
  int refs = 0;  // open handles; guarded by open_mu_
};

// fi->fh of a file.
struct BitgaskFs::FileHandle {
  std::shared_ptr<OpenFile> of;
  bool writable = false;
};

BitgaskFs::BitgaskFs(DB* db, std::string store_path, const FsOptions& options)
    : db_(db),
      store_path_(std::move(store_path)),
      options_(options),
      mount_time_ns_(NowNs()),
      view_(db),
      ctl_(db, &view_, store_path_, options) {}

// ---------------------------------------------------------------- helpers

BitgaskFs::Kind BitgaskFs::Classify(const std::string& path, RecordMeta* meta) {
  if (path.empty() || DirExists(path)) return Kind::kDir;
  return db_->Meta(path, meta).ok() ? Kind::kFile : Kind::kNone;
}

double BitgaskFs::CacheTimeout() const {
  // With a default_ttl every value stored gets an expiry at least that far
  // away, also one whose key had none when the kernel cached it.
  const double ttl = std::chrono::duration<double>(options_.default_ttl).count();
  return ttl > 0 ? std::min(kCacheTimeout, ttl) : kCacheTimeout;
}

mode_t BitgaskFs::FileMode(uint16_t stored) const {
  if ((stored & S_IFMT) == S_IFLNK) return S_IFLNK | 0777;
  const mode_t perm = stored != 0 ? (stored & 07777) : 0644;
  return NodeType(stored) | (perm & ~options_.umask);
}

mode_t NodeType(uint16_t stored) {
  switch (stored & S_IFMT) {
    case S_IFLNK: case S_IFIFO: case S_IFSOCK: case S_IFCHR: case S_IFBLK:
      return stored & S_IFMT;
    default:
      return S_IFREG;  // also keys written without a mode
  }
}

int BitgaskFs::StatPath(const std::string& path, uint64_t ino, struct stat* st, double* timeout) {
  std::memset(st, 0, sizeof(*st));
  st->st_ino = ino;
  st->st_blksize = 4096;
  if (timeout != nullptr) *timeout = CacheTimeout();
  RecordMeta m;
  Kind kind = Classify(path, &m);
  if (kind == Kind::kNone) return ENOENT;
  const InodeTable::Times t = inodes_.GetTimes(ino);
  if (kind == Kind::kFile) {
    SetOwner(m.owner, st);
    st->st_mode = FileMode(m.mode);
    st->st_nlink = 1;
    if (timeout != nullptr && m.expires_unix_ns != 0) {
      // Cached no longer than the key lives, so it vanishes when it expires.
      const double left = static_cast<double>(m.expires_unix_ns - NowNs()) / 1e9;
      *timeout = left <= 0 ? 0 : std::min(*timeout, left);
    }
    st->st_size = m.value_size;
    if (S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode) || S_ISCHR(st->st_mode) ||
        S_ISBLK(st->st_mode)) {
      st->st_size = 0;  // a special file's value is only its device number
      std::string rdev;
      if ((S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) && db_->Get(path, &rdev).ok())
        st->st_rdev = static_cast<dev_t>(std::strtoull(rdev.c_str(), nullptr, 10));
    }
    int64_t mtime = m.timestamp_unix_ns;
    if (auto of = FindOpen(ino)) {  // an open buffer is the newest content
      std::lock_guard<std::mutex> l(of->mu);
      if (of->loaded) st->st_size = static_cast<off_t>(of->buf.size());
      if (of->dirty && of->mtime_ns != 0) mtime = of->mtime_ns;
    }
    SetTimes(mtime, t, st);
  } else {
    RecordMeta dm;
    int64_t ts = mount_time_ns_;
    st->st_mode = S_IFDIR | 0755;
    std::optional<Owner> owner;
    if (!path.empty() && db_->Meta(DirMarker(path), &dm).ok()) {
      if ((dm.mode & S_IFMT) == S_IFDIR) st->st_mode = dm.mode;
      ts = dm.timestamp_unix_ns;
      owner = dm.owner;
      if (dm.expires_unix_ns != 0 && timeout != nullptr) *timeout = kShortTimeout;
    } else if (!path.empty() && timeout != nullptr) {
      *timeout = kShortTimeout;  // exists through its children only
    }
    SetOwner(owner, st);
    st->st_mode &= ~options_.umask;
    st->st_nlink = 2;
    st->st_size = 4096;
    SetTimes(t.mtime_ns != 0 ? t.mtime_ns : ts, t, st);
  }
  st->st_blocks = (st->st_size + 511) / 512;
  return 0;
}

void BitgaskFs::SetOwner(const std::optional<Owner>& owner, struct stat* st) const {
  st->st_uid = owner ? owner->uid : options_.uid;
  st->st_gid = owner ? owner->gid : options_.gid;
}

void BitgaskFs::SetTimes(int64_t mtime_ns, const InodeTable::Times& t, struct stat* st) {
  st->st_mtim = ToTimespec(mtime_ns);
  st->st_ctim = ToTimespec(std::max(mtime_ns, t.ctime_ns));
  st->st_atim = ToTimespec(t.atime_ns != 0 ? t.atime_ns : mtime_ns);
}

std::optional<Owner> BitgaskFs::StoredOwner(uint32_t uid, uint32_t gid) const {
  if (uid == options_.uid && gid == options_.gid) return std::nullopt;
  return Owner{uid, gid};
}

std::optional<Owner> BitgaskFs::NewOwner(fuse_req_t req, const std::string& path,
                                         bool* sgid_parent) {
  // The mounting user stands for the mount's uid=/gid= (its files show
  // those, as keys written by other programs do).
  const fuse_ctx* ctx = fuse_req_ctx(req);
  const uint32_t uid = ctx->uid == geteuid() ? options_.uid : ctx->uid;
  uint32_t gid = ctx->gid == getegid() ? options_.gid : ctx->gid;
  struct stat parent;
  *sgid_parent = false;
  if (StatPath(ParentPath(path), inodes_.Peek(ParentPath(path)), &parent) == 0 &&
      (parent.st_mode & S_ISGID)) {
    *sgid_parent = true;
    gid = parent.st_gid;
  }
  return StoredOwner(uid, gid);
}

void BitgaskFs::Touched(fuse_ino_t ino) {
  InodeTable::Times t;
  t.ctime_ns = NowNs();
  inodes_.SetTimes(ino, t);
}

void BitgaskFs::DirChanged(const std::string& dir) {
  const uint64_t ino = dir.empty() ? InodeTable::kRootIno : inodes_.Peek(dir);
  if (ino == 0) return;  // not known to the kernel: its stored time shows
  InodeTable::Times t;
  t.ctime_ns = t.mtime_ns = NowNs();
  inodes_.SetTimes(ino, t);
}

void BitgaskFs::ReplyEntry(fuse_req_t req, const std::string& path) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof(e));
  uint64_t ino = inodes_.Lookup(path);
  double timeout;
  int err = StatPath(path, ino, &e.attr, &timeout);
  if (err != 0) {
    inodes_.Forget(ino, 1);
    fuse_reply_err(req, err);
    return;
  }
  e.ino = ino;
  e.generation = 1;
  // An open file's attributes may change (a write, a truncate, a store at
  // close) before the kernel applies this reply, and it may apply it to a
  // new inode after evicting the one that was written (a lookup that raced
  // the file's creation: its reply comes late): cached for no time, the
  // kernel asks again at the next stat instead of keeping the older size.
  e.attr_timeout = FindOpen(ino) ? 0 : timeout;
  e.entry_timeout = timeout;
  if (fuse_reply_entry(req, &e) != 0) inodes_.Forget(ino, 1);
}

void BitgaskFs::KeepParent(const std::string& path, WriteBatch* batch) {
  std::string parent = ParentPath(path);
  if (parent.empty()) return;
  RecordMeta m;
  if (db_->Meta(DirMarker(parent), &m).ok()) return;
  batch->PutWithMeta(DirMarker(parent), "", 0, S_IFDIR | 0755, 0);
}

std::shared_ptr<BitgaskFs::OpenFile> BitgaskFs::FindOpen(fuse_ino_t ino) {
  std::lock_guard<std::mutex> l(open_mu_);
  auto it = open_files_.find(ino);
  return it == open_files_.end() ? nullptr : it->second;
}

int BitgaskFs::LoadLocked(const std::string& path, OpenFile* of) {
  if (of->loaded) return 0;
  of->buf.Clear();
  RecordMeta m;
  Status s = db_->Meta(path, &m);
  if (s.ok() && m.value_size <= FileBuffer::kSpillBytes) {
    std::string value;
    s = db_->Get(path, &value);
    if (s.ok()) {
      int err = of->buf.Write(0, value.data(), value.size());
      if (err != 0) return err;
    }
  } else if (s.ok()) {
    // A large value is copied a piece at a time into the spill file.
    std::string piece;
    for (uint64_t off = 0; s.ok() && off < m.value_size; off += piece.size()) {
      s = db_->GetRange(path, off, kCopyPiece, &piece);
      if (s.ok() && piece.empty()) s = Status::Corruption("value shorter than its size");
      if (s.ok()) {
        int err = of->buf.Write(off, piece.data(), piece.size());
        if (err != 0) {
          of->buf.Clear();
          return err;
        }
      }
    }
  }
  if (!s.ok() && !s.IsNotFound()) {
    of->buf.Clear();
    return s.errno_value();
  }
  of->loaded = true;
  return 0;
}

int BitgaskFs::StoreBuffer(const std::string& path, uint16_t mode,
                           const std::optional<Owner>& owner, int64_t mtime_ns,
                           FileBuffer& buf) {
  WriteOptions wo;
  wo.mode = mode;
  wo.owner = owner;
  wo.timestamp_unix_ns = mtime_ns;
  Status s;
  if (buf.in_memory()) {
    s = db_->Put(wo, path, buf.memory());
  } else {
    // The block CRCs were computed as the writes came (FileBuffer): the
    // engine copies the spill file once, inside the kernel.
    std::vector<uint32_t> crcs;
    if (int err = buf.BlockCrcs(&crcs)) return err;
    s = db_->PutFromFile(wo, path, buf.fd(), buf.size(), &crcs);
  }
  return s.ok() ? 0 : s.errno_value();
}

int BitgaskFs::CommitLocked(fuse_ino_t ino, OpenFile* of) {
  if (!of->dirty && !of->unsynced) return 0;
  std::string path;
  if (of->orphaned || !inodes_.Path(ino, &path)) {  // unlinked or replaced while open
    of->dirty = of->unsynced = false;
    return 0;
  }
  if (!of->dirty) {  // only the create's record: sync it as a Put would have
    Status s = options_.sync_on_put ? db_->Sync() : Status::OK();
    if (!s.ok()) return s.errno_value();
    of->unsynced = false;
    return 0;
  }
  int err =
      StoreBuffer(path, of->mode, of->owner, of->mtime_ns ? of->mtime_ns : NowNs(), of->buf);
  if (err == 0) of->dirty = of->unsynced = false;  // the store synced it with the rest
  return err;
}

bool BitgaskFs::DetachedStat(fuse_ino_t ino, struct stat* st) {
  mode_t mode;
  off_t size = 0;
  int64_t mtime_ns = NowNs();
  std::optional<Owner> owner;
  auto of = FindOpen(ino);
  std::unique_lock<std::mutex> l;
  if (of) l = std::unique_lock<std::mutex>(of->mu);
  if (of && of->orphaned) {
    mode = FileMode(of->mode);
    size = static_cast<off_t>(of->buf.size());
    owner = of->owner;
    if (of->mtime_ns != 0) mtime_ns = of->mtime_ns;
  } else {
    uint32_t last;
    if (!inodes_.LastMode(ino, &last)) return false;
    mode = last;
  }
  std::memset(st, 0, sizeof(*st));
  st->st_ino = ino;
  st->st_mode = mode;
  st->st_nlink = 0;  // no name left
  SetOwner(owner, st);
  st->st_blksize = 4096;
  st->st_size = size;
  st->st_blocks = (size + 511) / 512;
  st->st_mtim = st->st_atim = ToTimespec(mtime_ns);
  st->st_ctim = ToTimespec(std::max(mtime_ns, NowNs()));
  return true;
}

void BitgaskFs::OrphanOpen(const std::string& path) {
  const uint64_t ino = inodes_.Peek(path);
  if (ino == 0) return;
  auto of = FindOpen(ino);
  if (!of) return;
  std::lock_guard<std::mutex> l(of->mu);
  RecordMeta m;
  // Its mtime from now on: the unstored writes' or the stored one.
  if ((!of->dirty || of->mtime_ns == 0) && db_->Meta(path, &m).ok())
    of->mtime_ns = m.timestamp_unix_ns;
  if (LoadLocked(path, of.get()) == 0) of->orphaned = true;
}

// ---------------------------------------------------------------- namespace

void BitgaskFs::Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (ControlFiles::Owns(parent) ||
      (parent == FUSE_ROOT_ID && std::strcmp(name, ControlFiles::kDirName) == 0))
    return ctl_.Lookup(req, parent, name);
  std::string ppath;
  if (!inodes_.Path(parent, &ppath)) return (void)fuse_reply_err(req, ENOENT);
  if (std::strlen(name) > kMaxNameLen) return (void)fuse_reply_err(req, ENAMETOOLONG);
  if (!IsValidName(name)) return (void)fuse_reply_err(req, ENOENT);
  ReplyEntry(req, JoinPath(ppath, name));
}

void BitgaskFs::Forget(fuse_ino_t ino, uint64_t nlookup) {
  if (ControlFiles::Owns(ino)) return ctl_.Forget(ino, nlookup);
  inodes_.Forget(ino, nlookup);
}

void BitgaskFs::Getattr(fuse_req_t req, fuse_ino_t ino) {
  if (ControlFiles::Owns(ino)) return ctl_.Getattr(req, ino);
  std::string path;
  struct stat st;
  if (!inodes_.Path(ino, &path)) {
    if (!DetachedStat(ino, &st)) return (void)fuse_reply_err(req, ENOENT);
    return (void)fuse_reply_attr(req, &st, kShortTimeout);
  }
  double timeout;
  int err = StatPath(path, ino, &st, &timeout);
  if (err != 0) return (void)fuse_reply_err(req, err);
  fuse_reply_attr(req, &st, timeout);
}

void BitgaskFs::Setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                        fuse_file_info* /*fi*/) {
  if (ControlFiles::Owns(ino)) return ctl_.Setattr(req, ino, to_set);
  std::lock_guard<std::mutex> ns(ns_mu_);
  std::string path;
  if (!inodes_.Path(ino, &path)) {
    // Unlinked but open: only its buffer changes (size; mode for fstat).
    auto of = FindOpen(ino);
    if (!of) return (void)fuse_reply_err(req, ENOENT);
    {
      std::lock_guard<std::mutex> l(of->mu);
      if (!of->orphaned) return (void)fuse_reply_err(req, ENOENT);
      if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size >= 0) {
        int err = of->buf.Truncate(static_cast<uint64_t>(attr->st_size));
        if (err != 0) return (void)fuse_reply_err(req, err);
        of->mtime_ns = NowNs();
      }
      if (to_set & FUSE_SET_ATTR_MODE) of->mode = S_IFREG | (attr->st_mode & 07777);
      if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
        of->mtime_ns = NowNs();
      } else if (to_set & FUSE_SET_ATTR_MTIME) {
        of->mtime_ns = static_cast<int64_t>(attr->st_mtim.tv_sec) * 1000000000 +
                       attr->st_mtim.tv_nsec;
      }
    }
    struct stat st;
    if (!DetachedStat(ino, &st)) return (void)fuse_reply_err(req, ENOENT);
    return (void)fuse_reply_attr(req, &st, kShortTimeout);
  }
  RecordMeta m;
  Kind kind = Classify(path, &m);
  if (kind == Kind::kNone) return (void)fuse_reply_err(req, ENOENT);

  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (kind != Kind::kFile) return (void)fuse_reply_err(req, EISDIR);
    if (attr->st_size < 0 || static_cast<uint64_t>(attr->st_size) > kMaxFileSize)
      return (void)fuse_reply_err(req, EFBIG);
    const uint64_t size = static_cast<uint64_t>(attr->st_size);
    int err = 0;
    if (auto of = FindOpen(ino)) {
      std::lock_guard<std::mutex> l(of->mu);
      err = LoadLocked(path, of.get());
      if (err == 0) err = of->buf.Truncate(size);
      if (err == 0) {
        of->dirty = true;
        of->mtime_ns = NowNs();
      }
    } else {
      // Not open: truncate through a buffer of its own, stored at once.
      OpenFile tmp(store_path_);
      err = size == 0 ? 0 : LoadLocked(path, &tmp);
      if (err == 0) err = tmp.buf.Truncate(size);
      if (err == 0) err = StoreBuffer(path, m.mode, m.owner, NowNs(), tmp.buf);
    }
    if (err != 0) return (void)fuse_reply_err(req, err);
  }
  if ((to_set & FUSE_SET_ATTR_MODE) && (m.mode & S_IFMT) != S_IFLNK) {  // a symlink's is fixed
    const uint16_t perm = attr->st_mode & 07777;
    Status s;
    if (kind == Kind::kFile) {
      const uint16_t mode = static_cast<uint16_t>(NodeType(m.mode) | perm);
      if (auto of = FindOpen(ino)) {
        std::lock_guard<std::mutex> l(of->mu);
        of->mode = mode;
      }
      s = db_->SetMeta(path, mode, -1);
    } else if (path.empty()) {
      s = Status::OK();  // the root's mode is fixed
    } else {
      s = SetDirMeta(path, S_IFDIR | perm, -1, std::nullopt);
    }
    if (!s.ok()) return (void)fuse_reply_err(req, s.errno_value());
  }
  if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
    int64_t ts = NowNs();
    if (!(to_set & FUSE_SET_ATTR_MTIME_NOW))
      ts = static_cast<int64_t>(attr->st_mtim.tv_sec) * 1000000000 + attr->st_mtim.tv_nsec;
    Status s;
    if (kind == Kind::kFile) {
      // Changed contents stored later keep this time: no record of its own
      // then. Nor when it is the stored time already. The buffer's lock is
      // held to the end: no commit between.
      bool stored_later = false;
      std::unique_lock<std::mutex> l;
      auto of = FindOpen(ino);
      if (of) {
        l = std::unique_lock<std::mutex>(of->mu);
        of->mtime_ns = ts;
        stored_later = of->dirty;
      }
      RecordMeta now;
      const bool unchanged = db_->Meta(path, &now).ok() && now.timestamp_unix_ns == ts;
      if (!stored_later && !unchanged) s = db_->SetMeta(path, -1, ts);
    } else if (!path.empty()) {
      s = SetDirMeta(path, -1, ts, std::nullopt);
    }
    if (!s.ok()) return (void)fuse_reply_err(req, s.errno_value());
  }
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    int err = Chown(path, kind, ino, attr, to_set);
    if (err != 0) return (void)fuse_reply_err(req, err);
  }
  InodeTable::Times times;
  times.ctime_ns = NowNs();  // every attribute change moves ctime
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    times.atime_ns = times.ctime_ns;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    times.atime_ns = static_cast<int64_t>(attr->st_atim.tv_sec) * 1000000000 +
                     attr->st_atim.tv_nsec;
    if (times.atime_ns == 0) times.atime_ns = 1;  // 0 means "not set" to the table
  }
  if (kind == Kind::kDir && (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))) {
    // Replaces a time an entry change set (the root's is kept only here).
    times.mtime_ns = times.ctime_ns;
    if (!(to_set & FUSE_SET_ATTR_MTIME_NOW)) {
      times.mtime_ns = static_cast<int64_t>(attr->st_mtim.tv_sec) * 1000000000 +
                       attr->st_mtim.tv_nsec;
      if (times.mtime_ns == 0) times.mtime_ns = 1;
    }
  }
  inodes_.SetTimes(ino, times);
  struct stat st;
  double timeout;
  int err = StatPath(path, ino, &st, &timeout);
  if (err != 0) return (void)fuse_reply_err(req, err);
  fuse_reply_attr(req, &st, timeout);
}

int BitgaskFs::Chown(const std::string& path, Kind kind, fuse_ino_t ino,
                     const struct stat* attr, int to_set) {
  struct stat cur;
  if (int err = StatPath(path, ino, &cur)) return err;
  const Owner owner{(to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : cur.st_uid,
                    (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : cur.st_gid};
  if (owner.uid == cur.st_uid && owner.gid == cur.st_gid) return 0;
  Status s;
  if (kind == Kind::kFile) {
    if (auto of = FindOpen(ino)) {  // contents stored later keep the new owner
      std::lock_guard<std::mutex> l(of->mu);
      of->owner = owner;
    }
    s = db_->SetMeta(path, -1, -1, owner);
  } else if (path.empty()) {
    return 0;  // the root has no key: it shows the mount's uid=/gid=
  } else {
    s = SetDirMeta(path, -1, -1, owner);
  }
  return s.ok() ? 0 : s.errno_value();
}

Status BitgaskFs::SetDirMeta(const std::string& path, int32_t mode, int64_t ts,
                             const std::optional<Owner>& owner) {
  const std::string marker = DirMarker(path);
  RecordMeta dm;
  if (db_->Meta(marker, &dm).ok()) return db_->SetMeta(marker, mode, ts, owner);
  WriteOptions wo;
  wo.mode = mode >= 0 ? static_cast<uint16_t>(mode) : S_IFDIR | 0755;
  if (ts >= 0) wo.timestamp_unix_ns = ts;
  wo.owner = owner;
  return db_->Put(wo, marker, "");
}

int BitgaskFs::ChildPath(fuse_ino_t parent, const char* name, int bad_name, std::string* path) {
  std::string ppath;
  if (!inodes_.Path(parent, &ppath)) return ENOENT;
  if (!IsValidName(name)) return bad_name;
  *path = JoinPath(ppath, name);
  return IsReserved(*path) ? EPERM : 0;
}

int BitgaskFs::NewChildPath(fuse_ino_t parent, const char* name, std::string* path) {
  if (int err = ChildPath(parent, name, EINVAL, path)) return err;
  return std::strlen(name) > kMaxNameLen ? ENAMETOOLONG : 0;
}

void BitgaskFs::MakeAndReply(fuse_req_t req, const std::string& path, const std::string& key,
                             uint16_t mode, std::string_view value) {
  RecordMeta m;
  if (Classify(path, &m) != Kind::kNone) return (void)fuse_reply_err(req, EEXIST);
  WriteOptions wo;
  bool sgid_parent;
  wo.owner = NewOwner(req, path, &sgid_parent);
  // A directory made in a set-group-ID directory is set-group-ID too.
  if (sgid_parent && (mode & S_IFMT) == S_IFDIR) mode |= S_ISGID;
  wo.mode = mode;
  Status s = db_->Put(wo, key, value);
  if (!s.ok()) return (void)fuse_reply_err(req, s.errno_value());
  DirChanged(ParentPath(path));
  ReplyEntry(req, path);
}

void BitgaskFs::Mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  if (ControlFiles::Owns(parent)) return (void)fuse_reply_err(req, EPERM);
  std::lock_guard<std::mutex> ns(ns_mu_);
  std::string path;
  if (int err = NewChildPath(parent, name, &path)) return (void)fuse_reply_err(req, err);
  MakeAndReply(req, path, DirMarker(path), S_IFDIR | (mode & 07777), "");
}

void BitgaskFs::Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (ControlFiles::Owns(parent)) return (void)fuse_reply_err(req, EPERM);
  std::lock_guard<std::mutex> ns(ns_mu_);
  std::string path;
  if (int err = ChildPath(parent, name, ENOENT, &path)) return (void)fuse_reply_err(req, err);
  RecordMeta m;
  Kind kind = Classify(path, &m);
  if (kind == Kind::kNone) return (void)fuse_reply_err(req, ENOENT);
  if (kind == Kind::kDir) return (void)fuse_reply_err(req, EISDIR);
  OrphanOpen(path);
  RemoveAndReply(req, path, path);
}

void BitgaskFs::Rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (ControlFiles::Owns(parent)) return (void)fuse_reply_err(req, EPERM);
  std::lock_guard<std::mutex> ns(ns_mu_);
  std::string path;
  if (int err = ChildPath(parent, name, EINVAL, &path)) return (void)fuse_reply_err(req, err);
  RecordMeta m;
  Kind kind = Classify(path, &m);
  if (kind == Kind::kNone) return (void)fuse_reply_err(req, ENOENT);
  if (kind == Kind::kFile) return (void)fuse_reply_err(req, ENOTDIR);
  if (DirHasChildren(path)) return (void)fuse_reply_err(req, ENOTEMPTY);
  RemoveAndReply(req, path, DirMarker(path));
}

void BitgaskFs::RemoveAndReply(fuse_req_t req, const std::string& path, const std::string& key) {
  struct stat last;
  const uint32_t last_mode = StatPath(path, 0, &last, nullptr) == 0 ? last.st_mode : 0;
  WriteBatch batch;
  KeepParent(path, &batch);
  batch.Delete(key);
  Status s = db_->Write(WriteOptions(), batch);
  if (!s.ok()) return (void)fuse_reply_err(req, s.errno_value());
  inodes_.Detach(path, last_mode);
  DirChanged(ParentPath(path));
  fuse_reply_err(req, 0);
}

void BitgaskFs::Rename(fuse_req_t req, fuse_ino_t parent, const char* name,
                       fuse_ino_t newparent, const char* newname, unsigned int flags) {
  if (flags & ~static_cast<unsigned int>(RENAME_NOREPLACE))
    return (void)fuse_reply_err(req, EINVAL);  // RENAME_EXCHANGE / WHITEOUT: not supported
  if (ControlFiles::Owns(parent) || ControlFiles::Owns(newparent))
    return (void)fuse_reply_err(req, EPERM);
  std::lock_guard<std::mutex> ns(ns_mu_);
  std::string ppath, npath;
  if (!inodes_.Path(parent, &ppath) || !inodes_.Path(newparent, &npath))
    return (void)fuse_reply_err(req, ENOENT);
  if (std::strlen(newname) > kMaxNameLen) return (void)fuse_reply_err(req, ENAMETOOLONG);
  if (!IsValidName(name) || !IsValidName(newname)) return (void)fuse_reply_err(req, EINVAL);
  const std::string from = JoinPath(ppath, name);
  const std::string to = JoinPath(npath, newname);
  if (IsReserved(from) || IsReserved(to)) return (void)fuse_reply_err(req, EPERM);
  RecordMeta fm, tm;
  Kind fkind = Classify(from, &fm);
  if (fkind == Kind::kNone) return (void)fuse_reply_err(req, ENOENT);
  if (from == to) return (void)fuse_reply_err(req, 0);
  Kind tkind = Classify(to, &tm);
  if (tkind != Kind::kNone && (flags & RENAME_NOREPLACE)) return (void)fuse_reply_err(req, EEXIST);

  // Values are copied by the engine as stored (WriteBatch::Copy): nothing
  // is loaded here, whatever the sizes.
  WriteBatch batch;
  KeepParent(from, &batch);
  if (fkind == Kind::kFile) {
    if (tkind == Kind::kDir) return (void)fuse_reply_err(req, EISDIR);
    if (tkind == Kind::kFile) OrphanOpen(to);
    batch.Copy(from, to);
    batch.Delete(from);
  } else {
    if (tkind == Kind::kFile) return (void)fuse_reply_err(req, ENOTDIR);
    const std::string fprefix = DirPrefix(from), tprefix = DirPrefix(to);
    if (tprefix.compare(0, fprefix.size(), fprefix) == 0)
      return (void)fuse_reply_err(req, EINVAL);  // into its own subtree
    if (tkind == Kind::kDir) {
      if (DirHasChildren(to)) return (void)fuse_reply_err(req, ENOTEMPTY);
      batch.Delete(DirMarker(to));
    }
    std::unique_ptr<Iterator> it;
    Status s = db_->NewIterator(fprefix, &it);
    if (!s.ok()) return (void)fuse_reply_err(req, s.errno_value());
    bool has_marker = false;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string key(it->key());
      if (key == fprefix) has_marker = true;
      batch.Copy(key, tprefix + key.substr(fprefix.size()));
      batch.Delete(key);
    }
    if (!has_marker) batch.PutWithMeta(tprefix, "", 0, S_IFDIR | 0755, 0);
  }
  struct stat replaced;
  const uint32_t replaced_mode =
      tkind != Kind::kNone && StatPath(to, 0, &replaced, nullptr) == 0 ? replaced.st_mode : 0;
  Status s = db_->Write(WriteOptions(), batch);
  if (!s.ok()) return (void)fuse_reply_err(req, s.errno_value());
  inodes_.Detach(to, replaced_mode);
  inodes_.Rename(from, to);
  if (uint64_t moved = inodes_.Peek(to)) Touched(moved);
  DirChanged(ppath);
  DirChanged(npath);
  fuse_reply_err(req, 0);
}

// ---------------------------------------------------------------- files

void BitgaskFs::Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ControlFiles::Owns(ino)) return ctl_.Open(req, ino, fi);
  std::string path;
  if (!inodes_.Path(ino, &path)) return (void)fuse_reply_err(req, ENOENT);
  RecordMeta m;
  Kind kind = Classify(path, &m);
  if (kind == Kind::kNone) return (void)fuse_reply_err(req, ENOENT);
  if (kind == Kind::kDir) return (void)fuse_reply_err(req, EISDIR);
  auto fh = std::make_unique<FileHandle>();
  fh->writable = (fi->flags & O_ACCMODE) != O_RDONLY;
  fh->of = Attach(ino, m.mode, m.owner);
  if (fh->writable && (fi->flags & O_TRUNC)) {
    std::lock_guard<std::mutex> l(fh->of->mu);
    fh->of->buf.Clear();
    fh->of->loaded = true;
    fh->of->dirty = true;
    fh->of->mtime_ns = NowNs();
  }
  fi->fh = reinterpret_cast<uint64_t>(fh.release());
  fi->keep_cache = 1;  // every change goes through this process (see the header)
  if (fuse_reply_open(req, fi) != 0) DropHandle(ino, reinterpret_cast<FileHandle*>(fi->fh));
}

void BitgaskFs::Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                       fuse_file_info* fi) {
  if (ControlFiles::Owns(parent)) return (void)fuse_reply_err(req, EPERM);
  std::string path;
  uint16_t stored_mode;  // as kept with the key (the umask only changes what stat shows)
  std::optional<Owner> owner;
  const bool writable = (fi->flags & O_ACCMODE) != O_RDONLY;
  // A new file opened for writing is synced by its close (flush stores it,
  // with the store's sync options), not here: one sync per file created.
  bool sync_at_close = false;
  uint64_t ino;
  auto fh = std::make_unique<FileHandle>();
  fh->writable = writable;
  {
    std::lock_guard<std::mutex> ns(ns_mu_);
    if (int err = NewChildPath(parent, name, &path)) return (void)fuse_reply_err(req, err);
    RecordMeta m;
    Kind kind = Classify(path, &m);
    if (kind == Kind::kDir) return (void)fuse_reply_err(req, EISDIR);
    if (kind == Kind::kFile && (fi->flags & O_EXCL)) return (void)fuse_reply_err(req, EEXIST);
    stored_mode = kind == Kind::kNone ? S_IFREG | (mode & 07777) : m.mode;
    bool sgid_parent;
    owner = kind == Kind::kNone ? NewOwner(req, path, &sgid_parent) : m.owner;
    sync_at_close = writable && kind == Kind::kNone;
    // Open before the key is stored: a lookup that finds the new key also
    // finds it open (ReplyEntry's attribute timeout).
    ino = inodes_.Lookup(path);
    fh->of = Attach(ino, stored_mode, owner);
    if (kind == Kind::kNone || (fi->flags & O_TRUNC)) {
      WriteOptions wo;
      wo.mode = stored_mode;
      wo.owner = owner;
      if (sync_at_close) wo.sync = WriteOptions::Sync::kNever;
      Status s = db_->Put(wo, path, "");
      if (!s.ok()) {
        DropHandle(ino, fh.release());
        inodes_.Forget(ino, 1);
        return (void)fuse_reply_err(req, s.errno_value());
      }
      if (kind == Kind::kNone) DirChanged(ParentPath(path));
    }
  }
  fuse_entry_param e;
  std::memset(&e, 0, sizeof(e));
  double timeout;
  int err = StatPath(path, ino, &e.attr, &timeout);
  if (err != 0) {
    DropHandle(ino, fh.release());
    inodes_.Forget(ino, 1);
    return (void)fuse_reply_err(req, err);
  }
  e.ino = ino;
  e.generation = 1;
  e.attr_timeout = e.entry_timeout = timeout;
  if (sync_at_close) {
    std::lock_guard<std::mutex> l(fh->of->mu);
    fh->of->unsynced = true;
  }
  fi->fh = reinterpret_cast<uint64_t>(fh.release());
  fi->keep_cache = 1;
  if (fuse_reply_create(req, &e, fi) != 0) {
    // The kernel will not release this handle: undo it.
    DropHandle(ino, reinterpret_cast<FileHandle*>(fi->fh));
    inodes_.Forget(ino, 1);
  }
}

std::shared_ptr<BitgaskFs::OpenFile> BitgaskFs::Attach(fuse_ino_t ino, uint16_t mode,
                                                       const std::optional<Owner>& owner) {
  std::lock_guard<std::mutex> l(open_mu_);
  auto& slot = open_files_[ino];
  if (!slot) {
    slot = std::make_shared<OpenFile>(store_path_);
    slot->mode = (mode & S_IFMT) == S_IFREG ? mode : (S_IFREG | 0644);
    slot->owner = owner;
  }
  slot->refs++;
  return slot;
}

void BitgaskFs::DropHandle(fuse_ino_t ino, FileHandle* fh) {
  std::unique_ptr<FileHandle> owned(fh);
  std::lock_guard<std::mutex> l(open_mu_);
  if (--owned->of->refs == 0) open_files_.erase(ino);
}

void BitgaskFs::Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     fuse_file_info* fi) {
  if (ControlFiles::Owns(ino)) return ctl_.Read(req, ino, size, off, fi);
  if (off < 0) return (void)fuse_reply_err(req, EINVAL);
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  std::string out;
  for (int attempt = 0; attempt < 2; attempt++) {
    if (fh != nullptr) {
      std::lock_guard<std::mutex> l(fh->of->mu);
      if (fh->of->loaded) {
        int err = fh->of->buf.Read(static_cast<uint64_t>(off), size, &out);
        if (err != 0) return (void)fuse_reply_err(req, err);
        return (void)fuse_reply_buf(req, out.data(), out.size());
      }
    }
    // Not loaded: read the range from the store without holding the lock.
    std::string path;
    if (!inodes_.Path(ino, &path)) continue;  // unlinked meanwhile: the buffer has it
    Status s = db_->GetRange(path, static_cast<uint64_t>(off), size, &out);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return (void)fuse_reply_err(req, s.errno_value());
    return (void)fuse_reply_buf(req, out.data(), out.size());
  }
  fuse_reply_err(req, ENOENT);
}

void BitgaskFs::Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                      fuse_file_info* fi) {
  if (ControlFiles::Owns(ino)) return ctl_.Write(req, ino, size, fi);
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  if (fh == nullptr || !fh->writable) return (void)fuse_reply_err(req, EBADF);
  if (off < 0) return (void)fuse_reply_err(req, EINVAL);
  if (static_cast<uint64_t>(off) + size > kMaxFileSize) return (void)fuse_reply_err(req, EFBIG);
  OpenFile* of = fh->of.get();
  std::lock_guard<std::mutex> l(of->mu);
  int err = 0;
  if (!of->loaded) {
    std::string path;
    err = inodes_.Path(ino, &path) ? LoadLocked(path, of) : ENOENT;
  }
  if (err == 0) err = of->buf.Write(static_cast<uint64_t>(off), buf, size);
  if (err != 0) return (void)fuse_reply_err(req, err);
  of->dirty = true;
  of->mtime_ns = NowNs();
  fuse_reply_write(req, size);
}

void BitgaskFs::Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ControlFiles::Owns(ino)) return (void)fuse_reply_err(req, 0);
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  int err = 0;
  if (fh != nullptr && fh->writable) {
    std::lock_guard<std::mutex> l(fh->of->mu);
    err = CommitLocked(ino, fh->of.get());
  }
  fuse_reply_err(req, err);
}

void BitgaskFs::Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ControlFiles::Owns(ino)) return ctl_.Release(req, fi);
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  int err = 0;
  if (fh != nullptr) {
    // Flush stored what this handle wrote. The last handle of the inode also
    // stores changes made without a flush (a truncate while only read-only
    // handles were open, pages written back after the flush). Other handles
    // never store here: a RELEASE can come after the file was opened again,
    // and must not store the newer handle's unflushed writes.
    std::unique_lock<std::mutex> ol(open_mu_);
    const bool last = fh->of->refs == 1;
    std::unique_lock<std::mutex> l(fh->of->mu);
    ol.unlock();
    if (last) err = CommitLocked(ino, fh->of.get());
    l.unlock();
    DropHandle(ino, fh);
    // The buffer could not be stored and is gone: the kernel must forget the
    // pages and size of that write, or reads would show it until the inode
    // is evicted.
    std::string path;
    if (err != 0 && inodes_.Path(ino, &path))
      notify_.Push([this, path] { ForgetPath(session_.load(), path); });
  }
  fuse_reply_err(req, err);
}

void BitgaskFs::Fsync(fuse_req_t req, fuse_ino_t ino, int /*datasync*/, fuse_file_info* fi) {
  if (ControlFiles::Owns(ino)) return (void)fuse_reply_err(req, 0);
  auto* fh = reinterpret_cast<FileHandle*>(fi->fh);
  int err = 0;
  if (fh != nullptr && fh->writable) {
    std::lock_guard<std::mutex> l(fh->of->mu);
    err = CommitLocked(ino, fh->of.get());
  }
  if (err == 0) {
    Status s = db_->Sync();
    if (!s.ok()) err = s.errno_value();
  }
  fuse_reply_err(req, err);
}

// ---------------------------------------------------------------- directories

void BitgaskFs::Opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ControlFiles::Owns(ino)) return ctl_.Opendir(req, ino, fi);
  std::string path;
  if (!inodes_.Path(ino, &path)) return (void)fuse_reply_err(req, ENOENT);
  RecordMeta m;
  Kind kind = Classify(path, &m);
  if (kind == Kind::kNone) return (void)fuse_reply_err(req, ENOENT);
  if (kind == Kind::kFile) return (void)fuse_reply_err(req, ENOTDIR);
  auto dh = std::make_unique<DirListing>();
  auto& entries = dh->entries;
  entries.push_back({".", S_IFDIR, ino});
  entries.push_back({"..", S_IFDIR, FakeIno(ParentPath(path))});
  if (path.empty()) entries.push_back({ControlFiles::kDirName, S_IFDIR, ControlFiles::kDirIno});
  const std::string prefix = DirPrefix(path);
  std::unique_ptr<Iterator> it;
  Status s = db_->NewIterator(prefix, &it);
  if (!s.ok()) return (void)fuse_reply_err(req, s.errno_value());
  // Names not shown here (invalid, too long, reserved) are in /.bitgask/unmapped.
  std::set<std::string> seen;
  it->SeekToFirst();
  while (it->Valid()) {
    std::string_view rest = it->key().substr(prefix.size());
    const size_t slash = rest.find('/');
    const std::string name(rest.substr(0, slash));
    const std::string child = prefix + name;
    if (IsShowableName(name) && !IsReserved(child) && seen.insert(name).second) {
      mode_t type = S_IFDIR;  // a directory wins over a file key of the same path
      if (slash == std::string_view::npos && !DirExists(child))
        type = NodeType(it->meta().mode);
      uint64_t cino = inodes_.Peek(child);
      entries.push_back({name, type, cino ? cino : FakeIno(child)});
    }
    if (slash == std::string_view::npos) {
      it->Next();
    } else {
      it->Seek(SubtreeEnd(child));  // skip the child's whole subtree
    }
  }
  fi->fh = reinterpret_cast<uint64_t>(dh.release());
  if (fuse_reply_open(req, fi) != 0) delete reinterpret_cast<DirListing*>(fi->fh);
}

void BitgaskFs::Readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        fuse_file_info* fi) {
  if (ControlFiles::Owns(ino)) return ctl_.Readdir(req, size, off, fi);
  auto* dh = reinterpret_cast<DirListing*>(fi->fh);
  if (dh == nullptr) return (void)fuse_reply_err(req, EBADF);
  ReplyDirListing(req, *dh, size, off);
}

void BitgaskFs::Releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ControlFiles::Owns(ino)) return ctl_.Releasedir(req, fi);
  delete reinterpret_cast<DirListing*>(fi->fh);
  fuse_reply_err(req, 0);
}

// The filesystem holding the store, except that "used" is the store's data
// bytes: blocks = store + available, free = available.
void BitgaskFs::Statfs(fuse_req_t req, fuse_ino_t /*ino*/) {
  struct statvfs sv;
  if (statvfs(store_path_.c_str(), &sv) != 0) {
    std::memset(&sv, 0, sizeof(sv));
    sv.f_bsize = sv.f_frsize = 4096;
  }
  if (sv.f_frsize == 0) sv.f_frsize = sv.f_bsize ? sv.f_bsize : 4096;
  DBStats stats;
  if (db_->Stats(&stats).ok()) {
    const uint64_t used = (stats.total_bytes + sv.f_frsize - 1) / sv.f_frsize;
    sv.f_blocks = used + sv.f_bavail;
    sv.f_bfree = sv.f_bavail;
    sv.f_files = stats.keys + sv.f_ffree;
  }
  sv.f_namemax = kMaxNameLen;
  fuse_reply_statfs(req, &sv);
}

// ---------------------------------------------------------------- op table

namespace {

// No writeback cache: every write(2) reaches Write before it returns (in
// pieces of up to 1 MiB), so the sizes this process replies are the file's.
// With the writeback cache the kernel keeps its own size of a cached regular
// file and never takes one from a reply again; an entry reply computed
// before a close stored the file (e.g. another process's lookup while it was
// written) but applied after the kernel evicted the written inode then
// makes a new inode with the old size for good (a file just written and
// closed stat as empty: docs/Filesystem.md, "Why the hour took until
// session 7"). Without it
// the kernel re-asks (GETATTR) after such a race and believes the answer,
// and it also stops sending a SETATTR of its cached times after each
// create, rename and unlink.
void OpInit(void* /*userdata*/, fuse_conn_info* conn) {
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  conn->max_write = 1 << 20;
  conn->max_readahead = 1 << 20;
}
void OpLookup(fuse_req_t r, fuse_ino_t p, const char* n) { Self(r)->Lookup(r, p, n); }
void OpForget(fuse_req_t r, fuse_ino_t i, uint64_t n) {
  Self(r)->Forget(i, n);
  fuse_reply_none(r);
}
void OpForgetMulti(fuse_req_t r, size_t count, fuse_forget_data* f) {
  for (size_t i = 0; i < count; i++) Self(r)->Forget(f[i].ino, f[i].nlookup);
  fuse_reply_none(r);
}
void OpGetattr(fuse_req_t r, fuse_ino_t i, fuse_file_info*) { Self(r)->Getattr(r, i); }
void OpSetattr(fuse_req_t r, fuse_ino_t i, struct stat* a, int s, fuse_file_info* fi) {
  Self(r)->Setattr(r, i, a, s, fi);
}
void OpMkdir(fuse_req_t r, fuse_ino_t p, const char* n, mode_t m) { Self(r)->Mkdir(r, p, n, m); }
void OpUnlink(fuse_req_t r, fuse_ino_t p, const char* n) { Self(r)->Unlink(r, p, n); }
void OpRmdir(fuse_req_t r, fuse_ino_t p, const char* n) { Self(r)->Rmdir(r, p, n); }
void OpRename(fuse_req_t r, fuse_ino_t p, const char* n, fuse_ino_t np, const char* nn,
              unsigned int f) {
  Self(r)->Rename(r, p, n, np, nn, f);
}
void OpLink(fuse_req_t r, fuse_ino_t, fuse_ino_t, const char*) { fuse_reply_err(r, EPERM); }
void OpOpen(fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { Self(r)->Open(r, i, fi); }
void OpCreate(fuse_req_t r, fuse_ino_t p, const char* n, mode_t m, fuse_file_info* fi) {
  Self(r)->Create(r, p, n, m, fi);
}
void OpRead(fuse_req_t r, fuse_ino_t i, size_t s, off_t o, fuse_file_info* fi) {
  Self(r)->Read(r, i, s, o, fi);
}
void OpWrite(fuse_req_t r, fuse_ino_t i, const char* b, size_t s, off_t o, fuse_file_info* fi) {
  Self(r)->Write(r, i, b, s, o, fi);
}
void OpFlush(fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { Self(r)->Flush(r, i, fi); }
void OpRelease(fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { Self(r)->Release(r, i, fi); }
void OpFsync(fuse_req_t r, fuse_ino_t i, int d, fuse_file_info* fi) {
  Self(r)->Fsync(r, i, d, fi);
}
void OpOpendir(fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { Self(r)->Opendir(r, i, fi); }
void OpReaddir(fuse_req_t r, fuse_ino_t i, size_t s, off_t o, fuse_file_info* fi) {
  Self(r)->Readdir(r, i, s, o, fi);
}
void OpReleasedir(fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) {
  Self(r)->Releasedir(r, i, fi);
}
void OpFsyncdir(fuse_req_t r, fuse_ino_t, int, fuse_file_info*) { fuse_reply_err(r, 0); }
void OpStatfs(fuse_req_t r, fuse_ino_t i) { Self(r)->Statfs(r, i); }
void OpMknod(fuse_req_t r, fuse_ino_t p, const char* n, mode_t m, dev_t d) {
  Self(r)->Mknod(r, p, n, m, d);
}
void OpSymlink(fuse_req_t r, const char* t, fuse_ino_t p, const char* n) {
  Self(r)->Symlink(r, t, p, n);
}
void OpReadlink(fuse_req_t r, fuse_ino_t i) { Self(r)->Readlink(r, i); }
void OpSetxattr(fuse_req_t r, fuse_ino_t i, const char* n, const char* v, size_t s, int f) {
  Self(r)->Setxattr(r, i, n, v, s, f);
}
void OpGetxattr(fuse_req_t r, fuse_ino_t i, const char* n, size_t s) {
  Self(r)->Getxattr(r, i, n, s);
}
void OpListxattr(fuse_req_t r, fuse_ino_t i, size_t s) { Self(r)->Listxattr(r, i, s); }
void OpRemovexattr(fuse_req_t r, fuse_ino_t i, const char* n) { Self(r)->Removexattr(r, i, n); }

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof(ops));
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetattr;
  ops.setattr = OpSetattr;
  ops.mkdir = OpMkdir;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmdir;
  ops.rename = OpRename;
  ops.link = OpLink;
  ops.open = OpOpen;
  ops.create = OpCreate;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.flush = OpFlush;
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.releasedir = OpReleasedir;
  ops.fsyncdir = OpFsyncdir;
  ops.statfs = OpStatfs;
  ops.symlink = OpSymlink;
  ops.mknod = OpMknod;
  ops.readlink = OpReadlink;
  ops.setxattr = OpSetxattr;
  ops.getxattr = OpGetxattr;
  ops.listxattr = OpListxattr;
  ops.removexattr = OpRemovexattr;
  // mknod (device nodes, FIFOs) is not implemented: ENOSYS.
  return ops;
}

}  // namespace

const fuse_lowlevel_ops* BitgaskFs::Ops() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return &ops;
}

}  // namespace fs
}  // namespace bitgask
