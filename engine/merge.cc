// Merge (compaction): rewrites the live records of every closed data file
// into new files and removes the old ones.
//
// 1. Cut (as the commit queue's leader, a moment): every file so far becomes
//    an input; a range of ids is reserved for the outputs just above them and
//    the new active file takes the id after that range. So in id order the
//    outputs sit after everything they copy and before every later write.
// 2. Copy (no lock held): scan each input; a record is live when the keydir
//    still points at it (checked for a batch of records per hold of the
//    shared keydir lock, after letting blocked writers go first). Live
//    records are appended to the current output (NNNNNNNNN.data.tmp) with
//    the keydir's current timestamp, expiry and mode in their header
//    (meta-update records are folded in).
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
// Records up to this size are copied whole; larger ones a piece at a time.
constexpr uint64_t kCopyPiece = 1 << 20;
// Records of an input whose liveness is checked in one hold of the shared
// keydir lock (about 0.1 ms). One hold per record was a lock hand-off per
// record with the writers: each wait of a writer that lost the race cost a
// wake-up, and on a loaded machine a preemption (docs/Benchmarks.md, session 7).
constexpr size_t kCheckBatch = 256;
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

// Copies the record at `offset` of `file` (already checked by the scanner;
// its value starts `value_offset` bytes in) to `out` with the header and
// owner `h` says (key and value lengths unchanged), reading it a piece at a
// time so memory does not grow with its size. The new CRC is derived from
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
      old.val_len != h.val_len || old.ValueOffset() != value_offset) {
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

  // 2 and 3. Copy and install.
  std::unique_ptr<WritableFile> out;
  uint32_t out_id = 0;
  std::vector<Moved> moved;
  std::string record, old_record;

  auto install = [&]() -> Status {
    if (!out) return Status::OK();
    const std::string path = DataFileName(data_dir_, out_id);
    Status st = out->Sync();
    const uint64_t size = out->Size();
    if (st.ok()) st = out->Close();
    out.reset();
    if (st.ok()) st = env_->RenameFile(path + ".tmp", path);
    // Key order: the hint is written in it, and repointing in it walks the
    // keydir in order rather than at random.
    std::stable_sort(moved.begin(), moved.end(),
                     [](const Moved& a, const Moved& b) { return a.op.key < b.op.key; });
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

  uint64_t done = 0;
  uint64_t unsynced_out = 0;  // bytes appended to `out` since its last sync
  std::vector<LogOp> batch;          // puts read from an input, checked together
  std::vector<char> live;            // whether the keydir still points at each
  std::vector<KeydirEntry> current;  // and its entry when it does
  for (const auto& in : inputs) {
    if (merge_cancel_) {
      s = Status::Closed("merge stopped: the store is closing");
      break;
    }
    const uint32_t in_id = in.first;
    RandomAccessFile* file = in.second.file.get();
    RecordScanner scanner(file, in.second.size, in_id);
    LogOp next;
    RecordScanner::Result r = RecordScanner::Result::kOp;
    while (s.ok() && r == RecordScanner::Result::kOp) {
      batch.clear();
      while (batch.size() < kCheckBatch &&
             (r = scanner.Next(&next)) == RecordScanner::Result::kOp) {
        if (next.kind == LogOp::kPut) batch.push_back(std::move(next));
      }
      if (merge_cancel_) {
        s = Status::Closed("merge stopped: the store is closing");
        break;
      }
      // Which of them the keydir still points at, in one hold of the lock.
      StepAside(keydir_writers_waiting_);
      live.assign(batch.size(), 0);
      current.resize(batch.size());
      {
        LockSharedSpinning(keydir_mu_);
        std::shared_lock<std::shared_mutex> kl(keydir_mu_, std::adopt_lock);
        for (size_t i = 0; i < batch.size(); i++) {
          live[i] = keydir_.Get(batch[i].key, &current[i]) && current[i].file_id == in_id &&
                    current[i].offset == batch[i].entry.offset;
        }
      }
      for (size_t i = 0; s.ok() && i < batch.size(); i++) {
        if (!live[i]) continue;  // overwritten, deleted or expired since
        LogOp& op = batch[i];
        const KeydirEntry& cur = current[i];
        // The copy: the keydir's metadata and owner, the record's lengths and codec.
        RecordHeader h;
        h.timestamp = cur.timestamp;
        h.expires = cur.expires;
        h.reserved = cur.mode;
        h.flags = static_cast<uint8_t>(op.entry.flags &
                                       ~(kFlagBatch | kFlagOwner | kEntryHasOwner));
        SetRecordOwner(cur.has_owner() ? std::optional<Owner>(Owner{cur.uid, cur.gid})
                                       : std::nullopt,
                       &h);
        h.key_len = static_cast<uint32_t>(op.key.size());
        h.val_len = op.entry.disk_len;
        h.codec = (h.flags & kFlagCompressed) ? kCodecSnappy : kCodecNone;
        const uint64_t size = h.RecordSize();
        if (!out || (out->Size() > 0 && out->Size() + size > options_.max_data_file_size)) {
          s = install();
          if (!s.ok()) break;
          if (next_out >= out_end) {
            s = Status::IOError("merge needed more output files than it reserved");
            break;
          }
          out_id = next_out++;
          unsynced_out = 0;
          s = env_->NewWritableFile(DataFileName(data_dir_, out_id) + ".tmp", &out);
          if (!s.ok()) break;
        }
        // Re-read the record and write it with the keydir's metadata.
        const uint64_t old_size = op.record_size;
        const uint64_t value_offset = EntryValueOffset(op.key.size(), op.entry);
        Moved m;
        m.from_file = in_id;
        m.from_offset = op.entry.offset;
        m.op = std::move(op);
        m.op.entry = EntryForRecord(h, cur.value_len);
        m.op.entry.file_id = out_id;
        m.op.entry.offset = static_cast<uint32_t>(out->Size());
        m.op.record_size = static_cast<uint32_t>(size);
        if (old_size > kCopyPiece) {
          s = CopyLargeRecord(*file, m.from_offset, value_offset, m.op.key, h, out.get());
          if (!s.ok()) break;
        } else {
          old_record.resize(old_size);
          std::string_view got;
          s = file->Read(m.from_offset, old_size, old_record.data(), &got);
          if (s.ok() && got.size() != old_size) s = Status::Corruption("record cut short");
          if (!s.ok()) break;
          // The scanner checked the bytes; they are read again, so check again.
          if (Crc32(0, got.data() + 4, got.size() - 4) != DecodeFixed32(got.data())) {
            s = Status::Corruption("record changed under the merge");
            break;
          }
          record = EncodeRecordHead(h, m.op.key);
          record.append(got.substr(value_offset));
          EncodeFixed32(record.data(), Crc32(0, record.data() + 4, record.size() - 4));
          s = out->Append(record);
          if (!s.ok()) break;
        }
        // Sync the output as it grows: one large fsync at install would hold
        // the filesystem journal (and so writers' appends) for a long moment.
        unsynced_out += size;
        if (unsynced_out >= kOutputSyncEvery) {
          s = out->Sync();
          if (!s.ok()) break;
          unsynced_out = 0;
        }
        moved.push_back(std::move(m));
        result->records_copied++;
      }
    }
    if (s.ok() && r == RecordScanner::Result::kBad) {
      s = Status::Corruption(DataFileName(data_dir_, in_id) + " offset " +
                             std::to_string(scanner.bad_offset()) + ": " + scanner.error() +
                             "; run `bitgask repair`");
    }
    if (!s.ok()) break;
    done += in.second.size;
    if (mo.progress) mo.progress(done, total_in);
  }
  if (s.ok()) s = install();
  if (!s.ok()) {
    // Leave the inputs alone; an unfinished output is removed now (or at open).
    if (out) {
      out->Close();
      env_->RemoveFile(DataFileName(data_dir_, out_id) + ".tmp");
    }
    return s;
  }

  // 4. Drop the inputs.
  std::vector<uint32_t> ids;
  for (const auto& in : inputs) ids.push_back(in.first);
  DropFiles(ids);
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
