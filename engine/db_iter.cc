// Iteration over the store, in key byte order.
//
// Streaming (IterKeys, Iter, ScanKeys): the keydir is read a chunk at a time
// under its shared lock; no lock is held while the caller's function runs.
// Snapshot (Keys, Scan, Range, Sift, Fold, NewIterator): the keydir entries
// and the table of open files are copied at one instant; values are read
// later through those files, which stay open even if a merge removes them.
#include <algorithm>

#include "db_impl.h"
#include "record.h"

namespace bitgask {
namespace internal {

namespace {

constexpr size_t kChunk = 1024;

bool HasPrefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

bool Live(const KeydirEntry& e, int64_t now) { return e.expires == 0 || e.expires > now; }

using Chunk = std::vector<std::pair<std::string, KeydirEntry>>;

class SnapshotIterator final : public Iterator {
 public:
  SnapshotIterator(DBImpl* db, DBImpl::Snapshot snap)
      : db_(db), snap_(std::move(snap)), pos_(snap_.entries.size()) {}

  bool Valid() const override { return pos_ < snap_.entries.size(); }
  void SeekToFirst() override { pos_ = 0; }
  void Seek(std::string_view target) override {
    pos_ = static_cast<size_t>(
        std::lower_bound(snap_.entries.begin(), snap_.entries.end(), target,
                         [](const std::pair<std::string, KeydirEntry>& a, std::string_view t) {
                           return std::string_view(a.first) < t;
                         }) -
        snap_.entries.begin());
  }
  void Next() override { pos_++; }
  std::string_view key() const override { return snap_.entries[pos_].first; }
  RecordMeta meta() const override { return MetaOf(snap_.entries[pos_].second); }
  Status value(std::string* out) override {
    return db_->ReadSnapshotValue(snap_, snap_.entries[pos_].first, snap_.entries[pos_].second,
                                  out);
  }

 private:
  DBImpl* db_;
  DBImpl::Snapshot snap_;
  size_t pos_;
};

}  // namespace

// Fills *out with up to n live keys with prefix, after `after` (exclusive)
// or from the prefix's start when `first`.
static void NextChunk(const Keydir& kd, std::string_view prefix, const std::string& after,
                      bool first, size_t n, int64_t now, Chunk* out) {
  out->clear();
  Keydir::Iterator it(&kd);
  it.Seek(first ? prefix : std::string_view(after));
  for (; it.Valid() && out->size() < n; it.Next()) {
    std::string_view key = it.key();
    if (!HasPrefix(key, prefix)) break;
    if (!first && key == after) continue;
    KeydirEntry e = it.entry();
    if (Live(e, now)) out->emplace_back(std::string(key), e);
  }
}

Status DBImpl::IterKeys(const std::function<bool(std::string_view key)>& fn) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  Chunk chunk;
  std::string after;
  for (bool first = true;; first = false) {
    {
      std::shared_lock<std::shared_mutex> l(keydir_mu_);
      NextChunk(keydir_, "", after, first, kChunk, env_->NowUnixNanos(), &chunk);
    }
    for (const auto& kv : chunk) {
      if (!fn(kv.first)) return Status::OK();
    }
    if (closed_) return Status::Closed("the store was closed during the walk");
    if (chunk.size() < kChunk) return Status::OK();
    after = chunk.back().first;
  }
}

Status DBImpl::Iter(
    std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view, const RecordMeta&)>& fn) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  Chunk chunk;
  std::string after, buf, value;
  for (bool first = true;; first = false) {
    {
      std::shared_lock<std::shared_mutex> l(keydir_mu_);
      NextChunk(keydir_, prefix, after, first, kChunk, env_->NowUnixNanos(), &chunk);
    }
    for (auto& kv : chunk) {
      KeydirEntry e = kv.second;
      RecordHeader h;
      std::string_view stored;
      Status s = ReadEntry(kv.first, e, &buf, &h, &stored);
      if (s.IsNotFound()) {  // merged away meanwhile: look the key up again
        s = Lookup(kv.first, &e);
        if (s.IsNotFound()) continue;
        if (s.ok()) s = ReadEntry(kv.first, e, &buf, &h, &stored);
      }
      if (s.ok()) s = DecodeValue(h, stored, &value);
      if (!s.ok()) return s;
      if (!fn(kv.first, value, MetaOf(e))) return Status::OK();
    }
    if (closed_) return Status::Closed("the store was closed during the walk");
    if (chunk.size() < kChunk) return Status::OK();
    after = chunk.back().first;
  }
}

Status DBImpl::ScanKeys(std::string_view cursor, size_t count, std::vector<std::string>* keys,
                        std::string* next_cursor) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  keys->clear();
  next_cursor->clear();
  if (count == 0) return Status::InvalidArgument("count must be positive");
  Chunk chunk;
  {
    std::shared_lock<std::shared_mutex> l(keydir_mu_);
    NextChunk(keydir_, "", std::string(cursor), cursor.empty(), count + 1, env_->NowUnixNanos(),
              &chunk);
  }
  const bool more = chunk.size() > count;
  if (more) chunk.pop_back();
  for (auto& kv : chunk) keys->push_back(std::move(kv.first));
  if (more) *next_cursor = keys->back();
  return Status::OK();
}

Status DBImpl::TakeSnapshot(std::string_view prefix, std::string_view start,
                            std::string_view end, Snapshot* snap) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  snap->entries.clear();
  const int64_t now = env_->NowUnixNanos();
  std::shared_lock<std::shared_mutex> l(keydir_mu_);
  Keydir::Iterator it(&keydir_);
  it.Seek(std::max(prefix, start));
  for (; it.Valid(); it.Next()) {
    std::string_view key = it.key();
    if (!HasPrefix(key, prefix) || (!end.empty() && key >= end)) break;
    KeydirEntry e = it.entry();
    if (Live(e, now)) snap->entries.emplace_back(std::string(key), e);
  }
  // Under the keydir lock (lock order keydir -> files), so every entry's file
  // is in the table.
  std::shared_lock<std::shared_mutex> fl(files_mu_);
  snap->files.clear();
  for (const auto& f : files_) snap->files.emplace(f.first, f.second.file);
  return Status::OK();
}

Status DBImpl::ReadSnapshotValue(const Snapshot& snap, std::string_view key,
                                 const KeydirEntry& e, std::string* value) {
  auto it = snap.files.find(e.file_id);
  if (it == snap.files.end()) return Status::Corruption("snapshot lost a data file");
  std::string buf;
  RecordHeader h;
  std::string_view stored;
  Status s = ReadRecord(it->second.get(), e.offset, EntryRecordSize(key.size(), e), key,
                        &buf, &h, &stored);
  if (!s.ok()) return AtRecord(e, s);
  return DecodeValue(h, stored, value);
}

Status DBImpl::Keys(std::vector<std::string>* keys) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  keys->clear();
  const int64_t now = env_->NowUnixNanos();
  std::shared_lock<std::shared_mutex> l(keydir_mu_);
  keys->reserve(keydir_.size());
  Keydir::Iterator it(&keydir_);
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    if (Live(it.entry(), now)) keys->emplace_back(it.key());
  }
  return Status::OK();
}

namespace {

// Calls fn(key, value) for the snapshot's entries that pass keep.
Status VisitSnapshot(DBImpl* db, const DBImpl::Snapshot& snap,
                     const std::function<bool(std::string_view)>& keep,
                     const DB::KeyValueFn& fn) {
  std::string value;
  for (const auto& kv : snap.entries) {
    if (keep && !keep(kv.first)) continue;
    Status s = db->ReadSnapshotValue(snap, kv.first, kv.second, &value);
    if (!s.ok()) return s;
    if (!fn(kv.first, value)) break;
  }
  return Status::OK();
}

}  // namespace

Status DBImpl::Scan(std::string_view prefix, const KeyValueFn& fn) {
  Snapshot snap;
  Status s = TakeSnapshot(prefix, "", "", &snap);
  return s.ok() ? VisitSnapshot(this, snap, nullptr, fn) : s;
}

Status DBImpl::Range(std::string_view start, std::string_view end, const KeyValueFn& fn) {
  if (!end.empty() && end <= start) return Status::OK();
  Snapshot snap;
  Status s = TakeSnapshot("", start, end, &snap);
  return s.ok() ? VisitSnapshot(this, snap, nullptr, fn) : s;
}

Status DBImpl::Sift(const std::function<bool(std::string_view key)>& pred, const KeyValueFn& fn) {
  Snapshot snap;
  Status s = TakeSnapshot("", "", "", &snap);
  return s.ok() ? VisitSnapshot(this, snap, pred, fn) : s;
}

Status DBImpl::Fold(const KeyValueFn& fn) { return Scan("", fn); }

Status DBImpl::NewIterator(std::string_view prefix, std::unique_ptr<Iterator>* it) {
  Snapshot snap;
  Status s = TakeSnapshot(prefix, "", "", &snap);
  if (!s.ok()) return s;
  auto iter = std::make_unique<SnapshotIterator>(this, std::move(snap));
  iter->SeekToFirst();
  *it = std::move(iter);
  return Status::OK();
}

}  // namespace internal
}  // namespace bitgask
