#include "record.h"

#include <snappy.h>

#include <algorithm>

#include "coding.h"
#include "crc32.h"

namespace bitgask {
namespace internal {

void EncodeHeader(const RecordHeader& h, char* dst) {
  EncodeFixed32(dst, h.crc);
  EncodeFixed64(dst + 4, static_cast<uint64_t>(h.timestamp));
  EncodeFixed64(dst + 12, static_cast<uint64_t>(h.expires));
  EncodeFixed32(dst + 20, h.key_len);
  EncodeFixed32(dst + 24, h.val_len);
  dst[28] = static_cast<char>(h.flags);
  dst[29] = static_cast<char>(h.codec);
  EncodeFixed16(dst + 30, h.reserved);
}

bool DecodeHeader(const char* src, RecordHeader* h) {
  h->crc = DecodeFixed32(src);
  h->timestamp = static_cast<int64_t>(DecodeFixed64(src + 4));
  h->expires = static_cast<int64_t>(DecodeFixed64(src + 12));
  h->key_len = DecodeFixed32(src + 20);
  h->val_len = DecodeFixed32(src + 24);
  h->flags = static_cast<uint8_t>(src[28]);
  h->codec = static_cast<uint8_t>(src[29]);
  h->reserved = DecodeFixed16(src + 30);
  if ((h->flags & ~kKnownFlags) != 0) return false;
  if (h->codec > kCodecSnappy) return false;
  if ((h->codec != kCodecNone) != ((h->flags & kFlagCompressed) != 0)) return false;
  if (h->key_len > 0xFFFF) return false;
  // An empty key only on a batch commit, the clear-all tombstone or the
  // unsynced-predecessor marker.
  if (h->key_len == 0 && h->flags != kFlagBatchCommit && h->flags != kFlagTombstone &&
      h->flags != kFlagsUnsyncedPredecessor) {
    return false;
  }
  if ((h->flags & kFlagOwner) && (h->flags & (kFlagTombstone | kFlagBatchCommit))) return false;
  if ((h->flags & kFlagBlockChecksums) &&
      (h->flags & (kFlagCompressed | kFlagTombstone | kFlagMetaUpdate | kFlagBatchCommit))) {
    return false;
  }
  return true;
}

void EncodeOwner(const RecordHeader& h, char* dst) {
  EncodeFixed32(dst, h.uid);
  EncodeFixed32(dst + 4, h.gid);
}

void DecodeOwner(const char* src, RecordHeader* h) {
  h->uid = DecodeFixed32(src);
  h->gid = DecodeFixed32(src + 4);
}

namespace {

// Writes the header, the key and (with kFlagOwner) the owner block at dst.
void WriteRecordHead(const RecordHeader& h, std::string_view key, char* dst) {
  EncodeHeader(h, dst);
  std::copy(key.begin(), key.end(), dst + kHeaderSize);
  if (h.flags & kFlagOwner) EncodeOwner(h, dst + kHeaderSize + key.size());
}

}  // namespace

std::string EncodeRecordHead(const RecordHeader& h, std::string_view key) {
  std::string head(kHeaderSize + key.size() + OwnerBytes(h.flags), '\0');
  WriteRecordHead(h, key, head.data());
  return head;
}

uint32_t RecordCrc(const char* header, std::string_view key, std::string_view owner,
                   std::string_view value) {
  uint32_t crc = Crc32(0, header + 4, kHeaderSize - 4);
  crc = Crc32(crc, key.data(), key.size());
  crc = Crc32(crc, owner.data(), owner.size());
  return Crc32(crc, value.data(), value.size());
}

uint32_t RecordHeadCrc(std::string_view head) {
  return Crc32(0, head.data() + 4, head.size() - 4);
}

void ResealRecord(const RecordHeader& h, char* record) {
  EncodeHeader(h, record);
  EncodeFixed32(record, Crc32(0, record + 4, static_cast<size_t>(h.RecordSize() - 4)));
}

RecordHeader AppendRecord(std::string* dst, RecordHeader h, std::string_view key,
                          std::string_view value, uint32_t compression_threshold) {
  std::string compressed;
  h.codec = kCodecNone;
  h.flags &= static_cast<uint8_t>(~kFlagCompressed);
  if (compression_threshold > 0 && value.size() >= compression_threshold) {
    snappy::Compress(value.data(), value.size(), &compressed);
    if (compressed.size() < value.size()) {
      value = compressed;
      h.codec = kCodecSnappy;
      h.flags |= kFlagCompressed;
    }
  }
  std::string table;  // block checksums of a large uncompressed value
  h.flags &= static_cast<uint8_t>(~kFlagBlockChecksums);
  if (h.codec == kCodecNone && value.size() > kBlockSize) {
    h.flags |= kFlagBlockChecksums;
    for (size_t off = 0; off < value.size(); off += kBlockSize) {
      size_t n = std::min<size_t>(kBlockSize, value.size() - off);
      PutFixed32(&table, Crc32(0, value.data() + off, n));
    }
  }
  h.key_len = static_cast<uint32_t>(key.size());
  h.val_len = static_cast<uint32_t>(value.size() + table.size());
  // The head is encoded in place: one (amortized) allocation of dst at most.
  const size_t start = dst->size();
  dst->reserve(start + static_cast<size_t>(h.RecordSize()));
  dst->resize(start + static_cast<size_t>(h.ValueOffset()));
  WriteRecordHead(h, key, &(*dst)[start]);
  dst->append(value.data(), value.size());
  dst->append(table);
  h.crc = Crc32(0, dst->data() + start + 4, dst->size() - start - 4);
  EncodeFixed32(&(*dst)[start], h.crc);
  return h;
}

Status ParseRecord(std::string_view record, RecordHeader* h, std::string_view* key,
                   std::string_view* stored_value) {
  if (record.size() < kHeaderSize || !DecodeHeader(record.data(), h)) {
    return Status::Corruption("bad record header");
  }
  if (h->RecordSize() != record.size()) return Status::Corruption("record length mismatch");
  if (Crc32(0, record.data() + 4, record.size() - 4) != h->crc) {
    return Status::Corruption("checksum mismatch");
  }
  *key = record.substr(kHeaderSize, h->key_len);
  if (h->flags & kFlagOwner) DecodeOwner(record.data() + kHeaderSize + h->key_len, h);
  *stored_value = record.substr(h->ValueOffset(), h->val_len);
  return Status::OK();
}

bool BlockValueLength(uint64_t stored_len, uint32_t* len) {
  const uint64_t blocks = (stored_len + kBlockSize + 3) / (kBlockSize + 4);
  if (stored_len < 4 * blocks) return false;
  const uint64_t d = stored_len - 4 * blocks;
  if (d + 4 * ((d + kBlockSize - 1) / kBlockSize) != stored_len || d > 0xFFFFFFFFu) return false;
  *len = static_cast<uint32_t>(d);
  return true;
}

namespace {

// Snappy's densest element is a 3-byte copy of 64 bytes, so s stored bytes
// decode to fewer than 22 * s. A longer declared length is damage, and must
// never size an allocation (a valid CRC does not make a file trustworthy).
bool PlausibleSnappyLength(uint64_t logical_len, uint64_t stored_len) {
  return logical_len / 22 <= stored_len;
}

}  // namespace

Status DecodeValue(const RecordHeader& h, std::string_view stored, std::string* out) {
  if (h.flags & kFlagBlockChecksums) {
    uint32_t len = 0;
    if (!BlockValueLength(stored.size(), &len)) return Status::Corruption("bad block table");
    out->assign(stored.data(), len);
    return Status::OK();
  }
  if (h.codec == kCodecNone) {
    out->assign(stored.data(), stored.size());
    return Status::OK();
  }
  size_t n = 0;
  std::string value;
  if (!snappy::GetUncompressedLength(stored.data(), stored.size(), &n) ||
      !PlausibleSnappyLength(n, stored.size()) ||
      !snappy::Uncompress(stored.data(), stored.size(), &value)) {
    return Status::Corruption("bad snappy data");
  }
  out->swap(value);
  return Status::OK();
}

Status LogicalValueLength(const RecordHeader& h, std::string_view stored_prefix, uint32_t* len) {
  if (h.flags & kFlagBlockChecksums) {
    return BlockValueLength(h.val_len, len) ? Status::OK()
                                            : Status::Corruption("bad block table length");
  }
  if (h.codec == kCodecNone) {
    *len = h.val_len;
    return Status::OK();
  }
  size_t n = 0;
  if (!snappy::GetUncompressedLength(stored_prefix.data(), stored_prefix.size(), &n) ||
      n > 0xFFFFFFFFu || !PlausibleSnappyLength(n, h.val_len)) {
    return Status::Corruption("bad snappy length");
  }
  *len = static_cast<uint32_t>(n);
  return Status::OK();
}

}  // namespace internal
}  // namespace bitgask
