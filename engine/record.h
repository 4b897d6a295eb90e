// The on-disk record: a 32-byte header, the key, the value (docs/Format.md).
//
//   crc32 (4) | ts_unix_nano (8) | expires_unix_nano (8) | key_len (4) |
//   val_len (4) | flags (1) | codec (1) | reserved (2) | key | [owner (8)] | value
//
// Little-endian; the CRC-32 covers every byte after the CRC field. The
// reserved field holds the key's mode bits; the owner block (uid, gid; 4
// bytes each) is there only when the kFlagOwner bit is set.
#ifndef BITGASK_ENGINE_RECORD_H_
#define BITGASK_ENGINE_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bitgask/status.h"

namespace bitgask {
namespace internal {

constexpr size_t kHeaderSize = 32;

// Record flags (header byte 28).
enum RecordFlag : uint8_t {
  // The key was deleted; no value. With an empty key: every key written
  // before this record is deleted (DeleteAll).
  kFlagTombstone = 0x01,
  kFlagCompressed = 0x02,  // the value is compressed with `codec`
  // Changes the live key's metadata without rewriting its value. The value is
  // one byte, a mask of kMeta* bits saying which header fields apply.
  kFlagMetaUpdate = 0x04,
  kFlagBatch = 0x08,        // part of an atomic batch, valid only once committed
  kFlagBatchCommit = 0x10,  // closes a batch; the value holds the record count
  // The value is followed by a CRC-32 of each kBlockSize block of it, so a
  // byte range can be read and checked without reading the whole value.
  // Set on every uncompressed value larger than one block.
  kFlagBlockChecksums = 0x20,
  // An owner block (uid, gid) follows the key. Never on a tombstone or a
  // batch commit record.
  kFlagOwner = 0x40,
};
constexpr uint8_t kKnownFlags = 0x7F;
// The flags of the "predecessor may be unsynced" marker: the first record of
// a data file begun while the file before it was still being synced in the
// background (DBImpl::Rotate). An empty key and an 8-byte value: the
// predecessor's file id and its size when it was closed for appends (both
// 32-bit). Only valid at offset 0; it changes no key (scans skip it) and
// tells recovery that a power cut may have cut that predecessor short
// (docs/Format.md, "Recovery rules"). Builds before it refuse the record.
constexpr uint8_t kFlagsUnsyncedPredecessor = kFlagTombstone | kFlagBatchCommit;
constexpr uint32_t kUnsyncedPredecessorValueSize = 8;
constexpr uint32_t kOwnerBytes = 8;
inline uint32_t OwnerBytes(uint8_t flags) { return (flags & kFlagOwner) ? kOwnerBytes : 0; }
constexpr uint32_t kBlockSize = 64 * 1024;

// Which fields a metadata-update record changes.
enum MetaMask : uint8_t {
  kMetaTimestamp = 0x01,
  kMetaExpires = 0x02,
  kMetaMode = 0x04,
  kMetaOwner = 0x08,  // the record's owner block (it has kFlagOwner)
};

enum Codec : uint8_t { kCodecNone = 0, kCodecSnappy = 1 };

struct RecordHeader {
  uint32_t crc = 0;
  int64_t timestamp = 0;
  int64_t expires = 0;
  uint32_t key_len = 0;
  uint32_t val_len = 0;  // bytes of value as stored
  uint8_t flags = 0;
  uint8_t codec = kCodecNone;
  uint16_t reserved = 0;  // mode bits
  // Not part of the 32 bytes: the owner block, when flags has kFlagOwner.
  uint32_t uid = 0;
  uint32_t gid = 0;

  // Where the value starts, from the record's first byte.
  uint64_t ValueOffset() const { return kHeaderSize + key_len + OwnerBytes(flags); }
  uint64_t RecordSize() const { return ValueOffset() + val_len; }
};

// The most bytes a value of len bytes takes as stored (with its block
// checksums when it is not compressed).
inline uint64_t MaxStoredLength(uint64_t len) {
  return len > kBlockSize ? len + 4 * ((len + kBlockSize - 1) / kBlockSize) : len;
}

// Writes the header's 32 bytes (with h.crc as given) to dst.
void EncodeHeader(const RecordHeader& h, char* dst);
// Reads 32 bytes. Returns false when the header cannot be valid (unknown flag
// bits or codec); lengths are checked by the caller against the file.
bool DecodeHeader(const char* src, RecordHeader* h);

// The owner block's 8 bytes (h.uid, h.gid), and back.
void EncodeOwner(const RecordHeader& h, char* dst);
void DecodeOwner(const char* src, RecordHeader* h);

// Writes the header and (when h has kFlagOwner) the owner block, then the
// key: the bytes of a record before its value. The CRC field is h.crc.
std::string EncodeRecordHead(const RecordHeader& h, std::string_view key);

// The CRC of a record: header bytes 4..31, then key, owner block and value.
uint32_t RecordCrc(const char* header, std::string_view key, std::string_view owner,
                   std::string_view value);
// The same for a record whose head (EncodeRecordHead) is in one piece.
uint32_t RecordHeadCrc(std::string_view head);

// Rewrites the 32-byte header of a whole record held in memory (`record`
// points at its first byte, laid out as h's lengths and owner flag say; the
// owner block is left as it is) and recomputes its CRC. For copies that
// change metadata but not the bytes.
void ResealRecord(const RecordHeader& h, char* record);

// Appends a complete record to *dst. `h` gives timestamp, expires, flags
// (tombstone/meta/batch/owner bits), reserved and the owner; crc, lengths and codec are filled
// in. A value of at least compression_threshold bytes (threshold > 0) is
// compressed with snappy when that makes it smaller. Returns the header
// actually written.
RecordHeader AppendRecord(std::string* dst, RecordHeader h, std::string_view key,
                          std::string_view value, uint32_t compression_threshold);

// Checks a whole record held in memory (header + key + owner + value) and
// returns views of its key and stored value (the owner is in *h). Corruption
// when the CRC does not match.
Status ParseRecord(std::string_view record, RecordHeader* h, std::string_view* key,
                   std::string_view* stored_value);

// Turns a stored value into the logical one (decompressing, or dropping the
// block checksums, as needed). *out is left unchanged on failure, and its
// capacity is reused.
Status DecodeValue(const RecordHeader& h, std::string_view stored, std::string* out);

// For a value stored with block checksums: its logical length from the
// stored length L = d + 4 * ceil(d / kBlockSize). False if L fits no d.
bool BlockValueLength(uint64_t stored_len, uint32_t* len);
// The logical length of a stored value, from the snappy preamble when
// compressed (needs only the first bytes of the stored value).
Status LogicalValueLength(const RecordHeader& h, std::string_view stored_prefix, uint32_t* len);

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_RECORD_H_
