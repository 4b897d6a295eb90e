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

// A hint file read into memory in one pass and checked whole: Open fails
// (Corruption) when the trailer or the checksum is wrong, before any entry is
// parsed. Holds the file's bytes (about 40 bytes plus the key per entry) until
// destroyed.
class HintFileReader {
 public:
  Status Open(Env* env, const std::string& path);
  // Calls fn for each entry in order (entry.file_id = file_id). Entries that
  // are malformed behind a matching checksum (only a writer bug makes them)
  // are Corruption, found while parsing, after fn may have seen earlier
  // entries: callers fall back to scanning the data file, and replaying a
  // file's ops again is harmless. May be called more than once.
  Status ForEach(uint32_t file_id, const std::function<void(LogOp&)>& fn) const;

 private:
  std::string path_;
  std::string buf_;  // the entries, without the trailer
  uint64_t count_ = 0;
};

// HintFileReader::Open, then ForEach.
Status ReadHintFile(Env* env, const std::string& path, uint32_t file_id,
                    const std::function<void(LogOp&)>& fn);

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_HINT_FILE_H_
