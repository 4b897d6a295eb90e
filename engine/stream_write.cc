// Values written a piece at a time: DB::PutFrom, DB::PutFromFile and
// WriteBatch::Copy.
//
// A record's CRC sits in its header, before the value, so a streamed value
// is read twice: once by the caller's thread to checksum it (outside the
// commit queue), and once by the commit leader to append it, checked again
// against the first CRC. The record CRC is put together from the CRCs of
// its parts with crc32_combine, so neither pass holds the whole value.
// PutFromFile with the caller's block CRCs skips the first pass, and its
// second is a copy from the caller's file inside the kernel
// (WritableFile::AppendFrom); the copy is read back from the data file (the
// page cache) and checked block by block against the CRCs the record was
// sealed with, so a caller's wrong CRC or a file changed under the copy
// fails the put like a changed second read: never a sealed record that
// reads as corrupt.
//
// A streamed record is appended by a leader alone (BuildGroup never groups
// it). If its second pass fails, the record is left unfinished at the end of
// the active file; the error is sticky (Commit), so nothing is appended
// after it, and recovery truncates it at the next open.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "coding.h"
#include "crc32.h"
#include "db_impl.h"
#include "record.h"

namespace bitgask {
namespace internal {

namespace {

// Bytes read or written per piece; a multiple of kBlockSize, so a piece
// holds whole checksum blocks.
constexpr size_t kStreamChunk = 1 << 20;
// A copied value stored in at most this many bytes is read whole into the
// batch; a larger one is streamed.
constexpr uint32_t kInlineCopyMax = 64 * 1024;

// Reads n bytes at offset of file into dst; Corruption when the file ends first.
Status ReadExactly(const RandomAccessFile& file, uint64_t offset, size_t n, char* dst) {
  std::string_view got;
  Status s = file.Read(offset, n, dst, &got);
  if (!s.ok()) return s;
  if (got.size() != n) return Status::Corruption("record cut short");
  if (got.data() != dst) std::memcpy(dst, got.data(), n);
  return Status::OK();
}

// Checks bytes [value_off, value_off + n) of a copied value, which landed
// at offset `at` of the data file `dest`, against the CRCs its record was
// sealed with: block b's in `table` (4 bytes each, from the value's first
// block), or `value_crc` for a value of one block (no table). value_off and
// n are multiples of kBlockSize but for the value's end. Reads the bytes
// back (from the page cache, where the copy just put them) into buf
// (kStreamChunk bytes).
Status CheckCopiedValue(const RandomAccessFile& dest, uint64_t at, uint64_t value_off, uint64_t n,
                        uint32_t value_crc, std::string_view table, char* buf) {
  for (uint64_t done = 0; done < n;) {
    const size_t piece = static_cast<size_t>(std::min<uint64_t>(kStreamChunk, n - done));
    Status s = ReadExactly(dest, at + done, piece, buf);
    if (!s.ok()) return s;
    for (size_t b = 0; b < piece; b += kBlockSize) {
      const uint64_t block = (value_off + done + b) / kBlockSize;
      const uint32_t want = table.empty() ? value_crc : DecodeFixed32(&table[4 * block]);
      if (Crc32(0, buf + b, std::min<size_t>(kBlockSize, piece - b)) != want) {
        return Status::Corruption("the value's bytes changed while being stored: block " +
                                  std::to_string(block) +
                                  " as copied does not match its checksum");
      }
    }
    done += piece;
  }
  return Status::OK();
}

}  // namespace

static_assert(DB::kValueBlockBytes == kBlockSize, "PutFromFile's blocks are the record's");

Status DBImpl::PutFrom(const WriteOptions& wo, std::string_view key, uint64_t size,
                       const ValueReader& read) {
  return PutStreamed(wo, key, size, read, -1, nullptr);
}

Status DBImpl::PutFromFile(const WriteOptions& wo, std::string_view key, int fd, uint64_t size,
                           const std::vector<uint32_t>* block_crcs) {
  if (fd < 0) return Status::InvalidArgument("PutFromFile needs an open file");
  ValueReader read = [fd](uint64_t off, size_t n, char* dst) {
    while (n > 0) {
      ssize_t r = ::pread(fd, dst, n, static_cast<off_t>(off));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Status::IOError("reading the value's file", errno);
      if (r == 0) return Status::IOError("the value's file ends before its size", EIO);
      dst += r;
      n -= static_cast<size_t>(r);
      off += static_cast<uint64_t>(r);
    }
    return Status::OK();
  };
  return PutStreamed(wo, key, size, read, fd, block_crcs);
}

Status DBImpl::PutStreamed(const WriteOptions& wo, std::string_view key, uint64_t size,
                           const ValueReader& read, int fd,
                           const std::vector<uint32_t>* block_crcs) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  Status s = CheckKey(key);
  if (!s.ok()) return s;
  if (size > options_.max_value_size) {
    return Status::TooLarge("value of " + std::to_string(size) + " bytes is over max_value_size (" +
                            std::to_string(options_.max_value_size) + ")");
  }
  const bool blocks = size > kBlockSize;
  const uint64_t block_count = (size + kBlockSize - 1) / kBlockSize;
  const uint64_t table_len = blocks ? 4 * block_count : 0;
  if (kHeaderSize + key.size() + kOwnerBytes + size + table_len > kMaxFileSizeLimit) {
    return Status::TooLarge("value of " + std::to_string(size) +
                            " bytes does not fit a record (4 GiB with its checksums)");
  }
  if (wo.ttl.count() < 0 || wo.expires_at_unix_ns < 0) {
    return Status::InvalidArgument("expiry must not be negative");
  }

  std::string table;
  uint32_t value_crc = 0;
  if (block_crcs != nullptr) {
    // The caller's block CRCs: the value's CRC is put together from them.
    if (block_crcs->size() != block_count) {
      return Status::InvalidArgument("PutFromFile: " + std::to_string(block_crcs->size()) +
                                     " block CRCs for " + std::to_string(block_count) +
                                     " blocks");
    }
    for (uint64_t b = 0; b < block_count; b++) {
      const uint32_t crc = (*block_crcs)[b];
      const uint64_t len = std::min<uint64_t>(kBlockSize, size - b * kBlockSize);
      value_crc = Crc32Combine(value_crc, crc, len);
      if (blocks) PutFixed32(&table, crc);
    }
  } else {
    // First pass: the value's CRC and its block checksums.
    std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(size, kStreamChunk)));
    for (uint64_t off = 0; off < size;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kStreamChunk, size - off));
      s = read(off, n, buf.data());
      if (!s.ok()) return s;
      value_crc = Crc32(value_crc, buf.data(), n);
      for (size_t b = 0; blocks && b < n; b += kBlockSize) {
        PutFixed32(&table, Crc32(0, buf.data() + b, std::min<size_t>(kBlockSize, n - b)));
      }
      off += n;
    }
  }

  const int64_t now = env_->NowUnixNanos();
  RecordHeader h;
  h.timestamp = wo.timestamp_unix_ns != 0 ? wo.timestamp_unix_ns : now;
  h.expires = ExpiryFor(wo, now);
  h.reserved = wo.mode;
  h.flags = blocks ? kFlagBlockChecksums : 0;
  SetRecordOwner(wo.owner, &h);
  h.key_len = static_cast<uint32_t>(key.size());
  h.val_len = static_cast<uint32_t>(size + table_len);

  Writer w;
  w.sync = SyncFor(wo.sync, options_.sync_on_put);
  w.records = EncodeRecordHead(h, key);
  uint32_t crc = Crc32Combine(RecordHeadCrc(w.records), value_crc, size);
  crc = Crc32(crc, table.data(), table.size());
  EncodeFixed32(w.records.data(), crc);
  w.streams.push_back(Stream{w.records.size(), size, value_crc, read, fd});
  w.stream_bytes = size;
  w.records += table;

  KeydirEntry e = EntryForRecord(h, static_cast<uint32_t>(size));
  w.ops.push_back(PendingOp{LogOp::kPut, 0, key, e, 0, static_cast<uint32_t>(w.Size())});
  puts_++;
  return Commit(&w);
}

Status DBImpl::EncodeCopy(std::string_view from, std::string_view to, int64_t /*now*/,
                          Writer* w) {
  Status s = CheckKey(from);
  if (!s.ok()) return s;
  for (int attempt = 0; attempt < 3; attempt++) {
    KeydirEntry src;
    s = Lookup(from, &src);
    if (!s.ok()) return Status::NotFound("copy source not found: " + std::string(from));
    std::shared_ptr<RandomAccessFile> file = FileFor(src.file_id);
    if (!file) continue;  // merged away under us: look again

    // The source header, key and owner block (checked against the keydir).
    const uint64_t value_offset = EntryValueOffset(from.size(), src);
    std::string head(static_cast<size_t>(value_offset), '\0');
    s = AtRecord(src, ReadExactly(*file, src.offset, head.size(), head.data()));
    if (!s.ok()) return s;
    RecordHeader old;
    if (!DecodeHeader(head.data(), &old) || old.key_len != from.size() ||
        old.val_len != src.disk_len || old.ValueOffset() != value_offset ||
        std::string_view(head).substr(kHeaderSize, from.size()) != from) {
      return AtRecord(src, Status::Corruption("record does not match the keydir"));
    }
    const uint64_t stored_at = src.offset + value_offset;

    // The copy keeps the value as stored and takes its metadata (owner
    // included) from the keydir.
    RecordHeader h = old;
    h.timestamp = src.timestamp;
    h.expires = src.expires;
    h.reserved = src.mode;
    h.flags = static_cast<uint8_t>((old.flags & (kFlagCompressed | kFlagBlockChecksums)) |
                                   kFlagBatch);
    SetRecordOwner(src.has_owner() ? std::optional<Owner>(Owner{src.uid, src.gid})
                                   : std::nullopt,
                   &h);
    h.key_len = static_cast<uint32_t>(to.size());

    const uint64_t rel = w->Size();
    const size_t start = w->records.size();
    w->records += EncodeRecordHead(h, to);
    if (old.val_len <= kInlineCopyMax) {
      w->records.resize(w->records.size() + old.val_len);
      char* stored = &w->records[w->records.size() - old.val_len];
      s = ReadExactly(*file, stored_at, old.val_len, stored);
      if (s.ok() && Crc32(RecordHeadCrc(head), stored, old.val_len) != old.crc) {
        s = Status::Corruption("checksum mismatch");
      }
      if (!s.ok()) return AtRecord(src, s);
      ResealRecord(h, &w->records[start]);
    } else {
      // Check the source record whole before anything is written.
      std::vector<char> buf(kStreamChunk);
      uint32_t stored_crc = 0;
      for (uint64_t off = 0; off < old.val_len;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kStreamChunk, old.val_len - off));
        s = ReadExactly(*file, stored_at + off, n, buf.data());
        if (!s.ok()) return AtRecord(src, s);
        stored_crc = Crc32(stored_crc, buf.data(), n);
        off += n;
      }
      if (Crc32Combine(RecordHeadCrc(head), stored_crc, old.val_len) != old.crc) {
        return AtRecord(src, Status::Corruption("checksum mismatch"));
      }
      const std::string_view new_head = std::string_view(w->records).substr(start);
      EncodeFixed32(&w->records[start],
                    Crc32Combine(RecordHeadCrc(new_head), stored_crc, old.val_len));
      // The file stays readable through `file` even if a merge removes it.
      ValueReader read = [file, stored_at](uint64_t off, size_t n, char* dst) {
        return ReadExactly(*file, stored_at + off, n, dst);
      };
      w->streams.push_back(Stream{w->records.size(), old.val_len, stored_crc, std::move(read)});
      w->stream_bytes += old.val_len;
    }
    KeydirEntry e = EntryForRecord(h, src.value_len);
    w->ops.push_back(PendingOp{LogOp::kPut, 0, to, e, static_cast<uint32_t>(rel),
                               static_cast<uint32_t>(w->Size() - rel)});
    return Status::OK();
  }
  return Status::IOError("data file for key vanished repeatedly");
}

Status DBImpl::AppendStreams(const Writer& w) {
  static_assert(kFlushEvery % kStreamChunk == 0 && kStreamChunk % kBlockSize == 0,
                "a copied piece holds whole checksum blocks");
  std::vector<char> buf(kStreamChunk);
  size_t pos = 0;  // bytes of w.records appended so far
  uint64_t since_flush = 0;
  for (const Stream& st : w.streams) {
    Status s = active_->Append(std::string_view(w.records).substr(pos, st.at - pos));
    if (!s.ok()) return s;
    pos = st.at;
    if (st.fd >= 0) {
      // Copied inside the kernel where it can, a flush's worth at a time,
      // each piece checked as it landed before the next one is copied.
      const std::shared_ptr<RandomAccessFile> dest = FileFor(active_id_);
      if (!dest) return Status::IOError("the active data file is not open for reading");
      const std::string_view table =
          st.len > kBlockSize ? std::string_view(w.records).substr(st.at) : std::string_view();
      for (uint64_t off = 0; off < st.len;) {
        const uint64_t n = std::min<uint64_t>(kFlushEvery, st.len - off);
        const uint64_t at = active_->Size();
        s = active_->AppendFrom(st.fd, off, n);
        if (s.ok()) s = CheckCopiedValue(*dest, at, off, n, st.crc, table, buf.data());
        if (!s.ok()) return s;
        off += n;
        std::lock_guard<std::mutex> l(bg_mu_);
        flush_wanted_ = true;
        bg_cv_.notify_one();
      }
      continue;
    }
    uint32_t crc = 0;
    for (uint64_t off = 0; off < st.len;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kStreamChunk, st.len - off));
      s = st.read(off, n, buf.data());
      if (!s.ok()) return s;
      crc = Crc32(crc, buf.data(), n);
      s = active_->Append(std::string_view(buf.data(), n));
      if (!s.ok()) return s;
      off += n;
      // Let the background thread write the pages out as they pile up.
      since_flush += n;
      if (since_flush >= kFlushEvery) {
        since_flush = 0;
        std::lock_guard<std::mutex> l(bg_mu_);
        flush_wanted_ = true;
        bg_cv_.notify_one();
      }
    }
    if (crc != st.crc) {
      return Status::Corruption("a streamed value changed between its two reads");
    }
  }
  return active_->Append(std::string_view(w.records).substr(pos));
}

}  // namespace internal
}  // namespace bitgask
