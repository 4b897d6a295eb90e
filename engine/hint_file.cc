#include "hint_file.h"

#include <algorithm>
#include <cstring>

#include <sys/mman.h>

#include "coding.h"
#include "crc32.h"

namespace bitgask {
namespace internal {

namespace {

constexpr size_t kEntryFixed = 39;
constexpr size_t kTrailerSize = 20;
constexpr char kMagic[9] = "BGKHINT1";
constexpr size_t kFlushAt = 1 << 20;
constexpr size_t kReadChunk = 4 << 20;

}  // namespace

HintWriter::HintWriter(Env* env, std::string path, bool sort_by_key)
    : env_(env), path_(std::move(path)), sort_by_key_(sort_by_key) {}

Status HintWriter::Open() { return env_->NewWritableFile(path_ + ".tmp", &file_); }

Status HintWriter::Add(const LogOp& op) {
  char e[kEntryFixed];
  EncodeFixed64(e, static_cast<uint64_t>(op.entry.timestamp));
  EncodeFixed64(e + 8, static_cast<uint64_t>(op.entry.expires));
  EncodeFixed32(e + 16, op.entry.offset);
  EncodeFixed32(e + 20, op.entry.disk_len);
  EncodeFixed32(e + 24, op.entry.value_len);
  EncodeFixed32(e + 28, op.record_size);
  EncodeFixed16(e + 32, static_cast<uint16_t>(op.key.size()));
  e[34] = static_cast<char>(op.kind);
  e[35] = static_cast<char>(op.meta_mask);
  e[36] = static_cast<char>(op.entry.flags);
  EncodeFixed16(e + 37, op.entry.mode);
  if (sort_by_key_) {
    starts_.push_back(buf_.size());
    has_clear_ = has_clear_ || op.kind == LogOp::kClear;
  }
  buf_.append(e, kEntryFixed);
  buf_.append(op.key);
  if (op.entry.has_owner()) {
    char owner[8];
    EncodeFixed32(owner, op.entry.uid);
    EncodeFixed32(owner + 4, op.entry.gid);
    buf_.append(owner, sizeof(owner));
  }
  count_++;
  return !sort_by_key_ && buf_.size() >= kFlushAt ? Flush() : Status::OK();
}

Status HintWriter::WriteSorted() {
  if (has_clear_) return Status::OK();  // log order: buf_ holds it already
  std::string held;
  held.swap(buf_);
  auto key_at = [&held](size_t start) {
    return std::string_view(held.data() + start + kEntryFixed,
                            DecodeFixed16(held.data() + start + 32));
  };
  auto by_key = [&](size_t a, size_t b) { return key_at(a) < key_at(b); };
  // A merge adds its entries in key order already.
  if (!std::is_sorted(starts_.begin(), starts_.end(), by_key)) {
    std::stable_sort(starts_.begin(), starts_.end(), by_key);
  }
  for (size_t start : starts_) {
    const bool owner = static_cast<uint8_t>(held[start + 36]) & kEntryHasOwner;
    buf_.append(held, start, kEntryFixed + key_at(start).size() + (owner ? 8 : 0));
    if (buf_.size() >= kFlushAt) {
      Status s = Flush();
      if (!s.ok()) return s;
    }
  }
  return Status::OK();
}

Status HintWriter::Flush() {
  crc_ = Crc32(crc_, buf_.data(), buf_.size());
  Status s = file_->Append(buf_);
  buf_.clear();
  return s;
}

Status HintWriter::Finish(const std::string& dir) {
  Status s = sort_by_key_ ? WriteSorted() : Status::OK();
  if (s.ok()) s = Flush();
  if (!s.ok()) return s;
  char t[kTrailerSize];
  EncodeFixed64(t, count_);
  // The CRC covers the entries and the count.
  uint32_t crc = Crc32(crc_, t, 8);
  EncodeFixed32(t + 8, crc);
  std::memcpy(t + 12, kMagic, 8);
  s = file_->Append(std::string_view(t, kTrailerSize));
  if (s.ok()) s = file_->Sync();
  Status c = file_->Close();
  if (s.ok()) s = c;
  if (s.ok()) s = env_->RenameFile(path_ + ".tmp", path_);
  if (s.ok()) s = env_->SyncDir(dir);
  if (!s.ok()) env_->RemoveFile(path_ + ".tmp");
  return s;
}

Status HintFileReader::Open(Env* env, const std::string& path) {
  path_ = path;
  count_ = 0;
  buf_.clear();
  bytes_ = std::string_view();
  file_.reset();
  uint64_t size = 0;
  Status s = env->GetFileSize(path, &size);
  if (!s.ok()) return s;
  if (size < kTrailerSize) return Status::Corruption(path + ": too short for a hint file");
  if (size > buf_.max_size()) return Status::Corruption(path + ": too large for a hint file");
  s = env->NewRandomAccessFile(path, &file_);
  if (!s.ok()) return s;
  std::string_view all = file_->Map(size);
  if (all.size() == size) {
    // Read front to back, twice (the checksum, then the entries): ask for
    // read-ahead instead of the point-read advice the mapping comes with.
    ::madvise(const_cast<char*>(all.data()), all.size(), MADV_SEQUENTIAL);
  } else {
    // One pass over the disk: the whole file into memory, checked, then parsed.
    buf_.resize(static_cast<size_t>(size));
    for (uint64_t off = 0; off < size;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kReadChunk, size - off));
      std::string_view got;
      s = file_->Read(off, n, buf_.data() + off, &got);
      if (!s.ok()) return s;
      if (got.size() != n) return Status::Corruption(path + ": short read");
      if (got.data() != buf_.data() + off) std::memcpy(buf_.data() + off, got.data(), n);
      off += n;
    }
    all = buf_;
  }
  const char* t = all.data() + size - kTrailerSize;
  if (std::memcmp(t + 12, kMagic, 8) != 0) return Status::Corruption(path + ": no hint trailer");
  // The CRC covers the entries and the count.
  if (Crc32(0, all.data(), size - kTrailerSize + 8) != DecodeFixed32(t + 8)) {
    return Status::Corruption(path + ": hint checksum mismatch");
  }
  count_ = DecodeFixed64(t);
  bytes_ = all.substr(0, static_cast<size_t>(size - kTrailerSize));
  return Status::OK();
}

bool HintFileReader::Next(size_t* pos, uint32_t file_id, HintEntry* out) const {
  if (bytes_.size() - *pos < kEntryFixed) return false;
  const char* e = bytes_.data() + *pos;
  const uint16_t key_len = DecodeFixed16(e + 32);
  const size_t owner_len = (static_cast<uint8_t>(e[36]) & kEntryHasOwner) ? 8 : 0;
  if (bytes_.size() - *pos < kEntryFixed + key_len + owner_len) return false;
  const uint8_t kind = static_cast<uint8_t>(e[34]);
  if (kind > LogOp::kClear) return false;
  out->entry.file_id = file_id;
  out->entry.timestamp = static_cast<int64_t>(DecodeFixed64(e));
  out->entry.expires = static_cast<int64_t>(DecodeFixed64(e + 8));
  out->entry.offset = DecodeFixed32(e + 16);
  out->entry.disk_len = DecodeFixed32(e + 20);
  out->entry.value_len = DecodeFixed32(e + 24);
  out->record_size = DecodeFixed32(e + 28);
  out->kind = static_cast<LogOp::Kind>(kind);
  out->meta_mask = static_cast<uint8_t>(e[35]);
  out->entry.flags = static_cast<uint8_t>(e[36]);
  out->entry.mode = DecodeFixed16(e + 37);
  out->key = std::string_view(e + kEntryFixed, key_len);
  out->entry.uid = owner_len ? DecodeFixed32(e + kEntryFixed + key_len) : 0;
  out->entry.gid = owner_len ? DecodeFixed32(e + kEntryFixed + key_len + 4) : 0;
  *pos += kEntryFixed + key_len + owner_len;
  return true;
}

Status HintFileReader::ForEach(uint32_t file_id,
                               const std::function<void(const HintEntry&)>& fn) const {
  bool ignored;
  return Check(file_id, [&fn](const HintEntry& e) { fn(e); return true; }, &ignored);
}

Status HintFileReader::Check(uint32_t file_id, const std::function<bool(const HintEntry&)>& fits,
                             bool* key_ordered) const {
  HintEntry e;
  uint64_t seen = 0;
  size_t pos = 0;
  bool ordered = true;
  std::string_view prev;
  while (Next(&pos, file_id, &e)) {
    if (!fits(e)) return Status::Corruption(path_ + ": an entry does not fit its data file");
    ordered = ordered && e.kind != LogOp::kClear && !(e.key < prev);
    prev = e.key;
    seen++;
  }
  if (pos != bytes_.size() || seen != count_) {
    return Status::Corruption(path_ + ": malformed hint entry or entry count mismatch");
  }
  *key_ordered = ordered;
  return Status::OK();
}

Status ReadHintFile(Env* env, const std::string& path, uint32_t file_id,
                    const std::function<void(LogOp&)>& fn) {
  HintFileReader hint;
  Status s = hint.Open(env, path);
  if (!s.ok()) return s;
  LogOp op;
  return hint.ForEach(file_id, [&](const HintEntry& e) {
    op.kind = e.kind;
    op.meta_mask = e.meta_mask;
    op.key.assign(e.key);
    op.entry = e.entry;
    op.record_size = e.record_size;
    fn(op);
  });
}

}  // namespace internal
}  // namespace bitgask
