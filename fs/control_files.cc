#include "control_files.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "dir_listing.h"
#include "fs_log.h"
#include "stats_json.h"
#include "unmapped_name.h"

namespace bitgask {
namespace fs {
namespace {

constexpr double kTimeout = 1.0;

struct FixedFile {
  fuse_ino_t ino;
  const char* name;
  mode_t perm;
};
const FixedFile kFiles[] = {
    {ControlFiles::kStatsIno, "stats", 0444},
    {ControlFiles::kMergeIno, "merge", 0644},
    {ControlFiles::kSyncIno, "sync", 0644},
    {ControlFiles::kGcIno, "gc", 0644},
};
constexpr char kUnmappedName[] = "unmapped";

const FixedFile* FindFile(fuse_ino_t ino) {
  for (const auto& f : kFiles)
    if (f.ino == ino) return &f;
  return nullptr;
}

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

using Json = nlohmann::ordered_json;  // keeps the keys in the order they are set

// One line of JSON as `bitgask stats` writes it: compact; bytes that are not
// UTF-8 (in a store path or a status) become U+FFFD, so it is always valid.
std::string JsonLine(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

// Unix seconds, or null for "never".
Json JsonTime(int64_t ns) { return ns == 0 ? Json(nullptr) : Json(ns / 1000000000); }

// The fields of `bitgask stats` (stats_json.h), then the counters of the
// mount's process since the mount.
std::string StatsJson(const std::string& store, const DBStats& st) {
  Json j = StatsFields(store, st);
  j["puts"] = st.puts;
  j["gets"] = st.gets;
  j["deletes"] = st.deletes;
  j["write_groups"] = st.write_groups;
  j["syncs"] = st.syncs;
  j["rotation_waits"] = st.rotation_waits;
  return JsonLine(j);
}

uint64_t ListingIno(const std::string& key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  return (h & ((1ull << 61) - 1)) | ControlFiles::kBase | (1ull << 61);
}

}  // namespace

// fi->fh of an open control file, unmapped file or directory.
struct ControlFiles::Handle {
  std::string content;  // control files: the text made at open
  std::string key;      // unmapped files: the key read
  DirListing listing;   // directories
};

ControlFiles::ControlFiles(DB* db, const KeyView* view, std::string store_path,
                           const FsOptions& options)
    : db_(db),
      view_(view),
      store_path_(std::move(store_path)),
      options_(options),
      mount_time_ns_(NowNs()) {}

// ---------------------------------------------------------------- inodes

fuse_ino_t ControlFiles::UnmappedIno(const std::string& key, bool count) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = unmapped_by_key_.find(key);
  fuse_ino_t ino;
  if (it != unmapped_by_key_.end()) {
    ino = it->second;
  } else {
    if (!count) return ListingIno(key);
    ino = next_unmapped_ino_++;
    unmapped_by_key_.emplace(key, ino);
    unmapped_by_ino_[ino].key = key;
  }
  if (count) unmapped_by_ino_[ino].nlookup++;
  return ino;
}

bool ControlFiles::UnmappedKey(fuse_ino_t ino, std::string* key) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = unmapped_by_ino_.find(ino);
  if (it == unmapped_by_ino_.end()) return false;
  *key = it->second.key;
  return true;
}

void ControlFiles::Forget(fuse_ino_t ino, uint64_t nlookup) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = unmapped_by_ino_.find(ino);
  if (it == unmapped_by_ino_.end()) return;
  if (it->second.nlookup > nlookup) {
    it->second.nlookup -= nlookup;
    return;
  }
  unmapped_by_key_.erase(it->second.key);
  unmapped_by_ino_.erase(it);
}

int ControlFiles::FindUnmapped(const std::string& name, std::string* key) {
  if (DecodeUnmappedName(name, key)) {
    RecordMeta m;
    return db_->Meta(*key, &m).ok() && !view_->IsShown(*key) ? 0 : ENOENT;
  }
  if (name.find("%~") == std::string::npos) return ENOENT;
  std::vector<std::string> keys;
  Status s = view_->UnmappedKeys(&keys);
  if (!s.ok()) return s.errno_value();
  for (auto& k : keys) {
    if (EncodeUnmappedName(k) == name) {
      *key = std::move(k);
      return 0;
    }
  }
  return ENOENT;
}

int ControlFiles::Stat(fuse_ino_t ino, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_ino = ino;
  st->st_uid = options_.uid;
  st->st_gid = options_.gid;
  st->st_blksize = 4096;
  st->st_nlink = 1;
  int64_t ts = mount_time_ns_;
  if (ino == kDirIno || ino == kUnmappedDirIno) {
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
  } else if (const FixedFile* f = FindFile(ino)) {
    st->st_mode = S_IFREG | f->perm;
  } else {
    std::string key;
    RecordMeta m;
    if (!UnmappedKey(ino, &key) || !db_->Meta(key, &m).ok()) return ENOENT;
    st->st_mode = S_IFREG | 0444;
    st->st_size = m.value_size;
    st->st_blocks = (st->st_size + 511) / 512;
    ts = m.timestamp_unix_ns;
  }
  st->st_mode &= ~options_.umask;
  st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = ts / 1000000000;
  st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = st->st_atim.tv_nsec = ts % 1000000000;
  return 0;
}

void ControlFiles::ReplyEntry(fuse_req_t req, fuse_ino_t ino) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof(e));
  if (int err = Stat(ino, &e.attr)) {
    Forget(ino, 1);
    return (void)fuse_reply_err(req, err);
  }
  e.ino = ino;
  e.generation = 1;
  e.attr_timeout = e.entry_timeout = kTimeout;
  if (fuse_reply_entry(req, &e) != 0) Forget(ino, 1);
}

// ---------------------------------------------------------------- requests

void ControlFiles::Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (!Owns(parent)) return ReplyEntry(req, kDirIno);  // the root's ".bitgask"
  if (parent == kDirIno) {
    if (std::strcmp(name, kUnmappedName) == 0) return ReplyEntry(req, kUnmappedDirIno);
    for (const auto& f : kFiles)
      if (std::strcmp(name, f.name) == 0) return ReplyEntry(req, f.ino);
    return (void)fuse_reply_err(req, ENOENT);
  }
  if (parent != kUnmappedDirIno) return (void)fuse_reply_err(req, ENOTDIR);
  std::string key;
  if (int err = FindUnmapped(name, &key)) return (void)fuse_reply_err(req, err);
  ReplyEntry(req, UnmappedIno(key, true));
}

void ControlFiles::Getattr(fuse_req_t req, fuse_ino_t ino) {
  struct stat st;
  if (int err = Stat(ino, &st)) return (void)fuse_reply_err(req, err);
  fuse_reply_attr(req, &st, kTimeout);
}

void ControlFiles::Setattr(fuse_req_t req, fuse_ino_t ino, int to_set) {
  // O_TRUNC and touch on the action files are harmless: accept and ignore.
  const int allowed = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                      FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
  const FixedFile* f = FindFile(ino);
  if (f == nullptr || (f->perm & 0200) == 0 || (to_set & ~allowed) != 0)
    return (void)fuse_reply_err(req, EPERM);
  Getattr(req, ino);
}

void ControlFiles::Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino == kDirIno || ino == kUnmappedDirIno) return (void)fuse_reply_err(req, EISDIR);
  const int acc = fi->flags & O_ACCMODE;
  auto h = std::make_unique<Handle>();
  if (const FixedFile* f = FindFile(ino)) {
    if (acc != O_RDONLY && (f->perm & 0200) == 0) return (void)fuse_reply_err(req, EACCES);
    if (acc != O_WRONLY) h->content = Content(ino);
  } else {
    if (acc != O_RDONLY) return (void)fuse_reply_err(req, EROFS);
    if (!UnmappedKey(ino, &h->key)) return (void)fuse_reply_err(req, ENOENT);
  }
  fi->direct_io = 1;
  fi->fh = reinterpret_cast<uint64_t>(h.release());
  if (fuse_reply_open(req, fi) != 0) delete reinterpret_cast<Handle*>(fi->fh);
}

void ControlFiles::Read(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off,
                        fuse_file_info* fi) {
  auto* h = reinterpret_cast<Handle*>(fi->fh);
  if (h == nullptr || off < 0) return (void)fuse_reply_err(req, EINVAL);
  if (!h->key.empty()) {
    std::string out;
    Status s = db_->GetRange(h->key, static_cast<uint64_t>(off), size, &out);
    if (!s.ok()) return (void)fuse_reply_err(req, s.errno_value());
    return (void)fuse_reply_buf(req, out.data(), out.size());
  }
  if (static_cast<uint64_t>(off) >= h->content.size()) return (void)fuse_reply_buf(req, nullptr, 0);
  fuse_reply_buf(req, h->content.data() + off,
                 std::min(size, h->content.size() - static_cast<size_t>(off)));
}

void ControlFiles::Write(fuse_req_t req, fuse_ino_t ino, size_t size, fuse_file_info* /*fi*/) {
  if (FindFile(ino) == nullptr) return (void)fuse_reply_err(req, EROFS);
  if (int err = Act(ino)) return (void)fuse_reply_err(req, err);
  fuse_reply_write(req, size);
}

void ControlFiles::Release(fuse_req_t req, fuse_file_info* fi) {
  delete reinterpret_cast<Handle*>(fi->fh);
  fuse_reply_err(req, 0);
}

void ControlFiles::Opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != kDirIno && ino != kUnmappedDirIno) return (void)fuse_reply_err(req, ENOTDIR);
  auto h = std::make_unique<Handle>();
  auto& entries = h->listing.entries;
  entries.push_back({".", S_IFDIR, ino});
  if (ino == kDirIno) {
    entries.push_back({"..", S_IFDIR, FUSE_ROOT_ID});
    for (const auto& f : kFiles) entries.push_back({f.name, S_IFREG, f.ino});
    entries.push_back({kUnmappedName, S_IFDIR, kUnmappedDirIno});
  } else {
    entries.push_back({"..", S_IFDIR, kDirIno});
    std::vector<std::string> keys;
    Status s = view_->UnmappedKeys(&keys);
    if (!s.ok()) return (void)fuse_reply_err(req, s.errno_value());
    for (auto& k : keys) entries.push_back({EncodeUnmappedName(k), S_IFREG, UnmappedIno(k, false)});
  }
  fi->fh = reinterpret_cast<uint64_t>(h.release());
  if (fuse_reply_open(req, fi) != 0) delete reinterpret_cast<Handle*>(fi->fh);
}

void ControlFiles::Readdir(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi) {
  auto* h = reinterpret_cast<Handle*>(fi->fh);
  if (h == nullptr) return (void)fuse_reply_err(req, EBADF);
  ReplyDirListing(req, h->listing, size, off);
}

void ControlFiles::Releasedir(fuse_req_t req, fuse_file_info* fi) { Release(req, fi); }

// ---------------------------------------------------------------- content

std::string ControlFiles::Content(fuse_ino_t ino) {
  if (ino == kStatsIno || ino == kMergeIno) {
    DBStats st;
    Status s = db_->Stats(&st);
    if (!s.ok()) return JsonLine(Json{{"error", s.ToString()}});
    if (ino == kStatsIno) return StatsJson(store_path_, st);
    return JsonLine(Json{{"last_merge", JsonTime(st.last_merge_unix_ns)},
                         {"last_merge_status", st.last_merge_status}});
  }
  std::lock_guard<std::mutex> l(mu_);
  if (ino == kSyncIno)
    return JsonLine(Json{{"last_sync", JsonTime(last_sync_ns_)},
                         {"last_sync_status", last_sync_status_}});
  return JsonLine(Json{{"last_gc", JsonTime(last_gc_ns_)},
                       {"last_gc_removed", last_gc_removed_},
                       {"last_gc_status", last_gc_status_}});
}

int ControlFiles::Act(fuse_ino_t ino) {
  Status s;
  if (ino == kMergeIno) {
    MergeOptions mo;
    mo.force = true;
    MergeResult r;
    s = db_->Merge(mo, &r);
    if (s.ok())
      FsLog().info("merge through /.bitgask/merge: {} files ({} bytes) into {} ({} bytes)",
                   r.files_in, r.bytes_in, r.files_out, r.bytes_out);
  } else if (ino == kSyncIno) {
    s = db_->Sync();
    std::lock_guard<std::mutex> l(mu_);
    last_sync_ns_ = NowNs();
    last_sync_status_ = s.ok() ? "ok" : "failed: " + s.ToString();
  } else if (ino == kGcIno) {
    uint64_t removed = 0;
    s = db_->RunGC(&removed);
    std::lock_guard<std::mutex> l(mu_);
    last_gc_ns_ = NowNs();
    last_gc_removed_ = s.ok() ? removed : 0;
    last_gc_status_ = s.ok() ? "ok" : "failed: " + s.ToString();
  } else {
    return EACCES;  // stats
  }
  if (s.ok()) return 0;
  FsLog().error("{} through /.bitgask failed: {}", FindFile(ino)->name, s.ToString());
  return EIO;
}

}  // namespace fs
}  // namespace bitgask
