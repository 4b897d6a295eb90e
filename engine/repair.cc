// DB::Validate (read-only check) and DB::Repair (salvage).
#include <algorithm>
#include <cstdlib>
#include <functional>

#include "bitgask/db.h"
#include "data_file.h"
#include "hint_file.h"
#include "log.h"
#include "meta_file.h"
#include "record.h"

namespace bitgask {

namespace {

using internal::DataFileName;
using internal::FileKind;
using internal::HintFileName;
using internal::LogOp;
using internal::RecordScanner;

struct StoreFiles {
  std::vector<uint32_t> data, hints;
  std::vector<std::string> other;  // set-aside tails, leftovers
};

Status ListStore(Env* env, const std::string& data_dir, StoreFiles* files) {
  std::vector<std::string> names;
  Status s = env->GetChildren(data_dir, &names);
  if (!s.ok()) return s;
  for (const std::string& name : names) {
    uint32_t id = 0;
    switch (internal::ParseFileName(name, &id)) {
      case FileKind::kData: files->data.push_back(id); break;
      case FileKind::kHint: files->hints.push_back(id); break;
      case FileKind::kTemp: files->other.push_back(name); break;
      case FileKind::kOther:
        if (name != "bitgask.meta") files->other.push_back(name);
        break;
    }
  }
  std::sort(files->data.begin(), files->data.end());
  std::sort(files->hints.begin(), files->hints.end());
  std::sort(files->other.begin(), files->other.end());
  return Status::OK();
}

// A damaged region of a data file: bytes [from, to) are dropped; the first
// bad record is at bad_at.
struct Damage {
  uint64_t bad_at, from, to;
  std::string what;
};

// Scans a data file, resuming after damage. fn sees every good op; bad is
// called for every damaged region.
Status ScanSalvaging(Env* env, const std::string& path, uint32_t id, uint64_t* size,
                     const std::function<void(LogOp&)>& fn,
                     const std::function<void(const Damage&)>& bad) {
  Status s = env->GetFileSize(path, size);
  std::unique_ptr<RandomAccessFile> file;
  if (s.ok()) s = env->NewRandomAccessFile(path, &file);
  if (!s.ok()) return s;
  RecordScanner scanner(file.get(), *size, id);
  LogOp op;
  for (;;) {
    RecordScanner::Result r = scanner.Next(&op);
    if (r == RecordScanner::Result::kOp) {
      fn(op);
    } else if (r == RecordScanner::Result::kEnd) {
      return Status::OK();
    } else {
      Damage d{scanner.bad_offset(), scanner.good_offset(), *size, scanner.error()};
      const bool more = scanner.Resync();
      if (more) d.to = scanner.good_offset();
      bad(d);
      if (!more) return Status::OK();
    }
  }
}

bool SameOp(const LogOp& a, const LogOp& b) {
  return a.kind == b.kind && a.key == b.key && a.entry.offset == b.entry.offset &&
         a.record_size == b.record_size && a.meta_mask == b.meta_mask &&
         (a.kind != LogOp::kPut || (a.entry.value_len == b.entry.value_len &&
                                    a.entry.disk_len == b.entry.disk_len &&
                                    a.entry.expires == b.entry.expires));
}

}  // namespace

Status DB::Validate(const std::string& path, ValidateReport* report) {
  *report = ValidateReport();
  Env* env = Env::Default();
  const std::string data_dir = path + "/data";
  if (!env->FileExists(data_dir)) return Status::InvalidArgument(path + ": no such store");
  StoreFiles files;
  Status s = ListStore(env, data_dir, &files);
  if (!s.ok()) return s;

  int version = 0;
  s = internal::ReadMetaFile(env, data_dir, &version);
  if (!s.ok()) {
    report->corrupt.push_back({internal::MetaFileName(data_dir), 0, s.ToString()});
  } else if (version != kFormatVersion) {
    report->corrupt.push_back({internal::MetaFileName(data_dir), 0,
                               "format version " + std::to_string(version) +
                                   ", this build reads " + std::to_string(kFormatVersion)});
  }
  for (const std::string& name : files.other) report->notes.push_back("extra file: " + name);

  for (size_t i = 0; i < files.data.size(); i++) {
    const uint32_t id = files.data[i];
    const std::string file = DataFileName(data_dir, id);
    const bool newest = i + 1 == files.data.size();
    std::vector<LogOp> ops;
    const bool has_hint = std::binary_search(files.hints.begin(), files.hints.end(), id);
    bool damaged = false;
    uint64_t size = 0;
    s = ScanSalvaging(
        env, file, id, &size,
        [&](LogOp& op) {
          report->records++;
          if (has_hint) ops.push_back(std::move(op));
        },
        [&](const Damage& d) {
          damaged = true;
          const bool tail = newest && d.to >= size;
          report->corrupt.push_back(
              {file, d.bad_at,
               d.what + " (" + std::to_string(d.to - d.from) + " bytes" +
                   (tail ? ", a torn tail of the newest file: open truncates it" : "") + ")"});
        });
    if (!s.ok()) return s;
    report->data_files++;
    report->bytes += size;
    if (!has_hint) continue;
    report->hint_files++;
    const std::string hint = HintFileName(data_dir, id);
    std::vector<LogOp> hinted;
    s = internal::ReadHintFile(env, hint, id, [&](LogOp& op) { hinted.push_back(op); });
    if (!s.ok()) {
      report->hint_problems.push_back({hint, 0, s.ToString()});
      continue;
    }
    if (damaged) continue;  // the data scan is not the reference then
    auto first_difference = [&]() {
      const size_t n = std::min(ops.size(), hinted.size());
      size_t at = 0;
      while (at < n && SameOp(ops[at], hinted[at])) at++;
      return at;
    };
    size_t at = first_difference();
    const bool has_clear = std::any_of(ops.begin(), ops.end(),
                                       [](const LogOp& op) { return op.kind == LogOp::kClear; });
    if (at < ops.size() && !has_clear) {
      // Hints are written in key order (HintWriter's sort_by_key); older
      // ones in log order. Compare with the scan in key order too.
      std::stable_sort(ops.begin(), ops.end(),
                       [](const LogOp& a, const LogOp& b) { return a.key < b.key; });
      at = first_difference();
    }
    if (at < std::min(ops.size(), hinted.size()) || ops.size() != hinted.size()) {
      report->hint_problems.push_back(
          {hint, at, "hint does not match its data file from entry " + std::to_string(at)});
    }
  }
  for (uint32_t id : files.hints) {
    if (!std::binary_search(files.data.begin(), files.data.end(), id)) {
      report->notes.push_back("hint without a data file: " + HintFileName(data_dir, id));
    }
  }
  return Status::OK();
}

namespace {

// Appends the records of `ops` (read from `in`) to `out`. A committed batch's
// records stand alone afterwards: their batch flag is cleared.
Status CopyRecords(const RandomAccessFile* in, const std::vector<LogOp>& ops, WritableFile* out) {
  std::string rec;
  for (const LogOp& op : ops) {
    rec.resize(op.record_size);
    std::string_view got;
    Status s = in->Read(op.entry.offset, rec.size(), rec.data(), &got);
    if (!s.ok()) return s;
    if (got.size() != rec.size()) return Status::Corruption("record cut short");
    rec.assign(got.data(), got.size());
    internal::RecordHeader h;
    internal::DecodeHeader(rec.data(), &h);
    if (h.flags & internal::kFlagBatch) {
      h.flags &= static_cast<uint8_t>(~internal::kFlagBatch);
      internal::ResealRecord(h, rec.data());
    }
    s = out->Append(rec);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// Appends bytes [from, to) of `in` to `out`.
Status CopyBytes(const RandomAccessFile* in, uint64_t from, uint64_t to, WritableFile* out) {
  std::string buf(1 << 20, '\0');
  while (from < to) {
    std::string_view got;
    Status s = in->Read(from, std::min<uint64_t>(buf.size(), to - from), buf.data(), &got);
    if (!s.ok()) return s;
    if (got.empty()) return Status::Corruption("file ended early");
    s = out->Append(got);
    if (!s.ok()) return s;
    from += got.size();
  }
  return Status::OK();
}

// Writes path.tmp with `fill`, syncs it and renames it over path.
Status ReplaceFile(Env* env, const std::string& path,
                   const std::function<Status(WritableFile*)>& fill, uint64_t* new_size) {
  std::unique_ptr<WritableFile> out;
  Status s = env->NewWritableFile(path + ".tmp", &out);
  if (!s.ok()) return s;
  s = fill(out.get());
  if (s.ok()) s = out->Sync();
  *new_size = out->Size();
  Status c = out->Close();
  if (s.ok()) s = c;
  if (s.ok()) s = env->RenameFile(path + ".tmp", path);
  if (!s.ok()) env->RemoveFile(path + ".tmp");
  return s;
}

// Puts the good records of a tail that open set aside (NNNNNNNNN.data.damaged-OFF)
// back where they were: between the first OFF bytes of data file NNNNNNNNN and
// whatever was appended to it after that open.
Status ReinsertSetAside(Env* env, const std::string& data_dir, const std::string& name,
                        RepairReport* report) {
  const std::string side = data_dir + "/" + name;
  uint32_t id = 0;
  const size_t mark = name.find(".damaged-");
  const uint64_t off = std::strtoull(name.c_str() + mark + 9, nullptr, 10);
  const std::string path = data_dir + "/" + name.substr(0, mark);
  uint64_t size = 0;
  if (internal::ParseFileName(name.substr(0, mark), &id) != FileKind::kData ||
      !env->GetFileSize(path, &size).ok() || off > size) {
    report->notes.push_back(name + ": its data file is gone or shorter than " +
                            std::to_string(off) + " bytes; kept, not re-inserted");
    return Status::OK();
  }
  std::vector<LogOp> ops;
  uint64_t side_size = 0, dropped = 0;
  Status s = ScanSalvaging(
      env, side, id, &side_size, [&](LogOp& op) { ops.push_back(std::move(op)); },
      [&](const Damage& d) { dropped += d.to - d.from; });
  if (!s.ok()) return s;
  std::unique_ptr<RandomAccessFile> data, tail;
  s = env->NewRandomAccessFile(path, &data);
  if (s.ok()) s = env->NewRandomAccessFile(side, &tail);
  if (!s.ok()) return s;
  uint64_t new_size = 0;
  s = ReplaceFile(env, path, [&](WritableFile* out) {
    Status st = CopyBytes(data.get(), 0, off, out);
    if (st.ok()) st = CopyRecords(tail.get(), ops, out);
    if (st.ok()) st = CopyBytes(data.get(), off, size, out);
    return st;
  }, &new_size);
  if (s.ok()) s = env->RemoveFile(side);
  if (!s.ok()) return s;
  report->records_kept += ops.size();
  report->bytes_dropped += dropped;
  report->files_rewritten++;
  report->notes.push_back(name + ": put " + std::to_string(ops.size()) +
                          " records back at offset " + std::to_string(off) + " of " +
                          name.substr(0, mark) + " (" + std::to_string(dropped) +
                          " damaged bytes dropped)");
  return Status::OK();
}

// The newest file's unsynced-predecessor marker holds the size its
// predecessor had, and open sets the newest file aside when the predecessor
// is shorter (a power cut lost its tail). Repair keeps every readable record:
// when the predecessor is now shorter (cut by the power or by this repair),
// the newest file is rewritten with a marker stating its present size.
Status RestatePredecessorMark(Env* env, const std::string& data_dir,
                              const std::vector<uint32_t>& ids, RepairReport* report) {
  if (ids.size() < 2) return Status::OK();
  const uint32_t pred = ids[ids.size() - 2];
  const std::string newest = DataFileName(data_dir, ids.back());
  uint64_t size = 0, pred_size = 0;
  std::unique_ptr<RandomAccessFile> in;
  Status s = env->GetFileSize(newest, &size);
  if (s.ok()) s = env->GetFileSize(DataFileName(data_dir, pred), &pred_size);
  if (s.ok()) s = env->NewRandomAccessFile(newest, &in);
  if (!s.ok()) return s;
  internal::PredecessorMark mark;
  if (!internal::FirstRecordValid(in.get(), size, &mark) || mark.id != pred ||
      mark.size <= pred_size) {
    return Status::OK();
  }
  const internal::PredecessorMark now{pred, static_cast<uint32_t>(pred_size)};
  uint64_t new_size = 0;
  s = ReplaceFile(env, newest, [&](WritableFile* out) {
    Status st = out->Append(internal::EncodePredecessorMark(now, 0));
    return st.ok() ? CopyBytes(in.get(), internal::kPredecessorMarkSize, size, out) : st;
  }, &new_size);
  if (!s.ok()) return s;
  report->files_rewritten++;
  report->notes.push_back(newest + ": its first record said " + DataFileName(data_dir, pred) +
                          " held " + std::to_string(mark.size) + " bytes; now " +
                          std::to_string(pred_size) + ", so that open keeps this file's records");
  return Status::OK();
}

// True when the data files are recognisably this format's: some data file
// holds a valid record, or none holds a single byte.
Status DataFilesAreOurs(Env* env, const std::string& data_dir, const StoreFiles& files,
                        bool* ours) {
  bool any_bytes = false, any_record = false;
  for (uint32_t id : files.data) {
    uint64_t size = 0;
    Status s = ScanSalvaging(
        env, DataFileName(data_dir, id), id, &size, [&](LogOp&) { any_record = true; },
        [](const Damage&) {});
    if (!s.ok()) return s;
    any_bytes = any_bytes || size > 0;
    if (any_record) break;
  }
  *ours = any_record || !any_bytes;
  return Status::OK();
}

// The meta file decides whether Repair may touch the store at all (policy in
// docs/Operations.md, "Repair"):
//  - this format version: go on;
//  - another format version: NotSupported (this build would rewrite the
//    files in its own format);
//  - missing or damaged (not a bitgask meta file): written afresh when the
//    data files are recognisably ours, a damaged one first renamed to
//    bitgask.meta.damaged-N (never overwritten); otherwise Corruption;
//  - unreadable (an I/O error): that error.
// On any error nothing has been changed.
Status CheckMetaFile(Env* env, const std::string& data_dir, const StoreFiles& files,
                     RepairReport* report) {
  const std::string meta = internal::MetaFileName(data_dir);
  const bool exists = env->FileExists(meta);
  if (exists) {
    int version = 0;
    Status s = internal::ReadMetaFile(env, data_dir, &version);
    if (s.ok() && version == kFormatVersion) return s;
    if (s.ok()) {
      return Status::NotSupported(meta + " says format version " + std::to_string(version) +
                                  "; this build repairs only version " +
                                  std::to_string(kFormatVersion) + " (nothing changed)");
    }
    if (!s.IsCorruption()) return s;
  }
  bool ours = false;
  Status s = DataFilesAreOurs(env, data_dir, files, &ours);
  if (!s.ok()) return s;
  if (!ours) {
    return Status::Corruption(meta + (exists ? " is damaged" : " is missing") +
                              " and no data file holds a valid bitgask record; not a store "
                              "this build can repair (nothing changed)");
  }
  std::string kept;
  if (exists) {
    for (int n = 1; kept.empty() || env->FileExists(kept); n++) {
      kept = meta + ".damaged-" + std::to_string(n);
    }
    s = env->RenameFile(meta, kept);
    if (!s.ok()) return s;
  }
  s = internal::WriteMetaFile(env, data_dir, kFormatVersion);
  if (!s.ok()) return s;
  report->notes.push_back(exists ? "bitgask.meta was damaged: kept it as " +
                                       kept.substr(data_dir.size() + 1) + " and wrote a new one"
                                 : "wrote the missing bitgask.meta");
  return Status::OK();
}

}  // namespace

Status DB::Repair(const std::string& path, const Options& options, RepairReport* report) {
  *report = RepairReport();
  Env* env = options.env ? options.env : Env::Default();
  const std::string data_dir = path + "/data";
  if (!env->FileExists(data_dir)) return Status::InvalidArgument(path + ": no such store");
  std::unique_ptr<FileLock> lock;
  Status s = env->LockFile(path + "/LOCK", &lock);
  if (s.IsLocked()) return Status::Locked("store " + path + " is in use by another process");
  if (!s.ok()) return s;
  StoreFiles files;
  s = ListStore(env, data_dir, &files);
  if (!s.ok()) return s;

  s = CheckMetaFile(env, data_dir, files, report);
  if (!s.ok()) return s;
  for (const std::string& name : files.other) {
    uint32_t id;
    if (internal::ParseFileName(name, &id) == FileKind::kTemp) {
      env->RemoveFile(data_dir + "/" + name);
      report->notes.push_back("removed unfinished " + name);
    }
  }
  // Tails set aside by open go back first, so the scan below checks the result.
  for (const std::string& name : files.other) {
    if (name.find(".data.damaged-") == std::string::npos) continue;
    s = ReinsertSetAside(env, data_dir, name, report);
    if (!s.ok()) return s;
  }

  for (uint32_t id : files.data) {
    const std::string file = DataFileName(data_dir, id);
    std::vector<LogOp> ops;
    uint64_t size = 0, dropped = 0;
    s = ScanSalvaging(
        env, file, id, &size, [&](LogOp& op) { ops.push_back(std::move(op)); },
        [&](const Damage& d) {
          dropped += d.to - d.from;
          report->damaged_regions++;
          report->notes.push_back(file + ": dropped " + std::to_string(d.to - d.from) +
                                  " bytes at offset " + std::to_string(d.from) + " (" + d.what +
                                  " at offset " + std::to_string(d.bad_at) + ")");
        });
    if (!s.ok()) return s;
    report->files_checked++;
    report->records_kept += ops.size();
    if (dropped == 0) continue;
    std::unique_ptr<RandomAccessFile> in;
    s = env->NewRandomAccessFile(file, &in);
    uint64_t new_size = 0;
    if (s.ok()) {
      s = ReplaceFile(env, file, [&](WritableFile* out) {
        internal::PredecessorMark mark;  // kept: it is no damage
        Status st = internal::FirstRecordValid(in.get(), size, &mark) && mark.id != 0
                        ? CopyBytes(in.get(), 0, internal::kPredecessorMarkSize, out)
                        : Status::OK();
        return st.ok() ? CopyRecords(in.get(), ops, out) : st;
      }, &new_size);
    }
    if (!s.ok()) return s;
    report->files_rewritten++;
    report->bytes_dropped += size - new_size;
  }
  s = RestatePredecessorMark(env, data_dir, files.data, report);
  if (s.ok()) s = env->SyncDir(data_dir);
  if (!s.ok()) return s;

  // Hints: remove them all, then write fresh ones for every closed file.
  for (uint32_t id : files.hints) env->RemoveFile(HintFileName(data_dir, id));
  for (size_t i = 0; options.use_hint_files && i + 1 < files.data.size(); i++) {
    const uint32_t id = files.data[i];
    internal::HintWriter hint(env, HintFileName(data_dir, id), /*sort_by_key=*/true);
    s = hint.Open();
    uint64_t size = 0;
    Status added;  // the first failure inside the scan
    if (s.ok()) {
      s = ScanSalvaging(
          env, DataFileName(data_dir, id), id, &size,
          [&](LogOp& op) {
            if (added.ok()) added = hint.Add(op);
          },
          [&](const Damage& d) {
            if (added.ok()) added = Status::Corruption("still damaged after repair: " + d.what);
          });
    }
    if (s.ok()) s = added;
    if (s.ok()) s = hint.Finish(data_dir);
    if (!s.ok()) return s;
    report->hints_rebuilt++;
  }
  return env->SyncDir(data_dir);
}

}  // namespace bitgask
