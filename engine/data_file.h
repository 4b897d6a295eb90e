// Data files: naming, and reading their records front to back.
//
// A store's data directory holds NNNNNNNNN.data files (9-digit ids, never
// reused) and, for closed files, NNNNNNNNN.hint. Names ending in .tmp are
// unfinished and removed at open.
#ifndef BITGASK_ENGINE_DATA_FILE_H_
#define BITGASK_ENGINE_DATA_FILE_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bitgask/env.h"
#include "bitgask/options.h"
#include "keydir.h"
#include "record.h"

namespace bitgask {
namespace internal {

enum class FileKind { kData, kHint, kTemp, kOther };

std::string DataFileName(const std::string& data_dir, uint32_t id);
std::string HintFileName(const std::string& data_dir, uint32_t id);
// Classifies a directory entry; *id is set for data and hint files.
FileKind ParseFileName(std::string_view name, uint32_t* id);

// The effect of one record on the keydir: what recovery replays, and what a
// hint file stores, one per record.
struct LogOp {
  // kClear: every key is deleted (the DeleteAll marker).
  enum Kind : uint8_t { kPut = 0, kDelete = 1, kMeta = 2, kClear = 3 };
  Kind kind = kPut;
  uint8_t meta_mask = 0;  // kMeta: which fields of entry apply (MetaMask bits)
  std::string key;
  KeydirEntry entry;      // kPut: the whole entry; kMeta: the masked fields
  uint32_t record_size = 0;  // bytes the record occupies in its data file
};

// Reads a data file's records in order, checking each CRC. Large values are
// checked in pieces, never loaded whole. Records of atomic batches are
// returned only once their commit record has been read (a batch cut short
// by the end of the file or by damage is dropped).
class RecordScanner {
 public:
  enum class Result { kOp, kEnd, kBad };

  RecordScanner(const RandomAccessFile* file, uint64_t file_size, uint32_t file_id);

  // kOp: *op holds the next record's effect. kEnd: clean end of file. kBad:
  // the record at bad_offset() is torn or corrupt (error() says which).
  // A file that ends in zero bytes where a record would start ends cleanly
  // there: that is space allocated ahead for an active file (see
  // Env::NewMappedAppendFile) whose writer stopped before truncating it. An
  // all-zero record header never decodes (an empty key needs a flag).
  // An unsynced-predecessor marker (record.h) at offset 0 is checked and
  // skipped: it changes no key. Anywhere else it is kBad.
  Result Next(LogOp* op);
  // After kEnd: the bytes of such a zero tail (0 when there was none); the
  // records end at size - zero_tail().
  uint64_t zero_tail() const { return zero_tail_; }

  // Offset just past the last record returned (committed batches included):
  // where a damaged newest file is truncated.
  uint64_t good_offset() const { return good_offset_; }
  // Where the problem was found: a bad record's start, or the end of the file
  // when it ends inside a batch (a torn tail, not damage).
  uint64_t bad_offset() const { return bad_offset_; }
  // Not OK when kBad came from a failed read rather than from the bytes: the
  // file may be fine and must not be treated as damaged.
  const Status& io_status() const { return io_status_; }
  const std::string& error() const { return error_; }
  uint64_t records() const { return records_; }

  // After kBad: skips to the next offset > bad_offset() where a valid record
  // starts (dropping any open batch) and returns true, or returns false when
  // there is none. Next() then continues from there.
  bool Resync();

 private:
  Result ReadOne(LogOp* op, uint64_t* record_start);
  Result Bad(uint64_t offset, const std::string& why);
  // True when every byte from `from` to the end is zero (then sets
  // zero_tail_); false on another byte or a failed read (*s says).
  bool ZeroTail(uint64_t from, Status* s);
  // Ensures [off, off+n) is in buf_ (n <= kBufferSize); returns a pointer to it.
  const char* Fill(uint64_t off, size_t n, Status* s);

  static constexpr size_t kBufferSize = 1 << 20;
  const RandomAccessFile* file_;
  uint64_t size_;
  uint32_t file_id_;
  uint64_t pos_ = 0;
  uint64_t good_offset_ = 0;
  uint64_t bad_offset_ = 0;
  uint64_t records_ = 0;
  uint64_t zero_tail_ = 0;
  std::string error_;
  Status io_status_;
  std::string buf_;
  uint64_t buf_start_ = 0;
  size_t buf_len_ = 0;
  // Ops of an open batch, held until its commit record arrives.
  std::vector<LogOp> batch_;
  size_t batch_next_ = 0;  // next op of a committed batch to hand out
  bool batch_ready_ = false;
};

// What a data file's unsynced-predecessor marker (record.h) says: the file
// before it, and that file's size when it was closed for appends.
struct PredecessorMark {
  uint32_t id = 0;  // 0: no marker
  uint32_t size = 0;
};
// The marker record (record.h) saying what mark holds.
std::string EncodePredecessorMark(const PredecessorMark& mark, int64_t timestamp);
constexpr uint64_t kPredecessorMarkSize = kHeaderSize + kUnsyncedPredecessorValueSize;
// Whether the file's first record is complete and checks (false for an
// empty or zero-filled file too); *mark is what it says when it is the
// unsynced-predecessor marker.
bool FirstRecordValid(const RandomAccessFile* file, uint64_t file_size, PredecessorMark* mark);

// Finds the first offset > from where a complete record with a valid CRC
// starts; false when there is none (a torn tail, as opposed to damage
// followed by good records).
bool FindValidRecordAfter(const RandomAccessFile* file, uint64_t file_size, uint64_t from,
                          uint64_t* at);
inline bool HasValidRecordAfter(const RandomAccessFile* file, uint64_t file_size, uint64_t from) {
  uint64_t at;
  return FindValidRecordAfter(file, file_size, from, &at);
}

// The keydir entry of a record as written (h as AppendRecord returned it, the
// value's logical length); the caller fills in file id and offset.
KeydirEntry EntryForRecord(const RecordHeader& h, uint32_t value_len);
// Sets h's owner block from an optional owner (kFlagOwner on or off).
void SetRecordOwner(const std::optional<Owner>& owner, RecordHeader* h);

// Where the value of the record `e` points to starts, from the record's
// first byte, and the record's size (the key is keylen bytes).
inline uint64_t EntryValueOffset(size_t keylen, const KeydirEntry& e) {
  return kHeaderSize + keylen + OwnerBytes(e.flags);
}
inline uint64_t EntryRecordSize(size_t keylen, const KeydirEntry& e) {
  return EntryValueOffset(keylen, e) + e.disk_len;
}

// Serves reads of bytes [begin, end) of a data file from its memory map
// (RandomAccessFile::Map) by copying them: no system call. A read outside
// that range is cut short to it, so nothing else of the mapping is touched.
// For a range the keydir vouches for (a complete record, below the file's
// size). The mapping must outlive this object.
class MappedRange final : public RandomAccessFile {
 public:
  MappedRange(std::string_view map, uint64_t begin, uint64_t end)
      : map_(map), begin_(begin), end_(std::min<uint64_t>(end, map.size())) {}
  Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) const override;

 private:
  std::string_view map_;
  uint64_t begin_;
  uint64_t end_;
};

// Reads the record at offset (header + key + owner + value, `size` bytes) and checks
// it: Corruption if the CRC fails or the key differs from `key`.
Status ReadRecord(const RandomAccessFile* file, uint64_t offset, uint64_t size,
                  std::string_view key, std::string* buf, RecordHeader* h,
                  std::string_view* stored_value);

// Reads bytes [offset, offset + n) of the value of the record `e` points to
// (fewer at the value's end). A value stored with block checksums is read
// only in the blocks that cover the range, each checked against its CRC; any
// other value is read whole, its record CRC checked, and decoded. Corruption
// when a check fails: never unchecked bytes.
Status ReadValueRange(const RandomAccessFile* file, const KeydirEntry& e, std::string_view key,
                      uint64_t offset, size_t n, std::string* out);

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_DATA_FILE_H_
