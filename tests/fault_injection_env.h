// FaultInjectionEnv: an Env for tests that simulates power loss, injects I/O
// errors and can replace the clock. (The idea follows LevelDB's fault
// injection test env; this is an independent implementation.)
//
// What is modelled
// ----------------
// Durability of file data. Every file created (NewWritableFile) or opened for
// appending (NewAppendableFile) through this Env is tracked: its size and the
// size known to be durable, i.e. its size at the last successful Sync(). A file
// opened for appending starts with everything already in it counted as durable
// (unless it is still tracked from earlier in this Env's life, in which case
// bytes never synced stay un-synced). A failed Sync() makes nothing durable.
//
// Durability of directory entries. The name of a file created through this Env
// (or the new name given by RenameFile) is durable only after a successful
// SyncDir() of its directory. Files that existed before and were never renamed
// are durable. RemoveFile() is undone by a power loss unless a SyncDir() of the
// directory followed it (the file comes back with its durable content; files
// over 64 MiB are not backed up and stay removed). RenameFile() not followed by
// a SyncDir() is undone: the new name disappears (the file returns to its old
// name only if that name was durable) and a file it replaced comes back.
// With SetTrackDirectories(true), directories made by CreateDir() that did not
// exist before are durable only after a SyncDir() of their parent; a power loss
// removes the others with everything in them.
//
// Simplifications: TruncateFile() is durable at once (a truncated tail never
// comes back). NewWritableFile() over an existing file loses the old content at
// once (the old directory entry stays durable). The LOCK file is not modelled.
//
// Power loss
// ----------
//   env.SetFilesystemActive(false);   // from here on nothing reaches the disk
//   db.reset();                       // the DB's Close() fails harmlessly
//   env.DropUnsyncedData(options);    // what survives the power cut
//   env.SetFilesystemActive(true);    // reboot
// While the filesystem is inactive every mutating call fails with EIO without
// touching the disk; opening files for reading and reading still work.
// DropUnsyncedData() must run with no writer active (the DB closed or the
// filesystem inactive). It then forgets all tracking: whatever is on disk
// afterwards counts as durable.
//
// Errors: InjectFault() makes the Nth next matching call of one operation fail
// with a chosen errno, once or until cleared, optionally after a short write
// (appends). Reads can fail too; CreateDir/RemoveDir fail only while inactive.
//
// Thread safety: every method may be called from any thread.
#ifndef BITGASK_TESTS_FAULT_INJECTION_ENV_H_
#define BITGASK_TESTS_FAULT_INJECTION_ENV_H_

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bitgask/env.h"

namespace bitgask {
namespace test {

// The operations an error can be injected into, and that are counted.
enum class FaultOp : int {
  kAppend = 0,          // WritableFile::Append and AppendV (one call = one append)
  kSync,                // WritableFile::Sync
  kSyncDir,
  kRename,
  kNewWritableFile,
  kNewAppendableFile,
  kNewRandomAccessFile,
  kRemoveFile,
  kTruncateFile,
  kRead,                // RandomAccessFile::Read
  kNumOps
};
const char* FaultOpName(FaultOp op);

// Which kind of store file a path names (for counters and filters).
enum class FileClass : int { kData = 0, kHint, kTemp, kMeta, kOther, kNumClasses };
FileClass ClassifyPath(const std::string& path);

struct Fault {
  int err = EIO;            // the errno of the injected IOError (EIO, ENOSPC, ...)
  uint64_t skip = 0;        // let this many matching calls succeed first: skip = N-1 fails the Nth
  bool sticky = false;      // false: fail once; true: fail every matching call until cleared
  // Only calls on files whose base name contains this string match ("" = all).
  // E.g. ".data" matches 000000001.data but not 000000001.hint.tmp. RenameFile
  // matches on the new name, SyncDir on the directory's own name ("data").
  std::string name_contains;
  // kAppend only: when >= 0, write this many bytes of the data (at most all
  // but one byte) before failing, like a short write on a full disk.
  int64_t partial_bytes = -1;
};

// How DropUnsyncedData treats the un-synced tail of each file.
struct PowerLossOptions {
  enum class Tail {
    kSyncedOnly,    // truncate exactly to the last synced size
    kRandomPrefix,  // keep a random prefix of the un-synced bytes
    kTornPage,      // random prefix, and the kept bytes of its last page are
                    // zeroed, replaced with garbage, or left (chosen at random)
  };
  Tail tail = Tail::kSyncedOnly;
  uint64_t seed = 0;
  uint64_t page_size = 4096;
};

class FaultInjectionEnv : public EnvWrapper {
 public:
  explicit FaultInjectionEnv(Env* target = Env::Default());
  ~FaultInjectionEnv() override;

  // ---- power loss
  void SetFilesystemActive(bool active);
  bool IsFilesystemActive() const { return active_.load(); }
  // Applies a power cut to the disk (see the file comment). Returns the first
  // error the underlying Env gave, if any.
  Status DropUnsyncedData(const PowerLossOptions& options = PowerLossOptions());
  // Forgets all tracking: everything on disk now counts as durable.
  void ResetState();
  // Bytes appended through tracked files (of one class) and not yet synced.
  uint64_t UnsyncedBytes() const;
  uint64_t UnsyncedBytes(FileClass cls) const;
  // Tracked files whose name is not yet durable (all, or of one class).
  std::vector<std::string> UndurableFiles() const;
  std::vector<std::string> UndurableFiles(FileClass cls) const;
  void SetTrackDirectories(bool on);

  // Fast sync: WritableFile::Sync and SyncDir update the model (what a power
  // loss keeps) but skip the real fdatasync/fsync, which only makes tests
  // slow: what survives a simulated power loss is decided by the model.
  void SetFastSync(bool on) { fast_sync_ = on; }
  bool fast_sync() const { return fast_sync_.load(); }

  // ---- error injection (one fault per op; injecting again replaces it)
  void InjectFault(FaultOp op, const Fault& fault);
  void ClearFault(FaultOp op);
  void ClearAllFaults();
  // How many calls the injected faults have failed, per op, since creation.
  uint64_t FaultsTriggered(FaultOp op) const;
  // Sleep this long inside every WritableFile::Sync of a file whose base name
  // contains name_contains ("" = every file): a slow disk, to make group
  // commit or background work observable. 0 turns it off. A sync during
  // whose sleep the filesystem goes inactive (a power cut) fails: it never
  // made anything durable.
  void SetSyncDelayMicros(uint64_t micros, const std::string& name_contains = "");
  // The delay for one Sync of path.
  uint64_t SyncDelayMicros(const std::string& path) const;

  // ---- counters: calls made through this Env (including failed ones)
  uint64_t Count(FaultOp op) const;
  uint64_t Count(FaultOp op, FileClass cls) const;
  void ResetCounters();

  // ---- fake clock
  // While enabled NowUnixNanos() returns the fake time, and SleepMicros() also
  // advances it by the time slept (so deadline loops end).
  void EnableFakeClock(int64_t now_unix_ns);
  void DisableFakeClock();
  void SetNow(int64_t now_unix_ns);
  void AdvanceNanos(int64_t ns);
  bool FakeClockEnabled() const { return fake_clock_.load(); }

  // ---- Env
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override;
  Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override;
  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* file) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status TruncateFile(const std::string& path, uint64_t size) override;
  Status CreateDir(const std::string& dir) override;
  Status RemoveDir(const std::string& dir) override;
  Status SyncDir(const std::string& dir) override;
  int64_t NowUnixNanos() override;
  void SleepMicros(uint64_t micros) override;

  // Internal, used by the file wrappers.
  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
    bool name_durable = false;
  };
  // Counts the call; returns a non-OK status when a fault fires for (op, path)
  // or the filesystem is inactive. *partial is set for appends.
  Status MaybeFail(FaultOp op, const std::string& path, int64_t* partial = nullptr);
  // The same for RandomAccessFile::Read, which works while inactive.
  Status MaybeFailRead(const std::string& path);
  void NoteSize(const std::shared_ptr<FileState>& st, uint64_t size);
  void NoteSync(const std::shared_ptr<FileState>& st, uint64_t size);

 private:
  struct PendingRename {
    std::string from, to;
    bool from_was_durable = false;
    bool to_had_backup = false;
    std::string to_backup;  // the durable content of the file `to` replaced
  };
  struct FaultSlot {
    bool armed = false;
    Fault fault;
    uint64_t seen = 0;      // matching calls since armed
  };

  // REQUIRES: mu_ held.
  bool NameDurableLocked(const std::string& path) const;
  // Reads a file's first `limit` bytes through the target Env.
  Status ReadWhole(const std::string& path, uint64_t limit, std::string* out);
  Status WriteWhole(const std::string& path, const std::string& data);
  Status CutFile(const std::string& path, const FileState& st, const PowerLossOptions& o,
                 uint64_t* rng);

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<FileState>> files_;  // tracked, by current path
  std::vector<PendingRename> renames_;
  std::map<std::string, std::string> removed_;  // path -> durable content to restore
  std::map<std::string, bool> dirs_;            // created dirs -> durable
  bool track_dirs_ = false;
  FaultSlot faults_[static_cast<int>(FaultOp::kNumOps)];
  uint64_t triggered_[static_cast<int>(FaultOp::kNumOps)] = {};
  uint64_t counts_[static_cast<int>(FaultOp::kNumOps)][static_cast<int>(FileClass::kNumClasses)] =
      {};

  std::atomic<bool> active_{true};
  std::atomic<bool> fast_sync_{false};
  uint64_t sync_delay_us_ = 0;           // GUARDED_BY(mu_)
  std::string sync_delay_filter_;        // GUARDED_BY(mu_)
  std::atomic<bool> fake_clock_{false};
  std::atomic<int64_t> fake_now_{0};
};

}  // namespace test
}  // namespace bitgask

#endif  // BITGASK_TESTS_FAULT_INJECTION_ENV_H_
