// fs_workloads: the workloads of bitgask-fsbench (docs/Benchmarks.md#fsbench),
// plain POSIX calls on any directory, so that a bitgask mount, the same disk
// without FUSE and another FUSE filesystem are measured alike.
//
// Contract: RunFsBench works in a new subdirectory of dir (removed at the
// end, also after a failure) and times, one after another on one thread:
// small files: create (open O_CREAT|O_EXCL, write file_size bytes, close)
// of `files` files in one directory, stat of each (`passes` times), read of
// each whole file (`passes` times; the bytes are compared with what was
// written), rename of each to a new name, unlink of each; then one large
// file: sequential write of large_size bytes in block_size writes and an
// fsync (timed with them), then a sequential read of it, compared with what
// was written. Before each read phase the page cache is dropped when
// drop_caches is set (sync, then 3 into /proc/sys/vm/drop_caches: root only;
// otherwise an error), so reads are cold; else they are warm. A mismatch,
// a short read or a failed call is an error with the path and errno text.
#ifndef BITGASK_SRC_FSBENCH_FS_WORKLOADS_H_
#define BITGASK_SRC_FSBENCH_FS_WORKLOADS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace bitgask {
namespace fsbench {

struct FsConfig {
  uint64_t files = 10000;
  uint64_t file_size = 4096;
  int passes = 3;
  uint64_t large_size = uint64_t{256} << 20;
  uint64_t block_size = uint64_t{1} << 20;
  bool drop_caches = false;
};

// One measured phase: what it did and how long it took.
struct FsPhase {
  std::string name;  // create, stat, read, rename, unlink, seqwrite, seqread
  uint64_t ops = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  double OpsPerSec() const { return seconds > 0 ? ops / seconds : 0; }
  double MiBPerSec() const { return seconds > 0 ? bytes / 1048576.0 / seconds : 0; }
  // Large-file phases are compared by MiB/s, small-file ones by ops/s.
  bool ByBytes() const { return name == "seqwrite" || name == "seqread"; }
  double Rate() const { return ByBytes() ? MiBPerSec() : OpsPerSec(); }
};

// The phase names in the order RunFsBench runs them.
const std::vector<std::string>& FsPhaseNames();

// Runs every phase in a new subdirectory of dir, appending to *phases.
// false with *error set when something failed.
bool RunFsBench(const std::string& dir, const FsConfig& config, std::vector<FsPhase>* phases,
                std::string* error);

}  // namespace fsbench
}  // namespace bitgask

#endif  // BITGASK_SRC_FSBENCH_FS_WORKLOADS_H_
