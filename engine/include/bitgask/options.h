// Options: how a store is opened (Options) and how one write behaves
// (WriteOptions). Every field has a default that is safe for data first.
#ifndef BITGASK_OPTIONS_H_
#define BITGASK_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bitgask/status.h"

namespace bitgask {

class Env;

// Options given to DB::Open. docs/Options.md lists each with its CLI flag and
// mount option name.
struct Options {
  // Durability. With sync_on_put (and sync_on_delete for deletes) a write is
  // fsynced before it is acknowledged, so it survives power loss: like write()
  // followed by fdatasync(). Without it, the bytes are handed to the operating
  // system before the call returns: they survive a crash of the process
  // (kill -9) but not of the machine, unless a Sync() or the background
  // sync_interval ran after them.
  bool sync_on_put = true;
  bool sync_on_delete = true;
  // When non-zero, a background thread syncs the active file this often.
  std::chrono::milliseconds sync_interval{0};

  // The active data file is closed and a new one started when the next record
  // would take it past this size. At most 4 GiB - 1 (offsets are 32-bit); a
  // single record larger than this gets a file of its own.
  uint64_t max_data_file_size = 256ull << 20;

  // Limits. A key must be 1..max_key_size bytes (at most 65535), a value at
  // most max_value_size bytes (at most 4 GiB - 1, the format's limit).
  uint32_t max_key_size = 4096;
  uint32_t max_value_size = 0xFFFFFFFFu;

  // Values of at least this many bytes are compressed with snappy; the
  // compressed form is kept only when it is smaller. 0 turns compression off.
  uint32_t compression_threshold = 256;

  // TTL given to every Put that sets none; 0 means keys never expire.
  std::chrono::nanoseconds default_ttl{0};

  // Hint files: written for every closed data file and read at open to build
  // the keydir without scanning data. A missing or damaged hint is ignored and
  // its data file scanned instead.
  bool use_hint_files = true;
  // Scan (and check) every data file at open instead of reading hints.
  bool validate_on_open = false;

  // Point reads (Get, GetRange) of records up to 64 KiB copy them out of a
  // read-only memory map of each data file instead of calling pread: no
  // system call per read. The record's CRC is checked all the same. The
  // pages read so count in the process's resident size (page cache, not
  // heap). The cost: should the disk fail to read a page that is not
  // cached, the process gets SIGBUS instead of an IOError. Off: every read
  // is a pread.
  bool mmap_reads = true;

  // Appends to the active data file copy the records into a shared memory
  // mapping of it instead of calling writev: no system call per write. A
  // record is in the page cache when the write returns either way (it
  // survives a killed process; sync decides about power loss). Space is
  // allocated ahead in 4 MiB chunks, so a full disk fails the write with an
  // IOError; a killed process leaves the chunk's unused zero-filled tail,
  // which open truncates. Off, or where the file system has no fallocate:
  // one writev per write or group.
  bool mmap_writes = true;

  // How long Open waits for another process to release the store's lock.
  // 0 fails at once.
  std::chrono::milliseconds lock_timeout{0};

  // Merge (compaction); see docs/Operations.md.
  std::chrono::milliseconds merge_interval{std::chrono::minutes(10)};  // 0: never in background
  double merge_trigger_ratio = 0.6;   // dead/total at or above which a merge runs
  uint64_t merge_min_total = 64ull << 20;  // and total bytes at or above this
  bool merge_on_open = false;

  // Create the store when it does not exist.
  bool create_if_missing = true;
  // Refuse to open a store that has nothing yet (for tools that must not create).
  bool error_if_missing = false;

  // File, clock and lock access; nullptr means Env::Default(). Tests inject
  // faults here. The Env must outlive the DB.
  Env* env = nullptr;
};

// A file's owner kept with a key (used by the filesystem).
struct Owner {
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool operator==(const Owner& o) const { return uid == o.uid && gid == o.gid; }
  bool operator!=(const Owner& o) const { return !(*this == o); }
};

// Per-write options. A default-constructed WriteOptions does what
// Options says (sync_on_put / sync_on_delete, default_ttl).
struct WriteOptions {
  enum class Sync : unsigned char { kDefault, kAlways, kNever };
  Sync sync = Sync::kDefault;

  // Expiry: a relative ttl (> 0), or an absolute expires_at_unix_ns (> 0). When
  // both are 0 the store's default_ttl applies.
  std::chrono::nanoseconds ttl{0};
  int64_t expires_at_unix_ns = 0;

  // File mode bits to keep with the key (type and permissions, as st_mode's low
  // 16 bits); 0 means none. Used by the filesystem.
  uint16_t mode = 0;
  // The record's timestamp (the file's mtime); 0 means now.
  int64_t timestamp_unix_ns = 0;
  // The owner to keep with the key; none by default (8 bytes more on disk
  // and in memory when given).
  std::optional<Owner> owner;
};

// ---- Options by name, from text: one parser for every program (mount -o,
// command-line flags, server flags), so each option has one name and one
// syntax everywhere (docs/Options.md):
//   booleans   true/false, yes/no, on/off, 1/0
//   sizes      a whole number of bytes with an optional K, M or G (x1024)
//   durations  a whole number with an optional unit ms, s, m or h; a bare
//              number is seconds ("merge_interval=60" is a minute)
//   ratios     a decimal number
// Returns InvalidArgument naming the option ("unknown option X", "bad value
// for X: Y (...)") and leaves *o unchanged on error. `env` has no text form.
Status SetOptionFromString(Options* o, std::string_view name, std::string_view value);
// The names SetOptionFromString accepts, in docs/Options.md's order.
const std::vector<std::string>& OptionNames();

}  // namespace bitgask

#endif  // BITGASK_OPTIONS_H_
