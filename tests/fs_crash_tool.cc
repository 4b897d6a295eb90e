// fs_crash_tool: the writer and the checker of fs_crash_test.sh.
//
//   fs_crash_tool write  MNT LOG SEED ROUND READY
//   fs_crash_tool verify MNT LOG
//
// `write` replays LOG into a model of the tree, then (round ROUND) writes two
// files and leaves them open with unflushed writes, creates a third with
// O_EXCL and leaves it open with unflushed writes, creates the file READY,
// and then does random operations inside MNT until one fails (the mount was
// killed) or 100000 ops are done.  It reaches MNT only through a descriptor
// of its root opened at the start: after the kill and the lazy unmount the
// name MNT is an empty directory, and ops must fail on the dead mount, not
// run there.  Every operation is logged to LOG as
// "B seq op args" before it starts and "A seq" once it returned success
// (close() included) or "E seq errno" when it failed.  Ops:
//   W path perm size gen   open(O_WRONLY|O_CREAT|O_TRUNC), write Gen(gen,size), close
//   N path perm            open(O_WRONLY|O_CREAT|O_EXCL) and keep it open
//   R from to              rename (a file, over a file or not; or a directory)
//   U path                 unlink
//   C path perm            chmod
//   M path                 mkdir 0755
// `verify` replays LOG and compares MNT with the model of every acknowledged
// op: exact names, types, permissions and contents.  The one op in flight at
// the kill (logged without "A") may have happened or not, nothing in between
// (a W or N of a new name may also have left the new file empty: its create
// is a step of its own); verify says which by appending "X seq candidate" to
// LOG, so the next round replays the same history.  Files left open at the
// kill must hold their content from before that open.  An op that failed is
// a failure unless it is the one the kill cut off (the last op of its round:
// the writer stops at its first error): that one failed because the mount
// died under it, with ENOTCONN or ECONNABORTED, or EIO for a request the
// dying mount cut off, and it is in doubt like an op with no outcome.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fs_tree.h"

namespace {

using bitgask::test::Tree;
using bitgask::test::TreeNode;

struct FileState {
  unsigned perm = 0644;
  uint64_t size = 0;
  uint64_t gen = 0;  // 0: empty file
};

struct Model {
  std::map<std::string, FileState> files;
  std::set<std::string> dirs;
};

struct Op {
  uint64_t seq = 0;
  std::vector<std::string> args;  // args[0] is the op letter
  enum { kPending, kAcked, kFailed } state = kPending;
  int err = 0;
  int resolved = -1;  // candidate chosen by a verify, -1 if none
};

std::string Gen(uint64_t gen, uint64_t size) {
  std::string s(size, '\0');
  uint64_t x = gen * 0x9E3779B97F4A7C15ull + 1;
  for (uint64_t i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

unsigned ParsePerm(const std::string& s) { return static_cast<unsigned>(std::stoul(s, nullptr, 8)); }

void Apply(const Op& op, Model* m) {
  const auto& a = op.args;
  const std::string& kind = a[0];
  if (kind == "W") {
    FileState& f = m->files[a[1]];  // a new name gets its perm in ApplyCreatePerm
    f.size = std::stoull(a[3]);
    f.gen = std::stoull(a[4]);
  } else if (kind == "N") {
    FileState f;
    f.perm = ParsePerm(a[2]);
    m->files[a[1]] = f;
  } else if (kind == "R") {
    const std::string& from = a[1];
    const std::string& to = a[2];
    if (m->files.count(from)) {
      FileState f = m->files[from];
      m->files.erase(from);
      m->files[to] = f;
    } else {
      m->dirs.erase(from);
      m->dirs.insert(to);
      std::map<std::string, FileState> moved;
      for (auto it = m->files.begin(); it != m->files.end();) {
        if (it->first.compare(0, from.size() + 1, from + "/") == 0) {
          moved[to + it->first.substr(from.size())] = it->second;
          it = m->files.erase(it);
        } else {
          ++it;
        }
      }
      m->files.insert(moved.begin(), moved.end());
    }
  } else if (kind == "U") {
    m->files.erase(a[1]);
  } else if (kind == "C") {
    m->files[a[1]].perm = ParsePerm(a[2]);
  } else if (kind == "M") {
    m->dirs.insert(a[1]);
  }
}

// W of a new name sets the permissions given at create.
void ApplyCreatePerm(const Op& op, const Model& before, Model* m) {
  if (op.args[0] == "W" && before.files.count(op.args[1]) == 0)
    m->files[op.args[1]].perm = ParsePerm(op.args[2]);
}

// The states the tree may be in after op, given the state before it:
// [0] not done, [1] done, and [2] for a create of a new name: created empty.
std::vector<Model> Candidates(const Op& op, const Model& before) {
  std::vector<Model> c{before, before};
  Apply(op, &c[1]);
  ApplyCreatePerm(op, before, &c[1]);
  if ((op.args[0] == "W") && before.files.count(op.args[1]) == 0) {
    Model empty = before;
    FileState f;
    f.perm = ParsePerm(op.args[2]);
    empty.files[op.args[1]] = f;
    c.push_back(empty);
  }
  return c;
}

Tree ToTree(const Model& m) {
  Tree t;
  for (const auto& d : m.dirs) {
    TreeNode n;
    n.is_dir = true;
    n.perm = 0755;
    t[d] = n;
  }
  for (const auto& [path, f] : m.files) {
    TreeNode n;
    n.perm = f.perm;
    n.content = Gen(f.gen, f.size);
    t[path] = n;
  }
  return t;
}

bool DeadMountErrno(int e) { return e == ENOTCONN || e == ECONNABORTED; }

// Reads LOG into ops (in order).  Exits on a malformed line.
std::vector<Op> ReadLog(const std::string& log) {
  std::vector<Op> ops;
  std::map<uint64_t, size_t> by_seq;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string tag;
    uint64_t seq;
    if (!(ls >> tag >> seq)) continue;
    if (tag == "B") {
      Op op;
      op.seq = seq;
      std::string w;
      while (ls >> w) op.args.push_back(w);
      by_seq[seq] = ops.size();
      ops.push_back(op);
      continue;
    }
    auto it = by_seq.find(seq);
    if (it == by_seq.end()) {
      std::fprintf(stderr, "FAIL: log line for unknown op: %s\n", line.c_str());
      std::exit(1);
    }
    Op& op = ops[it->second];
    if (tag == "A") {
      op.state = Op::kAcked;
    } else if (tag == "E") {
      op.state = Op::kFailed;
      ls >> op.err;
    } else if (tag == "X") {
      ls >> op.resolved;
    }
  }
  return ops;
}

std::string Describe(const Op& op) {
  std::string s = "#" + std::to_string(op.seq);
  for (const auto& a : op.args) s += " " + a;
  return s;
}

// Replays ops into *m.  Returns the index of the op still in doubt (logged
// without "A" and not resolved by a verify), or -1.  Exits on an op that
// failed for a reason other than a dead mount.
int Replay(const std::vector<Op>& ops, Model* m) {
  for (size_t i = 0; i < ops.size(); i++) {
    const Op& op = ops[i];
    const bool last = i + 1 == ops.size();
    // The op a kill cut off is the last one, or one an earlier verify resolved.
    const bool cut_off = last || op.resolved >= 0;
    if (op.state == Op::kFailed && !DeadMountErrno(op.err) && !(cut_off && op.err == EIO)) {
      std::fprintf(stderr, "FAIL: op %s failed with %s (the mount was alive)\n",
                   Describe(op).c_str(), std::strerror(op.err));
      std::exit(1);
    }
    if (op.state == Op::kAcked) {
      Model before = *m;
      Apply(op, m);
      ApplyCreatePerm(op, before, m);
    } else if (op.resolved >= 0) {
      std::vector<Model> c = Candidates(op, *m);
      *m = c.at(static_cast<size_t>(op.resolved));
    } else if (last) {
      return static_cast<int>(i);
    } else {
      std::fprintf(stderr, "FAIL: op %s has no outcome but later ops ran\n", Describe(op).c_str());
      std::exit(1);
    }
  }
  return -1;
}

class Writer {
 public:
  Writer(std::string mnt, std::string log, uint64_t seed, Model model, uint64_t next_seq)
      : rng_(seed), m_(std::move(model)), seq_(next_seq) {
    // Ops resolve their paths from root_fd_, never from the name mnt (see
    // the header): after the lazy unmount an op through the name would run
    // in the bare mountpoint (ENOENT under a subdirectory, a new file at the
    // top) instead of failing on the dead mount.
    root_fd_ = open(mnt.c_str(), O_PATH | O_DIRECTORY);
    if (root_fd_ < 0) {
      std::perror(("open " + mnt).c_str());
      std::exit(1);
    }
    log_fd_ = open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (log_fd_ < 0) {
      std::perror("open log");
      std::exit(1);
    }
  }

  // Performs op (args) with its syscalls; logs it; returns 0 or the errno.
  int Do(const std::vector<std::string>& args, int* keep_fd = nullptr) {
    Op op;
    op.seq = seq_++;
    op.args = args;
    Log("B " + std::to_string(op.seq) + Join(args));
    int e = Perform(args, keep_fd);
    if (e == 0) {
      Model before = m_;
      Apply(op, &m_);
      ApplyCreatePerm(op, before, &m_);
      Log("A " + std::to_string(op.seq));
    } else {
      Log("E " + std::to_string(op.seq) + " " + std::to_string(e));
    }
    return e;
  }

  // Leaves three files open with unflushed writes; returns 0 or an errno.
  int HoldOpen(const std::string& round) {
    for (bool trunc : {true, false}) {
      std::string name = (trunc ? "held" : "heldb") + round;
      int e = Do({"W", name, "644", std::to_string(1000 + Pick(5000)), std::to_string(seq_)});
      if (e != 0) return e;
    }
    for (bool trunc : {true, false}) {
      std::string name = (trunc ? "held" : "heldb") + round;
      int fd = openat(root_fd_, name.c_str(), trunc ? (O_WRONLY | O_TRUNC) : O_RDWR);
      if (fd < 0) return errno;
      std::string junk(3000, 'J');
      if (pwrite(fd, junk.data(), junk.size(), 100) != static_cast<ssize_t>(junk.size()))
        return errno;
      held_.push_back(fd);
    }
    int fd = -1;
    int e = Do({"N", "new" + round, "640"}, &fd);
    if (e != 0) return e;
    std::string junk(500, 'N');
    if (write(fd, junk.data(), junk.size()) != static_cast<ssize_t>(junk.size())) return errno;
    held_.push_back(fd);
    return 0;
  }

  // Random ops until one fails or max ops ran.
  void Loop(int max_ops) {
    for (int i = 0; i < max_ops; i++) {
      std::vector<std::string> op = NextOp();
      if (op.empty()) continue;
      if (Do(op) != 0) return;
    }
  }

 private:
  uint64_t Pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  static std::string Join(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) s += " " + a;
    return s;
  }

  void Log(const std::string& line) {
    std::string l = line + "\n";
    if (write(log_fd_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) {
      std::perror("write log");
      std::exit(1);
    }
  }

  int Perform(const std::vector<std::string>& a, int* keep_fd) {
    const std::string& kind = a[0];
    if (kind == "W" || kind == "N") {
      const bool excl = kind == "N";
      int fd = openat(root_fd_, a[1].c_str(), O_WRONLY | O_CREAT | (excl ? O_EXCL : O_TRUNC),
                      ParsePerm(a[2]));
      if (fd < 0) return errno;
      if (excl) {
        *keep_fd = fd;
        return 0;
      }
      std::string data = Gen(std::stoull(a[4]), std::stoull(a[3]));
      size_t done = 0;
      while (done < data.size()) {
        size_t n = std::min<size_t>(data.size() - done, 1 + Pick(65536));
        ssize_t w = write(fd, data.data() + done, n);
        if (w < 0) {
          int e = errno;
          close(fd);
          return e;
        }
        done += static_cast<size_t>(w);
      }
      return close(fd) == 0 ? 0 : errno;
    }
    int r = 0;
    if (kind == "R") r = renameat(root_fd_, a[1].c_str(), root_fd_, a[2].c_str());
    if (kind == "U") r = unlinkat(root_fd_, a[1].c_str(), 0);
    if (kind == "C") r = fchmodat(root_fd_, a[1].c_str(), ParsePerm(a[2]), 0);
    if (kind == "M") r = mkdirat(root_fd_, a[1].c_str(), 0755);
    return r == 0 ? 0 : errno;
  }

  std::string RandomFileName() {
    std::vector<std::string> parents{""};
    for (const auto& d : m_.dirs) parents.push_back(d + "/");
    return parents[Pick(parents.size())] + "f" + std::to_string(Pick(8));
  }

  template <typename C>
  std::string Any(const C& c) {
    auto it = c.begin();
    std::advance(it, static_cast<long>(Pick(c.size())));
    return *it;
  }

  std::vector<std::string> Files() const {
    std::vector<std::string> v;
    for (const auto& kv : m_.files)
      if (kv.first.rfind("held", 0) != 0 && kv.first.rfind("new", 0) != 0) v.push_back(kv.first);
    return v;
  }

  // An op that must succeed on the model's tree; empty when none fits.
  std::vector<std::string> NextOp() {
    static const char* kPerms[] = {"600", "640", "644", "700", "755", "444"};
    const std::vector<std::string> files = Files();
    const uint64_t dice = Pick(100);
    if (dice < 45 || files.empty()) {
      uint64_t size = Pick(100) < 90 ? Pick(16384) : (Pick(100) < 90 ? Pick(524288) : 2097152);
      return {"W", RandomFileName(), kPerms[Pick(6)], std::to_string(size),
              std::to_string(seq_)};
    }
    if (dice < 65) {
      std::string from = Any(files), to = RandomFileName();
      if (from == to) return {};
      return {"R", from, to};
    }
    if (dice < 78) return {"U", Any(files)};
    if (dice < 90) return {"C", Any(files), kPerms[Pick(6)]};
    std::string d = "d" + std::to_string(Pick(4));
    if (m_.dirs.count(d)) {
      std::string to = "d" + std::to_string(Pick(4));
      if (m_.dirs.count(to)) return {};
      return {"R", d, to};
    }
    return {"M", d};
  }

  std::mt19937_64 rng_;
  Model m_;
  uint64_t seq_;
  int root_fd_ = -1;  // the mount's root (O_PATH)
  int log_fd_ = -1;
  std::vector<int> held_;  // open at the kill, never closed
};

int WriteMain(const std::string& mnt, const std::string& log, uint64_t seed,
              const std::string& round, const std::string& ready) {
  std::vector<Op> ops = ReadLog(log);
  Model m;
  if (Replay(ops, &m) >= 0) {
    std::fprintf(stderr, "FAIL: the last op of %s has no outcome; verify first\n", log.c_str());
    return 1;
  }
  umask(0);
  Writer w(mnt, log, seed, m, ops.empty() ? 1 : ops.back().seq + 1);
  if (int e = w.HoldOpen(round); e != 0) {
    std::fprintf(stderr, "FAIL: setting up the files held open: %s\n", std::strerror(e));
    return 1;
  }
  int fd = open(ready.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd < 0 || close(fd) != 0) return 1;
  w.Loop(100000);
  return 0;
}

int VerifyMain(const std::string& mnt, const std::string& log) {
  std::vector<Op> ops = ReadLog(log);
  Model m;
  int doubt = Replay(ops, &m);
  Tree got;
  std::string error;
  if (!bitgask::test::ReadTree(mnt, &got, &error)) {
    std::fprintf(stderr, "FAIL: reading the mount: %s\n", error.c_str());
    return 1;
  }
  std::vector<Model> cands{m};
  if (doubt >= 0) cands = Candidates(ops[static_cast<size_t>(doubt)], m);
  for (size_t i = 0; i < cands.size(); i++) {
    if (bitgask::test::DiffTrees(ToTree(cands[i]), got).empty()) {
      size_t acked = 0;
      for (const auto& op : ops) acked += op.state == Op::kAcked;
      std::printf("verified: %zu ops acknowledged, %zu files, %zu dirs", acked,
                  cands[i].files.size(), cands[i].dirs.size());
      if (doubt >= 0) {
        std::printf("; op in flight %s: %s", Describe(ops[static_cast<size_t>(doubt)]).c_str(),
                    i == 0 ? "not done" : i == 1 ? "done" : "created empty");
        std::ofstream(log, std::ios::app)
            << "X " << ops[static_cast<size_t>(doubt)].seq << " " << i << "\n";
      }
      std::printf("\n");
      return 0;
    }
  }
  std::fprintf(stderr, "FAIL: the mount does not hold the acknowledged state\n");
  if (doubt >= 0)
    std::fprintf(stderr, "op in flight at the kill: %s\n",
                 Describe(ops[static_cast<size_t>(doubt)]).c_str());
  for (size_t i = 0; i < cands.size(); i++) {
    std::fprintf(stderr, "against candidate %zu (%s):\n%s", i,
                 i == 0 ? "op not done" : i == 1 ? "op done" : "created empty",
                 bitgask::test::DiffTrees(ToTree(cands[i]), got).c_str());
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 7 && std::string(argv[1]) == "write")
    return WriteMain(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10), argv[5], argv[6]);
  if (argc == 4 && std::string(argv[1]) == "verify") return VerifyMain(argv[2], argv[3]);
  std::fprintf(stderr,
               "usage: %s write MNT LOG SEED ROUND READY\n"
               "       %s verify MNT LOG\n",
               argv[0], argv[0]);
  return 2;
}
