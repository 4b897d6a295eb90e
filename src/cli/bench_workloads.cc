#include "bench_workloads.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <thread>

namespace bitgask {
namespace cli {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t NanosSince(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

// One thread's share of a workload: it adds each operation's latency to
// *latency and the bytes it moved to *bytes.
using ThreadFn = std::function<Status(int thread, Histogram* latency, uint64_t* bytes)>;

// Runs fn on `threads` threads started together; fills r's ops, bytes,
// seconds and latency. The first failure (lowest thread number) is returned.
Status RunThreads(int threads, const ThreadFn& fn, BenchResult* r) {
  std::vector<Histogram> latency(threads);
  std::vector<uint64_t> bytes(threads, 0);
  std::vector<Status> status(threads);
  std::vector<std::thread> pool;
  const Clock::time_point start = Clock::now();
  for (int t = 0; t < threads; t++) {
    pool.emplace_back([&, t] { status[t] = fn(t, &latency[t], &bytes[t]); });
  }
  for (auto& th : pool) th.join();
  r->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (int t = 0; t < threads; t++) {
    r->latency.Merge(latency[t]);
    r->bytes += bytes[t];
  }
  r->ops = r->latency.count();
  for (const Status& s : status) {
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// Thread t's part [begin, end) of n operations.
std::pair<uint64_t, uint64_t> Share(uint64_t n, int t, int threads) {
  return {n * t / threads, n * (t + 1) / threads};
}

std::string Fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

std::string MiB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

double OpsPerSec(const BenchResult& r) { return r.seconds > 0 ? r.ops / r.seconds : 0; }

// Counts files in dir ending in suffix.
int CountFiles(const std::string& dir, const char* suffix) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  const size_t len = std::strlen(suffix);
  while (struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > len && name.compare(name.size() - len, len, suffix) == 0) n++;
  }
  closedir(d);
  return n;
}

}  // namespace

const std::vector<std::string>& WorkloadNames() {
  static const std::vector<std::string> kNames = {
      "fillseq", "fillrandom", "overwrite", "readrandom", "readmissing", "readseq",
      "deleterandom", "fillsync", "fillttl", "mixed", "mergeload", "open"};
  return kNames;
}

bool BitgaskOnly(const std::string& workload) {
  return workload == "fillttl" || workload == "mergeload" || workload == "open";
}

BenchRunner::BenchRunner(const BenchConfig& config, const std::string& dir, BenchTarget* target)
    : config_(config),
      dir_(dir),
      target_(target),
      bitgask_(dynamic_cast<BitgaskTarget*>(target)),
      keys_(config.key_size, config.value_size, config.seed) {}

bool BenchRunner::Syncs(const std::string& name) const {
  if (name == "fillsync") return true;
  const bool writes = name == "fillseq" || name == "fillrandom" || name == "overwrite" ||
                      name == "deleterandom" || name == "fillttl" || name == "mixed" ||
                      name == "mergeload";
  return writes && config_.sync;
}

Status BenchRunner::Run(const std::string& name, std::vector<BenchResult>* results) {
  if (BitgaskOnly(name) && bitgask_ == nullptr) {
    return Status::InvalidArgument(name + " runs on bitgask only, not on " + target_->Name());
  }
  if (Syncs(name) && raw_ops_per_sec_ == 0) {
    BenchResult raw;
    raw.name = "rawsync";
    Status s = RawSync(&raw);
    if (!s.ok()) return Status::IOError("rawsync: " + s.ToString());
    raw_ops_per_sec_ = OpsPerSec(raw);
    results->push_back(std::move(raw));
  }
  BenchResult r;
  r.name = name;
  Status s;
  if (name == "fillseq") {
    s = WriteKeys(keys_.InKeyOrder(config_.num), WriteKind::kPut, config_.sync, &r);
  } else if (name == "fillrandom" || name == "overwrite") {
    s = WriteKeys(keys_.Shuffled(config_.num), WriteKind::kPut, config_.sync, &r);
  } else if (name == "fillsync") {
    s = WriteKeys(keys_.Shuffled(config_.num), WriteKind::kPut, true, &r);
  } else if (name == "fillttl") {
    s = WriteKeys(keys_.Shuffled(config_.num), WriteKind::kPutTTL, config_.sync, &r);
  } else if (name == "deleterandom") {
    s = WriteKeys(keys_.Shuffled(config_.num), WriteKind::kDelete, config_.sync, &r);
  } else if (name == "readrandom" || name == "readmissing") {
    s = ReadRandom(name == "readmissing", &r);
  } else if (name == "readseq") {
    s = ReadSeq(&r);
  } else if (name == "mixed") {
    s = Mixed(&r);
  } else if (name == "mergeload") {
    s = MergeLoad(results);
  } else if (name == "open") {
    s = Open(results);
  } else {
    return Status::InvalidArgument("unknown workload " + name);
  }
  if (!s.ok()) return Status::IOError(name + ": " + s.ToString());
  if (name != "mergeload" && name != "open") {
    if (Syncs(name) && raw_ops_per_sec_ > 0) {
      r.note = Fixed2(OpsPerSec(r) / raw_ops_per_sec_) + " of raw";
    }
    results->push_back(std::move(r));
  }
  return SampleKeydir();
}

Status BenchRunner::WriteKeys(const std::vector<uint64_t>& order, WriteKind kind, bool sync,
                              BenchResult* r) {
  const int threads = config_.threads;
  return RunThreads(
      threads,
      [&](int t, Histogram* latency, uint64_t* bytes) {
        std::string key;
        const auto [begin, end] = Share(order.size(), t, threads);
        for (uint64_t n = begin; n < end; n++) {
          keys_.Key(order[n], &key);
          const std::string_view value = keys_.Value(n);
          const Clock::time_point start = Clock::now();
          Status s;
          switch (kind) {
            case WriteKind::kPut: s = target_->Put(key, value, sync); break;
            case WriteKind::kPutTTL: s = bitgask_->PutWithTTL(key, value, config_.ttl, sync); break;
            case WriteKind::kDelete: s = target_->Delete(key, sync); break;
          }
          latency->Add(NanosSince(start));
          if (!s.ok()) return s;
          *bytes += key.size() + (kind == WriteKind::kDelete ? 0 : value.size());
        }
        return Status::OK();
      },
      r);
}

Status BenchRunner::ReadRandom(bool missing, BenchResult* r) {
  const int threads = config_.threads;
  std::atomic<uint64_t> found{0};
  Status s = RunThreads(
      threads,
      [&](int t, Histogram* latency, uint64_t* bytes) {
        std::mt19937_64 rng(config_.seed * 31 + t);
        std::string key, value;
        const auto [begin, end] = Share(reads(), t, threads);
        uint64_t hits = 0;
        for (uint64_t n = begin; n < end; n++) {
          // Missing keys are numbers num..2num-1: never among 0..num-1.
          keys_.Key(rng() % config_.num + (missing ? config_.num : 0), &key);
          const Clock::time_point start = Clock::now();
          Status s = target_->Get(key, &value);
          latency->Add(NanosSince(start));
          if (s.ok()) {
            hits++;
            *bytes += key.size() + value.size();
          } else if (!s.IsNotFound()) {
            return s;
          }
        }
        found += hits;
        return Status::OK();
      },
      r);
  r->note = std::to_string(found.load()) + " of " + std::to_string(r->ops) + " found";
  return s;
}

Status BenchRunner::ReadSeq(BenchResult* r) {
  return RunThreads(
      config_.threads,
      [&](int, Histogram* latency, uint64_t* bytes) {
        Clock::time_point last = Clock::now();
        return target_->Iterate([&](std::string_view key, std::string_view value) {
          latency->Add(NanosSince(last));  // the time to produce this entry
          *bytes += key.size() + value.size();
          last = Clock::now();
          return true;
        });
      },
      r);
}

Status BenchRunner::Mixed(BenchResult* r) {
  const int threads = config_.threads;
  std::atomic<uint64_t> reads_done{0}, found{0};
  Status s = RunThreads(
      threads,
      [&](int t, Histogram* latency, uint64_t* bytes) {
        std::mt19937_64 rng(config_.seed * 37 + t);
        std::uniform_real_distribution<double> coin(0, 1);
        std::string key, value;
        const auto [begin, end] = Share(reads(), t, threads);
        uint64_t my_reads = 0, hits = 0;
        for (uint64_t n = begin; n < end; n++) {
          keys_.Key(rng() % config_.num, &key);
          const bool read = coin(rng) < config_.read_ratio;
          const Clock::time_point start = Clock::now();
          Status s = read ? target_->Get(key, &value)
                          : target_->Put(key, keys_.Value(n), config_.sync);
          latency->Add(NanosSince(start));
          if (read) {
            my_reads++;
            if (s.ok()) hits++;
            if (s.IsNotFound()) continue;
          }
          if (!s.ok()) return s;
          *bytes += key.size() + (read ? value.size() : config_.value_size);
        }
        reads_done += my_reads;
        found += hits;
        return Status::OK();
      },
      r);
  r->note = std::to_string(reads_done.load()) + " reads (" + std::to_string(found.load()) +
            " found), " + std::to_string(r->ops - reads_done.load()) + " writes";
  return s;
}

Status BenchRunner::RawSync(BenchResult* r) {
  // Appends records of the size the store writes (its 32-byte header, key,
  // value) to a file of its own and fdatasyncs after each, as a store with
  // sync on does at best.
  const std::string path = dir_ + "/rawsync.bench";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(path + ": " + std::strerror(errno), errno);
  const std::string record(32 + config_.key_size + config_.value_size, 'r');
  const uint64_t ops = std::min(config_.num, kMaxRawSyncOps);
  int err = 0;
  RunThreads(
      1,
      [&](int, Histogram* latency, uint64_t* bytes) {
        for (uint64_t n = 0; n < ops && err == 0; n++) {
          const Clock::time_point start = Clock::now();
          if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
              ::fdatasync(fd) != 0) {
            err = errno != 0 ? errno : EIO;
          }
          latency->Add(NanosSince(start));
          *bytes += config_.key_size + config_.value_size;
        }
        return Status::OK();
      },
      r);
  ::close(fd);
  ::unlink(path.c_str());
  r->note = "append+fdatasync of " + std::to_string(record.size()) + "-byte records";
  if (err != 0) return Status::IOError(path + ": " + std::strerror(err), err);
  return Status::OK();
}

Status BenchRunner::MergeLoad(std::vector<BenchResult>* results) {
  // Every key written once more first (not timed), so half the data is dead.
  BenchResult prep;
  Status s = WriteKeys(keys_.Shuffled(config_.num), WriteKind::kPut, false, &prep);
  if (!s.ok()) return s;

  // Writers overwrite random keys until told to stop.
  std::atomic<bool> stop{false};
  auto writers = [&](BenchResult* r) {
    return RunThreads(
        config_.threads,
        [&](int t, Histogram* latency, uint64_t* bytes) {
          std::mt19937_64 rng(config_.seed * 41 + t);
          std::string key;
          uint64_t n = 0;
          do {  // at least one write, however short the phase
            keys_.Key(rng() % config_.num, &key);
            const Clock::time_point start = Clock::now();
            Status s = target_->Put(key, keys_.Value(n++), config_.sync);
            latency->Add(NanosSince(start));
            if (!s.ok()) return s;
            *bytes += key.size() + config_.value_size;
          } while (!stop.load(std::memory_order_relaxed));
          return Status::OK();
        },
        r);
  };

  BenchResult during;
  during.name = "mergeload";
  Status ws;
  std::thread during_thread([&] { ws = writers(&during); });
  MergeResult merged;
  const Clock::time_point merge_start = Clock::now();
  s = bitgask_->ForceMerge(&merged);
  const auto merge_time = Clock::now() - merge_start;
  stop = true;
  during_thread.join();
  if (!s.ok()) return s;
  if (!ws.ok()) return ws;

  BenchResult alone;
  alone.name = "nomerge";
  stop = false;
  std::thread alone_thread([&] { ws = writers(&alone); });
  std::this_thread::sleep_for(merge_time);
  stop = true;
  alone_thread.join();
  if (!ws.ok()) return ws;

  alone.note = "the same writers for as long, no merge";
  during.note = (OpsPerSec(alone) > 0 ? Fixed2(OpsPerSec(during) / OpsPerSec(alone)) : "-") +
                " of nomerge; merged " + MiB(merged.bytes_in) + " -> " + MiB(merged.bytes_out) +
                " in " + Fixed2(merged.seconds) + " s";
  results->push_back(std::move(alone));
  results->push_back(std::move(during));
  return Status::OK();
}

Status BenchRunner::Open(std::vector<BenchResult>* results) {
  for (const bool hints : {true, false}) {
    BenchResult r;
    r.name = hints ? "open" : "open/nohints";
    double seconds = 0;
    Status s = bitgask_->Reopen(hints, &seconds);
    if (!s.ok()) return s;
    DBStats st;
    s = bitgask_->Stats(&st);
    if (!s.ok()) return s;
    r.ops = 1;
    r.seconds = seconds;
    r.latency.Add(static_cast<uint64_t>(seconds * 1e9));
    r.bytes = st.total_bytes;
    const std::string data = dir_ + "/data";
    r.note = std::to_string(st.keys) + " keys, " + std::to_string(st.data_files) +
             " data files, " + std::to_string(CountFiles(data, ".hint")) + " hint files";
    results->push_back(std::move(r));
  }
  double ignored = 0;  // later workloads run on the store opened as configured
  return bitgask_->Reopen(bitgask_->options().use_hint_files, &ignored);
}

Status BenchRunner::SampleKeydir() {
  if (bitgask_ == nullptr) return Status::OK();
  DBStats st;
  Status s = bitgask_->Stats(&st);
  if (s.ok() && st.keydir_bytes > keydir_peak_.bytes) {
    keydir_peak_.bytes = st.keydir_bytes;
    keydir_peak_.keys = st.keys;
  }
  return s;
}

}  // namespace cli
}  // namespace bitgask
