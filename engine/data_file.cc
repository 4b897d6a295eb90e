#include "data_file.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "coding.h"
#include "crc32.h"

namespace bitgask {
namespace internal {

namespace {

std::string NumberedName(const std::string& dir, uint32_t id, const char* suffix) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/%09u%s", id, suffix);
  return dir + buf;
}

}  // namespace

std::string DataFileName(const std::string& data_dir, uint32_t id) {
  return NumberedName(data_dir, id, ".data");
}

std::string HintFileName(const std::string& data_dir, uint32_t id) {
  return NumberedName(data_dir, id, ".hint");
}

FileKind ParseFileName(std::string_view name, uint32_t* id) {
  if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp") return FileKind::kTemp;
  // The id: 9 digits with leading zeros, or 10 digits from 1000000000 on.
  const size_t dot = name.find('.');
  if (dot != 9 && dot != 10) return FileKind::kOther;
  uint64_t v = 0;
  for (size_t i = 0; i < dot; i++) {
    if (name[i] < '0' || name[i] > '9') return FileKind::kOther;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  if (v == 0 || v > 0xFFFFFFFFull || (dot == 10 && v < 1000000000ull)) return FileKind::kOther;
  std::string_view ext = name.substr(dot);
  FileKind kind = ext == ".data" ? FileKind::kData : ext == ".hint" ? FileKind::kHint
                                                                   : FileKind::kOther;
  if (kind != FileKind::kOther) *id = static_cast<uint32_t>(v);
  return kind;
}

RecordScanner::RecordScanner(const RandomAccessFile* file, uint64_t file_size, uint32_t file_id)
    : file_(file), size_(file_size), file_id_(file_id) {}

const char* RecordScanner::Fill(uint64_t off, size_t n, Status* s) {
  if (off >= buf_start_ && off + n <= buf_start_ + buf_len_) {
    return buf_.data() + (off - buf_start_);
  }
  if (buf_.size() < kBufferSize) buf_.resize(kBufferSize);
  size_t want = static_cast<size_t>(std::min<uint64_t>(kBufferSize, size_ - off));
  std::string_view got;
  *s = file_->Read(off, want, buf_.data(), &got);
  if (!s->ok()) return nullptr;
  if (got.data() != buf_.data()) std::copy(got.begin(), got.end(), buf_.begin());
  buf_start_ = off;
  buf_len_ = got.size();
  if (buf_len_ < n) {
    *s = Status::IOError("short read");
    return nullptr;
  }
  return buf_.data();
}

bool RecordScanner::ZeroTail(uint64_t from, Status* s) {
  for (uint64_t off = from; off < size_;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBufferSize, size_ - off));
    const char* p = Fill(off, n, s);
    if (p == nullptr) return false;
    if (std::any_of(p, p + n, [](char c) { return c != 0; })) return false;
    off += n;
  }
  zero_tail_ = size_ - from;
  return true;
}

RecordScanner::Result RecordScanner::Bad(uint64_t offset, const std::string& why) {
  bad_offset_ = offset;
  error_ = why;
  return Result::kBad;
}

bool RecordScanner::Resync() {
  uint64_t at = 0;
  batch_.clear();
  batch_next_ = 0;
  batch_ready_ = false;
  if (!FindValidRecordAfter(file_, size_, bad_offset_, &at)) return false;
  pos_ = at;
  good_offset_ = at;
  return true;
}

RecordScanner::Result RecordScanner::Next(LogOp* op) {
  for (;;) {
    if (batch_ready_) {
      if (batch_next_ < batch_.size()) {
        *op = std::move(batch_[batch_next_++]);
        return Result::kOp;
      }
      batch_.clear();
      batch_next_ = 0;
      batch_ready_ = false;
    }
    uint64_t start = pos_;
    Result r = ReadOne(op, &start);
    if (r == Result::kEnd && !batch_.empty()) {
      return Bad(size_, "batch without its commit record");
    }
    if (r != Result::kOp) return r;
    records_++;
    if (op->kind == LogOp::kPut && op->entry.flags & kFlagBatchCommit) {
      // A commit record: it carries the batch's record count in entry.value_len.
      if (op->entry.value_len != batch_.size()) {
        return Bad(start, "batch commit record count does not match");
      }
      good_offset_ = pos_;
      batch_ready_ = true;
      continue;
    }
    if (op->entry.flags & kFlagBatch) {
      batch_.push_back(std::move(*op));
      continue;
    }
    if (!batch_.empty()) return Bad(good_offset_, "batch interrupted by another record");
    good_offset_ = pos_;
    return Result::kOp;
  }
}

RecordScanner::Result RecordScanner::ReadOne(LogOp* op, uint64_t* record_start) {
  const uint64_t start = pos_;
  *record_start = start;
  if (start == size_) return Result::kEnd;
  Status s;
  if (size_ - start < kHeaderSize) {
    return ZeroTail(start, &s) ? Result::kEnd : Bad(start, "truncated record header");
  }
  const char* p = Fill(start, kHeaderSize, &s);
  if (p == nullptr) {
    io_status_ = s;
    return Bad(start, s.ToString());
  }
  RecordHeader h;
  char header[kHeaderSize];
  std::copy(p, p + kHeaderSize, header);
  if (!DecodeHeader(header, &h)) {
    if (ZeroTail(start, &s)) return Result::kEnd;
    if (!s.ok()) {
      io_status_ = s;
      return Bad(start, s.ToString());
    }
    return Bad(start, "invalid record header");
  }
  if (h.RecordSize() > size_ - start) return Bad(start, "truncated record");

  // Checksum the key, owner and value in pieces; keep the key, the owner
  // block and a value prefix.
  uint32_t crc = Crc32(0, header + 4, kHeaderSize - 4);
  std::string key;
  key.reserve(h.key_len);
  const uint64_t owner_end = h.key_len + OwnerBytes(h.flags);
  char owner[kOwnerBytes];
  char value_prefix[16];
  size_t prefix_len = 0;
  uint64_t off = start + kHeaderSize;
  uint64_t left = owner_end + h.val_len;
  while (left > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, kBufferSize));
    p = Fill(off, n, &s);
    if (p == nullptr) {
      io_status_ = s;
      return Bad(start, s.ToString());
    }
    crc = Crc32(crc, p, n);
    uint64_t rel = off - (start + kHeaderSize);  // position within key+owner+value
    for (size_t i = 0; i < n; i++) {
      uint64_t at = rel + i;
      if (at < h.key_len) {
        key.push_back(p[i]);
      } else if (at < owner_end) {
        owner[at - h.key_len] = p[i];
      } else if (at - owner_end < sizeof(value_prefix)) {
        value_prefix[prefix_len++] = p[i];
      } else {
        break;
      }
    }
    off += n;
    left -= n;
  }
  if (crc != h.crc) return Bad(start, "checksum mismatch");
  if (h.key_len == 0 && h.flags == kFlagsUnsyncedPredecessor) {
    // The marker changes no key: noted and skipped (never inside a batch).
    if (start != 0) return Bad(start, "unsynced-predecessor marker past the start of the file");
    if (h.val_len != kUnsyncedPredecessorValueSize) {
      return Bad(start, "unsynced-predecessor marker of wrong size");
    }
    pos_ = good_offset_ = h.RecordSize();
    return ReadOne(op, record_start);
  }

  LogOp out;
  out.key = std::move(key);
  out.record_size = static_cast<uint32_t>(std::min<uint64_t>(h.RecordSize(), 0xFFFFFFFFu));
  KeydirEntry& e = out.entry;
  e.file_id = file_id_;
  e.offset = static_cast<uint32_t>(start);
  e.disk_len = h.val_len;
  e.timestamp = h.timestamp;
  e.expires = h.expires;
  e.mode = h.reserved;
  e.flags = h.flags;
  if (h.flags & kFlagOwner) {
    DecodeOwner(owner, &h);
    e.flags |= kEntryHasOwner;
    e.uid = h.uid;
    e.gid = h.gid;
  }
  std::string_view prefix(value_prefix, prefix_len);
  if (h.flags & kFlagTombstone) {
    out.kind = h.key_len == 0 ? LogOp::kClear : LogOp::kDelete;
  } else if (h.flags & kFlagMetaUpdate) {
    if (h.val_len != 1) return Bad(start, "metadata record without its mask");
    out.kind = LogOp::kMeta;
    out.meta_mask = static_cast<uint8_t>(value_prefix[0]);
  } else if (h.flags & kFlagBatchCommit) {
    if (h.val_len != 4) return Bad(start, "batch commit record of wrong size");
    e.value_len = DecodeFixed32(value_prefix);
  } else {
    s = LogicalValueLength(h, prefix, &e.value_len);
    if (!s.ok()) return Bad(start, s.message());
  }
  *op = std::move(out);
  pos_ = start + h.RecordSize();
  return Result::kOp;
}

KeydirEntry EntryForRecord(const RecordHeader& h, uint32_t value_len) {
  KeydirEntry e;
  e.disk_len = h.val_len;
  e.value_len = value_len;
  e.timestamp = h.timestamp;
  e.expires = h.expires;
  e.mode = h.reserved;
  e.flags = h.flags;
  if (h.flags & kFlagOwner) {
    e.flags |= kEntryHasOwner;
    e.uid = h.uid;
    e.gid = h.gid;
  }
  return e;
}

void SetRecordOwner(const std::optional<Owner>& owner, RecordHeader* h) {
  h->flags = static_cast<uint8_t>(h->flags & ~kFlagOwner);
  h->uid = h->gid = 0;
  if (owner) {
    h->flags |= kFlagOwner;
    h->uid = owner->uid;
    h->gid = owner->gid;
  }
}

std::string EncodePredecessorMark(const PredecessorMark& mark, int64_t timestamp) {
  RecordHeader h;
  h.timestamp = timestamp;
  h.flags = kFlagsUnsyncedPredecessor;
  char value[kUnsyncedPredecessorValueSize];
  EncodeFixed32(value, mark.id);
  EncodeFixed32(value + 4, mark.size);
  std::string rec;
  AppendRecord(&rec, h, std::string_view(), std::string_view(value, sizeof(value)), 0);
  return rec;
}

namespace {

// Whether a complete record whose header bytes (already read) are `header`
// starts at `at` and checks; its header and value then in *h and *value
// (pointing into *buf). Records over max_size are not read, so not valid.
bool RecordChecksAt(const RandomAccessFile* file, uint64_t file_size, uint64_t at,
                    const char* header, uint64_t max_size, std::string* buf, RecordHeader* h,
                    std::string_view* value) {
  if (!DecodeHeader(header, h) || h->RecordSize() > file_size - at ||
      h->RecordSize() > max_size) {
    return false;
  }
  buf->resize(static_cast<size_t>(h->RecordSize()));
  std::string_view rec, key;
  return file->Read(at, buf->size(), buf->data(), &rec).ok() && rec.size() == buf->size() &&
         ParseRecord(rec, h, &key, value).ok();
}

}  // namespace

bool FirstRecordValid(const RandomAccessFile* file, uint64_t file_size,
                      PredecessorMark* mark) {
  *mark = PredecessorMark();
  char header[kHeaderSize];
  std::string_view got;
  std::string record;
  RecordHeader h;
  std::string_view value;
  if (file_size < kHeaderSize || !file->Read(0, kHeaderSize, header, &got).ok() ||
      got.size() != kHeaderSize ||
      !RecordChecksAt(file, file_size, 0, got.data(), 64u << 20, &record, &h, &value)) {
    return false;
  }
  if (h.key_len == 0 && h.flags == kFlagsUnsyncedPredecessor &&
      value.size() == kUnsyncedPredecessorValueSize) {
    mark->id = DecodeFixed32(value.data());
    mark->size = DecodeFixed32(value.data() + 4);
  }
  return true;
}

bool FindValidRecordAfter(const RandomAccessFile* file, uint64_t file_size, uint64_t from,
                          uint64_t* found) {
  // Slide a window over the file and try every byte position as a header.
  // Candidates larger than kMaxCandidate are not checksummed (they would have
  // to be read whole); damage hides at most that much evidence.
  constexpr size_t kWindow = 1 << 20;
  constexpr uint64_t kMaxCandidate = 64u << 20;
  std::string window(kWindow, '\0');
  std::string record;
  for (uint64_t base = from + 1; base + kHeaderSize <= file_size; base += kWindow - kHeaderSize) {
    std::string_view got;
    if (!file->Read(base, kWindow, window.data(), &got).ok()) return false;
    for (size_t i = 0; i + kHeaderSize <= got.size(); i++) {
      RecordHeader h;
      std::string_view value;
      if (RecordChecksAt(file, file_size, base + i, got.data() + i, kMaxCandidate, &record, &h,
                         &value)) {
        *found = base + i;
        return true;
      }
    }
    if (got.size() < kWindow) break;
  }
  return false;
}

Status MappedRange::Read(uint64_t offset, size_t n, char* scratch,
                        std::string_view* result) const {
  if (offset < begin_ || offset >= end_) {
    *result = std::string_view();
    return Status::OK();
  }
  const size_t len = static_cast<size_t>(std::min<uint64_t>(n, end_ - offset));
  std::memcpy(scratch, map_.data() + offset, len);
  *result = std::string_view(scratch, len);
  return Status::OK();
}

Status ReadRecord(const RandomAccessFile* file, uint64_t offset, uint64_t size,
                  std::string_view key, std::string* buf, RecordHeader* h,
                  std::string_view* stored_value) {
  buf->resize(static_cast<size_t>(size));
  std::string_view got;
  Status s = file->Read(offset, buf->size(), buf->data(), &got);
  if (!s.ok()) return s;
  if (got.size() != size) return Status::Corruption("record cut short by end of file");
  std::string_view k;
  s = ParseRecord(got, h, &k, stored_value);
  if (!s.ok()) return s;
  if (k != key) return Status::Corruption("record holds a different key");
  return Status::OK();
}

Status ReadValueRange(const RandomAccessFile* file, const KeydirEntry& e, std::string_view key,
                      uint64_t offset, size_t n, std::string* out) {
  out->clear();
  const uint64_t len = e.value_len;
  if (offset >= len || n == 0) return Status::OK();
  const uint64_t end = std::min<uint64_t>(len, offset + n);
  std::string buf;
  if (!(e.flags & kFlagBlockChecksums)) {
    RecordHeader h;
    std::string_view stored;
    Status s = ReadRecord(file, e.offset, EntryRecordSize(key.size(), e), key, &buf, &h,
                          &stored);
    if (!s.ok()) return s;
    std::string value;
    s = DecodeValue(h, stored, &value);
    if (s.ok()) out->assign(value, static_cast<size_t>(offset), static_cast<size_t>(end - offset));
    return s;
  }
  const uint64_t value_at = e.offset + EntryValueOffset(key.size(), e);
  const uint64_t first = offset / kBlockSize, last = (end - 1) / kBlockSize;
  const uint64_t data_from = first * kBlockSize;
  const uint64_t data_to = std::min<uint64_t>(len, (last + 1) * kBlockSize);
  buf.resize(static_cast<size_t>(data_to - data_from));
  std::string_view data;
  Status s = file->Read(value_at + data_from, buf.size(), buf.data(), &data);
  if (!s.ok()) return s;
  char table[4096];
  const uint64_t blocks = last - first + 1;
  std::string big_table;
  char* tp = table;
  if (blocks * 4 > sizeof(table)) {
    big_table.resize(static_cast<size_t>(blocks * 4));
    tp = big_table.data();
  }
  std::string_view crcs;
  s = file->Read(value_at + len + first * 4, static_cast<size_t>(blocks * 4), tp, &crcs);
  if (!s.ok()) return s;
  if (data.size() != buf.size() || crcs.size() != blocks * 4) {
    return Status::Corruption("value cut short by end of file");
  }
  for (uint64_t b = 0; b < blocks; b++) {
    const size_t at = static_cast<size_t>(b * kBlockSize);
    const size_t bn = std::min<size_t>(kBlockSize, data.size() - at);
    if (Crc32(0, data.data() + at, bn) != DecodeFixed32(crcs.data() + 4 * b)) {
      return Status::Corruption("block checksum mismatch at value offset " +
                                std::to_string(data_from + at));
    }
  }
  out->assign(data.data() + (offset - data_from), static_cast<size_t>(end - offset));
  return Status::OK();
}

}  // namespace internal
}  // namespace bitgask
