// fs_stress_tool: one process of fs_stress_test.sh.
//
//   fs_stress_tool owner  MNT ID SECONDS SEED
//   fs_stress_tool prober MNT IDS SECONDS SEED
//
// An owner works alone on its names (files MNT/oID_0..3, directory MNT/dID
// and the files in it) and keeps a model of them: it creates and rewrites
// files, renames them (over another of its files or not, in and out of its
// directory), renames its directory away and back, unlinks files (some
// while it holds them open), chmods them, and checks after every step that
// stat (type, permissions, size) and a read of the contents agree with the
// model (each op must succeed too). Any difference is a failure: the kernel may cache every
// entry for an hour, so a stale binding between a cached entry and the
// mount's inode table shows as ENOENT or as another file's contents.
// A prober looks up the names of owners 0..IDS-1 at random (stat, open and
// read, ls), which makes the kernel look names up, and forget them, while
// their owners change them; it checks nothing, it only races.
// Both stop after SECONDS. Exit 0: no difference seen.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

struct File {
  unsigned perm = 0644;
  std::string data;
};

class Owner {
 public:
  Owner(const std::string& mnt, int id, uint64_t seed)
      : mnt_(mnt), id_(std::to_string(id)), rng_(seed) {}

  // Runs until the deadline; false at the first difference from the model.
  bool Run(std::chrono::steady_clock::time_point end) {
    if (mkdir(Dir().c_str(), 0755) != 0) return Fail("mkdir " + Dir());
    for (uint64_t n = 0; std::chrono::steady_clock::now() < end; n++) {
      if (!Step(n) || !CheckAll()) return false;
    }
    return true;
  }

 private:
  std::string Dir() const { return mnt_ + "/d" + id_ + (dir_moved_ ? "x" : ""); }
  // Name i (0..7): 0..3 at the top, 4..7 in the owner's directory.
  std::string Rel(int i) const {
    return i < 4 ? "o" + id_ + "_" + std::to_string(i) : "f" + std::to_string(i);
  }
  std::string Path(int i) const { return i < 4 ? mnt_ + "/" + Rel(i) : Dir() + "/" + Rel(i); }
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  bool Fail(const std::string& what) {
    std::fprintf(stderr, "FAIL: owner %s: %s: %s\n", id_.c_str(), what.c_str(),
                 std::strerror(errno));
    std::fprintf(stderr, "owner %s: its last steps, oldest first:\n", id_.c_str());
    for (const std::string& s : recent_) std::fprintf(stderr, "  %s\n", s.c_str());
    return false;
  }
  // Remembers what a step did, for the failure's report.
  void Note(const std::string& what) {
    recent_.push_back(what);
    if (recent_.size() > 16) recent_.erase(recent_.begin());
  }

  bool Write(int i, bool keep_open) {
    const std::string p = Path(i);
    const unsigned perm = 0600 | (Pick(2) ? 044 : 0);
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, perm);
    if (fd < 0) return Fail("create " + p);
    std::string data = "owner " + id_ + " gen " + std::to_string(gen_++) + " " +
                       std::string(static_cast<size_t>(Pick(3000)), 'a' + Pick(26));
    if (write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
      return Fail("write " + p);
    struct stat wst = {};
    fstat(fd, &wst);
    Note("write " + p + (keep_open ? " (kept open)" : "") + " size " +
         std::to_string(data.size()) + " ino " + std::to_string(wst.st_ino));
    if (keep_open) {
      held_.push_back(fd);
      if (held_.size() > 3) {
        struct stat hst = {};
        fstat(held_.front(), &hst);
        Note("close a kept descriptor of ino " + std::to_string(hst.st_ino));
        close(held_.front());
        held_.erase(held_.begin());
      }
    } else if (close(fd) != 0) {
      return Fail("close " + p);
    }
    auto it = files_.find(i);
    if (it == files_.end()) files_[i].perm = perm;  // O_CREAT's mode applies to new files only
    files_[i].data = data;
    return true;
  }

  bool Step(uint64_t n) {
    const int i = Pick(8), j = Pick(8);
    const bool exists = files_.count(i) != 0;
    const int dice = Pick(100);
    if (!exists || dice < 25) return Write(i, Pick(4) == 0);
    if (dice < 50) {
      if (i == j) return true;
      Note("rename " + Path(i) + " " + Path(j));
      if (rename(Path(i).c_str(), Path(j).c_str()) != 0)
        return Fail("rename " + Path(i) + " " + Path(j));
      files_[j] = files_[i];
      files_.erase(i);
      return true;
    }
    if (dice < 65) {
      Note("unlink " + Path(i));
      if (unlink(Path(i).c_str()) != 0) return Fail("unlink " + Path(i));
      files_.erase(i);
      return true;
    }
    if (dice < 90) {
      const unsigned perm = (n & 1) ? 0640 : 0604;
      Note("chmod " + Path(i));
      if (chmod(Path(i).c_str(), perm) != 0) return Fail("chmod " + Path(i));
      files_[i].perm = perm;
      return true;
    }
    const std::string from = Dir();
    dir_moved_ = !dir_moved_;
    Note("rename " + from + " " + Dir());
    if (rename(from.c_str(), Dir().c_str()) != 0) return Fail("rename " + from + " " + Dir());
    return true;
  }

  bool CheckAll() {
    for (int i = 0; i < 8; i++) {
      struct stat st;
      auto it = files_.find(i);
      const std::string p = Path(i);
      if (it == files_.end()) {
        if (stat(p.c_str(), &st) == 0 || errno != ENOENT) return Fail(p + " should not exist");
        continue;
      }
      if (stat(p.c_str(), &st) != 0) return Fail("stat " + p);
      if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != it->second.perm ||
          static_cast<size_t>(st.st_size) != it->second.data.size()) {
        errno = 0;
        struct stat again = {};
        sleep(2);  // long enough for the kernel to forget an unused inode
        const int r2 = stat(p.c_str(), &again);
        Note("after 2 s: stat " + std::to_string(r2) + " ino " + std::to_string(again.st_ino) +
             " size " + std::to_string(again.st_size));
        return Fail("stat of " + p + " differs: ino " + std::to_string(st.st_ino) + " mode " +
                    std::to_string(st.st_mode) + " size " +
                    std::to_string(st.st_size) + ", expected perm " +
                    std::to_string(it->second.perm) + " size " +
                    std::to_string(it->second.data.size()));
      }
      int fd = open(p.c_str(), O_RDONLY);
      if (fd < 0) return Fail("open " + p);
      std::string got(it->second.data.size() + 10, '\0');
      const ssize_t r = read(fd, &got[0], got.size());
      close(fd);
      if (r < 0) return Fail("read " + p);
      got.resize(static_cast<size_t>(r));
      if (got != it->second.data) {
        errno = 0;
        return Fail("contents of " + p + " differ: got '" + got.substr(0, 30) + "'");
      }
    }
    return true;
  }

  const std::string mnt_;
  const std::string id_;
  std::mt19937_64 rng_;
  std::map<int, File> files_;
  std::vector<int> held_;  // open descriptors (some of unlinked files)
  std::vector<std::string> recent_;  // the last steps (Note)
  bool dir_moved_ = false;
  uint64_t gen_ = 0;
};

void Probe(const std::string& mnt, int ids, std::chrono::steady_clock::time_point end,
           uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&rng](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  char buf[4096];
  while (std::chrono::steady_clock::now() < end) {
    const std::string id = std::to_string(pick(ids));
    const int i = pick(8);
    const std::string dir = mnt + "/d" + id + (pick(2) ? "x" : "");
    const std::string p =
        i < 4 ? mnt + "/o" + id + "_" + std::to_string(i) : dir + "/f" + std::to_string(i);
    struct stat st;
    switch (pick(3)) {
      case 0:
        stat(p.c_str(), &st);
        break;
      case 1: {
        int fd = open(p.c_str(), O_RDONLY);
        if (fd >= 0) {
          (void)!read(fd, buf, sizeof(buf));
          close(fd);
        }
        break;
      }
      default:
        if (DIR* d = opendir(pick(2) ? mnt.c_str() : dir.c_str())) {
          while (readdir(d) != nullptr) {
          }
          closedir(d);
        }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: fs_stress_tool owner|prober MNT ID|IDS SECONDS SEED\n");
    return 2;
  }
  const std::string mode = argv[1], mnt = argv[2];
  const int id = std::atoi(argv[3]);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(argv[4]));
  const uint64_t seed = std::strtoull(argv[5], nullptr, 10);
  umask(0);
  if (mode == "prober") {
    Probe(mnt, id, end, seed);
    return 0;
  }
  return Owner(mnt, id, seed).Run(end) ? 0 : 1;
}
