// Hint files: the keydir effect of every record of one closed data file, so
// open can rebuild the keydir without reading values (docs/Format.md).
//
// entry:   ts (8) | expires (8) | offset (4) | disk_len (4) | value_len (4) |
//          record_size (4) | key_len (2) | kind (1) | meta_mask (1) |
//          flags (1) | mode (2) | key
// trailer: entry_count (8) | crc32 of every byte before it (4) | "BGKHINT1" (8)
#ifndef BITGASK_ENGINE_HINT_FILE_H_
#define BITGASK_ENGINE_HINT_FILE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bitgask/env.h"
#include "data_file.h"

namespace bitgask {
namespace internal {

// Writes a hint file as path + ".tmp", then syncs and renames it into place.
//
// With sort_by_key, the entries are written in key order (a stable sort, so
// a key's entries keep their log order) instead of the order of Add: open
// then builds the keydir in key order, which is faster than in random order
// (docs/Benchmarks.md). Replaying a file's entries in either
// order gives the same keydir, because entries of different keys commute;
// a DeleteAll marker (kClear) does not, so a file holding one is written in
// log order. The sorted writer holds every entry in memory until Finish
// (about 40 bytes plus the key per record of the data file); the unsorted one
// streams.
class HintWriter {
 public:
  HintWriter(Env* env, std::string path, bool sort_by_key = false);
  Status Open();
  Status Add(const LogOp& op);
  // Writes the trailer, syncs, renames into place and syncs the directory.
  Status Finish(const std::string& dir);

 private:
  Status Flush();
  // Sorted mode: writes the held entries in key order (log order with a kClear).
  Status WriteSorted();

  Env* env_;
  std::string path_;
  const bool sort_by_key_;
  std::unique_ptr<WritableFile> file_;
  std::string buf_;
  std::vector<size_t> starts_;  // sorted mode: where each entry starts in buf_
  bool has_clear_ = false;
  uint32_t crc_ = 0;
  uint64_t count_ = 0;
};

// One hint entry as decoded in place: key points into the reader's bytes and
// is valid as long as the reader.
struct HintEntry {
  std::string_view key;
  LogOp::Kind kind = LogOp::kPut;
  uint8_t meta_mask = 0;
  uint32_t record_size = 0;
  KeydirEntry entry;
};

// A hint file checked whole before any entry is used: Open fails
// (Corruption) when the trailer or the checksum is wrong. The bytes are
// mapped when the Env can map the file (the POSIX Env; read sequentially,
// so the mapping asks for read-ahead), else read into one buffer held until
// the reader is destroyed (about 40 bytes plus the key per entry). Through a
// mapping, an I/O error of the disk or the file cut short by another process
// while it is read raises SIGBUS, as for data files read through mappings.
class HintFileReader {
 public:
  Status Open(Env* env, const std::string& path);
  // Calls fn for each entry in order (entry.file_id = file_id). Entries that
  // are malformed behind a matching checksum (only a writer bug makes them)
  // are Corruption, found while parsing, after fn may have seen earlier
  // entries: callers fall back to scanning the data file, and replaying a
  // file's ops again is harmless. May be called more than once.
  Status ForEach(uint32_t file_id, const std::function<void(const HintEntry&)>& fn) const;
  // Decodes every entry, calling fn for each, and says whether the keys are
  // in key order (each key >= the one before; a DeleteAll entry, which does
  // not commute with the others, counts as out of order). Corruption as
  // ForEach. After it succeeded, Next cannot fail.
  Status Check(uint32_t file_id, const std::function<bool(const HintEntry&)>& fits,
               bool* key_ordered) const;
  // The entry at *pos (start at 0) into *e, advancing *pos; false at the
  // end or at a malformed entry (which Check reports).
  bool Next(size_t* pos, uint32_t file_id, HintEntry* e) const;

 private:
  std::string path_;
  std::unique_ptr<RandomAccessFile> file_;  // owns the mapping, if any
  std::string buf_;         // the bytes when not mapped
  std::string_view bytes_;  // the entries, without the trailer
  uint64_t count_ = 0;
};

// HintFileReader::Open, then ForEach.
Status ReadHintFile(Env* env, const std::string& path, uint32_t file_id,
                    const std::function<void(LogOp&)>& fn);

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_HINT_FILE_H_
