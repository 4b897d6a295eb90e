// Backup, DeleteAll and Digest.
#include <xxhash.h>

#include <cstdio>

#include "coding.h"
#include "db_impl.h"
#include "hint_file.h"
#include "log.h"
#include "meta_file.h"
#include "record.h"

namespace bitgask {
namespace internal {

namespace {

// Copies size bytes of `from` into path (through path.tmp, synced, renamed).
Status CopyInto(Env* env, const RandomAccessFile* from, uint64_t size, const std::string& path) {
  std::unique_ptr<WritableFile> out;
  Status s = env->NewWritableFile(path + ".tmp", &out);
  if (!s.ok()) return s;
  std::string buf(1 << 20, '\0');
  for (uint64_t off = 0; s.ok() && off < size;) {
    std::string_view got;
    s = from->Read(off, std::min<uint64_t>(buf.size(), size - off), buf.data(), &got);
    if (s.ok() && got.empty()) s = Status::IOError(path + ": source ended early");
    if (s.ok()) s = out->Append(got);
    off += got.size();
  }
  if (s.ok()) s = out->Sync();
  Status c = out->Close();
  if (s.ok()) s = c;
  if (s.ok()) s = env->RenameFile(path + ".tmp", path);
  return s;
}

}  // namespace

Status DBImpl::Backup(const std::string& dst) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  if (env_->FileExists(dst)) {
    std::vector<std::string> names;
    Status s = env_->GetChildren(dst, &names);
    if (!s.ok()) return s;
    if (!names.empty()) {
      return Status::InvalidArgument("backup destination " + dst + " is not empty");
    }
  }
  std::lock_guard<std::mutex> ml(merge_mu_);  // no merge swaps files under the copy

  // The cut: every file so far, the active one closed (and synced) by a rotation.
  AwaitRetirement();
  FlushActiveFile();
  std::map<uint32_t, FileSlot> files;
  Writer cut;
  cut.leader_task = [&]() -> Status {
    Status s = Rotate(/*in_background=*/false);
    std::shared_lock<std::shared_mutex> fl(files_mu_);
    for (const auto& f : files_) {
      if (f.first != active_id_) files.emplace(f.first, f.second);
    }
    return s;
  };
  Status s = Commit(&cut);
  if (!s.ok()) return s;

  const std::string dst_data = dst + "/data";
  s = env_->CreateDir(dst);
  if (s.ok()) s = env_->CreateDir(dst_data);
  if (s.ok()) s = WriteMetaFile(env_, dst_data, kFormatVersion);
  for (const auto& f : files) {
    if (!s.ok()) break;
    s = CopyInto(env_, f.second.file.get(), f.second.size, DataFileName(dst_data, f.first));
    const std::string hint = HintFileName(data_dir_, f.first);
    std::unique_ptr<RandomAccessFile> hint_file;
    uint64_t hint_size = 0;
    if (s.ok() && env_->GetFileSize(hint, &hint_size).ok() &&
        env_->NewRandomAccessFile(hint, &hint_file).ok()) {
      s = CopyInto(env_, hint_file.get(), hint_size, HintFileName(dst_data, f.first));
    }
  }
  if (s.ok()) s = env_->SyncDir(dst_data);
  if (s.ok()) s = env_->SyncDir(dst);
  return s;
}

Status DBImpl::DeleteAll() {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  std::lock_guard<std::mutex> ml(merge_mu_);
  std::vector<uint32_t> old_ids;
  Writer w;
  w.sync = true;
  w.leader_task = [&]() -> Status {
    // The marker goes first in a fresh file, so every older file can go.
    Status s = Rotate(/*in_background=*/false);
    if (!s.ok()) return s;
    std::string rec;
    RecordHeader h;
    h.timestamp = env_->NowUnixNanos();
    h.flags = kFlagTombstone;
    AppendRecord(&rec, h, std::string_view(), std::string_view(), 0);
    s = active_->Append(rec);
    if (s.ok()) s = active_->Sync();
    if (!s.ok()) return s;
    syncs_++;
    unsynced_ = false;
    total_bytes_ += rec.size();
    {
      std::unique_lock<std::shared_mutex> kl(keydir_mu_);
      ApplyOp("", LogOp::kClear, 0, KeydirEntry());
    }
    std::unique_lock<std::shared_mutex> fl(files_mu_);
    files_[active_id_].size = active_->Size();
    for (const auto& f : files_) {
      if (f.first != active_id_) old_ids.push_back(f.first);
    }
    return Status::OK();
  };
  Status s = Commit(&w);
  if (!s.ok()) return s;
  DropFiles(old_ids);
  return Status::OK();
}

Status DBImpl::Digest(std::string* hex) {
  // The sum (mod 2^128) of a 128-bit hash of each live key and value: order
  // does not matter, and the same contents give the same sum.
  uint64_t lo = 0, hi = 0;
  XXH3_state_t* state = XXH3_createState();
  if (state == nullptr) return Status::IOError("out of memory");
  Status s = Fold([&](std::string_view key, std::string_view value) {
    char len[4];
    XXH3_128bits_reset(state);
    EncodeFixed32(len, static_cast<uint32_t>(key.size()));
    XXH3_128bits_update(state, len, 4);
    XXH3_128bits_update(state, key.data(), key.size());
    EncodeFixed32(len, static_cast<uint32_t>(value.size()));
    XXH3_128bits_update(state, len, 4);
    XXH3_128bits_update(state, value.data(), value.size());
    XXH128_hash_t h = XXH3_128bits_digest(state);
    const uint64_t before = lo;
    lo += h.low64;
    hi += h.high64 + (lo < before ? 1 : 0);
    return true;
  });
  XXH3_freeState(state);
  if (!s.ok()) return s;
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  hex->assign(buf, 32);
  return Status::OK();
}

}  // namespace internal
}  // namespace bitgask
