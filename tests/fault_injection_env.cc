#include "fault_injection_env.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

namespace bitgask {
namespace test {

namespace {

constexpr uint64_t kMaxBackup = 64ull << 20;

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// True when `path` is dir or lies below it.
bool IsUnder(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

uint64_t NextRandom(uint64_t* state) {  // splitmix64
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionEnv* env, std::string path, std::unique_ptr<WritableFile> target,
                    std::shared_ptr<FaultInjectionEnv::FileState> state)
      : env_(env), path_(std::move(path)), target_(std::move(target)), state_(std::move(state)) {}

  Status Append(std::string_view data) override { return AppendV(&data, 1); }

  Status AppendV(const std::string_view* pieces, size_t n) override {
    int64_t partial = -1;
    Status s = env_->MaybeFail(FaultOp::kAppend, path_, &partial);
    if (!s.ok()) {
      if (partial >= 0) {
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) total += pieces[i].size();
        uint64_t keep = std::min<uint64_t>(static_cast<uint64_t>(partial), total > 0 ? total - 1 : 0);
        std::vector<std::string_view> prefix;
        for (size_t i = 0; i < n && keep > 0; i++) {
          size_t take = static_cast<size_t>(std::min<uint64_t>(keep, pieces[i].size()));
          prefix.push_back(pieces[i].substr(0, take));
          keep -= take;
        }
        if (!prefix.empty()) {
          target_->AppendV(prefix.data(), prefix.size());  // its own error is irrelevant
          env_->NoteSize(state_, target_->Size());
        }
      }
      return s;
    }
    s = target_->AppendV(pieces, n);
    env_->NoteSize(state_, target_->Size());
    return s;
  }

  Status Sync() override {
    Status s = env_->MaybeFail(FaultOp::kSync, path_);
    if (!s.ok()) return s;
    if (uint64_t d = env_->SyncDelayMicros(path_)) {
      env_->target()->SleepMicros(d);
      // The power went while this sync was under way: it never finished.
      if (!env_->IsFilesystemActive()) return Status::IOError(path_ + ": fsync: power lost", EIO);
    }
    const uint64_t size = target_->Size();
    if (!env_->fast_sync()) s = target_->Sync();
    if (s.ok()) env_->NoteSync(state_, size);
    return s;
  }

  Status Close() override { return target_->Close(); }
  uint64_t Size() const override { return target_->Size(); }

 private:
  FaultInjectionEnv* env_;
  std::string path_;
  std::unique_ptr<WritableFile> target_;
  std::shared_ptr<FaultInjectionEnv::FileState> state_;
};

class FaultRandomAccessFile final : public RandomAccessFile {
 public:
  FaultRandomAccessFile(FaultInjectionEnv* env, std::string path,
                        std::unique_ptr<RandomAccessFile> target)
      : env_(env), path_(std::move(path)), target_(std::move(target)) {}

  Status Read(uint64_t offset, size_t n, char* scratch, std::string_view* result) const override {
    // Reads work while the filesystem is inactive; only injected faults fail them.
    Status s = env_->MaybeFailRead(path_);
    if (!s.ok()) {
      *result = std::string_view();
      return s;
    }
    return target_->Read(offset, n, scratch, result);
  }

 private:
  FaultInjectionEnv* env_;
  std::string path_;
  std::unique_ptr<RandomAccessFile> target_;
};

}  // namespace

const char* FaultOpName(FaultOp op) {
  switch (op) {
    case FaultOp::kAppend: return "append";
    case FaultOp::kSync: return "sync";
    case FaultOp::kSyncDir: return "sync directory";
    case FaultOp::kRename: return "rename";
    case FaultOp::kNewWritableFile: return "create";
    case FaultOp::kNewAppendableFile: return "open for append";
    case FaultOp::kNewRandomAccessFile: return "open";
    case FaultOp::kRemoveFile: return "remove";
    case FaultOp::kTruncateFile: return "truncate";
    case FaultOp::kRead: return "read";
    case FaultOp::kNumOps: break;
  }
  return "?";
}

FileClass ClassifyPath(const std::string& path) {
  const std::string base = BaseName(path);
  if (EndsWith(base, ".tmp")) return FileClass::kTemp;
  if (base == "bitgask.meta") return FileClass::kMeta;
  if (EndsWith(base, ".data")) return FileClass::kData;
  if (EndsWith(base, ".hint")) return FileClass::kHint;
  return FileClass::kOther;
}

FaultInjectionEnv::FaultInjectionEnv(Env* target) : EnvWrapper(target) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

// ------------------------------------------------------------ bookkeeping

Status FaultInjectionEnv::MaybeFail(FaultOp op, const std::string& path, int64_t* partial) {
  if (partial) *partial = -1;
  std::lock_guard<std::mutex> l(mu_);
  const int o = static_cast<int>(op);
  counts_[o][static_cast<int>(ClassifyPath(path))]++;
  if (!active_.load()) {
    return Status::IOError(path + ": " + FaultOpName(op) +
                               ": filesystem inactive (simulated power loss)",
                           EIO);
  }
  FaultSlot& slot = faults_[o];
  if (!slot.armed) return Status::OK();
  if (!slot.fault.name_contains.empty() &&
      BaseName(path).find(slot.fault.name_contains) == std::string::npos) {
    return Status::OK();
  }
  if (slot.seen++ < slot.fault.skip) return Status::OK();
  if (!slot.fault.sticky) slot.armed = false;
  triggered_[o]++;
  if (partial && op == FaultOp::kAppend) *partial = slot.fault.partial_bytes;
  return Status::IOError(path + ": injected " + FaultOpName(op) + " failure: " +
                             std::strerror(slot.fault.err),
                         slot.fault.err);
}

Status FaultInjectionEnv::MaybeFailRead(const std::string& path) {
  // Like MaybeFail, but reads keep working while the filesystem is inactive.
  std::lock_guard<std::mutex> l(mu_);
  const int o = static_cast<int>(FaultOp::kRead);
  counts_[o][static_cast<int>(ClassifyPath(path))]++;
  FaultSlot& slot = faults_[o];
  if (!slot.armed) return Status::OK();
  if (!slot.fault.name_contains.empty() &&
      BaseName(path).find(slot.fault.name_contains) == std::string::npos) {
    return Status::OK();
  }
  if (slot.seen++ < slot.fault.skip) return Status::OK();
  if (!slot.fault.sticky) slot.armed = false;
  triggered_[o]++;
  return Status::IOError(path + ": injected read failure: " + std::strerror(slot.fault.err),
                         slot.fault.err);
}

void FaultInjectionEnv::NoteSize(const std::shared_ptr<FileState>& st, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  st->size = size;
}

void FaultInjectionEnv::NoteSync(const std::shared_ptr<FileState>& st, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  if (size > st->synced) st->synced = size;
}

bool FaultInjectionEnv::NameDurableLocked(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? true : it->second->name_durable;
}

Status FaultInjectionEnv::ReadWhole(const std::string& path, uint64_t limit, std::string* out) {
  out->clear();
  std::unique_ptr<RandomAccessFile> f;
  Status s = target()->NewRandomAccessFile(path, &f);
  if (!s.ok()) return s;
  std::string buf(1 << 20, '\0');
  while (out->size() < limit) {
    std::string_view got;
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), limit - out->size()));
    s = f->Read(out->size(), want, buf.data(), &got);
    if (!s.ok()) return s;
    if (got.empty()) break;
    out->append(got.data(), got.size());
  }
  return Status::OK();
}

Status FaultInjectionEnv::WriteWhole(const std::string& path, const std::string& data) {
  std::unique_ptr<WritableFile> f;
  Status s = target()->NewWritableFile(path, &f);
  if (!s.ok()) return s;
  s = f->Append(data);
  if (s.ok()) s = f->Sync();
  Status c = f->Close();
  return s.ok() ? c : s;
}

// ------------------------------------------------------------ power loss

void FaultInjectionEnv::SetFilesystemActive(bool active) { active_ = active; }

void FaultInjectionEnv::SetTrackDirectories(bool on) {
  std::lock_guard<std::mutex> l(mu_);
  track_dirs_ = on;
}

void FaultInjectionEnv::ResetState() {
  std::lock_guard<std::mutex> l(mu_);
  files_.clear();
  renames_.clear();
  removed_.clear();
  dirs_.clear();
}

uint64_t FaultInjectionEnv::UnsyncedBytes() const {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t n = 0;
  for (const auto& [path, st] : files_) {
    if (st->size > st->synced) n += st->size - st->synced;
  }
  return n;
}

uint64_t FaultInjectionEnv::UnsyncedBytes(FileClass cls) const {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t n = 0;
  for (const auto& [path, st] : files_) {
    if (ClassifyPath(path) == cls && st->size > st->synced) n += st->size - st->synced;
  }
  return n;
}

std::vector<std::string> FaultInjectionEnv::UndurableFiles() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [path, st] : files_) {
    if (!st->name_durable) out.push_back(path);
  }
  return out;
}

std::vector<std::string> FaultInjectionEnv::UndurableFiles(FileClass cls) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [path, st] : files_) {
    if (!st->name_durable && ClassifyPath(path) == cls) out.push_back(path);
  }
  return out;
}

Status FaultInjectionEnv::CutFile(const std::string& path, const FileState& st,
                                  const PowerLossOptions& o, uint64_t* rng) {
  uint64_t actual = 0;
  Status s = target()->GetFileSize(path, &actual);
  if (!s.ok()) return s;
  if (actual <= st.synced) return Status::OK();
  const uint64_t unsynced = actual - st.synced;
  uint64_t keep = st.synced;
  if (o.tail != PowerLossOptions::Tail::kSyncedOnly) keep += NextRandom(rng) % (unsynced + 1);
  s = target()->TruncateFile(path, keep);
  if (!s.ok()) return s;
  if (o.tail != PowerLossOptions::Tail::kTornPage || keep == st.synced) return Status::OK();

  // Tear the last page: the bytes of it past the synced size never fully made it.
  const uint64_t page = o.page_size == 0 ? 4096 : o.page_size;
  const uint64_t page_start = std::max(st.synced, (keep - 1) / page * page);
  const uint64_t mode = NextRandom(rng) % 3;
  if (mode == 2) return Status::OK();  // the page made it whole
  std::string content;
  s = ReadWhole(path, keep, &content);
  if (!s.ok()) return s;
  std::string tail = content.substr(static_cast<size_t>(page_start));
  // Damage a random sub-range that reaches the end of the kept bytes (a sector
  // boundary inside the page is where a real tear would start).
  const size_t from = static_cast<size_t>(NextRandom(rng) % tail.size());
  for (size_t i = from; i < tail.size(); i++) {
    tail[i] = mode == 0 ? '\0' : static_cast<char>(NextRandom(rng));
  }
  s = target()->TruncateFile(path, page_start);
  if (!s.ok()) return s;
  std::unique_ptr<WritableFile> f;
  s = target()->NewAppendableFile(path, &f);
  if (!s.ok()) return s;
  s = f->Append(tail);
  Status c = f->Close();
  return s.ok() ? c : s;
}

Status FaultInjectionEnv::DropUnsyncedData(const PowerLossOptions& o) {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t rng = o.seed ^ 0x5DEECE66Dull;
  Status first;
  auto note = [&first](const Status& s) {
    if (!s.ok() && first.ok()) first = s;
  };

  // 1. Directories that were created but never made durable vanish with their contents.
  if (track_dirs_) {
    std::vector<std::string> gone;
    for (const auto& [dir, durable] : dirs_) {
      if (!durable) gone.push_back(dir);
    }
    for (const std::string& dir : gone) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      if (ec) note(Status::IOError(dir + ": remove_all: " + ec.message(), ec.value()));
      for (auto it = files_.begin(); it != files_.end();) {
        it = IsUnder(it->first, dir) ? files_.erase(it) : std::next(it);
      }
      for (auto it = removed_.begin(); it != removed_.end();) {
        it = IsUnder(it->first, dir) ? removed_.erase(it) : std::next(it);
      }
      renames_.erase(std::remove_if(renames_.begin(), renames_.end(),
                                    [&dir](const PendingRename& r) { return IsUnder(r.to, dir); }),
                     renames_.end());
    }
  }

  // 2. Renames never made durable are undone, newest first.
  for (auto r = renames_.rbegin(); r != renames_.rend(); ++r) {
    if (target()->FileExists(r->to)) {
      std::shared_ptr<FileState> st;
      auto it = files_.find(r->to);
      if (it != files_.end()) {
        st = it->second;
        files_.erase(it);
      }
      if (r->from_was_durable) {
        note(target()->RenameFile(r->to, r->from));
        if (st) {
          st->name_durable = true;
          files_[r->from] = st;
        }
      } else {
        note(target()->RemoveFile(r->to));
      }
    }
    if (r->to_had_backup) {
      note(WriteWhole(r->to, r->to_backup));
      files_.erase(r->to);
    }
  }

  // 3. Files whose names never became durable vanish; the others lose their
  //    un-synced tails.
  for (const auto& [path, st] : files_) {
    if (!st->name_durable) {
      if (target()->FileExists(path)) note(target()->RemoveFile(path));
    } else if (target()->FileExists(path)) {
      note(CutFile(path, *st, o, &rng));
    }
  }

  // 4. Removals never made durable are undone.
  for (const auto& [path, content] : removed_) {
    if (!target()->FileExists(path)) note(WriteWhole(path, content));
  }

  files_.clear();
  renames_.clear();
  removed_.clear();
  dirs_.clear();
  return first;
}

// ------------------------------------------------------------ faults, counters

void FaultInjectionEnv::InjectFault(FaultOp op, const Fault& fault) {
  std::lock_guard<std::mutex> l(mu_);
  FaultSlot& slot = faults_[static_cast<int>(op)];
  slot.armed = true;
  slot.fault = fault;
  slot.seen = 0;
}

void FaultInjectionEnv::ClearFault(FaultOp op) {
  std::lock_guard<std::mutex> l(mu_);
  faults_[static_cast<int>(op)].armed = false;
}

void FaultInjectionEnv::ClearAllFaults() {
  std::lock_guard<std::mutex> l(mu_);
  for (FaultSlot& slot : faults_) slot.armed = false;
}

uint64_t FaultInjectionEnv::FaultsTriggered(FaultOp op) const {
  std::lock_guard<std::mutex> l(mu_);
  return triggered_[static_cast<int>(op)];
}

uint64_t FaultInjectionEnv::Count(FaultOp op) const {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t n = 0;
  for (uint64_t c : counts_[static_cast<int>(op)]) n += c;
  return n;
}

uint64_t FaultInjectionEnv::Count(FaultOp op, FileClass cls) const {
  std::lock_guard<std::mutex> l(mu_);
  return counts_[static_cast<int>(op)][static_cast<int>(cls)];
}

void FaultInjectionEnv::ResetCounters() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& row : counts_) {
    for (uint64_t& c : row) c = 0;
  }
}

void FaultInjectionEnv::SetSyncDelayMicros(uint64_t micros, const std::string& name_contains) {
  std::lock_guard<std::mutex> l(mu_);
  sync_delay_us_ = micros;
  sync_delay_filter_ = name_contains;
}

uint64_t FaultInjectionEnv::SyncDelayMicros(const std::string& path) const {
  std::lock_guard<std::mutex> l(mu_);
  if (sync_delay_us_ == 0) return 0;
  if (!sync_delay_filter_.empty() &&
      BaseName(path).find(sync_delay_filter_) == std::string::npos) {
    return 0;
  }
  return sync_delay_us_;
}

// ------------------------------------------------------------ clock

void FaultInjectionEnv::EnableFakeClock(int64_t now_unix_ns) {
  fake_now_ = now_unix_ns;
  fake_clock_ = true;
}
void FaultInjectionEnv::DisableFakeClock() { fake_clock_ = false; }
void FaultInjectionEnv::SetNow(int64_t now_unix_ns) { fake_now_ = now_unix_ns; }
void FaultInjectionEnv::AdvanceNanos(int64_t ns) { fake_now_ += ns; }

int64_t FaultInjectionEnv::NowUnixNanos() {
  return fake_clock_.load() ? fake_now_.load() : target()->NowUnixNanos();
}

void FaultInjectionEnv::SleepMicros(uint64_t micros) {
  target()->SleepMicros(micros);
  if (fake_clock_.load()) fake_now_ += static_cast<int64_t>(micros) * 1000;
}

// ------------------------------------------------------------ Env

Status FaultInjectionEnv::NewWritableFile(const std::string& path,
                                          std::unique_ptr<WritableFile>* file) {
  file->reset();
  Status s = MaybeFail(FaultOp::kNewWritableFile, path);
  if (!s.ok()) return s;
  const bool existed = target()->FileExists(path);
  std::unique_ptr<WritableFile> f;
  s = target()->NewWritableFile(path, &f);
  if (!s.ok()) return s;
  std::shared_ptr<FileState> st = std::make_shared<FileState>();
  {
    std::lock_guard<std::mutex> l(mu_);
    // An existing directory entry keeps its durability; the old content is gone.
    st->name_durable = existed && NameDurableLocked(path);
    files_[path] = st;
  }
  file->reset(new FaultWritableFile(this, path, std::move(f), st));
  return Status::OK();
}

Status FaultInjectionEnv::NewAppendableFile(const std::string& path,
                                            std::unique_ptr<WritableFile>* file) {
  file->reset();
  Status s = MaybeFail(FaultOp::kNewAppendableFile, path);
  if (!s.ok()) return s;
  std::unique_ptr<WritableFile> f;
  s = target()->NewAppendableFile(path, &f);
  if (!s.ok()) return s;
  const uint64_t size = f->Size();
  std::shared_ptr<FileState> st;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(path);
    if (it != files_.end()) {
      st = it->second;  // still tracked: what was never synced stays un-synced
      st->size = size;
      st->synced = std::min(st->synced, size);
    } else {
      st = std::make_shared<FileState>();
      st->size = size;
      st->synced = size;
      st->name_durable = true;
      files_[path] = st;
    }
  }
  file->reset(new FaultWritableFile(this, path, std::move(f), st));
  return Status::OK();
}

Status FaultInjectionEnv::NewRandomAccessFile(const std::string& path,
                                              std::unique_ptr<RandomAccessFile>* file) {
  file->reset();
  // Opening for reading is not a write: it works while the filesystem is
  // inactive, failing only by injection.
  {
    std::lock_guard<std::mutex> l(mu_);
    const int o = static_cast<int>(FaultOp::kNewRandomAccessFile);
    counts_[o][static_cast<int>(ClassifyPath(path))]++;
    FaultSlot& slot = faults_[o];
    if (slot.armed &&
        (slot.fault.name_contains.empty() ||
         BaseName(path).find(slot.fault.name_contains) != std::string::npos) &&
        slot.seen++ >= slot.fault.skip) {
      if (!slot.fault.sticky) slot.armed = false;
      triggered_[o]++;
      return Status::IOError(path + ": injected open failure: " + std::strerror(slot.fault.err),
                             slot.fault.err);
    }
  }
  std::unique_ptr<RandomAccessFile> f;
  Status s = target()->NewRandomAccessFile(path, &f);
  if (!s.ok()) return s;
  file->reset(new FaultRandomAccessFile(this, path, std::move(f)));
  return Status::OK();
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  Status s = MaybeFail(FaultOp::kRemoveFile, path);
  if (!s.ok()) return s;
  bool durable = true;
  uint64_t limit = kMaxBackup + 1;
  bool have_backup = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(path);
    if (it != files_.end()) {
      durable = it->second->name_durable;
      limit = it->second->synced;
    }
    have_backup = removed_.count(path) > 0;  // an older durable version is already kept
  }
  std::string backup;
  bool backed_up = false;
  if (durable && !have_backup) {
    uint64_t size = 0;
    if (target()->GetFileSize(path, &size).ok() && std::min(size, limit) <= kMaxBackup) {
      backed_up = ReadWhole(path, std::min(size, limit), &backup).ok();
    }
  }
  s = target()->RemoveFile(path);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  files_.erase(path);
  if (backed_up) removed_[path] = std::move(backup);
  return Status::OK();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  Status s = MaybeFail(FaultOp::kRename, to);
  if (!s.ok()) return s;
  PendingRename r;
  r.from = from;
  r.to = to;
  uint64_t to_limit = kMaxBackup + 1;
  bool to_durable = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    r.from_was_durable = NameDurableLocked(from);
    to_durable = NameDurableLocked(to);
    auto it = files_.find(to);
    if (it != files_.end()) to_limit = it->second->synced;
  }
  if (to_durable && target()->FileExists(to)) {
    uint64_t size = 0;
    if (target()->GetFileSize(to, &size).ok() && std::min(size, to_limit) <= kMaxBackup) {
      r.to_had_backup = ReadWhole(to, std::min(size, to_limit), &r.to_backup).ok();
    }
  }
  uint64_t from_size = 0;
  target()->GetFileSize(from, &from_size);
  s = target()->RenameFile(from, to);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  std::shared_ptr<FileState> st;
  auto it = files_.find(from);
  if (it != files_.end()) {
    st = it->second;
    files_.erase(it);
  } else {
    st = std::make_shared<FileState>();
    st->size = from_size;
    st->synced = from_size;
  }
  st->name_durable = false;
  files_[to] = st;
  renames_.push_back(std::move(r));
  return Status::OK();
}

Status FaultInjectionEnv::TruncateFile(const std::string& path, uint64_t size) {
  Status s = MaybeFail(FaultOp::kTruncateFile, path);
  if (!s.ok()) return s;
  s = target()->TruncateFile(path, size);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) {
    it->second->size = size;
    it->second->synced = std::min(it->second->synced, size);
  }
  return Status::OK();
}

Status FaultInjectionEnv::CreateDir(const std::string& dir) {
  if (!active_.load()) {
    return Status::IOError(dir + ": mkdir: filesystem inactive (simulated power loss)", EIO);
  }
  const bool existed = target()->FileExists(dir);
  Status s = target()->CreateDir(dir);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  if (track_dirs_ && !existed) dirs_[dir] = false;
  return Status::OK();
}

Status FaultInjectionEnv::RemoveDir(const std::string& dir) {
  if (!active_.load()) {
    return Status::IOError(dir + ": rmdir: filesystem inactive (simulated power loss)", EIO);
  }
  Status s = target()->RemoveDir(dir);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  dirs_.erase(dir);
  return Status::OK();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  Status s = MaybeFail(FaultOp::kSyncDir, dir);
  if (!s.ok()) return s;
  if (!fast_sync_.load()) {
    s = target()->SyncDir(dir);
    if (!s.ok()) return s;
  }
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [path, st] : files_) {
    if (DirName(path) == dir) st->name_durable = true;
  }
  renames_.erase(std::remove_if(renames_.begin(), renames_.end(),
                                [&dir](const PendingRename& r) { return DirName(r.to) == dir; }),
                 renames_.end());
  for (auto it = removed_.begin(); it != removed_.end();) {
    it = DirName(it->first) == dir ? removed_.erase(it) : std::next(it);
  }
  for (auto& [d, durable] : dirs_) {
    if (DirName(d) == dir) durable = true;
  }
  return Status::OK();
}

}  // namespace test
}  // namespace bitgask
