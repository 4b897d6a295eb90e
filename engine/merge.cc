// Merge (compaction): rewrites the live records of every closed data file
// into new files and removes the old ones.
//
// 1. Cut (as the commit queue's leader, a moment): every file so far becomes
//    an input; a range of ids is reserved for the outputs just above them and
//    the new active file takes the id after that range. So in id order the
//    outputs sit after everything they copy and before every later write.
// 2. Copy: walk the keydir in key order, a chunk of keys per hold of the
//    shared keydir lock (after letting blocked writers go first), and
//    collect the entries that point into an input: exactly the records to
//    keep, so dead records are never read. With no lock held, each batch of
//    them is read in key order (one read each), checked against its CRC
//    once, and appended to the current output (NNNNNNNNN.data.tmp) with the
//    keydir's current timestamp, expiry, mode and owner in its header
//    (meta-update records are folded in). Tombstones are never copied: every
//    closed file is an input, so nothing older is left for them to hide.
// 3. Install, per output file: fsync, rename to .data, write its hint (in key
//    order), fsync the directory, open it for readers, then repoint the
//    keydir entries that still point at the copied records, in key order and
//    a thousand at a time, so a writer never waits long for the keydir lock.
// 4. Drop the inputs: forget them, then delete them in ascending id order.
//
// Crash safety: .tmp files are removed at open. Installed outputs only hold
// copies of records that are still in the inputs, so any crash before the
// inputs are gone replays the inputs and then the same records again. Inputs
// are deleted oldest first, so what remains is always a suffix of the log:
// a deleted key's tombstone outlives every older value of that key.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "coding.h"
#include "crc32.h"
#include "db_impl.h"
#include "hint_file.h"
#include "log.h"
#include "record.h"

namespace bitgask {
namespace internal {

namespace {

// Keydir entries repointed per hold of the exclusive keydir lock (a few
// tenths of a millisecond of a writer's wait at 10 M keys).
constexpr size_t kSwapChunk = 1024;
// Output bytes written between syncs of the output file.
constexpr uint64_t kOutputSyncEvery = 8 << 20;
// Copied records gathered in memory before one write to the output file (a
// system call per record was a fifth of the merge's CPU).
constexpr size_t kOutputBuffer = 1 << 20;
// Records up to this size are copied whole; larger ones a piece at a time.
constexpr uint64_t kCopyPiece = 1 << 20;
// Keys the keydir walk visits per hold of the shared keydir lock (about
// 0.1 ms). A hold per key would be a lock hand-off per key with the writers:
// each wait of a writer that lost the race cost a wake-up, and on a loaded
// machine a preemption (docs/Benchmarks.md, session 7).
constexpr size_t kWalkChunk = 512;
// Live records collected before they are copied, and the most key bytes
// they may hold: memory stays bounded whatever the number of keys.
constexpr size_t kCopyBatch = 8192;
constexpr size_t kCopyBatchKeyBytes = 4 << 20;
// The longest the merge lets writers blocked on the keydir lock go first.
constexpr std::chrono::microseconds kMaxStepAside{2000};

// Before the merge takes the keydir lock (again): lets the writers that are
// blocked on it (counted by LockSpinning) take it first. glibc's rwlock is
// not fair: a merge that releases the lock and takes it again at once wins
// against a writer that was just woken and must first be scheduled, so the
// writer sleeps again, for as long as the merge keeps the pattern up.
void StepAside(const std::atomic<int>& waiting) {
  if (waiting.load(std::memory_order_relaxed) == 0) return;
  const auto until = std::chrono::steady_clock::now() + kMaxStepAside;
  while (waiting.load(std::memory_order_relaxed) > 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
}

// Copies the record of `key` at `offset` of `file` (its value starts
// `value_offset` bytes in) to `out` with the header and owner `h` says (key
// and value lengths unchanged), reading it a piece at a time so memory does
// not grow with its size. The new CRC is derived from
// the old one (CRC-32 is linear); the bytes are checksummed again as they
// are copied, and Corruption is returned if they changed.
Status CopyLargeRecord(const RandomAccessFile& file, uint64_t offset, uint64_t value_offset,
                       std::string_view key, const RecordHeader& h, WritableFile* out) {
  std::string old_head(static_cast<size_t>(value_offset), '\0');
  std::string_view got;
  Status s = file.Read(offset, old_head.size(), old_head.data(), &got);
  if (s.ok() && got.size() != old_head.size()) s = Status::Corruption("record cut short");
  if (!s.ok()) return s;
  if (got.data() != old_head.data()) old_head.assign(got.data(), got.size());
  RecordHeader old;
  if (!DecodeHeader(old_head.data(), &old) || old.key_len != h.key_len ||
      old.val_len != h.val_len || old.ValueOffset() != value_offset ||
      std::string_view(old_head).substr(kHeaderSize, key.size()) != key) {
    return Status::Corruption("record changed under the merge");
  }
  const uint32_t value_crc = old.crc ^ Crc32Combine(RecordHeadCrc(old_head), 0, h.val_len);
  std::string head = EncodeRecordHead(h, key);
  EncodeFixed32(head.data(), Crc32Combine(RecordHeadCrc(head), value_crc, h.val_len));
  s = out->Append(head);
  if (!s.ok()) return s;
  std::string buf(kCopyPiece, '\0');
  uint32_t copied_crc = 0;
  const uint64_t value_at = offset + value_offset;
  for (uint64_t off = 0; off < h.val_len;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kCopyPiece, h.val_len - off));
    s = file.Read(value_at + off, n, buf.data(), &got);
    if (s.ok() && got.size() != n) s = Status::Corruption("record cut short");
    if (!s.ok()) return s;
    copied_crc = Crc32(copied_crc, got.data(), n);
    s = out->Append(got);
    if (!s.ok()) return s;
    off += n;
  }
  if (copied_crc != value_crc) return Status::Corruption("record changed under the merge");
  return Status::OK();
}

// A record the keydir pointed at when the walk passed its key (the key is
// bytes [key_at, key_at + key_len) of the batch's key buffer: one string per
// key was a heap allocation per key while the walk held the keydir lock).
struct LiveRecord {
  size_t key_at;
  size_t key_len;
  KeydirEntry entry;
};

// A record copied into an output file.
struct Moved {
  uint32_t from_file;
  uint32_t from_offset;
  LogOp op;  // the copy's entry (file_id and offset in the output)
};

}  // namespace

Status DBImpl::Merge(const MergeOptions& mo, MergeResult* result) {
  MergeResult unused;
  if (!result) result = &unused;
  *result = MergeResult();
  CallGuard guard(this);
  if (!guard) return Status::Closed("the store is closed");
  std::lock_guard<std::mutex> ml(merge_mu_);
  if (closed_) return Status::Closed("the store is closed");
  if (!mo.force) {
    uint64_t dead, total;
    double ratio;
    Reclaimable(&dead, &total, &ratio);
    if (ratio < options_.merge_trigger_ratio || total < options_.merge_min_total) {
      return Status::OK();
    }
  }
  const auto started = std::chrono::steady_clock::now();
  result->ran = true;
  Status s = MergeLocked(mo, result);
  result->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard<std::mutex> l(merge_state_mu_);
  last_merge_unix_ns_ = env_->NowUnixNanos();
  if (s.ok()) {
    last_merge_status_ = "ok: " + std::to_string(result->files_in) + " files (" +
                         std::to_string(result->bytes_in) + " bytes) into " +
                         std::to_string(result->files_out) + " (" +
                         std::to_string(result->bytes_out) + " bytes)";
  } else {
    last_merge_status_ = "failed: " + s.ToString();
    Log().error("merge of {}: {}", root_, s.ToString());
  }
  return s;
}

Status DBImpl::MergeLocked(const MergeOptions& mo, MergeResult* result) {
  uint64_t dropped = 0;
  RunGC(&dropped);  // expired keys are not copied: drop them from the keydir first

  // 1. Cut.
  AwaitRetirement();
  FlushActiveFile();
  std::vector<std::pair<uint32_t, FileSlot>> inputs;
  uint32_t next_out = 0, out_end = 0;
  Writer cut;
  cut.leader_task = [&]() -> Status {
    uint64_t bytes = 0;
    {
      std::shared_lock<std::shared_mutex> fl(files_mu_);
      for (const auto& f : files_) {
        inputs.emplace_back(f.first, f.second);
        bytes += f.second.size;
      }
    }
    // Output files are filled up to max_data_file_size (next fit), so two
    // neighbours together always hold more than one file's worth: at most
    // 2 * ceil(bytes / max) + 1 outputs, whatever the inputs' sizes.
    const uint64_t per_file = options_.max_data_file_size;
    next_out = next_file_id_;
    out_end = next_out + static_cast<uint32_t>(2 * ((bytes + per_file - 1) / per_file) + 2);
    next_file_id_ = out_end;
    return Rotate(/*in_background=*/false);  // the active file becomes the last input
  };
  Status s = Commit(&cut);
  if (!s.ok()) return s;
  for (auto& in : inputs) {  // the old active file's final size
    std::shared_lock<std::shared_mutex> fl(files_mu_);
    auto it = files_.find(in.first);
    if (it != files_.end()) in.second.size = it->second.size;
  }
  uint64_t total_in = 0;
  for (const auto& in : inputs) total_in += in.second.size;
  result->files_in = static_cast<uint32_t>(inputs.size());
  result->bytes_in = total_in;
  // The inputs by id (they are in ascending id order).
  auto input_for = [&](uint32_t id) -> const FileSlot* {
    auto it = std::lower_bound(
        inputs.begin(), inputs.end(), id,
        [](const std::pair<uint32_t, FileSlot>& in, uint32_t v) { return in.first < v; });
    return it != inputs.end() && it->first == id ? &it->second : nullptr;
  };

  // Hints of the inputs would be deleted with them: the background thread
  // gives up the one it is writing and skips those queued (one file's hint
  // took seconds of a core while the merge ran: docs/Benchmarks.md, session
  // 8). A merge that fails schedules them again.
  merge_inputs_below_ = next_out;

  // 2 and 3. Copy and install.
  std::unique_ptr<WritableFile> out;
  uint32_t out_id = 0;
  std::string pending;  // records copied to `out` but not yet written to it
  std::vector<Moved> moved;
  auto write_pending = [&]() -> Status {
    Status st = pending.empty() ? Status::OK() : out->Append(pending);
    pending.clear();
    return st;
  };

  auto install = [&]() -> Status {
    if (!out) return Status::OK();
    const std::string path = DataFileName(data_dir_, out_id);
    Status st = write_pending();
    if (st.ok()) st = out->Sync();
    const uint64_t size = out->Size();
    if (st.ok()) st = out->Close();
    out.reset();
    if (st.ok()) st = env_->RenameFile(path + ".tmp", path);
    // Key order: the hint is written in it, and repointing in it walks the
    // keydir in order rather than at random. The copy loop already copies
    // in key order (sorting 100,000s of records again cost a quarter of the
    // merge's CPU); the check keeps this right whatever the order.
    auto by_key = [](const Moved& a, const Moved& b) { return a.op.key < b.op.key; };
    if (!std::is_sorted(moved.begin(), moved.end(), by_key)) {
      std::stable_sort(moved.begin(), moved.end(), by_key);
    }
    if (st.ok() && options_.use_hint_files) {
      HintWriter hint(env_, HintFileName(data_dir_, out_id), /*sort_by_key=*/true);
      st = hint.Open();
      for (size_t i = 0; st.ok() && i < moved.size(); i++) st = hint.Add(moved[i].op);
      if (st.ok()) st = hint.Finish(data_dir_);
    }
    if (st.ok()) st = env_->SyncDir(data_dir_);
    std::unique_ptr<RandomAccessFile> reader;
    if (st.ok()) st = env_->NewRandomAccessFile(path, &reader);
    if (!st.ok()) return st;
    {
      std::unique_lock<std::shared_mutex> fl(files_mu_);
      files_[out_id] = NewFileSlot(std::move(reader), size, size);
    }
    total_bytes_ += size;
    for (size_t i = 0; i < moved.size(); i += kSwapChunk) {
      StepAside(keydir_writers_waiting_);
      LockSpinning(keydir_mu_);
      std::unique_lock<std::shared_mutex> kl(keydir_mu_, std::adopt_lock);
      for (size_t j = i; j < std::min(moved.size(), i + kSwapChunk); j++) {
        const Moved& m = moved[j];
        KeydirEntry cur;
        // Repoint only entries still at the copied record; keep their
        // metadata (a meta update may have come after the copy) but take
        // the copy's record flags (it may have gained an owner block).
        if (keydir_.Get(m.op.key, &cur) && cur.file_id == m.from_file &&
            cur.offset == m.from_offset) {
          live_bytes_ -= EntryRecordSize(m.op.key.size(), cur);
          cur.file_id = m.op.entry.file_id;
          cur.offset = m.op.entry.offset;
          cur.flags = static_cast<uint8_t>((cur.flags & kEntryHasOwner) |
                                           (m.op.entry.flags & ~kEntryHasOwner));
          live_bytes_ += EntryRecordSize(m.op.key.size(), cur);
          keydir_.Put(m.op.key, cur);
        }
      }
    }
    result->files_out++;
    result->bytes_out += size;
    moved.clear();
    return Status::OK();
  };

  auto damaged = [&](uint32_t id, uint32_t offset, const std::string& what) {
    return Status::Corruption(DataFileName(data_dir_, id) + " offset " + std::to_string(offset) +
                              ": " + what + "; run `bitgask repair`");
  };

  // Copies one live record to the current output (a new one when it is full).
  uint64_t unsynced_out = 0;  // bytes appended to `out` since its last sync
  std::string scratch;
  std::string batch_keys;  // the keys of `batch`, one after another
  auto copy = [&](const LiveRecord& live) -> Status {
    const std::string_view live_key(batch_keys.data() + live.key_at, live.key_len);
    const KeydirEntry& cur = live.entry;
    const uint32_t in_id = cur.file_id;
    const FileSlot* in = input_for(in_id);
    if (!in) return Status::IOError("merge: input file " + std::to_string(in_id) + " vanished");
    // The copy: the keydir's metadata and owner, the record's lengths and codec.
    RecordHeader h;
    h.timestamp = cur.timestamp;
    h.expires = cur.expires;
    h.reserved = cur.mode;
    h.flags = static_cast<uint8_t>(cur.flags & ~(kFlagBatch | kFlagOwner | kEntryHasOwner));
    SetRecordOwner(cur.has_owner() ? std::optional<Owner>(Owner{cur.uid, cur.gid})
                                   : std::nullopt,
                   &h);
    h.key_len = static_cast<uint32_t>(live_key.size());
    h.val_len = cur.disk_len;
    h.codec = (h.flags & kFlagCompressed) ? kCodecSnappy : kCodecNone;
    const uint64_t size = h.RecordSize();
    Status st;
    const uint64_t out_size = out ? out->Size() + pending.size() : 0;
    if (!out || (out_size > 0 && out_size + size > options_.max_data_file_size)) {
      st = install();
      if (!st.ok()) return st;
      if (next_out >= out_end) {
        return Status::IOError("merge needed more output files than it reserved");
      }
      out_id = next_out++;
      unsynced_out = 0;
      st = env_->NewWritableFile(DataFileName(data_dir_, out_id) + ".tmp", &out);
      if (!st.ok()) return st;
    }
    const uint64_t old_size = EntryRecordSize(live_key.size(), cur);
    const uint64_t value_offset = EntryValueOffset(live_key.size(), cur);
    Moved m;
    m.from_file = in_id;
    m.from_offset = cur.offset;
    m.op.kind = LogOp::kPut;
    m.op.entry = EntryForRecord(h, cur.value_len);
    m.op.entry.file_id = out_id;
    m.op.entry.offset = static_cast<uint32_t>(out->Size() + pending.size());
    m.op.record_size = static_cast<uint32_t>(size);
    if (old_size > kCopyPiece) {
      st = write_pending();
      if (st.ok()) {
        st = CopyLargeRecord(*in->file, cur.offset, value_offset, live_key, h, out.get());
      }
      if (st.IsCorruption()) return damaged(in_id, cur.offset, st.message());
      if (!st.ok()) return st;
    } else {
      // Read once (from the input's memory map when it covers the record),
      // checked once.
      std::string_view got;
      if (cur.offset <= in->size && old_size <= in->size - cur.offset &&
          cur.offset + old_size <= in->map.size()) {
        got = in->map.substr(cur.offset, static_cast<size_t>(old_size));
      } else {
        scratch.resize(static_cast<size_t>(old_size));
        st = in->file->Read(cur.offset, scratch.size(), scratch.data(), &got);
        if (!st.ok()) return st;
      }
      if (got.size() != old_size) return damaged(in_id, cur.offset, "record cut short");
      RecordHeader old;
      std::string_view key, stored;
      st = ParseRecord(got, &old, &key, &stored);
      if (!st.ok()) return damaged(in_id, cur.offset, st.message());
      constexpr uint8_t kKind = kFlagTombstone | kFlagCompressed | kFlagMetaUpdate |
                                kFlagBatchCommit | kFlagBlockChecksums;
      if (key != live_key || old.ValueOffset() != value_offset ||
          (old.flags & kKind) != (h.flags & kKind)) {
        return damaged(in_id, cur.offset, "record does not match the keydir");
      }
      const std::string head = EncodeRecordHead(h, live_key);
      if (std::string_view(head).substr(4) == got.substr(4, value_offset - 4)) {
        pending.append(got);  // the same header: the record as it is, CRC and all
      } else {
        const size_t at = pending.size();
        pending += head;
        pending.append(stored.data(), stored.size());
        EncodeFixed32(&pending[at], Crc32(0, &pending[at + 4], size - 4));
      }
      if (pending.size() >= kOutputBuffer) st = write_pending();
      if (!st.ok()) return st;
    }
    // Sync the output as it grows: one large fsync at install would hold
    // the filesystem journal (and so writers' appends) for a long moment.
    unsynced_out += size;
    if (unsynced_out >= kOutputSyncEvery) {
      st = write_pending();
      if (st.ok()) st = out->Sync();
      if (!st.ok()) return st;
      unsynced_out = 0;
    }
    m.op.key.assign(live_key);
    moved.push_back(std::move(m));
    result->records_copied++;
    return Status::OK();
  };

  size_t keys_at_start;
  {
    std::shared_lock<std::shared_mutex> kl(keydir_mu_);
    keys_at_start = keydir_.size();
  }
  uint64_t keys_walked = 0;
  std::string resume;  // the first key not yet walked (keys are never empty)
  bool walked_all = false;
  std::vector<LiveRecord> batch;
  while (s.ok() && !walked_all) {
    // Collect the next live records, in key order.
    batch.clear();
    batch_keys.clear();
    batch_keys.reserve(kCopyBatchKeyBytes + Keydir::kMaxKeyLength);  // no growth under the lock
    while (!walked_all && !merge_cancel_ && batch.size() < kCopyBatch &&
           batch_keys.size() < kCopyBatchKeyBytes) {
      StepAside(keydir_writers_waiting_);
      LockSharedSpinning(keydir_mu_);
      std::shared_lock<std::shared_mutex> kl(keydir_mu_, std::adopt_lock);
      Keydir::Iterator it(&keydir_);
      if (resume.empty()) {
        it.SeekToFirst();
      } else {
        it.Seek(resume);
      }
      size_t n = 0;
      for (; it.Valid() && n < kWalkChunk && batch_keys.size() < kCopyBatchKeyBytes;
           it.Next(), n++) {
        const KeydirEntry e = it.entry();
        if (!input_for(e.file_id)) continue;  // written since the cut, or already merged
        batch.push_back(LiveRecord{batch_keys.size(), it.key().size(), e});
        batch_keys.append(it.key());
      }
      keys_walked += n;
      walked_all = !it.Valid();
      if (!walked_all) resume.assign(it.key());
    }
    if (merge_cancel_) {
      s = Status::Closed("merge stopped: the store is closing");
      break;
    }
    // Copied in key order: the outputs (and so their hints and the
    // repointing) need no sort. Sorting each batch by file and offset
    // instead (reads moving forward through the inputs) cost more in the
    // sort at install than it saved in reads of cached data
    // (docs/Benchmarks.md, session 8).
    for (size_t i = 0; s.ok() && i < batch.size(); i++) {
      if (merge_cancel_) s = Status::Closed("merge stopped: the store is closing");
      if (s.ok()) s = copy(batch[i]);
    }
    if (s.ok() && mo.progress && !walked_all) {  // the share of the keys walked
      const double share = static_cast<double>(keys_walked) /
                           static_cast<double>(std::max<size_t>(keys_at_start, 1));
      mo.progress(std::min(total_in, static_cast<uint64_t>(share * static_cast<double>(total_in))),
                  total_in);
    }
  }
  if (s.ok() && mo.progress) mo.progress(total_in, total_in);
  if (s.ok()) s = install();
  if (!s.ok()) {
    // Leave the inputs alone; an unfinished output is removed now (or at open).
    if (out) {
      out->Close();
      env_->RemoveFile(DataFileName(data_dir_, out_id) + ".tmp");
    }
    merge_inputs_below_ = 0;
    for (const auto& in : inputs) {
      if (options_.use_hint_files && !env_->FileExists(HintFileName(data_dir_, in.first))) {
        ScheduleHint(in.first);
      }
    }
    return s;
  }

  // 4. Drop the inputs.
  std::vector<uint32_t> ids;
  for (const auto& in : inputs) ids.push_back(in.first);
  DropFiles(ids);
  merge_inputs_below_ = 0;
  return Status::OK();
}

void DBImpl::FlushActiveFile() {
  uint32_t newest = 0;
  {
    std::shared_lock<std::shared_mutex> fl(files_mu_);
    if (!files_.empty()) newest = files_.rbegin()->first;  // the active file has the top id
  }
  if (newest == 0) return;
  Status s = env_->FlushFile(DataFileName(data_dir_, newest));
  if (!s.ok()) Log().warn("flushing {}: {}", DataFileName(data_dir_, newest), s.ToString());
}

void DBImpl::DropFiles(const std::vector<uint32_t>& ids) {
  uint64_t freed = 0;
  {
    std::unique_lock<std::shared_mutex> fl(files_mu_);
    for (uint32_t id : ids) {
      auto it = files_.find(id);
      if (it == files_.end()) continue;
      freed += it->second.size;
      files_.erase(it);  // readers holding the file keep it open until done
    }
  }
  total_bytes_ -= freed;
  std::vector<uint32_t> sorted = ids;
  std::sort(sorted.begin(), sorted.end());  // oldest first: see the file comment
  for (uint32_t id : sorted) {
    const std::string hint = HintFileName(data_dir_, id);
    if (env_->FileExists(hint)) env_->RemoveFile(hint);
    Status s = env_->RemoveFile(DataFileName(data_dir_, id));
    if (!s.ok()) Log().warn("merge: {}", s.ToString());
  }
  Status s = env_->SyncDir(data_dir_);
  if (!s.ok()) Log().warn("merge: {}", s.ToString());
}

void DBImpl::MergeLoop() {
  bool first = options_.merge_on_open;
  std::unique_lock<std::mutex> l(bg_mu_);
  while (!closed_) {
    if (!first) {
      if (options_.merge_interval.count() <= 0) break;
      merge_cv_.wait_for(l, options_.merge_interval);
      if (closed_) break;
    }
    first = false;
    l.unlock();
    Status s = Merge(MergeOptions(), nullptr);
    if (!s.ok() && !s.IsClosed()) Log().warn("background merge: {}", s.ToString());
    l.lock();
  }
}

}  // namespace internal
}  // namespace bitgask
