// fs_model_test: a differential test of the mount against a local filesystem.
//
//   fs_model_test run   MNT REF STATE SEED OPS
//   fs_model_test check MNT REF STATE
//
// `run` does OPS random operations with plain syscalls, each one twice: in
// MNT (a fresh bitgask mount) and in REF (an empty directory on the machine's
// own filesystem, ext4 or tmpfs), and requires the same outcome from both:
// return value or errno, bytes read, and for stat the type, permissions,
// size (files) and mtime (files whose mtime was set by utimensat and not
// changed since).  Ops: open with O_CREAT/O_EXCL/O_TRUNC/O_APPEND in any
// mix, write, pwrite at random offsets (also far past the end: sparse),
// pread, ftruncate, fstat, fsync and close on up to kSlots open files at
// once; truncate, unlink, mkdir, rmdir, rename and renameat2
// (RENAME_NOREPLACE) of files and directories, chmod, utimensat, stat,
// readdir and whole-file reads on a namespace of 20 paths in 4 directories,
// so names collide all the time.  Every 50 ops and at the end the whole
// trees are compared.  At the end every file is closed, the trees compared,
// and STATE lists the files whose mtime must survive.
// `check` (after an unmount and a remount) compares MNT with REF again.
// On a mismatch it prints the seed, the op, both outcomes and the ops before.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fs_tree.h"

namespace {

using bitgask::test::Tree;

constexpr int kSlots = 6;

// What one op returned in one tree.
struct Outcome {
  long ret = 0;
  int err = 0;       // errno when ret < 0
  std::string data;  // bytes read, a stat summary, a listing
  bool operator==(const Outcome& o) const {
    return ret == o.ret && err == o.err && data == o.data;
  }
};

std::string Show(const Outcome& o) {
  std::string s = o.ret < 0 ? std::string("-1 ") + strerrorname_np(o.err) : std::to_string(o.ret);
  if (!o.data.empty()) {
    if (o.data.size() <= 120 && std::all_of(o.data.begin(), o.data.end(), [](char c) {
          return c >= ' ' && c < 127;
        }))
      s += " [" + o.data + "]";
    else
      s += " [" + std::to_string(o.data.size()) + " bytes]";
  }
  return s;
}

Outcome Ret(long r) {
  Outcome o;
  o.ret = r < 0 ? -1 : r;
  o.err = r < 0 ? errno : 0;
  return o;
}

struct Slot {
  int fd[2] = {-1, -1};  // [0] in MNT, [1] in REF
  bool writable = false;
  std::string desc;
};

class ModelTest {
 public:
  ModelTest(std::string mnt, std::string ref, uint64_t seed)
      : root_{std::move(mnt), std::move(ref)}, seed_(seed), rng_(seed) {}

  bool Run(int ops) {
    umask(022);
    for (int i = 0; i < ops; i++) {
      if (!Step()) return false;
      if (i % 50 == 49 && !CompareTrees()) return false;
    }
    for (int s = 0; s < kSlots; s++) {
      if (slots_[s].fd[0] >= 0 && !Same("close " + slots_[s].desc, [&](int t) {
            return Ret(close(slots_[s].fd[t]));
          }))
        return false;
      slots_[s] = Slot();
    }
    return CompareTrees();
  }

  // Paths (relative) of the files whose mtime the test set and must keep.
  std::vector<std::string> ExplicitMtimePaths() {
    std::vector<std::string> out;
    Tree t;
    std::string error;
    if (!bitgask::test::ReadTree(root_[1], &t, &error)) return out;
    for (const auto& [path, node] : t) {
      struct stat st;
      if (!node.is_dir && stat((root_[1] + "/" + path).c_str(), &st) == 0 &&
          explicit_mtime_.count(st.st_ino))
        out.push_back(path);
    }
    return out;
  }

 private:
  uint64_t Pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  std::string RandomPath() {
    static const char* kParents[] = {"", "a/", "b/", "a/b/"};
    static const char* kNames[] = {"a", "b", "c", "d", "e"};
    return std::string(kParents[Pick(4)]) + kNames[Pick(5)];
  }

  unsigned RandomPerm() {
    static const unsigned kPerms[] = {0644, 0600, 0755, 0700, 0444, 0640};
    return kPerms[Pick(6)];
  }

  std::string Bytes(size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>('a' + Pick(26));
    return s;
  }

  std::string In(int t, const std::string& rel) const { return root_[t] + "/" + rel; }

  // Inode number of a REF path, or 0.
  ino_t RefIno(const std::string& rel) {
    struct stat st;
    return stat(In(1, rel).c_str(), &st) == 0 ? st.st_ino : 0;
  }
  ino_t RefFdIno(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
  }

  std::string StatSummary(const struct stat& st, bool with_mtime) {
    std::string s = S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other";
    char perm[16];
    std::snprintf(perm, sizeof(perm), " %o", st.st_mode & 07777);
    s += perm;
    if (S_ISREG(st.st_mode)) s += " size " + std::to_string(st.st_size);
    if (with_mtime && S_ISREG(st.st_mode))  // inode numbers are reused by new dirs
      s += " mtime " + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    return s;
  }

  // Runs op in both trees (MNT first), records it, compares the outcomes.
  template <typename F>
  bool Same(const std::string& desc, F op) {
    history_.push_back(desc);
    if (std::getenv("BITGASK_FS_MODEL_TRACE")) {  // every op, as it runs
      std::fprintf(stderr, "  %4zu %s\n", history_.size(), desc.c_str());
    }
    Outcome a = op(0), b = op(1);
    if (a == b) return true;
    std::fprintf(stderr, "FAIL: seed %llu, op %zu: %s\n  bitgask:   %s\n  reference: %s\n",
                 static_cast<unsigned long long>(seed_), history_.size(), desc.c_str(),
                 Show(a).c_str(), Show(b).c_str());
    PrintHistory();
    return false;
  }

  void PrintHistory() {
    size_t from = history_.size() > 80 ? history_.size() - 80 : 0;
    std::fprintf(stderr, "ops %zu to %zu (of BITGASK_FS_MODEL_SEED=%llu):\n", from + 1,
                 history_.size(), static_cast<unsigned long long>(seed_));
    for (size_t i = from; i < history_.size(); i++)
      std::fprintf(stderr, "  %4zu %s\n", i + 1, history_[i].c_str());
  }

  bool CompareTrees() {
    Tree t[2];
    for (int i = 0; i < 2; i++) {
      std::string error;
      if (!bitgask::test::ReadTree(root_[i], &t[i], &error)) {
        std::fprintf(stderr, "FAIL: seed %llu: reading tree %d: %s\n",
                     static_cast<unsigned long long>(seed_), i, error.c_str());
        PrintHistory();
        return false;
      }
    }
    std::string diff = bitgask::test::DiffTrees(t[1], t[0]);
    if (diff.empty()) return true;
    std::fprintf(stderr, "FAIL: seed %llu: after op %zu the trees differ (want: reference):\n%s",
                 static_cast<unsigned long long>(seed_), history_.size(), diff.c_str());
    PrintHistory();
    return false;
  }

  bool Step() {
    const uint64_t dice = Pick(100);
    Slot* slot = &slots_[Pick(kSlots)];
    const bool open_slot = slot->fd[0] >= 0;
    if (dice < 40) return open_slot ? FdOp(slot) : Open(slot);
    if (dice < 45) return Truncate();
    if (dice < 51) return Unlink();
    if (dice < 57) return Mkdir();
    if (dice < 62) return Rmdir();
    if (dice < 72) return Rename();
    if (dice < 76) return Chmod();
    if (dice < 80) return Utimens();
    if (dice < 88) return Stat();
    if (dice < 93) return Readdir();
    return ReadWhole();
  }

  bool Open(Slot* slot) {
    static const int kAccess[] = {O_RDONLY, O_WRONLY, O_RDWR};
    int flags = kAccess[Pick(3)];
    if (Pick(2)) flags |= O_CREAT;
    if ((flags & O_CREAT) && Pick(4) == 0) flags |= O_EXCL;
    if ((flags & O_ACCMODE) != O_RDONLY && Pick(3) == 0) flags |= O_TRUNC;
    if ((flags & O_ACCMODE) != O_RDONLY && Pick(3) == 0) flags |= O_APPEND;
    const std::string path = RandomPath();
    const unsigned perm = RandomPerm();
    const bool existed = RefIno(path) != 0;
    char desc[256];
    std::snprintf(desc, sizeof(desc), "open %s %s%s%s%s%s 0%o", path.c_str(),
                  (flags & O_ACCMODE) == O_RDONLY ? "O_RDONLY"
                  : (flags & O_ACCMODE) == O_WRONLY ? "O_WRONLY" : "O_RDWR",
                  flags & O_CREAT ? "|O_CREAT" : "", flags & O_EXCL ? "|O_EXCL" : "",
                  flags & O_TRUNC ? "|O_TRUNC" : "", flags & O_APPEND ? "|O_APPEND" : "", perm);
    int fds[2];
    bool ok = Same(desc, [&](int t) {
      fds[t] = open(In(t, path).c_str(), flags, perm);
      return Ret(fds[t] < 0 ? -1 : 0);
    });
    if (fds[0] >= 0 && fds[1] >= 0) {
      slot->fd[0] = fds[0];
      slot->fd[1] = fds[1];
      slot->desc = "fd(" + std::string(desc + 5) + ")";
      slot->writable = (flags & O_ACCMODE) != O_RDONLY;
      ino_t ino = RefFdIno(fds[1]);
      if (!existed || (flags & O_TRUNC)) explicit_mtime_.erase(ino);
    } else {
      for (int t = 0; t < 2; t++)
        if (fds[t] >= 0) close(fds[t]);
    }
    return ok;
  }

  bool FdOp(Slot* slot) {
    uint64_t dice = Pick(100);
    const std::string& d = slot->desc;
    struct stat st;
    const off_t size = fstat(slot->fd[1], &st) == 0 ? st.st_size : 0;
    if (dice < 25) {
      off_t off = Pick(4) == 0 ? static_cast<off_t>(Pick(size + 200000)) : static_cast<off_t>(Pick(size + 100));
      std::string data = Bytes(Pick(10) == 0 ? 70000 : 1 + Pick(3000));
      explicit_mtime_.erase(RefFdIno(slot->fd[1]));
      return Same("pwrite " + d + " off " + std::to_string(off) + " len " + std::to_string(data.size()),
                  [&](int t) { return Ret(pwrite(slot->fd[t], data.data(), data.size(), off)); });
    }
    if (dice < 40) {
      std::string data = Bytes(1 + Pick(2000));
      explicit_mtime_.erase(RefFdIno(slot->fd[1]));
      return Same("write " + d + " len " + std::to_string(data.size()),
                  [&](int t) { return Ret(write(slot->fd[t], data.data(), data.size())); });
    }
    if (dice < 60) {
      off_t off = static_cast<off_t>(Pick(size + 100));
      size_t len = 1 + Pick(5000);
      return Same("pread " + d + " off " + std::to_string(off) + " len " + std::to_string(len),
                  [&](int t) {
                    std::string buf(len, '\0');
                    Outcome o = Ret(pread(slot->fd[t], &buf[0], len, off));
                    if (o.ret > 0) o.data = buf.substr(0, static_cast<size_t>(o.ret));
                    return o;
                  });
    }
    if (dice < 68) {
      off_t len = static_cast<off_t>(Pick(size + 5000));
      explicit_mtime_.erase(RefFdIno(slot->fd[1]));
      return Same("ftruncate " + d + " " + std::to_string(len),
                  [&](int t) { return Ret(ftruncate(slot->fd[t], len)); });
    }
    if (dice < 78) {
      const bool mt = explicit_mtime_.count(RefFdIno(slot->fd[1])) > 0;
      return Same("fstat " + d, [&](int t) {
        struct stat s;
        Outcome o = Ret(fstat(slot->fd[t], &s));
        if (o.ret == 0) o.data = StatSummary(s, mt);
        return o;
      });
    }
    if (dice < 84) return Same("fsync " + d, [&](int t) { return Ret(fsync(slot->fd[t])); });
    bool ok = Same("close " + d, [&](int t) { return Ret(close(slot->fd[t])); });
    *slot = Slot();
    return ok;
  }

  bool Truncate() {
    const std::string path = RandomPath();
    const off_t len = static_cast<off_t>(Pick(8000));
    explicit_mtime_.erase(RefIno(path));
    return Same("truncate " + path + " " + std::to_string(len),
                [&](int t) { return Ret(truncate(In(t, path).c_str(), len)); });
  }

  bool Unlink() {
    const std::string path = RandomPath();
    return Same("unlink " + path, [&](int t) { return Ret(unlink(In(t, path).c_str())); });
  }

  bool Mkdir() {
    const std::string path = RandomPath();
    static const unsigned kDirPerms[] = {0755, 0700, 0750};
    const unsigned perm = kDirPerms[Pick(3)];
    char desc[128];
    std::snprintf(desc, sizeof(desc), "mkdir %s 0%o", path.c_str(), perm);
    return Same(desc, [&](int t) { return Ret(mkdir(In(t, path).c_str(), perm)); });
  }

  bool Rmdir() {
    const std::string path = RandomPath();
    return Same("rmdir " + path, [&](int t) { return Ret(rmdir(In(t, path).c_str())); });
  }

  bool Rename() {
    const std::string from = RandomPath(), to = RandomPath();
    const bool noreplace = Pick(4) == 0;
    return Same(std::string(noreplace ? "renameat2 NOREPLACE " : "rename ") + from + " " + to,
                [&](int t) {
                  if (noreplace)
                    return Ret(syscall(SYS_renameat2, AT_FDCWD, In(t, from).c_str(), AT_FDCWD,
                                       In(t, to).c_str(), RENAME_NOREPLACE));
                  return Ret(rename(In(t, from).c_str(), In(t, to).c_str()));
                });
  }

  bool Chmod() {
    const std::string path = RandomPath();
    const unsigned perm = RandomPerm();
    char desc[128];
    std::snprintf(desc, sizeof(desc), "chmod %s 0%o", path.c_str(), perm);
    return Same(desc, [&](int t) { return Ret(chmod(In(t, path).c_str(), perm)); });
  }

  bool Utimens() {
    const std::string path = RandomPath();
    struct timespec ts[2];
    ts[0].tv_sec = 1000000000 + static_cast<time_t>(Pick(500000000));
    ts[0].tv_nsec = static_cast<long>(Pick(1000000000));
    ts[1] = ts[0];
    bool ok = Same("utimensat " + path + " " + std::to_string(ts[1].tv_sec) + "." +
                       std::to_string(ts[1].tv_nsec),
                   [&](int t) { return Ret(utimensat(AT_FDCWD, In(t, path).c_str(), ts, 0)); });
    struct stat st;
    if (stat(In(1, path).c_str(), &st) == 0 && S_ISREG(st.st_mode)) explicit_mtime_.insert(st.st_ino);
    return ok;
  }

  bool OpenForWriting(ino_t ino) {
    for (const auto& s : slots_)
      if (s.fd[1] >= 0 && s.writable && RefFdIno(s.fd[1]) == ino) return true;
    return false;
  }

  bool Stat() {
    const std::string path = RandomPath();
    const bool mt = explicit_mtime_.count(RefIno(path)) > 0;
    return Same("stat " + path, [&](int t) {
      struct stat st;
      Outcome o = Ret(stat(In(t, path).c_str(), &st));
      if (o.ret == 0) o.data = StatSummary(st, mt);
      return o;
    });
  }

  bool Readdir() {
    static const char* kDirs[] = {"", "a", "b", "a/b", "c"};
    const std::string path = kDirs[Pick(5)];
    return Same("readdir /" + path, [&](int t) {
      Outcome o;
      DIR* d = opendir(In(t, path).c_str());
      if (d == nullptr) return Ret(-1);
      std::vector<std::string> names;
      while (struct dirent* de = readdir(d)) {
        std::string n = de->d_name;
        if (n == "." || n == ".." || (path.empty() && n == bitgask::test::kControlDir)) continue;
        names.push_back(n + (de->d_type == DT_DIR ? "/" : ""));
      }
      closedir(d);
      std::sort(names.begin(), names.end());
      for (const auto& n : names) o.data += n + " ";
      return o;
    });
  }

  bool ReadWhole() {
    const std::string path = RandomPath();
    return Same("read whole " + path, [&](int t) {
      Outcome o;
      int e = bitgask::test::ReadWholeFile(In(t, path), &o.data);
      if (e != 0) {
        o.ret = -1;
        o.err = e;
      }
      return o;
    });
  }

  const std::string root_[2];
  const uint64_t seed_;
  std::mt19937_64 rng_;
  Slot slots_[kSlots];
  std::set<ino_t> explicit_mtime_;  // REF inodes whose mtime utimensat set
  std::vector<std::string> history_;
};

int RunMain(const std::string& mnt, const std::string& ref, const std::string& state,
            uint64_t seed, int ops) {
  std::printf("seed %llu, %d ops\n", static_cast<unsigned long long>(seed), ops);
  ModelTest test(mnt, ref, seed);
  if (!test.Run(ops)) return 1;
  std::ofstream out(state);
  for (const auto& p : test.ExplicitMtimePaths()) out << p << "\n";
  return out.good() ? 0 : 1;
}

// After a remount: the same tree, and the mtimes that utimensat set.
int CheckMain(const std::string& mnt, const std::string& ref, const std::string& state) {
  Tree t[2];
  std::string error;
  if (!bitgask::test::ReadTree(mnt, &t[0], &error) || !bitgask::test::ReadTree(ref, &t[1], &error)) {
    std::fprintf(stderr, "FAIL: %s\n", error.c_str());
    return 1;
  }
  std::string diff = bitgask::test::DiffTrees(t[1], t[0]);
  if (!diff.empty()) {
    std::fprintf(stderr, "FAIL: after the remount the trees differ (want: reference):\n%s",
                 diff.c_str());
    return 1;
  }
  std::ifstream in(state);
  std::string path;
  int checked = 0;
  while (std::getline(in, path)) {
    if (t[0][path].mtime_ns != t[1][path].mtime_ns) {
      std::fprintf(stderr, "FAIL: after the remount %s has mtime %lld ns, want %lld\n",
                   path.c_str(), static_cast<long long>(t[0][path].mtime_ns),
                   static_cast<long long>(t[1][path].mtime_ns));
      return 1;
    }
    checked++;
  }
  std::printf("after the remount: %zu entries equal, %d explicit mtimes kept\n", t[0].size(),
              checked);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 7 && std::string(argv[1]) == "run")
    return RunMain(argv[2], argv[3], argv[4], std::strtoull(argv[5], nullptr, 10),
                   std::atoi(argv[6]));
  if (argc == 5 && std::string(argv[1]) == "check") return CheckMain(argv[2], argv[3], argv[4]);
  std::fprintf(stderr,
               "usage: %s run MNT REF STATE SEED OPS\n"
               "       %s check MNT REF STATE\n",
               argv[0], argv[0]);
  return 2;
}
