#include "db_impl.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>

#include "coding.h"
#include "hint_file.h"
#include "hint_merge.h"
#include "log.h"
#include "meta_file.h"
#include "record.h"

namespace bitgask {

namespace internal {

namespace {

// A leader stops adding writers to its group past this many bytes.
constexpr uint64_t kMaxGroupBytes = 1 << 20;

bool IsExpired(const KeydirEntry& e, int64_t now) { return e.expires != 0 && e.expires <= now; }

Status ValidateOptions(const Options& o) {
  if (o.max_data_file_size < 4096 || o.max_data_file_size > kMaxFileSizeLimit) {
    return Status::InvalidArgument("max_data_file_size must be between 4 KiB and 4 GiB - 1");
  }
  if (o.max_key_size < 1 || o.max_key_size > Keydir::kMaxKeyLength) {
    return Status::InvalidArgument("max_key_size must be between 1 and 65535");
  }
  if (o.merge_trigger_ratio < 0 || o.merge_trigger_ratio > 1) {
    return Status::InvalidArgument("merge_trigger_ratio must be between 0 and 1");
  }
  if (o.default_ttl.count() < 0) return Status::InvalidArgument("default_ttl must not be negative");
  return Status::OK();
}

// Tries of a spinning lock before it blocks: about 20 us on the machine of
// docs/Benchmarks.md, where a pause takes about 140 cycles (less on older x86).
constexpr int kLockSpins = 400;

// How long a commit leader gathering a synced group yields the CPU before it
// sleeps (Commit).
constexpr std::chrono::microseconds kGatherYield{100};

inline void SpinPause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

void LockSpinning(std::shared_mutex& m, std::atomic<int>* waiting) {
  for (int i = 0; i < kLockSpins; i++) {
    if (m.try_lock()) return;
    SpinPause();
  }
  if (waiting) waiting->fetch_add(1, std::memory_order_relaxed);
  m.lock();
  if (waiting) waiting->fetch_sub(1, std::memory_order_relaxed);
}

void LockSharedSpinning(std::shared_mutex& m) {
  for (int i = 0; i < kLockSpins; i++) {
    if (m.try_lock_shared()) return;
    SpinPause();
  }
  m.lock_shared();
}

DBImpl::DBImpl(const std::string& path, const Options& options)
    : root_(path),
      data_dir_(path + "/data"),
      options_(options),
      env_(options.env ? options.env : Env::Default()) {}

DBImpl::~DBImpl() { Close(); }

// ---------------------------------------------------------------- recovery

Status DBImpl::Recover() {
  Status s = ValidateOptions(options_);
  if (!s.ok()) return s;
  if (!env_->FileExists(root_)) {
    if (!options_.create_if_missing || options_.error_if_missing) {
      return Status::InvalidArgument(root_ + ": no such store");
    }
    s = env_->CreateDir(root_);
    // Make the new directory's name durable in its parent.
    const size_t slash = root_.find_last_of('/');
    const std::string parent =
        slash == std::string::npos ? "." : slash == 0 ? "/" : root_.substr(0, slash);
    if (s.ok()) s = env_->SyncDir(parent);
    if (!s.ok()) return s;
  }

  // A directory without data/ holds no store: refuse before leaving a LOCK
  // or data/ behind when told not to create one.
  if ((!options_.create_if_missing || options_.error_if_missing) &&
      !env_->FileExists(data_dir_)) {
    return Status::InvalidArgument(root_ + ": no such store");
  }

  // The lock, retried until lock_timeout.
  const int64_t deadline = env_->NowUnixNanos() +
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.lock_timeout).count();
  for (;;) {
    s = env_->LockFile(root_ + "/LOCK", &lock_);
    if (!s.IsLocked() || env_->NowUnixNanos() >= deadline) break;
    env_->SleepMicros(10000);
  }
  if (s.IsLocked()) return Status::Locked("store " + root_ + " is in use by another process");
  if (!s.ok()) return s;

  if (!env_->FileExists(data_dir_)) {
    s = env_->CreateDir(data_dir_);
    if (s.ok()) s = env_->SyncDir(root_);
    if (!s.ok()) return s;
  }
  std::vector<std::string> names;
  s = env_->GetChildren(data_dir_, &names);
  if (!s.ok()) return s;
  std::vector<uint32_t> data_ids;
  std::vector<uint32_t> hint_ids;
  for (const std::string& name : names) {
    uint32_t id = 0;
    switch (ParseFileName(name, &id)) {
      case FileKind::kData: data_ids.push_back(id); break;
      case FileKind::kHint: hint_ids.push_back(id); break;
      case FileKind::kTemp: env_->RemoveFile(data_dir_ + "/" + name); break;  // unfinished
      case FileKind::kOther: break;
    }
  }
  std::sort(data_ids.begin(), data_ids.end());
  std::sort(hint_ids.begin(), hint_ids.end());
  for (uint32_t id : hint_ids) {  // a hint left behind by a merge that removed its data file
    if (!std::binary_search(data_ids.begin(), data_ids.end(), id)) {
      env_->RemoveFile(HintFileName(data_dir_, id));
    }
  }

  if (env_->FileExists(MetaFileName(data_dir_))) {
    int version = 0;
    s = ReadMetaFile(env_, data_dir_, &version);
    if (!s.ok()) return s;
    if (version != kFormatVersion) {
      return Status::NotSupported("store " + root_ + " has format version " +
                                  std::to_string(version) + "; this build reads version " +
                                  std::to_string(kFormatVersion));
    }
  } else if (!data_ids.empty()) {
    return Status::Corruption(MetaFileName(data_dir_) + " is missing; run `bitgask repair`");
  } else if (options_.error_if_missing) {
    return Status::InvalidArgument(root_ + ": no such store");
  } else {
    s = WriteMetaFile(env_, data_dir_, kFormatVersion);
    if (!s.ok()) return s;
  }

  // The file before the newest may have lost its tail only when the newest
  // says so (Rotate's marker, or its start lost); if it has, the newest is
  // set aside, so that the store recovers to a prefix of its writes.
  const size_t n = data_ids.size();
  PredecessorMark mark;
  const TornTail pred_rule =
      n >= 2 ? PredecessorRule(data_ids[n - 1], data_ids[n - 2], &mark) : TornTail::kNone;
  bool newest_set_aside = false;
  OrderedHints ordered;  // applied together, in key order
  for (size_t i = 0; i < n; i++) {
    const uint32_t id = data_ids[i];
    const bool newest = i + 1 == n;
    const bool pred = i + 2 == n;
    if (newest && newest_set_aside) {  // emptied by RecoverFile of the file before
      std::unique_ptr<RandomAccessFile> file;
      s = env_->NewRandomAccessFile(DataFileName(data_dir_, id), &file);
      if (!s.ok()) return s;
      files_[id] = NewFileSlot(std::move(file), 0, options_.max_data_file_size);
      continue;
    }
    const bool has_hint = std::binary_search(hint_ids.begin(), hint_ids.end(), id);
    const TornTail torn_tail = newest ? TornTail::kAny : pred ? pred_rule : TornTail::kNone;
    const PredecessorMark check = pred && mark.id == id ? mark : PredecessorMark();
    s = RecoverFile(id, newest, torn_tail, check.id != 0 ? data_ids[n - 1] : 0, check.size,
                    has_hint, &ordered, &newest_set_aside);
    if (!s.ok()) return s;
  }
  ApplyOrderedHints(&ordered);
  s = OpenActiveFile(data_ids.empty() ? 0 : data_ids.back());
  if (!s.ok()) return s;
  // Keys that expired while the store was closed; a walk of the whole keydir,
  // so only when some replayed record had an expiry.
  if (replayed_expiry_) SweepExpired(nullptr);

  bg_thread_ = std::thread([this] { BackgroundLoop(); });
  if (options_.merge_interval.count() > 0 || options_.merge_on_open) {
    merge_thread_ = std::thread([this] { MergeLoop(); });
  }
  Log().info("opened {}: {} keys in {} data files", root_, keydir_.size(), files_.size());
  return Status::OK();
}

DBImpl::TornTail DBImpl::PredecessorRule(uint32_t newest, uint32_t pred, PredecessorMark* mark) {
  const std::string path = DataFileName(data_dir_, newest);
  uint64_t size = 0;
  std::unique_ptr<RandomAccessFile> file;
  if (!env_->GetFileSize(path, &size).ok() || !env_->NewRandomAccessFile(path, &file).ok()) {
    return TornTail::kNone;  // the newest file's own recovery reports the error
  }
  if (!FirstRecordValid(file.get(), size, mark)) return TornTail::kTailOnly;
  return mark->id == pred ? TornTail::kAny : TornTail::kNone;
}

Status DBImpl::SetAsideNewestFile(uint32_t id, uint32_t pred) {
  const std::string path = DataFileName(data_dir_, id);
  uint64_t size = 0;
  std::unique_ptr<RandomAccessFile> file;
  Status s = env_->GetFileSize(path, &size);
  if (s.ok()) s = env_->NewRandomAccessFile(path, &file);
  if (!s.ok()) return s;
  if (HasValidRecordAfter(file.get(), size, 0)) {  // a record besides the marker
    s = SetAsideDamagedTail(id, 0, size);
    if (!s.ok()) return s;
  }
  s = env_->TruncateFile(path, 0);
  if (s.ok()) s = SyncFile(path);
  if (!s.ok()) return s;
  Log().error("{}: its {} bytes were written after the end of {}, which a power cut lost; "
              "not applied, so that the store keeps a prefix of its writes",
              path, size, DataFileName(data_dir_, pred));
  return Status::OK();
}

Status DBImpl::SyncFile(const std::string& path) {
  std::unique_ptr<WritableFile> f;
  Status s = env_->NewAppendableFile(path, &f);
  if (s.ok()) s = f->Sync();
  if (f) {
    Status c = f->Close();
    if (s.ok()) s = c;
  }
  return s;
}

Status DBImpl::RecoverFile(uint32_t id, bool newest, TornTail torn_tail, uint32_t successor,
                           uint64_t expected_size, bool has_hint, OrderedHints* ordered,
                           bool* successor_set_aside) {
  const std::string path = DataFileName(data_dir_, id);
  uint64_t size = 0;
  Status s = env_->GetFileSize(path, &size);
  if (!s.ok()) return s;
  std::unique_ptr<RandomAccessFile> file;
  s = env_->NewRandomAccessFile(path, &file);
  if (!s.ok()) return s;

  // Expired entries are kept while replaying (a later meta-update may persist
  // them); SweepExpired drops the rest once every file is read.
  auto apply = [&](const HintEntry& e) { ApplyOp(e.key, e.kind, e.meta_mask, e.entry); };
  bool loaded = false;
  if (has_hint && options_.use_hint_files && !options_.validate_on_open) {
    // A hint entry must describe a record inside the data file: reads size
    // their buffers by its lengths, so one that does not fit (damage behind a
    // valid checksum) rejects the hint rather than reaching a read. Every
    // entry is checked before any is applied.
    auto fits = [size](const HintEntry& op) {
      return op.record_size <= size && op.entry.offset <= size - op.record_size &&
             (op.kind != LogOp::kPut ||
              op.record_size == EntryRecordSize(op.key.size(), op.entry));
    };
    auto hint = std::make_unique<HintFileReader>();
    bool key_ordered = false;
    s = hint->Open(env_, HintFileName(data_dir_, id));
    if (s.ok()) s = hint->Check(id, fits, &key_ordered);
    if (s.ok() && newest) s = CheckHintCoversFile(*hint, file.get(), id, size);
    if (s.ok()) {
      loaded = true;
      if (newest) newest_hint_used_ = true;
      if (key_ordered) {
        ordered->emplace_back(id, std::move(hint));  // applied with its neighbours
        // Each merged hint holds a descriptor and a mapping (or a buffer)
        // until the merge: bounded, for stores of many small files.
        if (ordered->size() == kMaxMergedHints) ApplyOrderedHints(ordered);
      } else {
        ApplyOrderedHints(ordered);  // the files before it come first
        hint->ForEach(id, apply);   // checked: cannot fail
      }
    } else {
      Log().warn("{}; scanning its data file instead", s.ToString());
    }
  }
  if (!loaded) {
    bool cut = false;  // a torn tail was cut
    ApplyOrderedHints(ordered);  // the files before it come first
    RecordScanner scanner(file.get(), size, id);
    LogOp op;
    RecordScanner::Result r;
    while ((r = scanner.Next(&op)) == RecordScanner::Result::kOp) {
      ApplyOp(op.key, op.kind, op.meta_mask, op.entry);
    }
    if (r == RecordScanner::Result::kBad && !scanner.io_status().ok()) {
      return scanner.io_status();  // a failed read says nothing about the bytes
    }
    if (r == RecordScanner::Result::kBad) {
      const std::string where = path + " offset " + std::to_string(scanner.bad_offset()) + ": " +
                                scanner.error();
      const bool valid_after =
          torn_tail != TornTail::kNone && HasValidRecordAfter(file.get(), size, scanner.bad_offset());
      if (torn_tail == TornTail::kNone || (torn_tail == TornTail::kTailOnly && valid_after)) {
        return Status::Corruption(where + "; run `bitgask repair` on the store");
      }
      // A torn tail: what a crash leaves. Truncate it, keeping any good
      // records found past the damage in a side file for repair. The cut of
      // the file before the newest is synced (before any append, and before
      // the newest is set aside below: a power cut in between leaves it
      // shorter than the marker says, so the next open decides the same).
      cut = true;
      const uint64_t good = scanner.good_offset();
      if (valid_after) {
        s = SetAsideDamagedTail(id, good, size);
        if (!s.ok()) return s;
      }
      s = env_->TruncateFile(path, good);
      if (s.ok() && !newest) s = SyncFile(path);
      if (!s.ok()) return s;
      Log().warn("{}: truncated {} bytes at the end of the {}", where, size - good,
                 newest ? "newest data file"
                        : "data file before the newest, whose sync the newest says was not done");
      size = good;
    }
    if (r == RecordScanner::Result::kEnd && scanner.zero_tail() > 0) {
      // Space allocated ahead for appends, left by a writer that stopped
      // before truncating it: a clean end. The newest file may be appended
      // to again, so it is truncated to its records.
      size -= scanner.zero_tail();
      if (newest) {
        s = env_->TruncateFile(path, size);
        if (!s.ok()) return s;
      }
    }
    if (successor != 0 && (cut || size < expected_size)) {
      // Cut short (with no damage to see when at a record boundary: the
      // newest file's marker says how long this file was). The newest
      // file's records came after the lost ones.
      Log().warn("{}: {} of its {} bytes survived a power cut", path, size, expected_size);
      s = SetAsideNewestFile(successor, id);
      if (!s.ok()) return s;
      *successor_set_aside = true;
    }
    if (!newest && options_.use_hint_files) ScheduleHint(id);
  }
  // Mapped only now, after any truncation above. The newest file may become
  // the active one: its mapping leaves room for appends.
  files_[id] = NewFileSlot(std::move(file), size,
                           newest ? std::max(size, options_.max_data_file_size) : size);
  total_bytes_ += size;
  return Status::OK();
}

void DBImpl::ApplyOrderedHints(OrderedHints* ordered) {
  std::vector<std::pair<uint32_t, const HintFileReader*>> hints;
  for (const auto& [id, hint] : *ordered) hints.emplace_back(id, hint.get());
  MergeOrderedHints(hints, [this](const HintEntry* e, size_t n) {
    for (size_t i = 0; i < n; i++) ApplyOp(e[i].key, e[i].kind, e[i].meta_mask, e[i].entry);
  });
  ordered->clear();
}

// The newest data file has a hint only when a clean Close wrote it (the hint
// is removed before the file is appended to again). It is used only when it
// covers the file to its end: the record that ends last among its entries
// ends the file, or, when that record is part of a batch, the batch's commit
// record (which has no entry of its own) follows it and ends the file. A hint
// written before the file grew, or for a longer file since cut short (even
// cut just before a batch's commit), is refused before any of its entries is
// applied: a scan of the newest file may truncate a torn tail, and applied
// entries must not point into it.
Status DBImpl::CheckHintCoversFile(const HintFileReader& hint, const RandomAccessFile* file,
                                   uint32_t id, uint64_t size) {
  bool all_fit = true;  // every entry fits the file: HintFileReader::Check saw to it
  uint64_t end = 0;
  bool last_in_batch = false;
  Status s = hint.ForEach(id, [&](const HintEntry& op) {
    const uint64_t op_end = uint64_t{op.entry.offset} + op.record_size;
    if (op_end > end) {
      end = op_end;
      last_in_batch = (op.entry.flags & kFlagBatch) != 0;
    }
  });
  if (!s.ok()) return s;
  if (all_fit && last_in_batch) {
    // Only a valid commit record in [end, size) closes the batch.
    bool committed = false;
    if (end < size && size - end <= kHeaderSize + 64) {
      std::string tail(static_cast<size_t>(size - end), '\0');
      std::string_view got, key, value;
      RecordHeader h;
      committed = file->Read(end, tail.size(), tail.data(), &got).ok() &&
                  got.size() == tail.size() && ParseRecord(got, &h, &key, &value).ok() &&
                  h.RecordSize() == got.size() && h.flags == kFlagBatchCommit;
    }
    if (committed) {
      end = size;
    } else {
      all_fit = false;
    }
  }
  if (!all_fit || end != size) {
    return Status::Corruption(HintFileName(data_dir_, id) + ": does not cover the newest data file (" +
                              std::to_string(end) + " of " + std::to_string(size) + " bytes)");
  }
  return Status::OK();
}

Status DBImpl::SetAsideDamagedTail(uint32_t id, uint64_t from, uint64_t size) {
  const std::string src = DataFileName(data_dir_, id);
  const std::string dst = src + ".damaged-" + std::to_string(from);
  std::unique_ptr<RandomAccessFile> in;
  std::unique_ptr<WritableFile> out;
  Status s = env_->NewRandomAccessFile(src, &in);
  if (s.ok()) s = env_->NewWritableFile(dst, &out);
  std::string buf(1 << 20, '\0');
  for (uint64_t off = from; s.ok() && off < size;) {
    std::string_view got;
    s = in->Read(off, std::min<uint64_t>(buf.size(), size - off), buf.data(), &got);
    if (s.ok()) s = out->Append(got);
    off += got.size();
    if (got.empty()) break;
  }
  if (s.ok()) s = out->Sync();
  if (out) out->Close();
  if (s.ok()) s = env_->SyncDir(data_dir_);
  if (s.ok()) {
    Log().error("{}: damage followed by valid records; the {} bytes from offset {} were saved "
                "in {} (run `bitgask repair` to recover them)",
                src, size - from, from, dst);
  }
  return s;
}

Status DBImpl::OpenActiveFile(uint32_t newest_id) {
  Status s;
  if (newest_id != 0 && files_[newest_id].size < options_.max_data_file_size) {
    // Keep appending to the newest file. A hint that covers it is kept until
    // the first append (DropActiveHint); any other is stale and goes now.
    active_id_ = newest_id;
    active_hint_kept_ = newest_hint_used_;
    if (!active_hint_kept_ && env_->FileExists(HintFileName(data_dir_, newest_id))) {
      active_hint_kept_ = true;
      s = DropActiveHint();
      if (!s.ok()) return s;
    }
    s = OpenForAppend(DataFileName(data_dir_, newest_id), /*create=*/false, &active_);
    if (!s.ok()) return s;
    next_file_id_ = newest_id + 1;
    return Status::OK();
  }
  next_file_id_ = newest_id + 1;
  if (newest_id != 0 && !newest_hint_used_) ScheduleHint(newest_id);
  return Rotate(/*in_background=*/false);
}

Status DBImpl::DropActiveHint() {
  const std::string hint = HintFileName(data_dir_, active_id_);
  Status s = env_->RemoveFile(hint);
  if (!s.ok() && !env_->FileExists(hint)) s = Status::OK();  // gone already
  if (s.ok()) s = env_->SyncDir(data_dir_);  // a stale hint must not come back
  if (s.ok()) active_hint_kept_ = false;
  return s;
}

// --------------------------------------------------------------- keydir ops

void DBImpl::ApplyOp(std::string_view key, LogOp::Kind kind, uint8_t meta_mask,
                     const KeydirEntry& entry) {
  KeydirEntry old;
  if (entry.expires != 0) replayed_expiry_ = true;
  switch (kind) {
    case LogOp::kPut:
      if (keydir_.Put(key, entry, &old)) live_bytes_ -= EntryRecordSize(key.size(), old);
      live_bytes_ += EntryRecordSize(key.size(), entry);
      break;
    case LogOp::kDelete:
      if (keydir_.Erase(key, &old)) live_bytes_ -= EntryRecordSize(key.size(), old);
      break;
    case LogOp::kClear:
      keydir_.Clear();
      live_bytes_ = 0;
      break;
    case LogOp::kMeta: {
      KeydirEntry e;
      if (!keydir_.Get(key, &e)) break;
      if (meta_mask & kMetaTimestamp) e.timestamp = entry.timestamp;
      if (meta_mask & kMetaExpires) e.expires = entry.expires;
      if (meta_mask & kMetaMode) e.mode = entry.mode;
      if (meta_mask & kMetaOwner) {
        e.flags |= kEntryHasOwner;
        e.uid = entry.uid;
        e.gid = entry.gid;
      }
      keydir_.Put(key, e);
      break;
    }
  }
}

void DBImpl::DropExpired(std::string_view key, const KeydirEntry& seen) {
  std::unique_lock<std::shared_mutex> l(keydir_mu_);
  KeydirEntry cur;
  if (keydir_.Get(key, &cur) && cur == seen) {
    keydir_.Erase(key);
    live_bytes_ -= EntryRecordSize(key.size(), cur);
  }
}

// --------------------------------------------------------------- write path

namespace {

// Wakes a thread in Wait on `word` (a private futex). Safe on a word whose
// owner has already returned: the kernel only hashes the address, and every
// waiter looks at its word again after waking.
void Wake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

// Returns the first value of `word` other than `seen`, sleeping until then.
uint32_t WaitWhile(std::atomic<uint32_t>* word, uint32_t seen) {
  uint32_t v;
  while ((v = word->load(std::memory_order_acquire)) == seen) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, seen, nullptr,
            nullptr, 0);
  }
  return v;
}

// Sets a queued writer's state and wakes it.
void Release(std::atomic<uint32_t>* state, uint32_t value) {
  state->store(value, std::memory_order_release);
  Wake(state);
}

}  // namespace

Status DBImpl::Commit(Writer* w) {
  std::unique_lock<std::mutex> l(queue_mu_);
  if (closed_ && !w->internal) return Status::Closed("the store is closed");
  writers_.push_back(w);
  queue_peak_ = std::max(queue_peak_, writers_.size());
  if (gathering_ && writers_.size() >= sync_concurrency_) gather_cv_.notify_one();
  if (w != writers_.front()) {
    l.unlock();
    if (WaitWhile(&w->state, Writer::kWaiting) == Writer::kDone) return w->status;
    l.lock();  // kLead: the leader before it made it the front
  }

  // This writer leads. A synced group is worth waiting for: the writers of
  // the last one were woken when it ended and are on their way back (a
  // thread that writes in a loop). If fewer are queued than were writing
  // then, wait for them, at most half the time the last synced group took
  // (and 1 ms), so that one fsync covers them all instead of alternating
  // half groups. One synced writer never waits (concurrency 1).
  // The wait yields the CPU at first (up to kGatherYield) instead of
  // sleeping: the writers it waits for were just woken and need a CPU, and a
  // sleeping leader would itself have to be woken by the last of them, one
  // more wake-up between two fsyncs (docs/Benchmarks.md, session 6). A longer
  // wait (a slow disk) sleeps for the rest, so that it does not hold a CPU.
  using Clock = std::chrono::steady_clock;
  const bool plain = !w->leader_task && w->streams.empty();
  if (w->sync && plain && writers_.size() < sync_concurrency_) {
    const auto wait = std::chrono::nanoseconds(std::min<int64_t>(last_sync_group_ns_ / 2, 1000000));
    const Clock::time_point until = Clock::now() + std::min<Clock::duration>(wait, kGatherYield);
    while (writers_.size() < sync_concurrency_ && Clock::now() < until) {
      l.unlock();
      sched_yield();
      l.lock();
    }
    if (writers_.size() < sync_concurrency_ && wait > kGatherYield) {
      gathering_ = true;
      gather_cv_.wait_for(l, wait - kGatherYield, [&] { return writers_.size() >= sync_concurrency_; });
      gathering_ = false;
    }
  }
  // Take the writers queued behind it (into the leader's vector: no
  // allocation per group; not a thread_local, which is gone when a DB is
  // closed by a static destructor at exit).
  std::vector<Writer*>& group = leader_group_;
  BuildGroup(w, &group);
  Status s = bg_error_;
  l.unlock();
  const bool timed = w->sync && plain;  // only synced groups are timed: no clock per put
  const Clock::time_point start = timed ? Clock::now() : Clock::time_point();
  if (s.ok()) s = w->leader_task ? w->leader_task() : AppendGroup(group, w->sync);
  const int64_t took =
      timed ? std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count()
            : 0;
  l.lock();
  if (timed) {
    sync_concurrency_ = std::max<size_t>(queue_peak_, 1);
    last_sync_group_ns_ = took;
  }
  if (!s.ok() && bg_error_.ok()) s = StopWrites(s);
  // Hand the queue to the next leader first, then release this group's
  // writers outside the lock (leader_group_ belongs to the next leader as
  // soon as the lock is dropped, so the followers are copied out; the rare
  // group larger than the copy releases the rest under the lock).
  constexpr size_t kReleaseBatch = 64;
  Writer* followers[kReleaseBatch];
  size_t n = 0;
  for (Writer* x : group) {
    writers_.pop_front();
    x->status = x->excluded ? x->failed : s;
    if (x == w) continue;
    if (n < kReleaseBatch) {
      followers[n++] = x;
    } else {
      Release(&x->state, Writer::kDone);
    }
  }
  if (timed) queue_peak_ = writers_.size();  // counted afresh for the next group
  if (!writers_.empty()) Release(&writers_.front()->state, Writer::kLead);
  const Status result = w->status;
  l.unlock();
  for (size_t i = 0; i < n; i++) Release(&followers[i]->state, Writer::kDone);
  return result;
}

Status DBImpl::StopWrites(const Status& s) {
  if (bg_error_.ok()) {
    bg_error_ = Status::IOError("the store stopped accepting writes after an I/O error (" +
                                s.ToString() + "); reopen it", s.errno_value());
    Log().error("{}: {}", root_, bg_error_.ToString());
  }
  return bg_error_;
}

void DBImpl::BuildGroup(Writer* w, std::vector<Writer*>* out) {
  std::vector<Writer*>& group = *out;
  group.assign(1, w);
  if (w->leader_task || !w->streams.empty()) return;
  uint64_t bytes = w->records.size();
  for (size_t i = 1; i < writers_.size(); i++) {
    Writer* x = writers_[i];
    if (x->leader_task || !x->streams.empty()) break;
    if (x->sync && !w->sync) break;  // a sync write never rides in a group that won't sync
    if (bytes + x->records.size() > kMaxGroupBytes) break;
    if (x->conditions) {
      // A condition is checked against the keydir before the group is
      // written: it must not depend on a write earlier in the same group.
      bool overlaps = false;
      for (const Condition& c : *x->conditions) {
        for (Writer* y : group) {
          for (const PendingOp& op : y->ops) overlaps = overlaps || op.key == c.key;
        }
      }
      if (overlaps) break;
    }
    group.push_back(x);
    bytes += x->records.size();
  }
}

Status DBImpl::AppendGroup(const std::vector<Writer*>& group, bool sync) {
  uint64_t bytes = 0;
  std::vector<std::string_view>& pieces = leader_pieces_;  // no allocation per group
  pieces.clear();
  for (Writer* x : group) {
    if (x->conditions) CheckConditions(x);
    if (x->excluded || x->Size() == 0) continue;
    pieces.emplace_back(x->records);
    bytes += x->Size();
  }
  Status s;
  if (bytes > 0) {
    if (active_->Size() > 0 && active_->Size() + bytes > options_.max_data_file_size) {
      s = Rotate(/*in_background=*/!sync);
      if (!s.ok()) return s;
    }
    if (active_hint_kept_) {
      s = DropActiveHint();
      if (!s.ok()) return s;
    }
    s = group[0]->streams.empty() ? active_->AppendV(pieces.data(), pieces.size())
                                  : AppendStreams(*group[0]);
    if (!s.ok()) return s;
    total_bytes_ += bytes;
    appended_since_open_ = true;
    {
      std::unique_lock<std::shared_mutex> fl(files_mu_);
      files_[active_id_].size = active_->Size();
    }
    if (!sync) {
      unsynced_ = true;
      if (unflushed_bytes_.fetch_add(bytes) + bytes >= kFlushEvery) {
        unflushed_bytes_ = 0;
        std::lock_guard<std::mutex> l(bg_mu_);
        flush_wanted_ = true;
        bg_cv_.notify_one();
      }
    }
  }
  if (sync) {
    s = FinishRetirement();  // the acknowledgement covers the file retiring too
    if (!s.ok()) return s;
  }
  if (sync && (bytes > 0 || unsynced_)) {
    s = active_->Sync();
    if (!s.ok()) return s;
    syncs_++;
    unsynced_ = false;
  }
  if (bytes > 0) {
    groups_++;
    LockSpinning(keydir_mu_, &keydir_writers_waiting_);
    std::unique_lock<std::shared_mutex> kl(keydir_mu_, std::adopt_lock);
    uint64_t off = active_->Size() - bytes;
    for (Writer* x : group) {
      if (x->excluded) continue;
      for (PendingOp& op : x->ops) {
        op.entry.file_id = active_id_;
        op.entry.offset = static_cast<uint32_t>(off + op.rel_offset);
        ApplyOp(op.key, op.kind, op.meta_mask, op.entry);
      }
      off += x->Size();
    }
  }
  return Status::OK();
}

void DBImpl::CheckConditions(Writer* x) {
  const int64_t now = env_->NowUnixNanos();
  for (const Condition& c : *x->conditions) {
    bool holds = false;
    Status s;
    for (int attempt = 0; attempt < 3; attempt++) {
      KeydirEntry e;
      bool live;
      {
        std::shared_lock<std::shared_mutex> l(keydir_mu_);
        live = keydir_.Get(c.key, &e) && !IsExpired(e, now);
      }
      holds = c.kind == Condition::kAbsent ? !live : live;
      if (!holds || c.kind != Condition::kValueEquals) break;
      holds = e.value_len == c.expected.size();
      if (!holds) break;
      std::string buf, value;
      RecordHeader h;
      std::string_view stored;
      s = ReadEntry(c.key, e, &buf, &h, &stored);
      if (s.IsNotFound()) continue;  // merged away under us: look again
      if (s.ok()) s = DecodeValue(h, stored, &value);
      holds = s.ok() && value == c.expected;
      break;
    }
    if (!s.ok()) {
      x->excluded = true;
      x->failed = s;
      return;
    }
    if (!holds) {
      x->excluded = true;
      x->failed = Status::Conflict(c.kind == Condition::kAbsent
                                       ? "key already exists"
                                       : "current value differs from the expected one");
      return;
    }
  }
}

Status DBImpl::OpenForAppend(const std::string& path, bool create,
                             std::unique_ptr<WritableFile>* file) {
  if (options_.mmap_writes) return env_->NewMappedAppendFile(path, create, file);
  return create ? env_->NewWritableFile(path, file) : env_->NewAppendableFile(path, file);
}

Status DBImpl::Rotate(bool in_background) {
  if (retire_thread_.joinable() && !retire_done_.load(std::memory_order_acquire)) {
    rotation_waits_++;
  }
  Status s = FinishRetirement();  // at most one file retires at a time
  if (!s.ok()) return s;
  const uint32_t old_id = active_id_;
  // (The marker holds the old file's size in 32 bits: a file grown past them
  // by one huge record is closed here.)
  const bool retire =
      in_background && active_ && unsynced_ && active_->Size() <= kMaxFileSizeLimit;
  if (active_ && !retire) {
    s = active_->Sync();  // a closed file is always complete on disk
    if (!s.ok()) return s;
    syncs_++;
    s = active_->Close();
    if (!s.ok()) return s;
    active_.reset();
  }
  const uint32_t id = next_file_id_;
  const std::string path = DataFileName(data_dir_, id);
  std::unique_ptr<WritableFile> file;
  s = OpenForAppend(path, /*create=*/true, &file);
  if (!s.ok()) return s;
  if (retire) {
    // The marker first, naming the old file and its size: a power cut that
    // leaves the old file shorter makes recovery set this file aside. It is
    // synced with this file's first synced write; the new directory entry
    // by the retirement.
    const PredecessorMark mark{old_id, static_cast<uint32_t>(active_->Size())};
    s = file->Append(EncodePredecessorMark(mark, env_->NowUnixNanos()));
  } else {
    s = env_->SyncDir(data_dir_);
  }
  if (!s.ok()) return s;
  std::unique_ptr<RandomAccessFile> reader;
  s = env_->NewRandomAccessFile(path, &reader);
  if (!s.ok()) return s;
  next_file_id_ = id + 1;
  total_bytes_ += file->Size();
  {
    std::unique_lock<std::shared_mutex> fl(files_mu_);
    files_[id] = NewFileSlot(std::move(reader), file->Size(), options_.max_data_file_size);
  }
  std::unique_ptr<WritableFile> old = std::move(active_);
  active_ = std::move(file);
  active_id_ = id;
  active_hint_kept_ = false;  // the closed file's kept hint covers it still
  if (retire) {
    // unsynced_ stays set: the old file's bytes are the retirement's, the
    // marker is this file's.
    retire_done_.store(false, std::memory_order_relaxed);
    WritableFile* retiring = old.get();  // the thread owns it once it runs
    try {
      retire_thread_ = std::thread(
          [this, old_id, retiring] { Retire(old_id, std::unique_ptr<WritableFile>(retiring)); });
      old.release();
    } catch (const std::system_error&) {
      Retire(old_id, std::move(old));  // no thread to be had: retired here, as before
    }
  } else if (old_id != 0 && options_.use_hint_files) {
    ScheduleHint(old_id);
  }
  return Status::OK();
}

void DBImpl::Retire(uint32_t id, std::unique_ptr<WritableFile> file) {
  Status s = file->Sync();
  if (s.ok()) syncs_++;
  Status c = file->Close();
  if (s.ok()) s = c;
  file.reset();
  if (s.ok()) s = env_->SyncDir(data_dir_);  // the next file's directory entry
  if (!s.ok()) {
    std::lock_guard<std::mutex> l(queue_mu_);
    s = StopWrites(s);
  } else if (options_.use_hint_files) {
    ScheduleHint(id);  // only now: a hint covers its file to the last byte
  }
  retire_status_ = s;
  retire_done_.store(true, std::memory_order_release);
}

void DBImpl::AwaitRetirement() {
  // A real sleep: a test Env's fake clock must not move for it.
  while (!retire_done_.load(std::memory_order_acquire)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Status DBImpl::FinishRetirement() {
  if (retire_thread_.joinable()) retire_thread_.join();
  return retire_status_;
}

Status DBImpl::CheckKey(std::string_view key) const {
  if (key.empty()) return Status::InvalidArgument("invalid key: empty");
  if (key.size() > options_.max_key_size) {
    return Status::TooLarge("key of " + std::to_string(key.size()) +
                            " bytes is over max_key_size (" +
                            std::to_string(options_.max_key_size) + ")");
  }
  return Status::OK();
}

int64_t DBImpl::ExpiryFor(const WriteOptions& wo, int64_t now) const {
  auto plus = [now](std::chrono::nanoseconds ttl) {
    int64_t t = ttl.count();
    return t > std::numeric_limits<int64_t>::max() - now ? std::numeric_limits<int64_t>::max()
                                                         : now + t;
  };
  if (wo.expires_at_unix_ns > 0) return wo.expires_at_unix_ns;
  if (wo.ttl.count() > 0) return plus(wo.ttl);
  if (options_.default_ttl.count() > 0) return plus(options_.default_ttl);
  return 0;
}

bool DBImpl::SyncFor(WriteOptions::Sync s, bool store_default) const {
  return s == WriteOptions::Sync::kDefault ? store_default : s == WriteOptions::Sync::kAlways;
}

thread_local std::string DBImpl::ThreadBuffers::thread_records_;
thread_local std::vector<DBImpl::PendingOp> DBImpl::ThreadBuffers::thread_ops_;

DBImpl::ThreadBuffers::ThreadBuffers(Writer* w) : w_(w) {
  w->records.swap(thread_records_);
  w->ops.swap(thread_ops_);
  w->records.clear();
  w->ops.clear();
}

DBImpl::ThreadBuffers::~ThreadBuffers() {
  if (w_->records.capacity() <= kMaxGroupBytes) w_->records.swap(thread_records_);
  if (w_->ops.capacity() <= 1024) w_->ops.swap(thread_ops_);
}

Status DBImpl::Put(std::string_view key, std::string_view value) {
  return Put(WriteOptions(), key, value);
}

Status DBImpl::PutWithTTL(std::string_view key, std::string_view value,
                          std::chrono::nanoseconds ttl) {
  if (ttl.count() <= 0) return Status::InvalidArgument("ttl must be positive");
  WriteOptions wo;
  wo.ttl = ttl;
  return Put(wo, key, value);
}

Status DBImpl::Put(const WriteOptions& wo, std::string_view key, std::string_view value) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  Status s = CheckKey(key);
  if (!s.ok()) return s;
  if (value.size() > options_.max_value_size) {
    return Status::TooLarge("value of " + std::to_string(value.size()) +
                            " bytes is over max_value_size (" +
                            std::to_string(options_.max_value_size) + ")");
  }
  if (kHeaderSize + key.size() + MaxStoredLength(value.size()) > kMaxFileSizeLimit) {
    return Status::TooLarge("value of " + std::to_string(value.size()) +
                            " bytes does not fit a record (4 GiB with its checksums)");
  }
  if (wo.ttl.count() < 0 || wo.expires_at_unix_ns < 0) {
    return Status::InvalidArgument("expiry must not be negative");
  }
  const int64_t now = env_->NowUnixNanos();
  RecordHeader h;
  h.timestamp = wo.timestamp_unix_ns != 0 ? wo.timestamp_unix_ns : now;
  h.expires = ExpiryFor(wo, now);
  h.reserved = wo.mode;
  SetRecordOwner(wo.owner, &h);
  Writer w;
  ThreadBuffers buffers(&w);
  w.sync = SyncFor(wo.sync, options_.sync_on_put);
  RecordHeader written = AppendRecord(&w.records, h, key, value, options_.compression_threshold);
  KeydirEntry e = EntryForRecord(written, static_cast<uint32_t>(value.size()));
  w.ops.push_back(PendingOp{LogOp::kPut, 0, key, e, 0,
                            static_cast<uint32_t>(w.records.size())});
  puts_++;
  return Commit(&w);
}

Status DBImpl::Delete(std::string_view key) { return Delete(WriteOptions(), key); }

Status DBImpl::Delete(const WriteOptions& wo, std::string_view key) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  Status s = CheckKey(key);
  if (!s.ok()) return s;
  Writer w;
  ThreadBuffers buffers(&w);
  w.sync = SyncFor(wo.sync, options_.sync_on_delete);
  bool absent;
  {
    std::shared_lock<std::shared_mutex> l(keydir_mu_);
    KeydirEntry e;
    absent = !keydir_.Get(key, &e);
  }
  if (absent) {
    // Nothing to delete. The key may be absent only because of a write not
    // yet synced (a Delete with Sync::kNever), so a synced delete still
    // syncs what is pending: its acknowledgement promises the key stays
    // gone after power loss. (Commit fsyncs only when something is unsynced.)
    return w.sync ? Commit(&w) : Status::OK();
  }
  RecordHeader h;
  h.timestamp = env_->NowUnixNanos();
  h.flags = kFlagTombstone;
  AppendRecord(&w.records, h, key, std::string_view(), 0);
  w.ops.push_back(PendingOp{LogOp::kDelete, 0, key, KeydirEntry(), 0,
                            static_cast<uint32_t>(w.records.size())});
  deletes_++;
  return Commit(&w);
}

Status DBImpl::WriteMeta(std::string_view key, uint8_t mask, int64_t timestamp, int64_t expires,
                         uint16_t mode, std::optional<Owner> owner) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  Status s = CheckKey(key);
  if (!s.ok()) return s;
  KeydirEntry cur;
  s = Lookup(key, &cur);
  if (!s.ok()) return s;
  RecordHeader h;
  h.timestamp = timestamp;
  h.expires = expires;
  h.reserved = mode;
  h.flags = kFlagMetaUpdate;
  if (mask & kMetaOwner) SetRecordOwner(owner, &h);
  const char mask_byte = static_cast<char>(mask);
  Writer w;
  w.sync = options_.sync_on_put;
  RecordHeader written = AppendRecord(&w.records, h, key, std::string_view(&mask_byte, 1), 0);
  KeydirEntry e = EntryForRecord(written, 0);
  w.ops.push_back(PendingOp{LogOp::kMeta, mask, key, e, 0,
                            static_cast<uint32_t>(w.records.size())});
  return Commit(&w);
}

Status DBImpl::Expire(std::string_view key, std::chrono::nanoseconds ttl) {
  if (ttl.count() <= 0) return Status::InvalidArgument("ttl must be positive");
  WriteOptions wo;
  wo.ttl = ttl;
  return WriteMeta(key, kMetaExpires, 0, ExpiryFor(wo, env_->NowUnixNanos()), 0);
}

Status DBImpl::ExpireAt(std::string_view key, int64_t expires_unix_ns) {
  if (expires_unix_ns <= 0) return Status::InvalidArgument("expiry must be positive");
  return WriteMeta(key, kMetaExpires, 0, expires_unix_ns, 0);
}

Status DBImpl::Persist(std::string_view key) { return WriteMeta(key, kMetaExpires, 0, 0, 0); }

Status DBImpl::SetMeta(std::string_view key, int32_t mode, int64_t timestamp_unix_ns,
                       std::optional<Owner> owner) {
  uint8_t mask = owner ? kMetaOwner : 0;
  if (mode >= 0) {
    if (mode > 0xFFFF) return Status::InvalidArgument("mode must fit in 16 bits");
    mask |= kMetaMode;
  }
  if (timestamp_unix_ns >= 0) mask |= kMetaTimestamp;
  if (mask == 0) {
    KeydirEntry cur;
    Status s = CheckKey(key);
    return s.ok() ? Lookup(key, &cur) : s;
  }
  return WriteMeta(key, mask, timestamp_unix_ns < 0 ? 0 : timestamp_unix_ns, 0,
                   static_cast<uint16_t>(mode < 0 ? 0 : mode), owner);
}

Status DBImpl::Sync() {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  Writer w;
  w.sync = true;
  return Commit(&w);
}

Status DBImpl::EncodeBatch(const WriteBatch& batch, Writer* w) {
  const int64_t now = env_->NowUnixNanos();
  bool has_delete = false;
  for (const WriteBatch::Op& op : batch.ops()) {
    Status s = CheckKey(op.key);
    if (!s.ok()) return s;
    RecordHeader h;
    h.timestamp = op.timestamp != 0 ? op.timestamp : now;
    h.flags = kFlagBatch;
    KeydirEntry e;
    const uint64_t rel = w->Size();
    if (rel >= kMaxFileSizeLimit) break;  // refused below
    if (op.kind == WriteBatch::Op::kCopy) {
      s = EncodeCopy(op.value, op.key, now, w);
      if (!s.ok()) return s;
      continue;
    }
    if (op.kind == WriteBatch::Op::kDelete) {
      has_delete = true;
      h.flags |= kFlagTombstone;
      AppendRecord(&w->records, h, op.key, std::string_view(), 0);
      w->ops.push_back(PendingOp{LogOp::kDelete, 0, op.key, e, static_cast<uint32_t>(rel),
                                 static_cast<uint32_t>(w->Size() - rel)});
      continue;
    }
    if (op.value.size() > options_.max_value_size ||
        kHeaderSize + op.key.size() + MaxStoredLength(op.value.size()) > kMaxFileSizeLimit) {
      return Status::TooLarge("value of " + std::to_string(op.value.size()) +
                              " bytes is over max_value_size or the format's limit");
    }
    WriteOptions wo;
    wo.ttl = std::chrono::nanoseconds(op.ttl_ns);
    wo.expires_at_unix_ns = op.expires_at;
    h.expires = ExpiryFor(wo, now);
    h.reserved = op.mode;
    SetRecordOwner(op.owner, &h);
    RecordHeader written =
        AppendRecord(&w->records, h, op.key, op.value, options_.compression_threshold);
    e = EntryForRecord(written, static_cast<uint32_t>(op.value.size()));
    w->ops.push_back(PendingOp{LogOp::kPut, 0, op.key, e, static_cast<uint32_t>(rel),
                               static_cast<uint32_t>(w->Size() - rel)});
  }
  RecordHeader commit;
  commit.timestamp = now;
  commit.flags = kFlagBatchCommit;
  char count[4];
  EncodeFixed32(count, static_cast<uint32_t>(batch.Count()));
  AppendRecord(&w->records, commit, std::string_view(), std::string_view(count, 4), 0);
  if (w->Size() >= kMaxFileSizeLimit) {
    return Status::TooLarge("batch of " + std::to_string(w->Size()) +
                            " bytes is over the 4 GiB a data file can address");
  }
  w->sync = options_.sync_on_put || (has_delete && options_.sync_on_delete);
  return Status::OK();
}

Status DBImpl::Write(const WriteOptions& wo, const WriteBatch& batch) {
  return WriteIf(wo, batch, {});
}

Status DBImpl::WriteIf(const WriteOptions& wo, const WriteBatch& batch,
                       const std::vector<Condition>& conditions) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  if (batch.Count() == 0 && conditions.empty()) return Status::OK();
  Writer w;
  Status s = batch.Count() > 0 ? EncodeBatch(batch, &w) : Status::OK();
  if (!s.ok()) return s;
  if (wo.sync != WriteOptions::Sync::kDefault) w.sync = wo.sync == WriteOptions::Sync::kAlways;
  if (!conditions.empty()) w.conditions = &conditions;
  for (const WriteBatch::Op& op : batch.ops()) (op.kind == WriteBatch::Op::kDelete ? deletes_ : puts_)++;
  return Commit(&w);
}

Status DBImpl::PutIfAbsent(std::string_view key, std::string_view value) {
  WriteBatch b;
  b.Put(key, value);
  return WriteIf(WriteOptions(), b, {Condition{Condition::kAbsent, key, {}}});
}

Status DBImpl::CompareAndSwap(std::string_view key, std::string_view expected,
                              std::string_view value) {
  WriteBatch b;
  b.Put(key, value);
  return WriteIf(WriteOptions(), b, {Condition{Condition::kValueEquals, key, expected}});
}

Status DBImpl::DeleteIf(std::string_view key, std::string_view expected) {
  WriteBatch b;
  b.Delete(key);
  return WriteIf(WriteOptions(), b, {Condition{Condition::kValueEquals, key, expected}});
}

// ---------------------------------------------------------------- read path

std::shared_ptr<RandomAccessFile> DBImpl::FileFor(uint32_t id) const {
  std::shared_lock<std::shared_mutex> l(files_mu_);
  auto it = files_.find(id);
  return it == files_.end() ? nullptr : it->second.file;
}

DBImpl::FileSlot DBImpl::NewFileSlot(std::unique_ptr<RandomAccessFile> file, uint64_t size,
                                     uint64_t map_len) const {
  std::string_view map = options_.mmap_reads ? file->Map(map_len) : std::string_view();
  return FileSlot{std::shared_ptr<RandomAccessFile>(std::move(file)), size, map};
}

bool DBImpl::SlotFor(uint32_t id, FileSlot* slot) const {
  std::shared_lock<std::shared_mutex> l(files_mu_);
  auto it = files_.find(id);
  if (it == files_.end()) return false;
  *slot = it->second;
  return true;
}

Status DBImpl::Lookup(std::string_view key, KeydirEntry* entry) {
  if (closed_) return Status::Closed("the store is closed");
  {
    std::shared_lock<std::shared_mutex> l(keydir_mu_);
    if (!keydir_.Get(key, entry)) return Status::NotFound("key not found");
  }
  if (entry->expires != 0 && IsExpired(*entry, env_->NowUnixNanos())) {
    DropExpired(key, *entry);
    return Status::Expired("key expired");
  }
  return Status::OK();
}

// Records up to this size are read through their file's mapping, larger ones
// by pread: beside their copy the system call is small, and pread leaves no
// pages of them counted in the process's resident size.
constexpr uint64_t kMaxMappedRead = 64 << 10;

bool DBImpl::Mapped(const FileSlot& slot, const KeydirEntry& e, uint64_t size) {
  return size <= kMaxMappedRead && e.offset + size <= slot.map.size();
}

Status DBImpl::ReadEntry(std::string_view key, const KeydirEntry& e, std::string* buf,
                         RecordHeader* h, std::string_view* stored) {
  FileSlot slot;
  if (!SlotFor(e.file_id, &slot)) return Status::NotFound("data file gone");  // caller retries
  const uint64_t size = EntryRecordSize(key.size(), e);
  if (Mapped(slot, e, size)) {
    const MappedRange range(slot.map, e.offset, e.offset + size);
    return AtRecord(e, ReadRecord(&range, e.offset, size, key, buf, h, stored));
  }
  return AtRecord(e, ReadRecord(slot.file.get(), e.offset, size, key, buf, h, stored));
}

Status DBImpl::AtRecord(const KeydirEntry& e, const Status& s) const {
  if (!s.IsCorruption()) return s;
  return Status::Corruption(DataFileName(data_dir_, e.file_id) + " offset " +
                            std::to_string(e.offset) + ": " + s.message());
}

Status DBImpl::Get(std::string_view key, std::string* value) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  Status s = CheckKey(key);
  if (!s.ok()) return s;
  gets_++;
  thread_local std::string buf;
  for (int attempt = 0; attempt < 3; attempt++) {
    KeydirEntry e;
    s = Lookup(key, &e);
    if (!s.ok()) return s;
    RecordHeader h;
    std::string_view stored;
    s = ReadEntry(key, e, &buf, &h, &stored);
    if (s.IsNotFound()) continue;  // the file was merged away under us: look again
    if (!s.ok()) return s;
    s = DecodeValue(h, stored, value);  // into the caller's buffer; unchanged on failure
    if (!s.ok()) return s;
    if (buf.capacity() > (4u << 20)) std::string().swap(buf);  // don't keep huge buffers
    return Status::OK();
  }
  return Status::IOError("data file for key vanished repeatedly");
}

Status DBImpl::GetRange(std::string_view key, uint64_t offset, size_t n, std::string* value) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  Status s = CheckKey(key);
  if (!s.ok()) return s;
  gets_++;
  for (int attempt = 0; attempt < 3; attempt++) {
    KeydirEntry e;
    s = Lookup(key, &e);
    if (!s.ok()) return s;
    FileSlot slot;
    if (!SlotFor(e.file_id, &slot)) continue;  // merged away under us: look again
    const uint64_t size = EntryRecordSize(key.size(), e);
    const MappedRange range(slot.map, e.offset, e.offset + size);
    const RandomAccessFile* file = Mapped(slot, e, size) ? &range : slot.file.get();
    std::string out;
    s = AtRecord(e, ReadValueRange(file, e, key, offset, n, &out));
    if (s.ok()) value->swap(out);
    return s;
  }
  return Status::IOError("data file for key vanished repeatedly");
}

Status DBImpl::Meta(std::string_view key, RecordMeta* meta) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  Status s = CheckKey(key);
  if (!s.ok()) return s;
  KeydirEntry e;
  s = Lookup(key, &e);
  if (!s.ok()) return s;
  *meta = MetaOf(e);
  return Status::OK();
}

bool DBImpl::Has(std::string_view key) {
  CallGuard guard(this);
  if (!guard) return false;
  KeydirEntry e;
  return CheckKey(key).ok() && Lookup(key, &e).ok();
}

// ------------------------------------------------------------- maintenance

Status DBImpl::RunGC(uint64_t* removed) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  SweepExpired(removed);
  return Status::OK();
}

// Walks the keydir a chunk at a time, the lock held shared for each chunk
// and exclusively for each chunk of removals, so a writer (which needs the
// lock exclusively to apply its group) never waits for a whole walk: a
// single walk held it 185 ms at 1 M keys, at the start of every merge. A key
// written during the walk may be missed; a read drops it once expired.
void DBImpl::SweepExpired(uint64_t* removed) {
  constexpr size_t kSweepChunk = 4096;
  const int64_t now = env_->NowUnixNanos();
  std::vector<std::string> expired;
  std::string resume;  // the first key not yet looked at
  for (bool first = true; first || !resume.empty(); first = false) {
    LockSharedSpinning(keydir_mu_);
    std::shared_lock<std::shared_mutex> l(keydir_mu_, std::adopt_lock);
    Keydir::Iterator it(&keydir_);
    if (first) {
      it.SeekToFirst();
    } else {
      it.Seek(resume);
    }
    for (size_t n = 0; it.Valid() && n < kSweepChunk; it.Next(), n++) {
      if (IsExpired(it.entry(), now)) expired.emplace_back(it.key());
    }
    resume.assign(it.Valid() ? it.key() : std::string_view());  // keys are never empty
  }
  uint64_t n = 0;
  for (size_t i = 0; i < expired.size(); i += kSweepChunk) {
    LockSpinning(keydir_mu_);
    std::unique_lock<std::shared_mutex> l(keydir_mu_, std::adopt_lock);
    for (size_t j = i; j < std::min(expired.size(), i + kSweepChunk); j++) {
      KeydirEntry e;
      if (keydir_.Get(expired[j], &e) && IsExpired(e, now)) {
        keydir_.Erase(expired[j]);
        live_bytes_ -= EntryRecordSize(expired[j].size(), e);
        n++;
      }
    }
  }
  if (removed) *removed = n;
}

Status DBImpl::Stats(DBStats* st) {
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  *st = DBStats();
  {
    std::shared_lock<std::shared_mutex> l(keydir_mu_);
    st->keys = keydir_.size();
    st->keydir_bytes = keydir_.MemoryUsage();
    st->total_bytes = total_bytes_;
    st->dead_bytes = st->total_bytes > live_bytes_ ? st->total_bytes - live_bytes_ : 0;
  }
  {
    std::shared_lock<std::shared_mutex> l(files_mu_);
    st->data_files = static_cast<uint32_t>(files_.size());
  }
  {
    std::lock_guard<std::mutex> l(merge_state_mu_);
    st->last_merge_unix_ns = last_merge_unix_ns_;
    st->last_merge_status = last_merge_status_;
  }
  st->puts = puts_;
  st->gets = gets_;
  st->deletes = deletes_;
  st->write_groups = groups_;
  st->syncs = syncs_;
  st->rotation_waits = rotation_waits_;
  return Status::OK();
}

void DBImpl::Reclaimable(uint64_t* dead_bytes, uint64_t* total_bytes, double* ratio) {
  CallGuard guard(this);  // when closed: the figures of the store as it was
  std::shared_lock<std::shared_mutex> l(keydir_mu_);
  const uint64_t total = total_bytes_;
  const uint64_t dead = total > live_bytes_ ? total - live_bytes_ : 0;
  if (dead_bytes) *dead_bytes = dead;
  if (total_bytes) *total_bytes = total;
  if (ratio) *ratio = total == 0 ? 0.0 : static_cast<double>(dead) / static_cast<double>(total);
}

void DBImpl::ScheduleHint(uint32_t id) {
  std::lock_guard<std::mutex> l(bg_mu_);
  hint_queue_.push_back(id);
  bg_cv_.notify_one();
}

Status DBImpl::WriteHint(uint32_t id) {
  const std::string path = DataFileName(data_dir_, id);
  uint64_t size = 0;
  Status s = env_->GetFileSize(path, &size);
  std::unique_ptr<RandomAccessFile> file;
  if (s.ok()) s = env_->NewRandomAccessFile(path, &file);
  if (!s.ok()) return s;
  HintWriter hint(env_, HintFileName(data_dir_, id), /*sort_by_key=*/true);
  s = hint.Open();
  if (!s.ok()) return s;
  RecordScanner scanner(file.get(), size, id);
  LogOp op;
  RecordScanner::Result r;
  auto merging = [&] { return id < merge_inputs_below_.load(std::memory_order_relaxed); };
  while ((r = scanner.Next(&op)) == RecordScanner::Result::kOp && !merging()) {
    s = hint.Add(op);
    if (!s.ok()) return s;
  }
  if (merging()) {  // a failed merge schedules the hint again
    env_->RemoveFile(HintFileName(data_dir_, id) + ".tmp");
    return Status::OK();
  }
  if (r == RecordScanner::Result::kBad) {
    return Status::Corruption(path + ": " + scanner.error() + "; no hint written");
  }
  s = hint.Finish(data_dir_);
  // A merge or DeleteAll may have dropped the data file meanwhile (after it
  // removed hints): then this hint must not outlive it.
  if (s.ok() && !FileFor(id)) env_->RemoveFile(HintFileName(data_dir_, id));
  return s;
}

void DBImpl::BackgroundLoop() {
  std::unique_lock<std::mutex> l(bg_mu_);
  for (;;) {
    // Hints first, and all of them before stopping: Close() waits for them so
    // the next open need not scan.
    if (!hint_queue_.empty()) {
      uint32_t id = hint_queue_.back();
      hint_queue_.pop_back();
      l.unlock();
      Status s = FileFor(id) ? WriteHint(id) : Status::OK();  // merged away: nothing to do
      if (!s.ok() && FileFor(id)) Log().warn("hint file for data file {}: {}", id, s.ToString());
      l.lock();
      continue;
    }
    if (bg_stop_) break;
    if (flush_wanted_) {
      flush_wanted_ = false;
      l.unlock();
      FlushActiveFile();
      l.lock();
      continue;
    }
    if (options_.sync_interval.count() > 0) {
      bg_cv_.wait_for(l, options_.sync_interval);
      if (bg_stop_ || !hint_queue_.empty() || flush_wanted_) continue;
      if (unsynced_) {
        l.unlock();
        Status s = Sync();
        if (!s.ok() && !s.IsClosed()) Log().warn("background sync: {}", s.ToString());
        l.lock();
      }
    } else {
      bg_cv_.wait(l);
    }
  }
}

Status DBImpl::Close() {
  if (closed_.exchange(true)) return Status::OK();
  merge_cancel_ = true;
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    merge_cv_.notify_all();
  }
  if (merge_thread_.joinable()) merge_thread_.join();
  { std::lock_guard<std::mutex> ml(merge_mu_); }  // a manual merge has stopped
  Status s;
  if (active_) {
    Writer w;  // the final sync, behind every write already queued
    w.sync = true;
    w.internal = true;
    s = Commit(&w);
  } else {
    // No active file (a rotation failed): report what stopped the writes,
    // as the final sync does when there is an active file.
    std::lock_guard<std::mutex> q(queue_mu_);
    s = bg_error_;
  }
  while (calls_.load() > 0) env_->SleepMicros(100);  // calls that began before closing
  // A retirement the final sync did not wait for (writes had stopped): its
  // hint is scheduled before the background thread stops.
  FinishRetirement();
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    bg_stop_ = true;
    bg_cv_.notify_all();
  }
  if (bg_thread_.joinable()) bg_thread_.join();
  if (active_) {
    const bool written = active_->Size() > 0;
    Status c = active_->Close();
    if (s.ok()) s = c;
    active_.reset();
    // The active file's hint, so the next open need not scan it; only after a
    // clean final sync, so it never describes bytes that are not on disk, and
    // only when this open wrote (writing it costs about a scan of the file,
    // which a process that only read, such as `bitgask get`, should not pay).
    if (s.ok() && written && appended_since_open_ && options_.use_hint_files) {
      Status h = WriteHint(active_id_);
      if (!h.ok()) Log().warn("hint file for data file {}: {}", active_id_, h.ToString());
    }
  }
  {
    std::unique_lock<std::shared_mutex> l(files_mu_);
    files_.clear();
  }
  lock_.reset();
  return s;
}

void DBImpl::ResetState() {
  writers_.clear();
  bg_error_ = Status::OK();
  active_.reset();
  active_id_ = 0;
  next_file_id_ = 1;
  unsynced_ = false;
  appended_since_open_ = false;
  active_hint_kept_ = false;
  newest_hint_used_ = false;
  keydir_.Clear();
  live_bytes_ = 0;
  files_.clear();
  total_bytes_ = 0;
  hint_queue_.clear();
  flush_wanted_ = false;
  unflushed_bytes_ = 0;
  bg_stop_ = false;
  merge_cancel_ = false;
  puts_ = gets_ = deletes_ = groups_ = syncs_ = rotation_waits_ = 0;
  retire_status_ = Status::OK();
}

Status DBImpl::Reopen() {
  // Close waits for calls in progress; calls made from now on get Closed.
  // A failed final sync is no reason to stay closed: reopening is how a store
  // recovers from a write error.
  Status s = Close();
  if (!s.ok()) Log().warn("reopen of {}: closing: {}", root_, s.ToString());
  ResetState();
  s = Recover();
  if (s.ok()) closed_ = false;
  return s;
}

}  // namespace internal

Status DB::Open(const std::string& path, const Options& options, std::unique_ptr<DB>* db) {
  db->reset();
  if (path.empty()) return Status::InvalidArgument("empty store path");
  std::string root = path;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  auto impl = std::make_unique<internal::DBImpl>(root, options);
  Status s = impl->Recover();
  if (!s.ok()) return s;
  *db = std::move(impl);
  return Status::OK();
}

}  // namespace bitgask
